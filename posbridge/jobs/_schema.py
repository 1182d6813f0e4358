"""The job database: connection settings, schema, migrations and row decoding.

Times are stored as integer microseconds since the Unix epoch (UTC) so that range
filters and ordering are plain integer comparisons. ``jobs.seq`` is an AUTOINCREMENT
rowid: it is the FIFO key and the pagination key, and is never reused after a prune.
Payloads live in their own table so that listings never page through blobs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from posbridge.jobs.errors import UnsupportedSchema
from posbridge.jobs.models import DoubtRange, Job, JobKind, JobState

__all__ = [
    "JOB_COLUMNS",
    "decode_doubt",
    "encode_doubt",
    "SCHEMA_VERSION",
    "connect_here",
    "connect_reader",
    "connect_writer",
    "from_us",
    "migrate",
    "reserve_wal",
    "row_to_job",
    "to_us",
]

SCHEMA_VERSION = 3

# Index i is the script that takes a database from version i to i + 1.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        id            TEXT    NOT NULL UNIQUE,
        device_id     TEXT    NOT NULL,
        kind          TEXT    NOT NULL,
        state         TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        deadline_at   INTEGER,
        attempts      INTEGER NOT NULL DEFAULT 0,
        held_reason   TEXT,
        error_code    TEXT,
        error_detail  TEXT,
        bytes_total   INTEGER NOT NULL,
        idempotency_key TEXT
    );
    CREATE TABLE payloads (
        job_seq INTEGER PRIMARY KEY,
        data    BLOB NOT NULL
    );
    CREATE TABLE idempotency (
        scope          TEXT    NOT NULL,
        key            TEXT    NOT NULL,
        fingerprint    TEXT,
        job_seq        INTEGER NOT NULL,
        first_response TEXT    NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_by_job ON idempotency (job_seq);
    -- the worker's question: the oldest open job of a device
    CREATE INDEX jobs_open ON jobs (device_id, seq) WHERE state IN ('queued', 'held');
    CREATE INDEX jobs_by_device ON jobs (device_id, seq);
    CREATE INDEX jobs_by_state ON jobs (state, seq);
    """,
    # Jobs sent in parts (a batch of hang tags: one ZPL format per tag), with progress.
    # parts_sent is committed before a chunk leaves and parts_done once the printer has
    # printed it, so after a crash exactly the parts in between are in doubt.
    """
    ALTER TABLE jobs ADD COLUMN parts_total INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN parts_sent  INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN parts_done  INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN units_total INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN units_done  INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN doubt       TEXT;
    ALTER TABLE payloads ADD COLUMN parts BLOB;
    """,
    # Never holds a row once a transaction ends: see reserve_wal.
    """
    CREATE TABLE wal_reserve (filler BLOB);
    """,
]
assert len(_MIGRATIONS) == SCHEMA_VERSION

JOB_COLUMNS = (
    "id, seq, device_id, kind, state, created_at, updated_at, deadline_at, attempts, "
    "held_reason, error_code, error_detail, bytes_total, idempotency_key, "
    "parts_total, parts_sent, parts_done, units_total, units_done, doubt"
)

# How long a connection waits for a lock held by another process before failing.
_BUSY_TIMEOUT_MS = 10_000


def to_us(value: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give a timezone (UTC)")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """The inverse of ``to_us``; always UTC."""
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def encode_doubt(ranges: Sequence[DoubtRange]) -> str | None:
    return json.dumps([list(r) for r in ranges], separators=(",", ":")) if ranges else None


def decode_doubt(text: str | None) -> tuple[DoubtRange, ...]:
    if not text:
        return ()
    return tuple(DoubtRange(int(a), int(b), int(c)) for a, b, c in json.loads(text))


def row_to_job(row: tuple[object, ...]) -> Job:
    """Decode a row selected with ``JOB_COLUMNS``."""
    (
        job_id,
        seq,
        device_id,
        kind,
        state,
        created_at,
        updated_at,
        deadline_at,
        attempts,
        held_reason,
        error_code,
        error_detail,
        bytes_total,
        idempotency_key,
        parts_total,
        parts_sent,
        parts_done,
        units_total,
        units_done,
        doubt,
    ) = row
    assert isinstance(job_id, str) and isinstance(seq, int) and isinstance(device_id, str)
    assert isinstance(kind, str) and isinstance(state, str)
    assert isinstance(created_at, int) and isinstance(updated_at, int)
    assert deadline_at is None or isinstance(deadline_at, int)
    assert isinstance(attempts, int) and isinstance(bytes_total, int)
    assert held_reason is None or isinstance(held_reason, str)
    assert error_code is None or isinstance(error_code, str)
    assert error_detail is None or isinstance(error_detail, str)
    assert idempotency_key is None or isinstance(idempotency_key, str)
    assert isinstance(parts_total, int) and isinstance(parts_sent, int)
    assert isinstance(parts_done, int) and isinstance(units_total, int)
    assert isinstance(units_done, int) and (doubt is None or isinstance(doubt, str))
    return Job(
        id=job_id,
        seq=seq,
        device_id=device_id,
        kind=JobKind(kind),
        state=JobState(state),
        created_at=from_us(created_at),
        updated_at=from_us(updated_at),
        deadline_at=None if deadline_at is None else from_us(deadline_at),
        attempts=attempts,
        held_reason=held_reason,
        error_code=error_code,
        error_detail=error_detail,
        bytes_total=bytes_total,
        idempotency_key=idempotency_key,
        parts_total=parts_total,
        parts_sent=parts_sent,
        parts_done=parts_done,
        units_total=units_total,
        units_done=units_done,
        doubt=decode_doubt(doubt),
    )


def _open(path: Path) -> sqlite3.Connection:
    # isolation_level=None: the writer issues BEGIN/COMMIT/SAVEPOINT itself.
    # check_same_thread=False: each connection is still used by exactly one thread,
    # but that thread is not always the one that created the object.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return conn


def connect_writer(path: Path) -> sqlite3.Connection:
    """The write connection: WAL, and a COMMIT returns only once it is on disk."""
    conn = _open(path)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise sqlite3.OperationalError(f"cannot switch {path} to WAL (got {mode})")
    # FULL (not NORMAL): in WAL mode NORMAL may lose the last commits on power loss,
    # and an accepted job must survive that.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


# A little over the log's working size: SQLite checkpoints it at 1000 pages
# (wal_autocheckpoint) of 4 KiB, plus a frame header each, plus the last transaction.
WAL_WORKING_BYTES = 4_400_000


def reserve_wal(conn: sqlite3.Connection, wal: Path) -> None:
    """Grow a new write-ahead log to its working size at once (on the writer's thread,
    outside a transaction).

    After each checkpoint SQLite writes the log from its start again, over what is
    already on disk. But a clean close deletes the log, so after every start it grows
    with each commit until the first checkpoint, and a commit that grows the file costs
    its fsync about twice as much: the file's new size must reach the disk too. One
    throwaway transaction of the working size, checkpointed at once, lets every commit
    from the first one on overwrite. Costs about 30 ms once per start; the pages it
    leaves free in the database are reused by later jobs.
    """
    if wal.exists() and wal.stat().st_size >= WAL_WORKING_BYTES:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO wal_reserve VALUES (zeroblob(?))", (WAL_WORKING_BYTES,))
        conn.execute("DELETE FROM wal_reserve")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def connect_here(path: Path) -> sqlite3.Connection:
    """The second write connection, used on the event loop for commits that need no
    fsync (``GroupCommitWriter.run_here``): it never waits for a lock and never
    checkpoints (the writer thread's connection does that), so it never blocks the loop
    for long."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 0")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that can only read (guards against a write slipping past the writer)."""
    conn = _open(path)
    conn.execute("PRAGMA query_only = ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to ``SCHEMA_VERSION``; runs inside the caller's transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise UnsupportedSchema(
            f"the job database has schema version {version}, newer than this posbridge "
            f"understands ({SCHEMA_VERSION}); upgrade posbridge or move the file away"
        )
    for step in range(version, SCHEMA_VERSION):
        # executescript would COMMIT the open transaction; run statement by statement.
        for statement in _split(_MIGRATIONS[step]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {step + 1}")


def _split(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

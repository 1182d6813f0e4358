"""The fiscal journal: an append-only, hash-chained record of every fiscal event.

One SQLite file per state directory (``STATE_DIR/fiscal-journal.sqlite3``, WAL,
``synchronous=FULL``), written by the job store's group-commit writer thread: an
``append`` returns only after its COMMIT. Each cashbox has its own chain: entries are
numbered 1, 2, 3, ... without gaps and each one's ``hash`` is

    SHA-256(prev_hash ‖ canonical encoding of the entry's fields)

where ``prev_hash`` is the previous entry's hash (``GENESIS_HASH`` for entry 1) and the
canonical encoding is the compact JSON array ``[version, cashbox_id, number, kind,
receipt_reference, created_at_us, payload]`` (``payload`` is the stored JSON text,
keys sorted). Triggers refuse UPDATE and DELETE; an attacker with the file can drop
them, which is why ``open`` verifies every chain (``verification``) and puts missing
triggers back (``restored_triggers``).

What the chain cannot show on its own: entries cut off the *end* of a chain. Anchor
``head(cashbox_id)`` somewhere else (the signing unit's counter, the platform) for that.

Numbers are assigned on the single writer thread inside the transaction, so concurrent
appends never fork a chain. ``cashbox_lock`` is for the caller's longer critical
section (read the device's counter, sign, journal) so signature order matches journal
order.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from posbridge.jobs._schema import connect_reader, connect_writer, from_us, to_us
from posbridge.jobs._writer import GroupCommitWriter, Reader
from posbridge.jobs.errors import JobStoreError, StoreClosed

__all__ = [
    "GENESIS_HASH",
    "JOURNAL_FILENAME",
    "ChainReport",
    "Clock",
    "Entry",
    "EntryKind",
    "Fault",
    "Journal",
    "JournalClosed",
    "JournalError",
    "Problem",
    "canonical_bytes",
    "entry_hash",
]

JOURNAL_FILENAME = "fiscal-journal.sqlite3"
GENESIS_HASH = "0" * 64
# Part of every hashed record, so a future encoding can never be confused with this one.
_HASH_VERSION = 1
SCHEMA_VERSION = 1

Clock = Callable[[], datetime]
T = TypeVar("T")

_COLUMNS = "seq, cashbox_id, number, kind, receipt_reference, created_at, payload, prev_hash, hash"
_SELECT = "SELECT " + _COLUMNS + " FROM entries"  # noqa: S608 - constants only

_NO_UPDATE = "the fiscal journal is append-only: UPDATE refused"
_NO_DELETE = "the fiscal journal is append-only: DELETE refused"
_TRIGGERS = {
    "entries_no_update": (
        "CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries "
        f"BEGIN SELECT RAISE(ABORT, '{_NO_UPDATE}'); END"
    ),
    "entries_no_delete": (
        "CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries "
        f"BEGIN SELECT RAISE(ABORT, '{_NO_DELETE}'); END"
    ),
}
_SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS entries (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        cashbox_id        TEXT    NOT NULL,
        number            INTEGER NOT NULL,
        kind              TEXT    NOT NULL,
        receipt_reference TEXT,
        created_at        INTEGER NOT NULL,
        payload           TEXT    NOT NULL,
        prev_hash         TEXT    NOT NULL,
        hash              TEXT    NOT NULL,
        UNIQUE (cashbox_id, number)
    )
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS entries_by_reference ON entries"
    " (cashbox_id, receipt_reference) WHERE receipt_reference IS NOT NULL",
]


class JournalError(Exception):
    """Root of the journal's errors: the database failed (I/O, corruption, ...)."""

    code = "fiscal_journal_error"


class JournalClosed(JournalError):
    """The journal was closed; nothing more can be appended or read."""

    code = "fiscal_journal_closed"


class EntryKind(enum.StrEnum):
    """What an entry records."""

    TRANSACTION = "transaction"
    ACTIVATION = "activation"
    DEACTIVATION = "deactivation"
    STATE = "state"
    CLOSURE = "closure"
    """A closure report (daily Z, monthly or yearly zero receipt)."""
    LATE_SIGNATURE = "late_signature"
    """The signature of an earlier ``TEMP_SIGNED`` transaction (entries never change)."""


class Problem(enum.StrEnum):
    """How a chain is broken."""

    HASH_MISMATCH = "hash_mismatch"
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class Entry:
    """One committed journal entry."""

    seq: int
    cashbox_id: str
    number: int
    kind: EntryKind
    receipt_reference: str | None
    created_at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Fault:
    """The first broken entry of a chain."""

    number: int
    seq: int
    problem: Problem
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """One cashbox's chain after ``verify``: ``ok``, or its first broken entry."""

    cashbox_id: str
    entries: int
    head_hash: str
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


def _json_default(value: object) -> object:
    # Money stays exact: Decimal is written as its string, as everywhere in posbridge.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _encode_payload(payload: Mapping[str, Any]) -> str:
    return json.dumps(
        payload,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    )


def canonical_bytes(
    cashbox_id: str,
    number: int,
    kind: str,
    receipt_reference: str | None,
    created_at_us: int,
    payload_text: str,
) -> bytes:
    """The canonical encoding of an entry's fields (what the hash covers besides prev_hash)."""
    record = [
        _HASH_VERSION, cashbox_id, number, kind, receipt_reference, created_at_us, payload_text
    ]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(prev_hash: str, canonical: bytes) -> str:
    """SHA-256(prev_hash ‖ canonical), hex."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def _row_to_entry(row: tuple[Any, ...]) -> Entry:
    seq, cashbox_id, number, kind, reference, created_at, payload, prev_hash, digest = row
    return Entry(
        seq=seq,
        cashbox_id=cashbox_id,
        number=number,
        kind=EntryKind(kind),
        receipt_reference=reference,
        created_at=from_us(created_at),
        payload=json.loads(payload),
        prev_hash=prev_hash,
        hash=digest,
    )


def _find(conn: sqlite3.Connection, cashbox_id: str, reference: str) -> Entry | None:
    row = conn.execute(
        _SELECT + " WHERE cashbox_id = ? AND receipt_reference = ?", (cashbox_id, reference)
    ).fetchone()
    return None if row is None else _row_to_entry(row)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Journal:
    """The fiscal journal of one state directory.

    Open with ``await Journal.open(state_dir)``, close with ``await journal.aclose()``
    (or ``async with``). ``open`` verifies every chain; see ``verification``.
    """

    def __init__(self, path: Path, writer: GroupCommitWriter, reader: Reader, clock: Clock) -> None:
        """Use ``Journal.open``; this only wires the parts together."""
        self.path = path
        self._writer = writer
        self._reader = reader
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False
        self.verification: list[ChainReport] = []
        """Every cashbox's chain as found by ``open``."""
        self.restored_triggers: tuple[str, ...] = ()
        """Append-only triggers that were missing at ``open`` (someone dropped them)."""

    @classmethod
    async def open(cls, state_dir: Path, *, clock: Clock | None = None) -> Journal:
        """Open (creating if needed) ``state_dir/fiscal-journal.sqlite3`` and verify it."""
        path = Path(state_dir) / JOURNAL_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = GroupCommitWriter(
            lambda: connect_writer(path), name="posbridge-fiscal-journal-writer"
        )
        writer.start()
        reader = Reader(lambda: connect_reader(path), name="posbridge-fiscal-journal-read")
        journal = cls(path, writer, reader, clock or _utcnow)
        try:
            journal.restored_triggers = await journal._write(_init_txn)
            journal.verification = await journal.verify()
        except BaseException:
            await journal.aclose()
            raise
        return journal

    async def aclose(self) -> None:
        """Finish queued appends, then close. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        await self._writer.wait_closed()
        await self._reader.aclose()

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def cashbox_lock(self, cashbox_id: str) -> asyncio.Lock:
        """The lock a caller holds while it signs and journals for one cashbox."""
        lock = self._locks.get(cashbox_id)
        if lock is None:
            lock = self._locks[cashbox_id] = asyncio.Lock()
        return lock

    # --- writes ----------------------------------------------------------------------

    async def append(
        self,
        cashbox_id: str,
        kind: EntryKind | str,
        payload: Mapping[str, Any],
        receipt_reference: str | None = None,
    ) -> Entry:
        """Append an entry to the cashbox's chain; returns after the COMMIT.

        If ``receipt_reference`` is already journaled for this cashbox, nothing is
        written and the existing entry is returned (compare its ``payload`` if that
        matters). ``payload`` must be JSON-serialisable (``Decimal`` becomes a string).
        """
        if not cashbox_id:
            raise ValueError("cashbox_id must not be empty")
        if receipt_reference == "":
            raise ValueError("receipt_reference must not be empty (give None for no reference)")
        entry_kind = EntryKind(kind)
        text = _encode_payload(payload)  # fail here, on the caller's side, not in the batch

        def txn(conn: sqlite3.Connection) -> Entry:
            if receipt_reference is not None:
                found = _find(conn, cashbox_id, receipt_reference)
                if found is not None:
                    return found
            last = conn.execute(
                "SELECT number, hash FROM entries WHERE cashbox_id = ?"
                " ORDER BY number DESC LIMIT 1",
                (cashbox_id,),
            ).fetchone()
            number, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
            created = to_us(self._clock())
            canonical = canonical_bytes(
                cashbox_id, number, entry_kind.value, receipt_reference, created, text
            )
            digest = entry_hash(prev, canonical)
            cur = conn.execute(
                "INSERT INTO entries (cashbox_id, number, kind, receipt_reference, created_at,"
                " payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cashbox_id, number, entry_kind.value, receipt_reference, created, text, prev,
                 digest),
            )
            row = conn.execute(_SELECT + " WHERE seq = ?", (cur.lastrowid,)).fetchone()
            return _row_to_entry(row)

        return await self._write(txn)

    # --- reads -----------------------------------------------------------------------

    async def find(self, cashbox_id: str, receipt_reference: str) -> Entry | None:
        """The entry journaled for ``receipt_reference`` in this cashbox, if any."""
        return await self._read(lambda conn: _find(conn, cashbox_id, receipt_reference))

    async def entries(
        self, cashbox_id: str, *, after: int = 0, limit: int = 500
    ) -> list[Entry]:
        """The cashbox's entries with numbers above ``after``, in order, at most ``limit``."""

        def read(conn: sqlite3.Connection) -> list[Entry]:
            rows = conn.execute(
                _SELECT + " WHERE cashbox_id = ? AND number > ? ORDER BY number LIMIT ?",
                (cashbox_id, after, limit),
            ).fetchall()
            return [_row_to_entry(row) for row in rows]

        return await self._read(read)

    async def head(self, cashbox_id: str) -> tuple[int, str]:
        """The cashbox's last entry number and hash (``(0, GENESIS_HASH)`` when empty)."""

        def read(conn: sqlite3.Connection) -> tuple[int, str]:
            row = conn.execute(
                "SELECT number, hash FROM entries WHERE cashbox_id = ?"
                " ORDER BY number DESC LIMIT 1",
                (cashbox_id,),
            ).fetchone()
            return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

        return await self._read(read)

    async def verify(self) -> list[ChainReport]:
        """Walk every cashbox's chain; one report per cashbox, ordered by cashbox id."""
        return await self._read(_verify_all)

    # --- plumbing --------------------------------------------------------------------

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._writer.run(fn)
        except StoreClosed as exc:
            raise JournalClosed("the fiscal journal is closed") from exc
        except JobStoreError as exc:
            raise JournalError(f"fiscal journal {self.path}: {exc.__cause__ or exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._reader.run(fn)
        except StoreClosed as exc:
            raise JournalClosed("the fiscal journal is closed") from exc
        except JobStoreError as exc:
            raise JournalError(f"fiscal journal {self.path}: {exc.__cause__ or exc}") from exc


def _init_txn(conn: sqlite3.Connection) -> tuple[str, ...]:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the fiscal journal has schema version {version}, newer than this posbridge "
            f"understands ({SCHEMA_VERSION}); upgrade posbridge"
        )
    fresh = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'"
    ).fetchone() is None
    for statement in _SCHEMA:
        conn.execute(statement)
    present = {
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    missing = tuple(name for name in _TRIGGERS if name not in present)
    for name in missing:
        conn.execute(_TRIGGERS[name])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return () if fresh else missing


def _verify_all(conn: sqlite3.Connection) -> list[ChainReport]:
    reports: list[ChainReport] = []
    current: str | None = None
    expected = 1
    prev = GENESIS_HASH
    fault: Fault | None = None
    count = 0

    def close() -> None:
        if current is not None:
            reports.append(ChainReport(current, count, prev, fault))

    # One pass in (cashbox_id, number) order: the UNIQUE index serves it without sorting.
    for row in conn.execute(_SELECT + " ORDER BY cashbox_id, number"):
        seq, cashbox_id, number, kind, reference, created_at, payload, prev_hash, digest = row
        if cashbox_id != current:
            close()
            current, expected, prev, fault, count = cashbox_id, 1, GENESIS_HASH, None, 0
        count += 1
        if fault is not None:
            continue
        if number != expected:
            missing = (
                f"entry {expected} is"
                if number == expected + 1
                else f"entries {expected} to {number - 1} are"
            )
            fault = Fault(number, seq, Problem.GAP, f"{missing} missing before entry {number}")
        elif prev_hash != prev:
            fault = Fault(
                number,
                seq,
                Problem.PREV_HASH_MISMATCH,
                f"entry {number}'s prev_hash does not match entry {number - 1}'s hash"
                if number > 1
                else "entry 1's prev_hash is not the genesis hash",
            )
        else:
            actual = entry_hash(
                prev_hash, canonical_bytes(cashbox_id, number, kind, reference, created_at, payload)
            )
            if actual != digest:
                fault = Fault(
                    number,
                    seq,
                    Problem.HASH_MISMATCH,
                    f"entry {number}'s fields do not match its hash (altered after it was written)",
                )
        # Chain on from the *stored* hash: one altered entry is reported once.
        prev = digest
        expected = number + 1
    close()
    return reports

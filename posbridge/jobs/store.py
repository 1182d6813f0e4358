"""The durable job store: every accepted job is on disk before anyone hears "accepted".

``JobStore`` is used from the event loop; all SQLite work runs on two threads: one
writer that group-commits (see ``_writer``) and one reader. Every ``Job`` it returns
reflects a committed row. Times are timezone-aware UTC datetimes; naive datetimes are
refused with ``ValueError``.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import sqlite3
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posbridge.jobs._parts import decode_parts, encode_parts
from posbridge.jobs._schema import (
    JOB_COLUMNS,
    connect_here,
    connect_reader,
    connect_writer,
    encode_doubt,
    migrate,
    reserve_wal,
    row_to_job,
    to_us,
)
from posbridge.jobs._writer import GroupCommitWriter, Reader
from posbridge.jobs.errors import (
    IdempotencyConflict,
    InvalidQuery,
    InvalidTransition,
    JobNotFound,
)
from posbridge.jobs.models import (
    OPEN_STATES,
    TERMINAL,
    DoubtRange,
    Job,
    JobKind,
    JobPage,
    JobState,
    NewJob,
    PartEnd,
    StoreStats,
    SubmitResult,
    new_job_id,
    sources_of,
)

__all__ = [
    "EXPIRED_DETAIL",
    "EXPIRED_ERROR_CODE",
    "IN_DOUBT_DETAIL",
    "IN_DOUBT_ERROR_CODE",
    "MAX_PAGE",
    "Clock",
    "JobStore",
]

Clock = Callable[[], datetime]

MAX_PAGE = 500

IN_DOUBT_ERROR_CODE = "interrupted"
IN_DOUBT_DETAIL = "the daemon stopped while sending; check the printout, then retry or cancel"
EXPIRED_ERROR_CODE = "deadline_passed"
EXPIRED_DETAIL = "the job's deadline passed before it could be sent"

_CURSOR_PREFIX = "v1:"
# Statements are assembled from constants only (never from input); values are bound.
_SELECT = "SELECT " + JOB_COLUMNS + " FROM jobs"  # noqa: S608
_RETURNING = " RETURNING " + JOB_COLUMNS
_INSERT_JOB = (
    "INSERT INTO jobs (id, device_id, kind, state, created_at, updated_at, deadline_at,"  # noqa: S608
    " bytes_total, idempotency_key, attempts, parts_total, units_total)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" + _RETURNING
)
# Followed by a WHERE condition (fixed text, values as parameters) and _RETURNING.
_UPDATE_JOB = (
    "UPDATE jobs SET state = ?, updated_at = ?, held_reason = ?, error_code = ?,"
    " error_detail = ?, attempts = attempts + ? WHERE "
)
# Literal on purpose: SQLite uses the partial index jobs_open only for this exact term.
_OPEN_SQL = "state IN ('queued', 'held')"
assert {JobState.QUEUED, JobState.HELD} == OPEN_STATES
# INDEXED BY: without it the planner may walk a device's whole history (done jobs
# included) in jobs_by_device; the partial index holds only the open jobs.
_SELECT_NEXT = (
    _SELECT + " INDEXED BY jobs_open WHERE device_id = ? AND " + _OPEN_SQL + " ORDER BY seq LIMIT ?"
)
_SELECT_OVERDUE = (
    _SELECT + " WHERE " + _OPEN_SQL + " AND deadline_at IS NOT NULL AND deadline_at < ?"
    " ORDER BY seq"
)
_PRUNE_JOBS = (
    "DELETE FROM jobs WHERE state IN ('done', 'failed', 'cancelled', 'expired') AND updated_at < ?"
)
_PRUNE_DEPENDENTS = (
    "DELETE FROM payloads WHERE job_seq IN (SELECT seq FROM jobs"
    " WHERE state IN ('done', 'failed', 'cancelled', 'expired') AND updated_at < ?)",
    "DELETE FROM idempotency WHERE job_seq IN (SELECT seq FROM jobs"
    " WHERE state IN ('done', 'failed', 'cancelled', 'expired') AND updated_at < ?)",
)
assert {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED} == TERMINAL


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(raw)
        seq = int(raw[len(_CURSOR_PREFIX) :])
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidQuery(f"cursor {cursor!r} was not issued by this store") from exc
    if seq < 0:
        raise InvalidQuery(f"cursor {cursor!r} was not issued by this store")
    return seq


def _dumps(value: Any) -> str:
    # Compact and stable: the stored text is what a replay sends back.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _select_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else row_to_job(row)


def _select_job_by_seq(conn: sqlite3.Connection, seq: int) -> Job:
    row = conn.execute(_SELECT + " WHERE seq = ?", (seq,)).fetchone()
    assert row is not None
    return row_to_job(row)


class JobStore:
    """Durable jobs in one SQLite file (WAL, ``synchronous=FULL``).

    Open with ``await JobStore.open(path)``, close with ``await store.aclose()``.
    Opening recovers from a crash: jobs caught in ``sending`` become ``in_doubt``
    and are listed in ``store.recovered``. Only one process may use a file at a time.
    """

    def __init__(self, path: Path, writer: GroupCommitWriter, reader: Reader, clock: Clock) -> None:
        """Use ``JobStore.open``; this only wires the parts together."""
        self.path = path
        self._writer = writer
        self._reader = reader
        self._clock = clock
        self._closed = False
        self.recovered: list[Job] = []
        """Jobs that ``open`` moved from ``sending`` to ``in_doubt``."""

    # --- life cycle ----------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, *, clock: Clock | None = None) -> JobStore:
        """Open (creating if needed) the store at ``path``, migrate it, then recover.

        ``clock`` returns the current UTC time for ``created_at``/``updated_at``;
        tests pass their own.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        wal = path.with_name(path.name + "-wal")
        writer = GroupCommitWriter(
            lambda: connect_writer(path), after_first_batch=lambda conn: reserve_wal(conn, wal),
            connect_here=lambda: connect_here(path),
        )
        writer.start()
        store = cls(path, writer, Reader(lambda: connect_reader(path)), clock or _utcnow)
        try:
            store.recovered = await writer.run(store._init_txn)
        except BaseException:
            await store.aclose()
            raise
        return store

    def _init_txn(self, conn: sqlite3.Connection) -> list[Job]:
        migrate(conn)
        now = to_us(self._clock())
        changed = self._resume_parted(conn, now)
        rows = conn.execute(
            _SELECT + " WHERE state = ? ORDER BY seq",
            (JobState.SENDING.value,),
        ).fetchall()
        for row in rows:
            job = row_to_job(row)
            changed.append(
                self._apply(
                    conn,
                    job,
                    JobState.IN_DOUBT,
                    now,
                    held_reason=None,
                    error_code=IN_DOUBT_ERROR_CODE,
                    error_detail=IN_DOUBT_DETAIL,
                    attempts_inc=False,
                )
            )
        return changed

    def _resume_parted(self, conn: sqlite3.Connection, now: int) -> list[Job]:
        """Jobs sent in parts go on after a crash: the parts that were in flight are put
        in doubt (never resent unasked) and the rest of the batch is queued again."""
        rows = conn.execute(
            _SELECT + " WHERE state IN ('sending', 'held') AND parts_total > 0 ORDER BY seq"
        ).fetchall()
        resumed: list[Job] = []
        for row in rows:
            job = row_to_job(row)
            if job.parts_sent > job.parts_done:
                self._doubt_txn(conn, job, job.parts_sent, now)
            if job.state is JobState.SENDING:
                job = self._apply(
                    conn, _select_job_by_seq(conn, job.seq), JobState.QUEUED, now,
                    held_reason=None, error_code=None, error_detail=None, attempts_inc=False,
                )
            resumed.append(_select_job_by_seq(conn, job.seq))
        return resumed

    async def aclose(self) -> None:
        """Finish every queued write, then close both connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        await self._writer.wait_closed()
        await self._reader.aclose()

    async def __aenter__(self) -> JobStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def stats(self) -> StoreStats:
        """Writer counters; ``stats.commits < stats.ops`` when group commit batched work."""
        return self._writer.stats

    # --- writes --------------------------------------------------------------------

    async def submit(self, new: NewJob) -> SubmitResult:
        """Accept a job in state ``queued``; returns only after the COMMIT.

        With an idempotency key the lookup and the insert are one transaction: the
        same key with the same fingerprint returns the existing job and the first
        answer (``replayed=True``); with another fingerprint it raises
        ``IdempotencyConflict``. Raises ``ValueError`` for an empty device id, a
        non-bytes payload or a naive deadline.
        """
        if not new.device_id:
            raise ValueError("device_id must not be empty")
        if not isinstance(new.payload, bytes):
            raise ValueError("payload must be bytes")
        kind = JobKind(new.kind)
        deadline = None if new.deadline_at is None else to_us(new.deadline_at)
        return await self._writer.run(lambda conn: self._submit_txn(conn, new, kind, deadline))

    def _submit_txn(
        self, conn: sqlite3.Connection, new: NewJob, kind: JobKind, deadline: int | None
    ) -> SubmitResult:
        key = new.idempotency_key
        if key is not None:
            found = conn.execute(
                "SELECT fingerprint, job_seq, first_response FROM idempotency "
                "WHERE scope = ? AND key = ?",
                (new.scope, key),
            ).fetchone()
            if found is not None:
                fingerprint, job_seq, first_json = found
                existing = _select_job_by_seq(conn, job_seq)
                if fingerprint != new.request_fingerprint:
                    raise IdempotencyConflict(new.scope, key, existing.id)
                return SubmitResult(existing, True, json.loads(first_json), first_json)
        now_dt = self._clock()
        now = to_us(now_dt)
        job_id = new_job_id(now // 1000)
        # RETURNING: the answer is exactly what was committed (e.g. times at the stored
        # microsecond precision), without a second statement to read it back.
        (row,) = conn.execute(
            _INSERT_JOB,
            (
                job_id,
                new.device_id,
                kind.value,
                (JobState.SENDING if new.sending else JobState.QUEUED).value,
                now,
                now,
                deadline,
                len(new.payload),
                key,
                1 if new.sending else 0,
                len(new.parts),
                sum(part.units for part in new.parts),
            ),
        ).fetchall()
        job = row_to_job(row)
        seq = job.seq
        conn.execute(
            "INSERT INTO payloads (job_seq, data, parts) VALUES (?, ?, ?)",
            (seq, new.payload, encode_parts(new.parts) if new.parts else None),
        )
        factory = new.response_factory or Job.to_public
        first = dict(factory(job))
        first_json = _dumps(first)
        if key is not None:
            conn.execute(
                "INSERT INTO idempotency (scope, key, fingerprint, job_seq, first_response)"
                " VALUES (?, ?, ?, ?, ?)",
                (new.scope, key, new.request_fingerprint, seq, first_json),
            )
        # ``first`` is already plain JSON values (the factory's contract); no need to
        # parse back what was just serialised.
        return SubmitResult(job, False, first, first_json)

    async def transition(
        self,
        job_id: str,
        to: JobState,
        *,
        expect: Collection[JobState],
        held_reason: str | None = None,
        error_code: str | None = None,
        error_detail: str | None = None,
        attempts_inc: bool = False,
        durable: bool = True,
    ) -> Job:
        """Move a job to ``to`` if (and only if) its state is in ``expect``: compare-and-set.

        ``expect`` is narrowed to the states from which ``to`` is legal (see
        ``TRANSITIONS``); if nothing is left that is a programming error
        (``ValueError``). ``held_reason``, ``error_code`` and ``error_detail``
        describe the new state: each is set to the given value, and ``None`` clears
        it. ``attempts_inc`` adds one to ``attempts``. Raises ``JobNotFound`` or
        ``InvalidTransition`` (whose ``job`` is the job as it is now).

        ``durable=False`` is only for ``sending`` → ``done``: that commit skips the
        fsync. A crash of the process cannot lose it; a power cut right after it can,
        and then recovery finds the job ``sending`` and reports it ``in_doubt``: a
        person looks at the paper, and nothing prints again on its own.
        """
        target = JobState(to)
        allowed = frozenset(JobState(s) for s in expect) & sources_of(target)
        if not allowed:
            raise ValueError(
                f"no state in {sorted(s.value for s in expect)} can move to {target.value}"
            )
        if not durable and (target is not JobState.DONE or allowed != {JobState.SENDING}):
            raise ValueError("only sending -> done may skip the fsync")

        states = sorted(state.value for state in allowed)
        where = f"id = ? AND state IN ({', '.join('?' * len(states))})"

        def txn(conn: sqlite3.Connection) -> Job:
            # Compare and set in one statement; only a refusal needs a look at the job.
            moved = self._update(
                conn,
                where,
                (job_id, *states),
                target,
                to_us(self._clock()),
                held_reason=held_reason,
                error_code=error_code,
                error_detail=error_detail,
                attempts_inc=attempts_inc,
            )
            if moved is not None:
                return moved
            job = _select_job(conn, job_id)
            if job is None:
                raise JobNotFound(job_id)
            raise InvalidTransition(job, target, allowed)

        if not durable:
            # Usually nothing else is being written: then no thread hop for this one.
            done = self._writer.run_here(txn)
            if done is not None:
                return done
        return await self._writer.run(txn, durable=durable)

    @staticmethod
    def _apply(
        conn: sqlite3.Connection,
        job: Job,
        target: JobState,
        now: int,
        *,
        held_reason: str | None,
        error_code: str | None,
        error_detail: str | None,
        attempts_inc: bool,
    ) -> Job:
        updated = JobStore._update(
            conn,
            "seq = ?",
            (job.seq,),
            target,
            now,
            held_reason=held_reason,
            error_code=error_code,
            error_detail=error_detail,
            attempts_inc=attempts_inc,
        )
        assert updated is not None and updated.state is target
        return updated

    @staticmethod
    def _update(
        conn: sqlite3.Connection,
        where: str,
        params: tuple[object, ...],
        target: JobState,
        now: int,
        *,
        held_reason: str | None,
        error_code: str | None,
        error_detail: str | None,
        attempts_inc: bool,
    ) -> Job | None:
        """Move the job matching ``where`` to ``target``; the job as updated, or None
        when no job matched."""
        rows = conn.execute(
            _UPDATE_JOB + where + _RETURNING,
            (
                target.value,
                now,
                held_reason,
                error_code,
                error_detail,
                1 if attempts_inc else 0,
                *params,
            ),
        ).fetchall()
        return row_to_job(rows[0]) if rows else None

    async def expire_overdue(self, now: datetime) -> list[Job]:
        """Move every queued or held job whose deadline is before ``now`` to ``expired``."""
        cutoff = to_us(now)

        def txn(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                _SELECT_OVERDUE,
                (cutoff,),
            ).fetchall()
            stamp = to_us(self._clock())
            return [
                self._apply(
                    conn,
                    row_to_job(row),
                    JobState.EXPIRED,
                    stamp,
                    held_reason=None,
                    error_code=EXPIRED_ERROR_CODE,
                    error_detail=EXPIRED_DETAIL,
                    attempts_inc=False,
                )
                for row in rows
            ]

        return await self._writer.run(txn)

    async def prune(self, *, finished_before: datetime) -> int:
        """Delete finished jobs last updated before ``finished_before``; returns how many.

        Their payloads and idempotency keys go with them (a pruned key may be reused).
        """
        cutoff = to_us(finished_before)

        def txn(conn: sqlite3.Connection) -> int:
            for statement in _PRUNE_DEPENDENTS:
                conn.execute(statement, (cutoff,))
            cur = conn.execute(_PRUNE_JOBS, (cutoff,))
            return int(cur.rowcount)

        return await self._writer.run(txn)

    # --- jobs sent in parts ---------------------------------------------------------

    async def parts_sending(self, job_id: str, parts_sent: int) -> Job:
        """Commit, before a chunk leaves, that parts up to ``parts_sent`` are in flight."""

        def txn(conn: sqlite3.Connection) -> Job:
            job = self._parted(conn, job_id)
            conn.execute(
                "UPDATE jobs SET parts_sent = ?, updated_at = ? WHERE seq = ?",
                (parts_sent, to_us(self._clock()), job.seq),
            )
            return _select_job_by_seq(conn, job.seq)

        return await self._writer.run(txn)

    async def parts_printed(self, job_id: str, parts_done: int, units: int) -> Job:
        """The printer printed every part before ``parts_done`` (``units`` more labels).
        Recorded whatever the job's state is: a job cancelled meanwhile still printed them."""

        def txn(conn: sqlite3.Connection) -> Job:
            job = self._parted(conn, job_id)
            conn.execute(
                "UPDATE jobs SET parts_done = ?, parts_sent = max(parts_sent, ?),"
                " units_done = units_done + ?, updated_at = ? WHERE seq = ?",
                (parts_done, parts_done, units, to_us(self._clock()), job.seq),
            )
            return _select_job_by_seq(conn, job.seq)

        return await self._writer.run(txn)

    async def parts_in_doubt(self, job_id: str, end: int) -> Job:
        """Parts from ``parts_done`` to ``end`` may or may not have printed: record them
        as in doubt and go on after them."""

        def txn(conn: sqlite3.Connection) -> Job:
            job = self._parted(conn, job_id)
            self._doubt_txn(conn, job, end, to_us(self._clock()))
            return _select_job_by_seq(conn, job.seq)

        return await self._writer.run(txn)

    async def parts_index(self, job_id: str) -> builtins.list[PartEnd]:
        """Where each part of a job sent in parts ends, and its units."""

        def read(conn: sqlite3.Connection) -> builtins.list[PartEnd]:
            row = conn.execute(
                "SELECT p.parts FROM jobs j JOIN payloads p ON p.job_seq = j.seq WHERE j.id = ?",
                (job_id,),
            ).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            return decode_parts(row[0] or b"")

        return await self._reader.run(read)

    @staticmethod
    def _parted(conn: sqlite3.Connection, job_id: str) -> Job:
        job = _select_job(conn, job_id)
        if job is None:
            raise JobNotFound(job_id)
        if not job.parted:
            raise ValueError(f"job {job_id} is not sent in parts")
        return job

    @staticmethod
    def _doubt_txn(conn: sqlite3.Connection, job: Job, end: int, now: int) -> None:
        start = job.parts_done
        if end <= start:
            return
        row = conn.execute(
            "SELECT p.parts FROM payloads p WHERE p.job_seq = ?", (job.seq,)
        ).fetchone()
        parts = decode_parts(row[0] or b"") if row else []
        units = sum(part.units for part in parts[start:end])
        doubt = (*job.doubt, DoubtRange(start, end, units))
        conn.execute(
            "UPDATE jobs SET parts_done = ?, parts_sent = max(parts_sent, ?), doubt = ?,"
            " updated_at = ? WHERE seq = ?",
            (end, end, encode_doubt(doubt), now, job.seq),
        )

    # --- reads ---------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        """The job with that id, or ``None``."""
        return await self._reader.run(lambda conn: _select_job(conn, job_id))

    async def payload(self, job_id: str) -> bytes:
        """The bytes to send for that job; raises ``JobNotFound``."""

        def read(conn: sqlite3.Connection) -> bytes:
            row = conn.execute(
                "SELECT p.data FROM jobs j JOIN payloads p ON p.job_seq = j.seq WHERE j.id = ?",
                (job_id,),
            ).fetchone()
            if row is None:
                raise JobNotFound(job_id)
            return bytes(row[0])

        return await self._reader.run(read)

    async def list(
        self,
        *,
        device_id: str | None = None,
        states: Collection[JobState] | None = None,
        kind: JobKind | None = None,
        created_after: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs newest first, filtered; ``next_cursor`` is ``None`` on the last page.

        ``limit`` is 1..500 and ``cursor`` must come from an earlier page (else
        ``InvalidQuery``). ``created_after`` is strict. An empty ``states`` matches nothing.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidQuery(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        where: list[str] = []
        args: list[object] = []
        if cursor is not None:
            where.append("seq < ?")
            args.append(_decode_cursor(cursor))
        if device_id is not None:
            where.append("device_id = ?")
            args.append(device_id)
        if states is not None:
            values = sorted({JobState(s).value for s in states})
            if not values:
                return JobPage([], None)
            where.append(f"state IN ({', '.join('?' * len(values))})")
            args.extend(values)
        if kind is not None:
            where.append("kind = ?")
            args.append(JobKind(kind).value)
        if created_after is not None:
            where.append("created_at > ?")
            args.append(to_us(created_after))
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit + 1)

        def read(conn: sqlite3.Connection) -> JobPage:
            jobs = [row_to_job(row) for row in conn.execute(sql, args).fetchall()]
            if len(jobs) > limit:
                jobs = jobs[:limit]
                return JobPage(jobs, _encode_cursor(jobs[-1].seq))
            return JobPage(jobs, None)

        return await self._reader.run(read)

    async def next_for_device(self, device_id: str) -> Job | None:
        """The device's oldest job that is ``queued`` or ``held``, or ``None``.

        FIFO per device: a held job comes back (and so blocks the jobs behind it)
        until it moves on. Jobs in ``sending`` or ``in_doubt`` are not returned.
        """

        jobs = await self.next_jobs_for_device(device_id, 1)
        return jobs[0] if jobs else None

    # ``builtins.list``: inside the class, ``list`` is the listing method above.
    async def next_jobs_for_device(self, device_id: str, limit: int) -> builtins.list[Job]:
        """The device's ``limit`` oldest ``queued`` or ``held`` jobs, oldest first."""

        def read(conn: sqlite3.Connection) -> builtins.list[Job]:
            rows = conn.execute(_SELECT_NEXT, (device_id, limit)).fetchall()
            return [row_to_job(row) for row in rows]

        return await self._reader.run(read)

    async def counts(self) -> dict[str, int]:
        """Number of jobs per state; every state is present (zero when none)."""

        def read(conn: sqlite3.Connection) -> dict[str, int]:
            result = {state.value: 0 for state in JobState}
            for state, count in conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
                result[str(state)] = int(count)
            return result

        return await self._reader.run(read)


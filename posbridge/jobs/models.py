"""What a job is: its states, the legal moves between them, and the records the store returns.

The state graph (``TRANSITIONS``) is the one place that says which moves are legal::

    queued   → sending | held | cancelled | expired
    held     → queued | sending | cancelled | expired | held (a new held_reason)
    sending  → done | held | failed | in_doubt | queued   (queued: retry, nothing was sent)
    in_doubt → queued (the client chose to retry) | cancelled
    done, failed, cancelled, expired: terminal, nothing leaves them

All times are timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

__all__ = [
    "OPEN_STATES",
    "TERMINAL",
    "TRANSITIONS",
    "Job",
    "JobKind",
    "JobPage",
    "JobState",
    "NewJob",
    "ResponseFactory",
    "StoreStats",
    "SubmitResult",
    "format_time",
    "new_job_id",
    "sources_of",
]


class JobState(StrEnum):
    """Where a job is in its life. The values are the public API's strings."""

    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    HELD = "held"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    IN_DOUBT = "in_doubt"


TERMINAL: frozenset[JobState] = frozenset(
    {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED}
)
"""States nothing leaves; only these are pruned."""

OPEN_STATES: frozenset[JobState] = frozenset({JobState.QUEUED, JobState.HELD})
"""States that wait for the device's worker (and can expire)."""

TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset(
        {JobState.SENDING, JobState.HELD, JobState.CANCELLED, JobState.EXPIRED}
    ),
    # held → held only updates held_reason (the cause changed: paper out → cover open).
    JobState.HELD: frozenset(
        {JobState.QUEUED, JobState.HELD, JobState.SENDING, JobState.CANCELLED, JobState.EXPIRED}
    ),
    # sending → cancelled only for jobs sent in parts: the rest of the batch is dropped.
    JobState.SENDING: frozenset(
        {
            JobState.DONE,
            JobState.HELD,
            JobState.FAILED,
            JobState.IN_DOUBT,
            JobState.QUEUED,
            JobState.CANCELLED,
        }
    ),
    JobState.IN_DOUBT: frozenset({JobState.QUEUED, JobState.CANCELLED}),
    JobState.DONE: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.EXPIRED: frozenset(),
}
"""The legal state graph: ``TRANSITIONS[a]`` is every state ``a`` may move to."""


def sources_of(target: JobState) -> frozenset[JobState]:
    """Every state from which ``target`` can legally be reached."""
    return frozenset(src for src, dests in TRANSITIONS.items() if target in dests)


class JobKind(StrEnum):
    """What the payload is. Stored as plain text, so new kinds need no migration."""

    RECEIPT = "receipt"
    DRAWER = "drawer"
    RAW = "raw"
    HANG_TAGS = "hang_tags"


def new_job_id(now_ms: int | None = None) -> str:
    """A unique id that sorts by creation time: ``job_`` + 12 hex of ms + 20 random hex."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return f"job_{ms:012x}{secrets.token_hex(10)}"


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix (the API's format)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DoubtRange(NamedTuple):
    """Parts ``[start, end)`` of a job sent in parts that may or may not have printed
    (they were in flight when the daemon died or the link broke), with their units."""

    start: int
    end: int
    units: int


@dataclass(frozen=True, slots=True)
class Job:
    """One job as committed in the store. The payload is fetched separately."""

    id: str
    seq: int
    """Insert order; the FIFO key within a device."""
    device_id: str
    kind: JobKind
    state: JobState
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None
    attempts: int
    held_reason: str | None
    error_code: str | None
    error_detail: str | None
    bytes_total: int
    idempotency_key: str | None
    # Jobs sent in parts (hang tags: a part is one tag's format, a unit one label).
    parts_total: int = 0
    parts_sent: int = 0
    parts_done: int = 0
    units_total: int = 0
    units_done: int = 0
    doubt: tuple[DoubtRange, ...] = ()

    @property
    def parted(self) -> bool:
        """Whether the job is sent in parts, with progress and per-part doubt."""
        return self.parts_total > 0

    @property
    def terminal(self) -> bool:
        """Whether the job is finished for good."""
        return self.state in TERMINAL

    def to_public(self) -> dict[str, Any]:
        """The job as the HTTP API shows it: JSON-able, ISO 8601 UTC times."""
        return {
            "id": self.id,
            "device_id": self.device_id,
            "kind": self.kind.value,
            "state": self.state.value,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "deadline_at": None if self.deadline_at is None else format_time(self.deadline_at),
            "attempts": self.attempts,
            "held_reason": self.held_reason,
            "error_code": self.error_code,
            "error_detail": self.error_detail,
            "bytes_total": self.bytes_total,
            "idempotency_key": self.idempotency_key,
            **(self._progress() if self.parted else {}),
        }

    def _progress(self) -> dict[str, Any]:
        """Progress of a batch of labels: done counts what was printed for sure; labels
        in doubt were in flight at a crash or link failure and are never resent unasked."""
        return {
            "labels_total": self.units_total,
            "labels_done": self.units_done,
            "labels_in_doubt": sum(r.units for r in self.doubt),
            "tags_total": self.parts_total,
            "tags_done": self.parts_done - sum(r.end - r.start for r in self.doubt),
            "tags_in_doubt": [[r.start, r.end] for r in self.doubt],
        }


ResponseFactory = Callable[[Job], Mapping[str, Any]]
"""Builds the first answer for a newly accepted job; must be pure and JSON-able."""


class PartEnd(NamedTuple):
    """One part of a job sent in parts: its end offset in the payload and its units."""

    end: int
    units: int


@dataclass(frozen=True, slots=True)
class NewJob:
    """A request to accept one job.

    ``idempotency_key`` is looked up in ``idempotency_scope`` (e.g. ``"POST
    /v1/printers/receipt-1/receipts"``); without a scope the key is scoped to
    ``device_id`` + ``kind``. ``request_fingerprint`` (e.g. a hash of the request
    body) tells a replay (same fingerprint) from a conflict (different one).
    ``response_factory`` builds the stored first answer from the accepted job; by
    default it is ``Job.to_public``. It runs inside the store's transaction, so it
    must be quick, pure and return JSON-able data.
    """

    device_id: str
    kind: JobKind
    payload: bytes
    deadline_at: datetime | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    idempotency_scope: str | None = None
    response_factory: ResponseFactory | None = field(default=None, compare=False)
    parts: tuple[PartEnd, ...] = ()
    """For a job sent in parts: where each part ends in ``payload`` and how many units
    (labels) it makes, in order. Empty for a job sent whole."""
    sending: bool = False
    """Commit the job straight as ``sending`` (attempt 1): its worker is idle and sends it
    right after the commit. One commit instead of two; if the daemon dies before the
    bytes leave, recovery reports the job ``in_doubt`` like any job caught sending."""

    @property
    def scope(self) -> str:
        """The scope the idempotency key lives in."""
        if self.idempotency_scope is not None:
            return self.idempotency_scope
        return f"{self.device_id}/{self.kind.value}"


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What ``JobStore.submit`` returns once the job is committed.

    ``job`` is the job as committed now (for a replay: its current state).
    ``first_response`` is the answer stored when the job was first accepted and
    ``first_response_json`` its exact stored text, so a replay can send the same bytes.
    """

    job: Job
    replayed: bool
    first_response: dict[str, Any]
    first_response_json: str


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a listing, newest first; pass ``next_cursor`` to get the next page."""

    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counters of the writer: ``commits`` < ``ops`` shows that group commit works."""

    commits: int = 0
    ops: int = 0
    failed_ops: int = 0
    failed_commits: int = 0
    max_batch: int = 0

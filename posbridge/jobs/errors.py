"""Errors raised by the job store, each with a stable ``code`` for the API.

JobStoreError            store_error            the database failed (I/O, corruption, ...)
├── StoreClosed          store_closed           the store was closed
├── UnsupportedSchema    store_schema_unsupported  the file was written by a newer version
├── JobNotFound          job_not_found          no job with that id
├── InvalidTransition    invalid_transition     the job is not in a state that allows this
├── IdempotencyConflict  idempotency_conflict   key reused with a different request
└── InvalidQuery         invalid_query          bad limit or cursor in a listing
"""

from __future__ import annotations

from collections.abc import Collection

from posbridge.jobs.models import Job, JobState

__all__ = [
    "IdempotencyConflict",
    "InvalidQuery",
    "InvalidTransition",
    "JobNotFound",
    "JobStoreError",
    "StoreClosed",
    "UnsupportedSchema",
]


class JobStoreError(Exception):
    """Root of every error the job store raises."""

    code = "store_error"


class StoreClosed(JobStoreError):
    """The store was closed (or its writer died); no more operations are accepted."""

    code = "store_closed"


class UnsupportedSchema(JobStoreError):
    """The database file was written by a newer posbridge; refusing to touch it."""

    code = "store_schema_unsupported"


class JobNotFound(JobStoreError):
    """No job with the given id exists (it never did, or it was pruned)."""

    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


# How each target state reads in "only X jobs can be <verb>".
_VERBS: dict[str, str] = {
    "queued": "queued again",
    "sending": "sent",
    "done": "marked done",
    "held": "held",
    "failed": "marked failed",
    "cancelled": "cancelled",
    "expired": "expired",
    "in_doubt": "marked in_doubt",
}


def _join_or(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


class InvalidTransition(JobStoreError):
    """The job's current state does not allow the requested change.

    ``job`` is the job as committed (its current state), ``target`` the state that
    was asked for and ``allowed`` the states from which the change would have worked.
    """

    code = "invalid_transition"

    def __init__(self, job: Job, target: JobState, allowed: Collection[JobState]) -> None:
        names = [s.value for s in JobState if s in allowed]
        verb = _VERBS.get(target.value, f"moved to {target.value}")
        super().__init__(
            f"job {job.id} is {job.state.value}; only {_join_or(names)} jobs can be {verb}"
        )
        self.job = job
        self.target = target
        self.allowed = frozenset(allowed)


class IdempotencyConflict(JobStoreError):
    """An idempotency key was reused in the same scope for a different request."""

    code = "idempotency_conflict"

    def __init__(self, scope: str, key: str, job_id: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for job {job_id} "
            "with a different request; use a new key for a new request"
        )
        self.scope = scope
        self.key = key
        self.job_id = job_id


class InvalidQuery(JobStoreError):
    """A listing was asked with a bad limit or a cursor that this store did not issue."""

    code = "invalid_query"

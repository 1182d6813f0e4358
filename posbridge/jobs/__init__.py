"""Durable jobs: what was accepted, in what state, and the bytes to send.

``JobStore`` keeps jobs in SQLite (WAL, ``synchronous=FULL``) with group commit, so
a caller hears "accepted" only after the job is on disk. See ``models`` for the state
graph and ``store`` for the API.
"""

from __future__ import annotations

from posbridge.jobs.errors import (
    IdempotencyConflict,
    InvalidQuery,
    InvalidTransition,
    JobNotFound,
    JobStoreError,
    StoreClosed,
    UnsupportedSchema,
)
from posbridge.jobs.models import (
    OPEN_STATES,
    TERMINAL,
    TRANSITIONS,
    Job,
    JobKind,
    JobPage,
    JobState,
    NewJob,
    ResponseFactory,
    StoreStats,
    SubmitResult,
    sources_of,
)
from posbridge.jobs.store import (
    EXPIRED_DETAIL,
    EXPIRED_ERROR_CODE,
    IN_DOUBT_DETAIL,
    IN_DOUBT_ERROR_CODE,
    MAX_PAGE,
    JobStore,
)

__all__ = [
    "EXPIRED_DETAIL",
    "EXPIRED_ERROR_CODE",
    "IN_DOUBT_DETAIL",
    "IN_DOUBT_ERROR_CODE",
    "MAX_PAGE",
    "OPEN_STATES",
    "TERMINAL",
    "TRANSITIONS",
    "IdempotencyConflict",
    "InvalidQuery",
    "InvalidTransition",
    "Job",
    "JobKind",
    "JobNotFound",
    "JobPage",
    "JobState",
    "JobStore",
    "JobStoreError",
    "NewJob",
    "ResponseFactory",
    "StoreClosed",
    "StoreStats",
    "SubmitResult",
    "UnsupportedSchema",
    "sources_of",
]

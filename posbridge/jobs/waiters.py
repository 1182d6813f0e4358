"""``?wait=SECONDS`` support: wake HTTP handlers when a job they wait on changes.

The worker hands over the job as committed, so a waiter needs no second database read
to learn the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass, field

from posbridge.jobs.models import Job

__all__ = ["JobWaiters", "Watch"]


@dataclass
class Watch:
    """What the waiters of one job see: an event, and the newest committed job."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    latest: Job | None = None
    count: int = 0


class JobWaiters:
    def __init__(self) -> None:
        self._watches: dict[str, Watch] = {}

    def changed(self, job: Job) -> None:
        watch = self._watches.get(job.id)
        if watch is not None:
            watch.latest = job
            watch.event.set()

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Generator[Watch, None, None]:
        """Register before reading the job, so no change between read and wait is missed."""
        watch = self._watches.setdefault(job_id, Watch())
        watch.count += 1
        try:
            yield watch
        finally:
            watch.count -= 1
            if watch.count == 0:
                del self._watches[job_id]

"""``?wait=SECONDS`` support: wake HTTP handlers when a job they wait on changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator

__all__ = ["JobWaiters"]


class JobWaiters:
    def __init__(self) -> None:
        self._events: dict[str, tuple[asyncio.Event, int]] = {}

    def changed(self, job_id: str) -> None:
        entry = self._events.get(job_id)
        if entry is not None:
            entry[0].set()

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Generator[asyncio.Event, None, None]:
        """Register before reading the job, so no change between read and wait is missed."""
        event, count = self._events.get(job_id, (asyncio.Event(), 0))
        self._events[job_id] = (event, count + 1)
        try:
            yield event
        finally:
            event, count = self._events[job_id]
            if count <= 1:
                del self._events[job_id]
            else:
                self._events[job_id] = (event, count - 1)

"""One question at a time on a link that answers status queries (DLE EOT, ``~HS``).

A query that ends early (no answer in time, a garbled one, the caller cancelled) may
still get its answer later; that late answer must not be taken for the answer to the
next question. ``QueryLine`` holds the line for each question and, after one ended
early, first reads and discards whatever arrives until the line has been quiet a while.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from drivers.transports.base import Transport

__all__ = ["QueryLine"]

RESYNC_QUIET_S = 0.05  # a line silent this long holds no more late answers
RESYNC_LIMIT = 4096


class QueryLine:
    """The lock for a device's link and its resync state. ``lock`` also guards writes,
    so a query never interleaves with print data."""

    def __init__(self, transport: Transport, *, on_resync: Callable[[], None] | None = None):
        self.transport = transport
        self.lock = asyncio.Lock()
        self.resync_needed = False
        self._on_resync = on_resync

    @asynccontextmanager
    async def query(self) -> AsyncIterator[None]:
        """Hold the line for one question and its answers."""
        async with self.lock:
            await self.resync()
            try:
                yield
            except BaseException:
                self.resync_needed = True
                raise

    async def resync(self) -> None:
        """Discard late answers to an earlier unanswered query (caller holds ``lock``)."""
        if not self.resync_needed:
            return
        self.resync_needed = False
        if self._on_resync is not None:
            self._on_resync()
        dropped = 0
        while dropped < RESYNC_LIMIT:
            chunk = await self.transport.read(256, RESYNC_QUIET_S)
            if not chunk:
                return
            dropped += len(chunk)

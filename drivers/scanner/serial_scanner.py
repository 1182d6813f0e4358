"""A barcode scanner that sends its scans as a byte stream: RS-232, USB-CDC (virtual COM
port), a serial-to-Ethernet adapter, or an emulator; anything a ``Transport`` opens."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Self

from drivers.errors import ConnectionLost
from drivers.scanner.framing import Framing, ScanFramer
from drivers.scanner.reader import ScanReader
from drivers.scanner.scan import Scan
from drivers.transports.base import Transport

__all__ = ["SerialScanner"]

_READ_BYTES = 4096
# How long one idle read waits when no scan is half-way in. Only re-arms the read; a
# scan is delivered as soon as its suffix arrives, whatever this is.
_IDLE_READ_S = 1.0
# asyncio.timeout(0) may fire before a ready read is looked at; never ask for less.
_MIN_READ_S = 0.001


class SerialScanner(ScanReader):
    """Reads scans from an open ``Transport``.

    ``read_scan`` waits for the next complete scan. When the link goes away it raises
    ``drivers.errors.ConnectionLost`` (from the transport), after every scan that was
    already complete has been delivered; bytes of a half-received scan are dropped.
    The scanner owns the transport: ``aclose`` closes it. Pass an open transport, or
    use ``async with SerialScanner(...)``, which opens it.
    """


    def __init__(
        self,
        transport: Transport,
        framing: Framing | None = None,
        *,
        source: str = "serial",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.framing = framing or Framing()
        self._framer = ScanFramer(self.framing, source)
        self._clock = clock
        self._ready: deque[Scan] = deque()
        self.scans_read = 0

    async def read_scan(self) -> Scan:
        """The next scan, waiting as long as it takes. Raises ``ConnectionLost``."""
        framer = self._framer
        while not self._ready:
            deadline = framer.deadline
            if deadline is None:
                timeout = _IDLE_READ_S
            else:
                timeout = max(deadline - self._clock(), _MIN_READ_S)
            try:
                data = await self.transport.read(_READ_BYTES, timeout)
            except ConnectionLost:
                framer.reset()  # half a scan from a device that went away is no scan
                raise
            now = self._clock()
            if data:
                self._ready.extend(framer.feed(data, now))
            else:
                self._ready.extend(framer.flush(now))
        self.scans_read += 1
        return self._ready.popleft()

    async def open(self) -> None:
        """Open the transport (idempotent). Raises ``ConnectFailed``."""
        await self.transport.open()

    async def aclose(self) -> None:
        """Close the transport; idempotent."""
        await self.transport.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

"""The async ``Transport`` surface: write bytes, read bytes, close.

Implementations never block the event loop: socket transports use asyncio streams;
blocking libraries (pyserial, pyusb) run in a worker thread under ``asyncio.timeout``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from drivers.url import DeviceURL

__all__ = ["Transport"]


class Transport(ABC):
    """A byte link to one device. Open it with ``drivers.transports.open_transport``.

    Errors are ``drivers.errors.TransportError`` subclasses: ``ConnectFailed`` on open,
    ``ConnectionLost`` when the link drops, ``TransportTimeout`` when a write cannot complete.
    """

    def __init__(self, url: DeviceURL) -> None:
        self.url = url

    @abstractmethod
    async def open(self) -> None:
        """Establish the link. Raises ``ConnectFailed``."""

    @abstractmethod
    async def write(self, data: bytes) -> None:
        """Send all of ``data`` (drained to the OS / device before returning)."""

    @abstractmethod
    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109
        """Return 1..max_bytes bytes as soon as any arrive, or b"" after ``timeout`` seconds."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the link; idempotent."""

    async def read_exactly(self, n: int, timeout: float) -> bytes:  # noqa: ASYNC109
        """Read until ``n`` bytes arrived or ``timeout`` passed; may return fewer."""
        import time

        deadline = time.monotonic() + timeout
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            chunk = await self.read(n - len(buf), remaining)
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

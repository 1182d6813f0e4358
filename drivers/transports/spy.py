"""``spy+<scheme>://``: any transport, with every byte hex-dumped to the log.

For technicians chasing "the printer does nothing": the dump shows exactly what went
out and what came back, on logger ``drivers.transports.spy`` at DEBUG. Formatting only
happens when that level is enabled, so leaving a spy URL configured costs little.
"""

from __future__ import annotations

import logging

from drivers.transports.base import Transport
from drivers.url import DeviceURL

__all__ = ["SpyTransport", "hexdump"]

logger = logging.getLogger("drivers.transports.spy")

_BYTES_PER_LINE = 16


def hexdump(data: bytes) -> str:
    """``10 04 01  ...`` lines of 16 bytes, each followed by the printable ASCII."""
    lines = []
    for offset in range(0, len(data), _BYTES_PER_LINE):
        chunk = data[offset : offset + _BYTES_PER_LINE]
        hex_part = " ".join(f"{byte:02x}" for byte in chunk)
        text = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in chunk)
        lines.append(f"{offset:08x}  {hex_part:<{_BYTES_PER_LINE * 3 - 1}}  |{text}|")
    return "\n".join(lines)


class SpyTransport(Transport):
    """Delegates to ``inner`` and logs traffic; ``url`` is the ``spy+...`` URL."""

    def __init__(self, url: DeviceURL, inner: Transport) -> None:
        super().__init__(url)
        self.inner = inner

    def _dump(self, direction: str, data: bytes) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %d byte(s)\n%s", self.inner.url.raw, direction, len(data), hexdump(data)
            )

    async def open(self) -> None:
        logger.debug("%s opening", self.inner.url.raw)
        await self.inner.open()

    async def write(self, data: bytes) -> None:
        self._dump("->", data)
        await self.inner.write(data)

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        data = await self.inner.read(max_bytes, timeout)
        if data:
            self._dump("<-", data)
        return data

    async def aclose(self) -> None:
        logger.debug("%s closing", self.inner.url.raw)
        await self.inner.aclose()

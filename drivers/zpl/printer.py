"""``LabelPrinter``: a Zebra ZPL II label printer over any ``Transport``.

Label bytes come from the hang-tag code (``drivers.zpl.format`` builds and checks ZPL);
this class sends them and talks the printer's status protocol:

* ``status()`` sends ``~HS`` and reads the three ``STX ... ETX CR LF`` lines. Tilde
  commands are acted on at once, even while the printer is paused or out of media, so
  a status query never waits behind queued labels.
* ``wait_idle()`` polls ``~HS`` until no format waits in the receive buffer and no label
  of a batch is left: only then were the labels printed, not merely sent.
* After a query went unanswered (or was cut short), its late answer may still arrive;
  the next query first discards whatever is waiting so it is not taken for a new answer.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from drivers._query import QueryLine
from drivers.errors import DeviceNotReady, TransportTimeout
from drivers.transports.base import Transport
from drivers.zpl.media import Media
from drivers.zpl.status import ETX, HOST_STATUS_QUERY, STX, LabelStatus, parse_host_status

__all__ = ["LabelPrinter"]

_STATUS_LINES = 3
_READ_CHUNK = 256
_MAX_REPLY = 4096  # a ~HS reply is ~80 bytes; more without three lines is not one
_POLL_FIRST = 0.05  # wait_idle: first pause between polls, doubling up to _POLL_MAX
_POLL_MAX = 0.5


class LabelPrinter:
    """One label printer reached through ``transport``; it owns the transport.

    ``media`` says what is loaded (size, dpi, tracking); ``timeout`` bounds each status
    round trip. Queries and writes share one lock, so a status query waits for a write
    that is being sent, never interleaves with it.
    """

    kind: ClassVar[str] = "label_printer"

    def __init__(self, transport: Transport, media: Media, *, timeout: float = 2.0) -> None:
        self.transport = transport
        self.media = media
        self.timeout = timeout
        self.last_status: LabelStatus | None = None
        """The latest ``~HS`` answer, or None before the first one."""
        self._line = QueryLine(transport)
        self._setup_sent = False

    # -- status -----------------------------------------------------------------------

    async def status(self) -> LabelStatus:
        """Ask the printer how it is (one ``~HS`` round trip).

        Raises ``TransportTimeout`` when the three lines do not arrive within ``timeout``
        and ``ProtocolError`` when they cannot be parsed.
        """
        async with self._line.query():
            await self.transport.write(HOST_STATUS_QUERY)
            status = parse_host_status(await self._read_host_status())
        self.last_status = status
        return status

    async def wait_idle(self, timeout: float) -> LabelStatus:  # noqa: ASYNC109
        """Poll ``~HS`` until every format sent so far was printed; return that status.

        Raises ``DeviceNotReady`` (naming the reason, e.g. ``media_out``) when the
        printer is still blocked after ``timeout`` seconds with labels outstanding, and
        ``TransportTimeout`` when it simply has not finished in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pause = _POLL_FIRST
        while True:
            status = await self.status()
            if status.idle:
                return status
            remaining = deadline - loop.time()
            if remaining <= 0:
                left = (
                    f"{status.formats_in_buffer} format(s) buffered, "
                    f"{status.labels_remaining} label(s) remaining"
                )
                reason = status.blocking_reason
                if reason is not None:
                    raise DeviceNotReady(f"label printer {reason} after {timeout} s: {left}")
                raise TransportTimeout(f"label printer not idle after {timeout} s: {left}")
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_MAX)

    # -- output -----------------------------------------------------------------------

    async def setup(self) -> None:
        """Send the media settings (``Media.setup_zpl``) once per connection."""
        if self._setup_sent:
            return
        await self.write(self.media.setup_zpl())
        self._setup_sent = True

    async def write(self, zpl: bytes) -> None:
        """Send ZPL (one or more ``^XA ... ^XZ`` formats) as is."""
        async with self._line.lock:
            await self.transport.write(zpl)

    def capabilities(self) -> dict[str, object]:
        """What this printer and its media can do, as plain JSON-ready values."""
        return {"language": "zpl", **self.media.describe()}

    async def aclose(self) -> None:
        """Close the transport; idempotent. A new connection needs ``setup()`` again."""
        self._setup_sent = False
        await self.transport.aclose()

    # -- reading ----------------------------------------------------------------------

    async def _read_host_status(self) -> bytes:
        """Read from the first STX through the third ETX (and a CR LF already there)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        reply = bytearray()
        while reply.count(ETX) < _STATUS_LINES:
            remaining = deadline - loop.time()
            chunk = await self.transport.read(_READ_CHUNK, remaining) if remaining > 0 else b""
            if not chunk:
                lines = reply.count(ETX)
                got = f" (got {lines} of 3 lines)" if reply else ""
                raise TransportTimeout(
                    f"label printer did not answer ~HS within {self.timeout} s{got}"
                )
            if not reply:
                # Stray bytes before the reply (a late CR LF, line noise) carry nothing.
                start = chunk.find(bytes((STX,)))
                if start < 0:
                    continue
                chunk = chunk[start:]
            reply += chunk
            if len(reply) > _MAX_REPLY:
                break  # the parser names what is wrong with it
        third_etx = _nth_index(reply, ETX, _STATUS_LINES)
        if third_etx < 0:
            return bytes(reply)
        tail = reply[third_etx + 1 :]
        if tail.strip(b"\r\n"):
            # Bytes after the answer were not asked for: drop them before the next query.
            self._line.resync_needed = True
        return bytes(reply[: third_etx + 1 + len(tail) - len(tail.lstrip(b"\r\n"))])


def _nth_index(data: bytearray, byte: int, n: int) -> int:
    """Index of the ``n``-th occurrence of ``byte`` in ``data``, or -1."""
    index = -1
    for _ in range(n):
        index = data.find(byte, index + 1)
        if index < 0:
            return -1
    return index

"""``ReceiptPrinter``: an ESC/POS receipt printer (and its cash drawer) over any ``Transport``.

Bytes to print come from ``ReceiptEncoder``; this class sends them and talks the
printer's status protocol:

* ``status()`` asks ``DLE EOT 1``-``4`` in one write and reads the four one-byte
  answers. Real-time commands are answered even while the printer is busy or offline.
* A printer with automatic status back (``GS a``) also sends 4-byte status messages on
  its own whenever something changes, so they can arrive between (never inside) the
  answers. They are recognised by their first byte (``& 0x93 == 0x10``), taken out of
  the stream and kept as ``last_asb``.
* After a query went unanswered, its late answers may still arrive; the next query
  first discards whatever is waiting so they are not mistaken for new answers.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from drivers._query import QueryLine
from drivers.errors import ProtocolError, TransportTimeout, UnsupportedFeature
from drivers.escpos.encoder import drawer_kick_bytes
from drivers.escpos.profiles import PrinterProfile
from drivers.escpos.status import (
    PrinterStatus,
    is_asb_header,
    is_dle_eot_reply,
    parse_asb,
    parse_dle_eot,
)
from drivers.transports.base import Transport

__all__ = ["ReceiptPrinter"]

DLE_EOT_ALL = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04"
GS_A_ALL = b"\x1da\xff"
GS_I_MAKER = b"\x1dI\x42"
GS_I_MODEL = b"\x1dI\x43"
_ASB_LENGTH = 4
_TEXT_REPLY_START = 0x5F  # "_" opens a GS I text answer, NUL ends it
# Taking in pushed status reads only what has already arrived: a read with no time to
# wait returns what is buffered, or nothing (the USB transport turns 0 into libusb's
# shortest timeout, since 0 means "forever" there).
_PUSHED_WAIT = 0.0


class ReceiptPrinter:
    """One receipt printer reached through ``transport``; it owns the transport.

    ``drawer_open_when_high`` says which level of the drawer's pin 3 switch means
    "open" (drawers differ). Queries and writes are serialised by one lock, so a
    status query waits for a job that is being sent.
    """

    kind: ClassVar[str] = "receipt_printer"

    def __init__(
        self,
        transport: Transport,
        profile: PrinterProfile,
        *,
        drawer_open_when_high: bool = True,
        status_timeout: float = 1.0,
    ) -> None:
        self.transport = transport
        self.profile = profile
        self.drawer_open_when_high = drawer_open_when_high
        self.status_timeout = status_timeout
        self.last_asb: PrinterStatus | None = None
        """The latest automatic status back message, or None before the first one."""
        self.asb_enabled = False
        self._asb_partial = bytearray()
        self._line = QueryLine(transport, on_resync=self._asb_partial.clear)

    # -- status -----------------------------------------------------------------------

    async def status(self) -> PrinterStatus:
        """Ask the printer how it is (one round trip).

        Raises ``TransportTimeout`` when it does not answer within ``status_timeout``
        and ``ProtocolError`` when an answer lacks the fixed bits of ``DLE EOT``.
        """
        async with self._line.query():
            await self.transport.write(DLE_EOT_ALL)
            return parse_dle_eot(await self._read_dle_eot_replies())

    async def latest_status(self) -> PrinterStatus:
        """How the printer is now, without a round trip when automatic status back is on.

        With ASB on, the printer tells every change by itself; taking in what it sent so
        far gives its current state. Without ASB this is ``status()``.
        """
        if not self.asb_enabled or self.last_asb is None:
            return await self.status()
        async with self._line.query():
            await self._take_pushed_status()
        return self.last_asb

    def drawer_open(self, status: PrinterStatus) -> bool:
        """Whether ``status`` means the drawer is open, for this drawer's wiring."""
        return status.drawer_open(self.drawer_open_when_high)

    async def enable_asb(self) -> None:
        """Turn on automatic status back (``GS a``) when the profile has it, else do nothing.

        The printer answers at once with a status message, which becomes ``last_asb``.
        A printer that stays silent (a clone under an Epson profile) is left without
        ASB: ``asb_enabled`` stays False and callers keep polling ``status()``.
        """
        if not self.profile.asb:
            return
        async with self._line.query():
            await self.transport.write(GS_A_ALL)
            message = await self._read_asb(self._deadline())
            self.asb_enabled = message is not None
            if message is None:
                self._line.resync_needed = True

    # -- output -----------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Send print data (e.g. ``ReceiptEncoder.getvalue()``) as is."""
        async with self._line.lock:
            await self.transport.write(data)

    async def kick_drawer(self, pin: int = 2, on_ms: int = 100) -> None:
        """Pulse the cash drawer on connector ``pin`` (2 or 5) for ``on_ms`` ms."""
        kick = drawer_kick_bytes(pin, on_ms)
        if pin not in self.profile.drawer_pins:
            raise UnsupportedFeature(f"profile {self.profile.name} cannot kick a drawer")
        await self.write(kick)

    # -- identity ---------------------------------------------------------------------

    async def identify(self) -> dict[str, str]:
        """Maker and model as the printer names them (``GS I 66`` / ``GS I 67``).

        Keys are left out when the printer does not answer; many clones do not.
        """
        found: dict[str, str] = {}
        async with self._line.query():
            for key, query in (("maker", GS_I_MAKER), ("model", GS_I_MODEL)):
                await self.transport.write(query)
                answer = await self._read_text_reply(self._deadline())
                if answer is None:
                    self._line.resync_needed = True
                    await self._line.resync()
                elif answer:
                    found[key] = answer
        return found

    def capabilities(self) -> dict[str, object]:
        """What this printer can do, as plain JSON-ready values."""
        p = self.profile
        return {
            "profile": p.name,
            "vendor": p.vendor,
            "columns": {"a": p.columns_a, "b": p.columns_b},
            "width_px": p.width_px,
            "dpi": p.dpi,
            "qr_native": p.qr_native,
            "barcode_b": p.barcode_b,
            "images": p.raster,
            "cut": p.paper_cut,
            "partial_cut": p.partial_cut,
            "drawer_pins": list(p.drawer_pins),
            "asb": p.asb,
        }

    async def aclose(self) -> None:
        """Close the transport; idempotent."""
        await self.transport.aclose()

    # -- reading ----------------------------------------------------------------------

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.status_timeout

    async def _read_dle_eot_replies(self) -> bytes:
        deadline = self._deadline()
        replies = bytearray()
        while len(replies) < 4:
            # Never read past what is owed, so later unsolicited bytes stay queued.
            want = _ASB_LENGTH - len(self._asb_partial) if self._asb_partial else 4 - len(replies)
            chunk = await self._read(want, deadline)
            if not chunk:
                got = f" (got {len(replies)} of 4 answers)" if replies else ""
                raise TransportTimeout(
                    f"printer did not answer DLE EOT within {self.status_timeout} s{got}"
                )
            for byte in chunk:
                if self._asb_partial or is_asb_header(byte):
                    self._take_asb_byte(byte)
                elif is_dle_eot_reply(byte):
                    replies.append(byte)
                else:
                    raise ProtocolError(
                        f"DLE EOT {len(replies) + 1} reply 0x{byte:02X} lacks the fixed bits 0x12"
                    )
        return bytes(replies)

    async def _read_asb(self, deadline: float) -> PrinterStatus | None:
        while True:
            want = _ASB_LENGTH - len(self._asb_partial)
            chunk = await self._read(want, deadline)
            if not chunk:
                return None
            for byte in chunk:
                if self._asb_partial or is_asb_header(byte):
                    message = self._take_asb_byte(byte)
                    if message is not None:
                        return message
                # Anything else here is a stray late answer; it carries no status.

    async def _take_pushed_status(self) -> None:
        """Read whatever the printer pushed meanwhile; ASB messages update ``last_asb``."""
        while True:
            want = _ASB_LENGTH - len(self._asb_partial) if self._asb_partial else 256
            chunk = await self.transport.read(want, _PUSHED_WAIT)
            if not chunk:
                return
            for byte in chunk:
                if self._asb_partial or is_asb_header(byte):
                    self._take_asb_byte(byte)
                else:
                    self._line.resync_needed = True  # a late answer: the next query drops the rest

    async def _read_text_reply(self, deadline: float) -> str | None:
        text: bytearray | None = None
        while True:
            chunk = await self._read(1, deadline)
            if not chunk:
                return None
            byte = chunk[0]
            if text is not None:
                if byte == 0:
                    return text.decode("ascii", errors="replace")
                text.append(byte)
            elif self._asb_partial or is_asb_header(byte):
                self._take_asb_byte(byte)
            elif byte == _TEXT_REPLY_START:
                text = bytearray()

    def _take_asb_byte(self, byte: int) -> PrinterStatus | None:
        self._asb_partial.append(byte)
        if len(self._asb_partial) < _ASB_LENGTH:
            return None
        message = bytes(self._asb_partial)
        self._asb_partial.clear()
        self.last_asb = parse_asb(message)
        return self.last_asb

    async def _read(self, max_bytes: int, deadline: float) -> bytes:
        """Read what arrives before ``deadline`` (event loop time); b"" once it passed."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return b""
        return await self.transport.read(max_bytes, remaining)

"""ESC/POS printer status: the bytes of ``DLE EOT n`` and ``GS a`` (ASB) parsed into one model.

Bit layouts follow Epson TM printers (TM-T88 series):

* ``DLE EOT n`` answers one byte with fixed bits 0x12 (bits 1 and 4 set, 0 and 7 clear).
  n=1 printer: 0x04 drawer pin 3 high, 0x08 offline.
  n=2 offline cause: 0x04 cover open, 0x08 paper fed by button, 0x20 stopped at paper end,
  0x40 error. n=3 error cause: 0x08 autocutter, 0x20 unrecoverable, 0x40 auto-recoverable.
  n=4 paper roll sensor: 0x0C near end, 0x60 paper end.
* ``GS a`` automatic status back sends 4 bytes: byte 1 = 0x10 | 0x04 drawer | 0x08 offline |
  0x20 cover | 0x40 feed button; byte 2 = error bits (0x08 cutter, 0x20 unrecoverable,
  0x40 auto-recoverable); byte 3 = 0x03 near end | 0x0C paper end; byte 4 reserved.

Replies are told apart by masks: ASB byte 1 & 0x93 == 0x10, DLE EOT & 0x93 == 0x12.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from drivers.errors import ProtocolError

__all__ = [
    "DLE_EOT_FIXED",
    "ErrorKind",
    "PaperState",
    "PrinterStatus",
    "is_asb_header",
    "is_dle_eot_reply",
    "parse_asb",
    "parse_dle_eot",
]

DLE_EOT_FIXED = 0x12
_FIXED_MASK = 0x93


class PaperState(enum.StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


class ErrorKind(enum.StrEnum):
    NONE = "none"
    CUTTER = "cutter"
    UNRECOVERABLE = "unrecoverable"
    AUTO_RECOVERABLE = "auto_recoverable"


@dataclass(frozen=True)
class PrinterStatus:
    """Everything a receipt printer tells about itself, plus the raw bytes it said it with."""

    online: bool = True
    paper: PaperState = PaperState.OK
    cover_open: bool = False
    drawer_pin3_high: bool = False
    error: ErrorKind = ErrorKind.NONE
    raw: bytes = field(default=b"")

    def drawer_open(self, open_when_high: bool = True) -> bool:
        """Whether the drawer is open; drawers differ in which level of pin 3 means open."""
        return self.drawer_pin3_high == open_when_high

    @property
    def blocking_reason(self) -> str | None:
        """Why a job must wait, or None when the printer can print. Near-end only warns."""
        if self.paper is PaperState.OUT:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if self.error is not ErrorKind.NONE:
            return f"error_{self.error.value}"
        if not self.online:
            return "offline"
        return None

    @property
    def warnings(self) -> list[str]:
        return ["paper_near_end"] if self.paper is PaperState.NEAR_END else []


def is_dle_eot_reply(byte: int) -> bool:
    return byte & _FIXED_MASK == DLE_EOT_FIXED


def is_asb_header(byte: int) -> bool:
    return byte & _FIXED_MASK == 0x10


def _check_dle_eot(n: int, byte: int) -> None:
    if not is_dle_eot_reply(byte):
        raise ProtocolError(f"DLE EOT {n} reply 0x{byte:02X} lacks the fixed bits 0x12")


def _error_kind(cutter: bool, unrecoverable: bool, auto: bool) -> ErrorKind:
    if unrecoverable:
        return ErrorKind.UNRECOVERABLE
    if cutter:
        return ErrorKind.CUTTER
    if auto:
        return ErrorKind.AUTO_RECOVERABLE
    return ErrorKind.NONE


def parse_dle_eot(replies: bytes) -> PrinterStatus:
    """Parse the four one-byte replies to ``DLE EOT 1``, ``2``, ``3``, ``4`` (in that order)."""
    if len(replies) != 4:
        raise ProtocolError(f"expected 4 DLE EOT replies, got {len(replies)} ({replies.hex()})")
    printer, offline_cause, error_cause, paper = replies
    for n, byte in enumerate(replies, start=1):
        _check_dle_eot(n, byte)
    if paper & 0x60:
        paper_state = PaperState.OUT
    elif paper & 0x0C:
        paper_state = PaperState.NEAR_END
    else:
        paper_state = PaperState.OK
    if offline_cause & 0x20:
        paper_state = PaperState.OUT
    return PrinterStatus(
        online=not printer & 0x08,
        paper=paper_state,
        cover_open=bool(offline_cause & 0x04),
        drawer_pin3_high=bool(printer & 0x04),
        error=_error_kind(
            cutter=bool(error_cause & 0x08),
            unrecoverable=bool(error_cause & 0x20),
            auto=bool(error_cause & 0x40),
        ),
        raw=replies,
    )


def parse_asb(data: bytes) -> PrinterStatus:
    """Parse one 4-byte automatic status back message."""
    if len(data) != 4 or not is_asb_header(data[0]):
        raise ProtocolError(f"not an automatic status back message: {data.hex()}")
    first, errors, paper, _reserved = data
    if paper & 0x0C:
        paper_state = PaperState.OUT
    elif paper & 0x03:
        paper_state = PaperState.NEAR_END
    else:
        paper_state = PaperState.OK
    return PrinterStatus(
        online=not first & 0x08,
        paper=paper_state,
        cover_open=bool(first & 0x20),
        drawer_pin3_high=bool(first & 0x04),
        error=_error_kind(
            cutter=bool(errors & 0x08),
            unrecoverable=bool(errors & 0x20),
            auto=bool(errors & 0x40),
        ),
        raw=data,
    )

"""Split a ZPL byte stream, arriving in arbitrary chunks, into formats and immediate commands.

A Zebra printer reads two kinds of things from the host:

* formats, ``^XA ... ^XZ``, queued and printed in order;
* immediate (tilde) commands such as ``~HS`` or ``~JA``, acted on the moment they are
  read, also between formats and in the middle of one (they are then taken out of it).

Bytes outside a format that are not a tilde command (line breaks, garbage) are ignored,
as a printer does. A ``^XA`` inside an unfinished format means the earlier one was cut
short; it is reported as broken and the new one starts.

Scanning uses ``re`` over the whole buffer and an index, never per-byte Python loops or
deletes at the front, so a megabyte holding thousands of formats splits in linear time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BrokenFormat", "FormatBytes", "Immediate", "StreamEvent", "ZplStreamSplitter"]


@dataclass(frozen=True, slots=True)
class FormatBytes:
    """One complete format, ``^XA`` to ``^XZ`` inclusive, immediate commands removed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Immediate:
    """A tilde command, e.g. ``Immediate("HS", "")`` or ``Immediate("SD", "15")``."""

    name: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class BrokenFormat:
    """A format that can never complete (a new ``^XA`` came before its ``^XZ``)."""

    data: bytes
    reason: str


StreamEvent = FormatBytes | Immediate | BrokenFormat

# Tilde commands acted on at once, and how many argument digits each takes.
IMMEDIATE_COMMANDS: dict[str, int] = {
    "HS": 0,  # host status
    "PS": 0,  # print start (resume)
    "PP": 0,  # programmable pause
    "JA": 0,  # cancel all
    "SD": 2,  # set darkness, 00..30
    "JR": 0,  # power-on reset
    "WC": 0,  # print configuration label
}
_START = b"^XA"
_OUTSIDE = re.compile(rb"\^[Xx][Aa]|~")
_INSIDE = re.compile(rb"\^[Xx][AaZz]|~")
_TAIL_PREFIXES = (b"^", b"^X", b"^x")
_UNKNOWN_KEPT = 100  # garbage must not grow memory without end
# A format longer than this without ^XZ is garbage filling the buffer; it is dropped.
MAX_FORMAT_BYTES = 16 * 1024 * 1024


class ZplStreamSplitter:
    """Incremental splitter: ``feed`` chunks, get events in stream order."""

    def __init__(self) -> None:
        self._pending = b""
        self._format: list[bytes] | None = None  # pieces of the open format
        self._format_size = 0
        self.unknown_commands: list[str] = []
        """Tilde commands seen outside a format and not understood (e.g. ``~TA``), the
        latest 100."""

    @property
    def in_format(self) -> bool:
        """A ``^XA`` arrived and its ``^XZ`` has not (the ``~HS`` partial format flag)."""
        return self._format is not None

    def feed(self, data: bytes) -> list[StreamEvent]:
        buf = self._pending + data if self._pending else bytes(data)
        events: list[StreamEvent] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if self._format is None:
                match = _OUTSIDE.search(buf, pos)
                if match is None:
                    # Only a lone trailing "^" or "^X" may still become a ^XA.
                    pos = max(pos, end - 2)
                    pos = self._keep_tail(buf, pos, end)
                    break
                start = match.start()
                if buf[start] == ord("~"):
                    taken = self._tilde(buf, start, events)
                    if taken < 0:
                        pos = start
                        break
                    if taken == 0:  # not an immediate command: garbage outside a format
                        command = buf[start + 1 : start + 3].decode("ascii", "replace")
                        self.unknown_commands.append(command)
                        del self.unknown_commands[:-_UNKNOWN_KEPT]
                        taken = 1
                    pos = start + taken
                else:
                    self._open_format()
                    pos = match.end()
            else:
                match = _INSIDE.search(buf, pos)
                if match is None:
                    keep = self._keep_tail(buf, max(pos, end - 2), end)
                    self._add(buf[pos:keep])
                    pos = keep
                    break
                start = match.start()
                self._add(buf[pos:start])
                if buf[start] == ord("~"):
                    taken = self._tilde(buf, start, events)
                    if taken < 0:
                        pos = start
                        break
                    if taken == 0:  # e.g. ~DG inside a format: part of the format
                        self._add(b"~")
                        taken = 1
                    pos = start + taken
                elif buf[start + 2] in b"Zz":
                    events.append(FormatBytes(self._close_format() + buf[start : match.end()]))
                    pos = match.end()
                else:
                    events.append(BrokenFormat(self._close_format(), "^XA before ^XZ"))
                    self._open_format()
                    pos = match.end()
            if self._format_size > MAX_FORMAT_BYTES:
                events.append(BrokenFormat(self._close_format()[:64], "format too long"))
        self._pending = buf[pos:]
        return events

    def reset(self) -> None:
        """Forget a partial format and pending bytes (``~JA``, power cycle)."""
        self._pending = b""
        self._format = None
        self._format_size = 0

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _keep_tail(buf: bytes, pos: int, end: int) -> int:
        """Where the kept, possibly incomplete tail ("^", "^X", "~", "~H", ...) starts."""
        for tail_start in range(max(pos, end - 2), end):
            tail = buf[tail_start:end]
            if tail in _TAIL_PREFIXES or tail[:1] == b"~":
                return tail_start
        return end

    def _tilde(self, buf: bytes, start: int, events: list[StreamEvent]) -> int:
        """Bytes taken by an immediate command at ``start``: -1 incomplete, 0 not one."""
        if start + 3 > len(buf):
            return -1
        name = buf[start + 1 : start + 3].decode("ascii", "replace").upper()
        digits = IMMEDIATE_COMMANDS.get(name)
        if digits is None:
            return 0
        if start + 3 + digits > len(buf):
            return -1
        argument = buf[start + 3 : start + 3 + digits].decode("ascii", "replace")
        if not argument.isdigit() and digits:
            argument = ""
            digits = 0
        events.append(Immediate(name, argument))
        return 3 + digits

    def _open_format(self) -> None:
        self._format = [_START]
        self._format_size = len(_START)

    def _add(self, piece: bytes) -> None:
        if piece and self._format is not None:
            self._format.append(piece)
            self._format_size += len(piece)

    def _close_format(self) -> bytes:
        pieces = self._format or []
        self._format = None
        self._format_size = 0
        return b"".join(pieces)

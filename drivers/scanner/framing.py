"""Cutting a scanner's byte stream into scans.

A scanner in serial (or serial-like) mode sends, per barcode::

    [prefix] [AIM id ]Cm] data [suffix]

and nothing else; the bytes of one scan may arrive in any number of chunks. A scan ends
at its suffix (CR, LF, CRLF or TAB), or, when the scanner sends no suffix, after a pause
of ``gap_s`` with no bytes. The gap also ends a scan whose suffix never came.

ID documents: an AAMVA driver's licence (PDF417) holds LF, RS and CR inside its data,
so a CR suffix would cut it at its first CR. The framer recognises an AAMVA header at
the start of the data and reads the document's length from it (the subfile directory:
each entry gives an offset and a length counted from the ``@``); inside that length
CR/LF/TAB are data, the first suffix at or after it ends the scan. When the header
cannot be read (damaged, or lengths that do not add up) the scan ends at the gap.
So ID scanning works with the scanner's default CR suffix; a scanner with AIM ids on
sends ``]L2`` before the ``@``, which is handled the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drivers.scanner.aim import parse_aim
from drivers.scanner.scan import Scan, build_scan

__all__ = ["MAX_SCAN_BYTES", "Framing", "ScanFramer", "Terminator", "aamva_length"]

MAX_SCAN_BYTES = 64 * 1024
"""A scan never grows beyond this (the largest PDF417 holds ~1.8 kB); longer runs of
bytes without a suffix are handed over as they are rather than buffered forever."""


class Terminator(enum.StrEnum):
    """The suffix a scanner appends to each scan."""

    CR = "cr"
    LF = "lf"
    CRLF = "crlf"
    TAB = "tab"
    NONE = "none"

    @property
    def wire(self) -> bytes:
        """The bytes of this suffix on the wire (b"" for NONE)."""
        return _TERMINATOR_BYTES[self]


_TERMINATOR_BYTES: dict[Terminator, bytes] = {
    Terminator.CR: b"\r",
    Terminator.LF: b"\n",
    Terminator.CRLF: b"\r\n",
    Terminator.TAB: b"\t",
    Terminator.NONE: b"",
}


@dataclass(frozen=True)
class Framing:
    """How a scanner is configured to frame its scans."""

    suffix: Terminator = Terminator.CR
    prefix: bytes = b""
    """Stripped when a scan starts with it; scans without it are taken as they are."""
    aim: bool = True
    """Expect AIM identifiers and strip them when present (scans without one still work)."""
    gap_s: float = 0.05
    """A pause this long ends a scan: the only end with suffix NONE, a safety net otherwise."""


# -- AAMVA ------------------------------------------------------------------------------
_AAMVA_SIGNATURES = (b"@\n\x1e\rANSI ", b"@\n\x1c\rANSI ")
_AAMVA_SIGNATURE_LEN = len(_AAMVA_SIGNATURES[0])
_AAMVA_ENTRY_LEN = 10  # subfile type (2) + offset (4) + length (4)
_AAMVA_MAX_ENTRIES = 16


def aamva_length(doc: bytes | bytearray, start: int = 0) -> int | None:
    """The length in bytes the AAMVA document at ``doc[start:]`` announces, or None.

    None while the header is incomplete; -1 when it can never be read (damaged header).
    The header is ``@ LF RS CR "ANSI "`` + issuer id (6 digits) + AAMVA version (2)
    + jurisdiction version (2, absent in version 01) + number of entries (2), then one
    directory entry per subfile: type (2) + offset (4) + length (4), offsets counted
    from the ``@``. The document ends where the furthest subfile ends.
    """
    pos = start + _AAMVA_SIGNATURE_LEN
    fixed = 6 + 2 + 2 + 2
    if len(doc) < pos + fixed:
        return None
    version = bytes(doc[pos + 6 : pos + 8])
    if not version.isdigit():
        return -1
    count_at = pos + 8 if version == b"01" else pos + 10
    count_field = bytes(doc[count_at : count_at + 2])
    if not count_field.isdigit():
        return -1
    entries = int(count_field)
    if not 1 <= entries <= _AAMVA_MAX_ENTRIES:
        return -1
    directory = count_at + 2
    if len(doc) < directory + entries * _AAMVA_ENTRY_LEN:
        return None
    end = 0
    for i in range(entries):
        entry = bytes(doc[directory + i * 10 : directory + (i + 1) * 10])
        offset, length = entry[2:6], entry[6:10]
        if not (offset.isdigit() and length.isdigit()):
            return -1
        end = max(end, int(offset) + int(length))
    header_end = directory - start + entries * _AAMVA_ENTRY_LEN
    if end < header_end or end > MAX_SCAN_BYTES:
        return -1
    return end


class ScanFramer:
    """Turns chunks of scanner bytes into ``Scan``s. Pure: the caller supplies the time.

    ``feed`` returns the scans completed by a chunk; ``flush`` hands over a scan that
    ended by silence once ``gap_s`` has passed. ``deadline`` says when to call ``flush``.
    """

    def __init__(self, framing: Framing, source: str = "serial") -> None:
        self.framing = framing
        self.source = source
        self._term = framing.suffix.wire
        self._prefix = framing.prefix
        self._aim = framing.aim
        self._gap = framing.gap_s
        self._buf = bytearray()
        self._last = 0.0
        self._searched = 0  # no suffix before this index of the buffer

    @property
    def pending(self) -> bool:
        """True while bytes of an unfinished scan are buffered."""
        return bool(self._buf)

    @property
    def deadline(self) -> float | None:
        """When the pending bytes become a scan by silence (None when nothing is pending)."""
        return self._last + self._gap if self._buf else None

    def feed(self, data: bytes, now: float) -> list[Scan]:
        """Take ``data`` received at ``now`` (monotonic seconds); return completed scans."""
        scans: list[Scan] = []
        if self._buf and now - self._last >= self._gap:
            self._take_pending(scans)
        if not data:
            return scans
        self._buf += data
        self._last = now
        buf = self._buf
        while buf:
            end = self._find_end()
            if end is None:
                break
            payload_end, frame_end = end
            raw = bytes(buf[:frame_end])
            payload = raw[self._prefix_len(raw) : payload_end]
            del buf[:frame_end]
            self._searched = 0
            if payload:
                scans.append(build_scan(raw, payload, self.source, aim=self._aim))
        if len(buf) > MAX_SCAN_BYTES:
            self._take_pending(scans)
        return scans

    def flush(self, now: float) -> list[Scan]:
        """The pending scan, if ``gap_s`` has passed since its last byte."""
        scans: list[Scan] = []
        if self._buf and now - self._last >= self._gap:
            self._take_pending(scans)
        return scans

    def reset(self) -> None:
        """Forget buffered bytes (after the link dropped: half a scan is no scan)."""
        self._buf.clear()
        self._searched = 0

    # -- internals ------------------------------------------------------------------------
    def _prefix_len(self, raw: bytes | bytearray) -> int:
        prefix = self._prefix
        return len(prefix) if prefix and raw.startswith(prefix) else 0

    def _take_pending(self, scans: list[Scan]) -> None:
        """Everything buffered is one scan, ended by silence (or by overflow)."""
        raw = bytes(self._buf)
        self.reset()
        payload = raw[self._prefix_len(raw) :]
        term = self._term
        if term and payload.endswith(term):
            payload = payload[: -len(term)]
        elif term == b"\r\n" and payload.endswith(b"\r"):
            payload = payload[:-1]  # the LF of the suffix never came
        if payload:
            scans.append(build_scan(raw, payload, self.source, aim=self._aim))

    def _body_start(self) -> int | None:
        """Index where the data begins (after prefix and AIM id); None: wait for bytes."""
        buf = self._buf
        start = 0
        prefix = self._prefix
        if prefix:
            if buf.startswith(prefix):
                start = len(prefix)
            elif len(buf) < len(prefix) and prefix.startswith(buf):
                return None
        if self._aim and len(buf) > start and buf[start] == 0x5D:  # "]"
            if len(buf) - start < 3:
                return None
            identifier, _ = parse_aim(bytes(buf[start : start + 3]))
            if identifier is not None:
                start += 3
        return start

    def _find_end(self) -> tuple[int, int] | None:
        """``(payload_end, frame_end)`` of the first complete scan buffered, or None."""
        term = self._term
        if not term:
            return None  # suffix NONE: only the gap ends a scan
        start = self._body_start()
        if start is None:
            return None
        buf = self._buf
        if len(buf) - start < _AAMVA_SIGNATURE_LEN:
            body = bytes(buf[start:])
            if any(sig.startswith(body) for sig in _AAMVA_SIGNATURES):
                return None  # may be the start of an ID document: "@", LF... decide later
            search_from = max(start, self._searched)
        elif buf.startswith(_AAMVA_SIGNATURES, start):
            length = aamva_length(buf, start)
            if length is None or length < 0:
                return None  # header incomplete, or unreadable: the gap ends this scan
            search_from = start + length
        else:
            search_from = max(start, self._searched)
        index = buf.find(term, search_from)
        if index < 0:
            self._searched = max(start, len(buf) - len(term) + 1)
            return None
        return index, index + len(term)

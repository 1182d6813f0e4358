"""USB HID POS barcode scanners (HID usage page 0x8C "Bar Code Scanner") read from
``/dev/hidrawN``.

Unlike a keyboard wedge, the scanner sends its data as bytes in input reports, so
control characters (AAMVA's LF/RS/CR, GS1's GS) and the symbology identifier survive.
The Scanned Data Report (usage 0x12) that Honeywell (e.g. 1250g/1400g in "USB HID POS"
mode), Zebra/Symbol and Windows' HID POS driver use is 64 bytes with report ID 2:

    byte  0      report ID (0x02)
    byte  1      byte count: data bytes in *this* report (Generic Desktop 0x3B), 0..56
    bytes 2..4   symbology identifier 1..3 (usages 0xFB..0xFD): the AIM id, e.g. "]E0"
    bytes 5..60  decoded data (usage 0xFE), zero padded
    bytes 61..62 vendor specific (Honeywell: its own code id, then reserved)
    byte  63     bit 0 "decode data continued" (usage 0xFF): more reports follow

A scan longer than 56 bytes arrives as several reports, every one but the last with the
continued flag set (each repeats the symbology identifier). Sources: HID Point of Sale
Usage Tables 1.02, page 0x8C; Honeywell's scanner firmware report descriptor; reports
captured from a Honeywell Voyager (published by HenkVanAsselt/python_hon_usbhid).
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass

from drivers.errors import ConnectFailed, ConnectionLost, ProtocolError
from drivers.scanner.aim import parse_aim
from drivers.scanner.reader import ScanReader
from drivers.scanner.scan import Scan, build_scan
from drivers.transports._fd import wait_fd

__all__ = [
    "DATA_SIZE",
    "REPORT_SIZE",
    "SCANNED_DATA_REPORT_ID",
    "HidPosAssembler",
    "HidPosScanner",
    "ReportPart",
    "parse_report",
]

SCANNED_DATA_REPORT_ID = 0x02
REPORT_SIZE = 64  # with the report ID byte, as hidraw hands it over
DATA_SIZE = 56
_COUNT, _SYMBOLOGY, _DATA, _VENDOR, _FLAGS = 1, 2, 5, 61, 63
_CONTINUED = 0x01


@dataclass(frozen=True, slots=True)
class ReportPart:
    """One Scanned Data Report: a whole scan, or a piece of one when ``more``."""

    symbology_id: bytes  # the three identifier bytes as sent
    aim: str | None  # the identifier when it is a well-formed AIM id ("]E0")
    data: bytes
    more: bool  # "decode data continued": the next report carries more of this scan
    vendor: bytes  # bytes 61..62 (Honeywell: its code id)


def parse_report(report: bytes, *, report_id: int = SCANNED_DATA_REPORT_ID) -> ReportPart:
    """Parse one 64-byte Scanned Data Report. ``ProtocolError`` for another report ID,
    a short report, or a byte count beyond the data field."""
    if len(report) < REPORT_SIZE:
        raise ProtocolError(f"HID POS report of {len(report)} bytes, expected {REPORT_SIZE}")
    if report[0] != report_id:
        raise ProtocolError(f"HID POS report ID {report[0]:#04x}, expected {report_id:#04x}")
    count = report[_COUNT]
    if count > DATA_SIZE:
        raise ProtocolError(f"HID POS byte count {count} exceeds {DATA_SIZE}")
    symbology_id = bytes(report[_SYMBOLOGY:_DATA])
    aim, rest = parse_aim(symbology_id)
    return ReportPart(
        symbology_id=symbology_id,
        aim=aim if aim is not None and not rest else None,
        data=bytes(report[_DATA : _DATA + count]),
        more=bool(report[_FLAGS] & _CONTINUED),
        vendor=bytes(report[_VENDOR:_FLAGS]),
    )


class HidPosAssembler:
    """Joins continued reports into scans (no I/O). :meth:`feed` takes one report and
    returns the ``Scan`` it completed, or None while more is to come."""

    def __init__(self, *, report_id: int = SCANNED_DATA_REPORT_ID) -> None:
        self.report_id = report_id
        self._parts: list[ReportPart] = []
        self._raw: list[bytes] = []

    @property
    def pending(self) -> bool:
        """True while a continued scan waits for its last report."""
        return bool(self._parts)

    def reset(self) -> None:
        """Drop a half-received scan."""
        self._parts.clear()
        self._raw.clear()

    def feed(self, report: bytes) -> Scan | None:
        part = parse_report(report, report_id=self.report_id)
        self._parts.append(part)
        self._raw.append(bytes(report))
        if part.more:
            return None
        parts, raw = list(self._parts), b"".join(self._raw)
        self.reset()
        data = b"".join(p.data for p in parts)
        aim = parts[0].aim
        # The identifier goes in front so build_scan reads it like any AIM-prefixed scan;
        # a scanner that sends none (zeros, or its own code) gets its symbology inferred.
        payload = aim.encode("ascii") + data if aim is not None else data
        return build_scan(raw, payload, "hid", aim=aim is not None)


class HidPosScanner(ScanReader):
    """A HID POS scanner read from its hidraw node.

    ``read_scan`` waits for the next scan and raises ``ConnectionLost`` when the device
    goes away (ENODEV on unplug, or end of file). Reports that are not scanned data
    (other report IDs) are skipped. Call it from one task at a time.
    """


    def __init__(self, fd: int, path: str, *, report_id: int = SCANNED_DATA_REPORT_ID) -> None:
        self.path = path
        self._fd: int | None = fd
        self._assembler = HidPosAssembler(report_id=report_id)
        self._buffer = b""
        self._ready: deque[Scan] = deque()
        self.scans_read = 0
        self.reports_skipped = 0

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, report_id: int = SCANNED_DATA_REPORT_ID
    ) -> HidPosScanner:
        """Open ``path`` (``/dev/hidrawN``) for reading; ``ConnectFailed`` when it is
        missing or not readable."""
        name = os.fspath(path)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise ConnectFailed(f"{name}: {exc.strerror or exc}") from exc
        return cls(fd, name, report_id=report_id)

    async def read_scan(self) -> Scan:
        """The next scan, waiting as long as it takes. Raises ``ConnectionLost``."""
        while not self._ready:
            if self._fd is None:
                raise ConnectionLost(f"{self.path}: scanner is closed")
            await wait_fd(self._fd, writable=False)
            self._read_reports(self._fd)
        self.scans_read += 1
        return self._ready.popleft()

    def _read_reports(self, fd: int) -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._assembler.reset()
            raise ConnectionLost(f"{self.path}: {exc.strerror or exc}") from exc
        if not data:
            self._assembler.reset()
            raise ConnectionLost(f"{self.path}: device closed")
        # hidraw returns one whole report per read; a pipe or pty standing in for it is
        # a byte stream, so cut reports by size either way.
        self._buffer += data
        while len(self._buffer) >= REPORT_SIZE:
            report, self._buffer = self._buffer[:REPORT_SIZE], self._buffer[REPORT_SIZE:]
            if report[0] != self._assembler.report_id:
                self.reports_skipped += 1
                continue
            try:
                scan = self._assembler.feed(report)
            except ProtocolError:
                self._assembler.reset()  # a garbled report spoils the scan it was part of
                self.reports_skipped += 1
                continue
            if scan is not None:
                self._ready.append(scan)

    async def aclose(self) -> None:
        """Close the device; idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

"""A barcode scanner in serial mode, emulated: you "scan", the host receives the bytes.

``emu://scanner/NAME?aim=on&suffix=cr&prefix=...`` in-process, or behind ``serve_tcp`` /
``PtyServer`` like any emulator. A real scanner talks and the host listens, so bytes
from the host are ignored. ``scan()`` builds the wire bytes exactly as a scanner
configured with these options would (prefix + AIM id + data + suffix) and sends them to
every connected host at once.

Disconnecting is the common link fault: ``apply_faults({"link": "down"})`` (or
``disconnect()``) drops every connection, so a reader gets ``ConnectionLost``, and
refuses new ones until ``{"link": "up"}``. Scans made while no host is connected are
recorded with ``delivered=0`` and go nowhere, like a scanner on an unplugged cable.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image, ImageDraw

from drivers.emulation import Emulator
from drivers.errors import InvalidURL, UnsupportedFeature
from drivers.scanner.aim import aim_for
from drivers.scanner.framing import Framing, Terminator
from drivers.scanner.symbology import Symbology

__all__ = ["EmulatorOption", "ScannerEmulator", "SentScan"]

PNG_LINES = 40  # output_png shows this many of the latest scans
_LINE_PX = 14
_PNG_WIDTH = 720
_ON = {"on", "1", "true", "yes"}
_OFF = {"off", "0", "false", "no"}


class EmulatorOption(enum.StrEnum):
    """Options of ``emu://scanner/NAME?...``."""

    AIM = "aim"
    SUFFIX = "suffix"
    PREFIX = "prefix"


@dataclass(frozen=True, slots=True)
class SentScan:
    """One scan the emulator sent: its payload, symbology, the bytes on the wire and how
    many connected hosts received them."""

    number: int
    data: bytes
    symbology: Symbology
    wire: bytes
    delivered: int


ScanItem = tuple[str | bytes, Symbology]


def _payload(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


class ScannerEmulator(Emulator):
    """A serial-mode barcode scanner (Honeywell/Zebra/Datalogic style framing).

    Options: ``aim`` on|off (default on: AIM symbology ids in front of the data),
    ``suffix`` cr|lf|crlf|tab|none (default cr), ``prefix`` text sent before each scan
    (default none; percent-encode control characters in the URL, e.g. ``%02``).
    """

    kind: ClassVar[str] = "scanner"
    OPTIONS: ClassVar[frozenset[str]] = frozenset(EmulatorOption)

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__()
        opts = self.known_options(options)
        raw_aim = opts.get(EmulatorOption.AIM, "on").lower()
        if raw_aim not in _ON | _OFF:
            raise InvalidURL(f"scanner emulator option aim={raw_aim!r}: expected on or off")
        self.aim = raw_aim in _ON
        raw_suffix = opts.get(EmulatorOption.SUFFIX, Terminator.CR.value).lower()
        try:
            self.suffix = Terminator(raw_suffix)
        except ValueError:
            known = ", ".join(t.value for t in Terminator)
            raise InvalidURL(
                f"scanner emulator option suffix={raw_suffix!r}: expected one of {known}"
            ) from None
        self.prefix = opts.get(EmulatorOption.PREFIX, "").encode("utf-8")
        self.sent: list[SentScan] = []
        """Every scan sent since the last ``clear_output``, oldest first."""
        self.scans_sent = 0
        self.bytes_sent = 0

    @property
    def framing(self) -> Framing:
        """The ``Framing`` a host needs to read this scanner."""
        return Framing(suffix=self.suffix, prefix=self.prefix, aim=self.aim)

    # -- scanning --------------------------------------------------------------------------
    def wire_bytes(
        self,
        data: str | bytes,
        symbology: Symbology,
        *,
        aim: bool | None = None,
        suffix: Terminator | None = None,
    ) -> bytes:
        """What the scanner sends for one barcode (prefix + AIM id + data + suffix).

        Data is sent as given (str as UTF-8): a real scanner may widen UPC-A to 13 digits
        under ``]E0``; pass the digits your scanner would send.
        """
        with_aim = self.aim if aim is None else aim
        identifier = aim_for(symbology).encode("ascii") if with_aim else b""
        terminator = (self.suffix if suffix is None else suffix).wire
        return b"".join((self.prefix, identifier, _payload(data), terminator))

    def scan(
        self,
        data: str | bytes,
        symbology: Symbology,
        *,
        aim: bool | None = None,
        suffix: Terminator | None = None,
    ) -> bytes:
        """Scan one barcode: send its bytes to every connected host; return the bytes.

        ``aim``/``suffix`` override the configured framing for this scan only (to test a
        host against a scanner that is set up differently).
        """
        return self.burst([(data, symbology)], aim=aim, suffix=suffix)

    def burst(
        self,
        items: Iterable[ScanItem],
        *,
        aim: bool | None = None,
        suffix: Terminator | None = None,
    ) -> bytes:
        """Scan many barcodes back to back, sent in one write (as a scanner's batch mode
        uploads its memory); return all the bytes."""
        delivered = len(self._sessions)
        chunks: list[bytes] = []
        for data, symbology in items:
            wire = self.wire_bytes(data, symbology, aim=aim, suffix=suffix)
            chunks.append(wire)
            self.scans_sent += 1
            self.sent.append(SentScan(self.scans_sent, _payload(data), symbology, wire, delivered))
        wire_all = b"".join(chunks)
        if wire_all:
            self.bytes_sent += len(wire_all)
            self.broadcast(wire_all)
        return wire_all

    def disconnect(self) -> None:
        """Pull the cable: same as ``apply_faults({"link": "down"})``."""
        self.apply_faults({"link": "down"})

    def reconnect(self) -> None:
        """Plug the cable back in: same as ``apply_faults({"link": "up"})``."""
        self.apply_faults({"link": "up"})

    # -- the Emulator protocol ---------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Host bytes are ignored: the scanner in this mode only talks."""
        return b""

    def check_device_fault(self, key: str, value: str) -> None:
        raise UnsupportedFeature(
            f"scanner emulator has no fault {key!r} (known: link=down|up|slow, link_bps)"
        )

    def apply_device_fault(self, key: str, value: str) -> None:
        self.check_device_fault(key, value)

    def state(self) -> dict[str, str]:
        return {
            **super().state(),
            "aim": "on" if self.aim else "off",
            "suffix": self.suffix.value,
            "prefix": _visible(self.prefix),
            "connections": str(len(self._sessions)),
            "scans_sent": str(self.scans_sent),
            "bytes_sent": str(self.bytes_sent),
        }

    def output_text(self) -> str:
        """One line per scan: number, symbology, data with control characters visible
        (``'@\\n\\x1e\\r...'``) and, when no host got it, a note."""
        lines = []
        for sent in self.sent:
            note = "" if sent.delivered else "  (no host connected)"
            lines.append(f"{sent.number} {sent.symbology.value} {_visible(sent.data)}{note}\n")
        return "".join(lines)

    def output_png(self) -> bytes:
        """The latest scans as lines of text on a white strip."""
        lines = self.output_text().splitlines()[-PNG_LINES:] or ["(no scans)"]
        image = Image.new("L", (_PNG_WIDTH, 8 + _LINE_PX * len(lines)), 255)
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((6, 4 + row * _LINE_PX), line[:110], fill=0)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def clear_output(self) -> None:
        self.sent.clear()


def _visible(data: bytes) -> str:
    """``data`` as a Python string literal: control characters show as escapes."""
    try:
        return repr(data.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(data)

"""A byte-exact imitation of an Epson TM-T88 receipt printer.

``EscposEmulator.receive`` is an incremental ESC/POS parser: bytes may arrive split at any
boundary, a partial command waits in a buffer until the rest comes. Commands fall in two
groups, as on the real printer:

* status commands (``DLE EOT``, ``DLE ENQ``, ``DLE DC4``, ``GS a``, ``GS r``, ``GS I``) are
  answered at once, whatever state the printer is in;
* everything else is print data. While the printer cannot print (paper out, cover open,
  offline, error) print data is held in the receive buffer and printed, once and in order,
  as soon as the fault clears.

Printed output goes to a ``Paper`` (``drivers.escpos.paper``), which ``output_text`` and
``output_png`` render. Like a real printer, which answers real-time status while it is
still printing what came before, the emulator lays print data out on the paper when the
paper is looked at, not as it arrives; only a drawer kick, which changes the status,
takes effect at once. Status bytes follow Epson TM-T88V (fixed bits 0x12, see
``drivers.escpos.status`` for the layouts).
"""

from __future__ import annotations

import asyncio
import codecs
import enum
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from PIL import Image

from drivers.emulation import Emulator
from drivers.errors import InvalidURL, UnsupportedFeature
from drivers.escpos._commands import DC4, DLE, EOT, ESC, FS, GS, command_length, is_status_command
from drivers.escpos._images import bits_to_image, column_image, scaled
from drivers.escpos._lib import EscposTextEncoder, get_profile
from drivers.escpos.paper import (
    Align,
    Barcode,
    Cut,
    DrawerPulse,
    Feed,
    Font,
    ImageSource,
    Paper,
    QrCode,
    RasterImage,
    Span,
    Symbology,
    TextLine,
    TextStyle,
)
from drivers.escpos.render import render_png, render_text
from drivers.escpos.status import DLE_EOT_FIXED, ErrorKind, PaperState, PrinterStatus

__all__ = ["EmulatorOption", "EscposEmulator", "decode_code128"]

_DEFAULT_PROFILE = "TM-T88V"
_FALLBACK_WIDTH_PX = 512  # generic profiles do not say; the narrowest common 80 mm head
_DEFAULT_LINE_SPACING = 30  # dots, 1/6 inch at 180 dpi
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EmulatorOption(enum.StrEnum):
    """Options of ``emu://escpos/NAME?...``."""

    PROFILE = "profile"
    NEAR_END_SENSOR = "near_end_sensor"
    DRAWER_AUTO_CLOSE_MS = "drawer_auto_close_ms"


class _Fault(enum.StrEnum):
    PAPER = "paper"
    COVER = "cover"
    ONLINE = "online"
    OFFLINE = "offline"
    DRAWER = "drawer"
    ERROR = "error"


# GS k function B symbology numbers; function A uses 0..6 for the first seven.
_SYMBOLOGIES: dict[int, Symbology] = {
    65: Symbology.UPC_A,
    66: Symbology.UPC_E,
    67: Symbology.EAN13,
    68: Symbology.EAN8,
    69: Symbology.CODE39,
    70: Symbology.ITF,
    71: Symbology.CODABAR,
    72: Symbology.CODE93,
    73: Symbology.CODE128,
    74: Symbology.GS1_128,
    75: Symbology.GS1_DATABAR_OMNIDIRECTIONAL,
    76: Symbology.GS1_DATABAR_TRUNCATED,
    77: Symbology.GS1_DATABAR_LIMITED,
    78: Symbology.GS1_DATABAR_EXPANDED,
}
_QR_EC_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}
_PARTIAL_CUT_MODES = {1, 49, 66, 98, 104}

# GS I n, n = 1..3 (or 49..51): model ID, type ID (0x02 = autocutter), ROM version ID.
_GS_I_BYTES = {1: 0x20, 2: 0x02, 3: 0x40}


def decode_code128(raw: bytes) -> str:
    """The data a scanner reads from an ESC/POS CODE128 payload such as ``{BORDER-1``.

    ``{A``/``{B``/``{C`` switch code sets (in C each byte is a value 0..99 = two digits),
    ``{{`` is a literal ``{``; function characters (``{1``..``{4``, ``{S``) carry no data.
    """
    out: list[str] = []
    code_set = "B"
    i = 0
    while i < len(raw):
        byte = raw[i]
        if byte == ord("{") and i + 1 < len(raw):
            nxt = chr(raw[i + 1])
            i += 2
            if nxt in "ABC":
                code_set = nxt
            elif nxt == "{":
                out.append("{")
            continue
        out.append(f"{byte:02d}" if code_set == "C" else chr(byte))
        i += 1
    return "".join(out)


# Complete lines of printable text, each ending in LF.
_TEXT_LINES = re.compile(rb"(?:[\x20-\xff]+\n)+")
_LF = 0x0A
# Print data that changes what the printer reports: it takes effect as it arrives.
_DRAWER_KICK = b"\x1bp"

_STYLE_MODES = frozenset(
    ("font", "bold", "underline", "width", "height", "inverse", "upside_down", "double_strike")
)


@dataclass
class _Modes:
    """Everything ``ESC @`` resets."""

    font: Font = Font.A
    bold: bool = False
    underline: int = 0
    width: int = 1
    height: int = 1
    align: Align = Align.LEFT
    inverse: bool = False
    upside_down: bool = False
    double_strike: bool = False
    code_page: int = 0
    line_spacing: int = _DEFAULT_LINE_SPACING
    left_margin: int = 0
    area_width: int | None = None
    barcode_height: int = 162
    barcode_width: int = 3
    hri_position: int = 0
    qr_module: int = 3
    qr_ec: str = "L"
    qr_model: int = 2
    qr_data: bytes = b""
    graphics: Image.Image | None = None

    # The style is built once and kept until one of its modes changes: every text run
    # asks for it.
    _style: ClassVar[TextStyle | None] = None

    def __setattr__(self, name: str, value: object) -> None:
        if name in _STYLE_MODES:
            object.__setattr__(self, "_style", None)
        object.__setattr__(self, name, value)

    def style(self) -> TextStyle:
        if self._style is None:
            object.__setattr__(self, "_style", self._new_style())
        assert self._style is not None
        return self._style

    def _new_style(self) -> TextStyle:
        return TextStyle(
            bold=self.bold,
            underline=self.underline,
            width=self.width,
            height=self.height,
            font=self.font,
            inverse=self.inverse,
            upside_down=self.upside_down,
            double_strike=self.double_strike,
        )


@dataclass
class _Device:
    """The mechanical state faults act on."""

    paper: PaperState = PaperState.OK
    cover_open: bool = False
    online: bool = True
    drawer_open: bool = False  # drawer pin 3 high
    error: ErrorKind = ErrorKind.NONE

    @property
    def blocked(self) -> bool:
        return (
            self.paper is PaperState.OUT
            or self.cover_open
            or not self.online
            or self.error is not ErrorKind.NONE
        )


@dataclass
class _Line:
    """The line buffer: characters (and an ESC * stripe) waiting for LF."""

    spans: list[Span] = field(default_factory=list)
    align: Align = Align.LEFT
    dots: int = 0
    stripe: Image.Image | None = None

    @property
    def empty(self) -> bool:
        return not self.spans and self.stripe is None


def _parse_bool(key: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UnsupportedFeature(f"{key}={value!r}: expected true or false")


class EscposEmulator(Emulator):
    """An Epson TM-T88-style ESC/POS printer: parses print data, answers status, takes faults.

    Options: ``profile`` (python-escpos profile name, default TM-T88V), ``near_end_sensor``
    (default true), ``drawer_auto_close_ms`` (0 = a kicked drawer stays open until a
    ``drawer=closed`` fault).
    """

    kind: ClassVar[str] = "escpos"
    OPTIONS: ClassVar[frozenset[str]] = frozenset(EmulatorOption)

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__()
        opts = self.known_options(options)
        self.profile_name = opts.get(EmulatorOption.PROFILE, _DEFAULT_PROFILE)
        try:
            profile = get_profile(self.profile_name)
        except LookupError as exc:
            raise InvalidURL(f"unknown printer profile {self.profile_name!r}") from exc
        try:
            self.near_end_sensor = _parse_bool(
                EmulatorOption.NEAR_END_SENSOR, opts.get(EmulatorOption.NEAR_END_SENSOR, "true")
            )
            self.drawer_auto_close_ms = int(opts.get(EmulatorOption.DRAWER_AUTO_CLOSE_MS, "0"))
        except (UnsupportedFeature, ValueError) as exc:
            raise InvalidURL(f"bad escpos emulator option: {exc}") from exc
        data = profile.profile_data
        self.model_name: str = str(data.get("name") or self.profile_name)
        self.vendor: str = str(data.get("vendor") or "Generic")
        fonts = data.get("fonts") or {}
        self.columns_a = int(fonts.get("0", {}).get("columns", 42))
        self.columns_b = int(fonts.get("1", {}).get("columns", self.columns_a))
        pixels = data.get("media", {}).get("width", {}).get("pixels")
        self.width_px = pixels if isinstance(pixels, int) else _FALLBACK_WIDTH_PX
        # code page number -> python-escpos encoding name, from the profile's table.
        self._code_page_names = {int(num): name for name, num in profile.get_code_pages().items()}
        self._code_page_tables: dict[int, str] = {}

        self._paper = Paper()
        self._printed_bytes = bytearray()
        self.drawer_pulses: list[DrawerPulse] = []
        self._unknown_commands: list[bytes] = []
        self._cuts = 0
        self._rx = bytearray()
        self._unprinted: deque[bytes] = deque()
        self._printing = False
        self._held: list[bytes] = []
        self._modes = _Modes()
        self._line = _Line()
        self._device = _Device()
        self._asb_mask = 0
        self._last_asb: bytes | None = None
        self._auto_close: asyncio.TimerHandle | None = None
        self._handlers = self._build_handlers()

    # -- Emulator surface ----------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Consume host bytes split anywhere; return the status replies they asked for.

        Status commands are answered now, in order with the data around them; print data
        goes onto the paper when someone looks at it (``paper``, ``output_text``, ...), as
        a printer answers real-time status while it still prints what came before.
        Print data that changes the status (a drawer kick) takes effect now."""
        rx = self._rx
        rx += data
        replies = bytearray()
        while rx:
            length = command_length(rx)
            if length is None:
                break
            if rx[0] >= 0x20:
                # Complete lines of text, the bulk of a receipt, travel as one command.
                lines = _TEXT_LINES.match(rx)
                if lines is not None:
                    length = lines.end()
            cmd = bytes(rx[:length])
            del rx[:length]
            if is_status_command(cmd):
                replies += self._status_command(cmd)
            elif self._device.blocked:
                self._held.append(cmd)
            elif cmd.startswith(_DRAWER_KICK):
                self._print_pending()
                self._print_command(cmd)
            else:
                self._unprinted.append(cmd)
        return bytes(replies)

    @property
    def paper(self) -> Paper:
        """Everything printed since the last tear-off."""
        self._print_pending()
        return self._paper

    @property
    def printed_bytes(self) -> bytes:
        """Every print-data byte printed so far, in order (status commands excluded)."""
        self._print_pending()
        return bytes(self._printed_bytes)

    @property
    def unknown_commands(self) -> list[bytes]:
        """Commands the emulator skipped because it does not know them (first bytes)."""
        self._print_pending()
        return self._unknown_commands

    @property
    def cuts(self) -> int:
        self._print_pending()
        return self._cuts

    def _print_pending(self) -> None:
        """Print the print data received so far, in order (once: a command printed while
        this runs, such as a drawer kick, has printed what came before it already)."""
        if self._printing:
            return
        self._printing = True
        try:
            while self._unprinted:
                self._print_command(self._unprinted.popleft())
        finally:
            self._printing = False

    def check_device_fault(self, key: str, value: str) -> None:
        self._parse_fault(key, value)

    def apply_device_fault(self, key: str, value: str) -> None:
        device = self._device
        fault, parsed = self._parse_fault(key, value)
        if fault is _Fault.PAPER:
            assert isinstance(parsed, PaperState)
            device.paper = parsed
        elif fault is _Fault.COVER:
            device.cover_open = bool(parsed)
        elif fault is _Fault.ONLINE:
            device.online = bool(parsed)
        elif fault is _Fault.OFFLINE:
            device.online = not parsed
        elif fault is _Fault.DRAWER:
            device.drawer_open = bool(parsed)
        else:
            assert isinstance(parsed, ErrorKind)
            device.error = parsed
        self._status_changed()
        self._release_held()

    def _parse_fault(self, key: str, value: str) -> tuple[_Fault, PaperState | ErrorKind | bool]:
        try:
            fault = _Fault(key)
        except ValueError:
            known = ", ".join(f.value for f in _Fault)
            raise UnsupportedFeature(
                f"escpos emulator has no fault {key!r} (known: {known}, link)"
            ) from None
        if fault is _Fault.PAPER:
            try:
                return fault, PaperState(value)
            except ValueError:
                raise UnsupportedFeature(f"paper={value!r}: expected ok, near_end or out") from None
        if fault in (_Fault.COVER, _Fault.DRAWER):
            return fault, self._choice(key, value, {"open": True, "closed": False})
        if fault in (_Fault.ONLINE, _Fault.OFFLINE):
            return fault, self._choice(key, value, {"true": True, "false": False})
        try:
            return fault, ErrorKind(value)
        except ValueError:
            known = ", ".join(e.value for e in ErrorKind)
            raise UnsupportedFeature(f"error={value!r}: expected one of {known}") from None

    @staticmethod
    def _choice(key: str, value: str, choices: Mapping[str, bool]) -> bool:
        try:
            return choices[value.lower()]
        except KeyError:
            expected = " or ".join(choices)
            raise UnsupportedFeature(f"{key}={value!r}: expected {expected}") from None

    def state(self) -> dict[str, str]:
        device = self._device
        return {
            **super().state(),
            "paper": device.paper.value,
            "cover": "open" if device.cover_open else "closed",
            "online": "true" if device.online else "false",
            "drawer": "open" if device.drawer_open else "closed",
            "error": device.error.value,
            "held_bytes": str(sum(len(cmd) for cmd in self._held)),
        }

    def output_text(self) -> str:
        return render_text(self.paper)

    def output_png(self) -> bytes:
        return render_png(self.paper, self.width_px, self.columns_a, self.columns_b)

    def clear_output(self) -> None:
        self._print_pending()  # what was sent before the tear-off is on the torn-off part
        self._paper.clear()
        self._printed_bytes.clear()
        self.drawer_pulses.clear()
        self._unknown_commands.clear()
        self._cuts = 0

    # -- status ----------------------------------------------------------------------------
    def printer_status(self) -> PrinterStatus:
        """The state the printer would report, as the driver's status model."""
        device = self._device
        return PrinterStatus(
            online=not self._offline,
            paper=device.paper,
            cover_open=device.cover_open,
            drawer_pin3_high=device.drawer_open,
            error=device.error,
            raw=self._asb(),
        )

    @property
    def _offline(self) -> bool:
        return self._device.blocked

    def _dle_eot(self, n: int) -> int:
        device = self._device
        value = DLE_EOT_FIXED
        if n == 1:
            value |= 0x04 if device.drawer_open else 0
            value |= 0x08 if self._offline else 0
        elif n == 2:
            value |= 0x04 if device.cover_open else 0
            value |= 0x20 if device.paper is PaperState.OUT else 0
            value |= 0x40 if device.error is not ErrorKind.NONE else 0
        elif n == 3:
            value |= self._error_bits()
        elif n == 4:
            if device.paper is PaperState.OUT:
                value |= 0x60
            elif device.paper is PaperState.NEAR_END and self.near_end_sensor:
                value |= 0x0C
        return value

    def _error_bits(self) -> int:
        return {
            ErrorKind.NONE: 0x00,
            ErrorKind.CUTTER: 0x08,
            ErrorKind.UNRECOVERABLE: 0x20,
            ErrorKind.AUTO_RECOVERABLE: 0x40,
        }[self._device.error]

    def _paper_sensor_bits(self) -> int:
        """ASB byte 3 / ``GS r 1``: 0x03 near end, 0x0C paper end."""
        paper = self._device.paper
        if paper is PaperState.OUT:
            return 0x0C
        if paper is PaperState.NEAR_END and self.near_end_sensor:
            return 0x03
        return 0x00

    def _asb(self) -> bytes:
        device = self._device
        first = 0x10
        first |= 0x04 if device.drawer_open else 0
        first |= 0x08 if self._offline else 0
        first |= 0x20 if device.cover_open else 0
        return bytes((first, self._error_bits(), self._paper_sensor_bits(), 0x00))

    def _status_changed(self) -> None:
        """Send automatic status back when it is enabled and the status differs."""
        if not self._asb_mask:
            return
        asb = self._asb()
        if asb != self._last_asb:
            self._last_asb = asb
            self.broadcast(asb)

    def _status_command(self, cmd: bytes) -> bytes:
        second = cmd[1]
        if cmd[0] == DLE:
            if second == EOT:
                return bytes((self._dle_eot(cmd[2]),)) if 1 <= cmd[2] <= 4 else b""
            if second == DC4 and cmd[2] == 1:  # real-time drawer pulse: DLE DC4 1 m t
                self._drawer_pulse(pin=2 if cmd[3] == 0 else 5, on_ms=cmd[4] * 100)
            elif second == DC4 and cmd[2] not in (2, 8):
                self._unknown_commands.append(cmd[:3])
            return b""  # DLE ENQ (recover / clear buffers) has no reply
        n = cmd[2]
        if second == ord("a"):
            self._asb_mask = n
            if n:
                self._last_asb = self._asb()
                return self._last_asb
            return b""
        if second == ord("r"):
            if n in (1, 49):
                return bytes((self._paper_sensor_bits(),))
            if n in (2, 50):
                return bytes((0x01 if self._device.drawer_open else 0x00,))
            return b"\x00"
        return self._gs_i(n)

    def _gs_i(self, n: int) -> bytes:
        if n in _GS_I_BYTES or n - 48 in _GS_I_BYTES:
            return bytes((_GS_I_BYTES.get(n) or _GS_I_BYTES[n - 48],))
        texts = {
            65: "30.05 ESC/POS",  # firmware version
            66: self.vendor.upper(),
            67: self.model_name,
            68: "EMU00001",  # serial number
            69: "PC437",  # font of language
        }
        text = texts.get(n)
        if text is None:
            self._unknown_commands.append(b"\x1dI" + bytes((n,)))
            return b""
        return b"_" + text.encode("ascii", "replace") + b"\x00"

    # -- print data ------------------------------------------------------------------------
    def _release_held(self) -> None:
        """Print data held while the printer could not print, once it can."""
        self._print_pending()  # it came before the held data
        while self._held and not self._device.blocked:
            self._print_command(self._held.pop(0))

    def _print_command(self, cmd: bytes) -> None:
        self._printed_bytes += cmd
        first = cmd[0]
        if first >= 0x20:
            if cmd[-1] == _LF:
                self._print_lines(cmd)
            else:
                self._text(cmd)
            return
        key = bytes(cmd[:2]) if first in (ESC, GS, FS) and len(cmd) >= 2 else bytes(cmd[:1])
        handler = self._handlers.get(key)
        if handler is None:
            self._unknown_commands.append(key)
            return
        handler(cmd)

    def _build_handlers(self) -> dict[bytes, Callable[[bytes], None]]:
        m = self._modes_set
        ignore: Callable[[bytes], None] = lambda cmd: None  # noqa: E731
        handlers: dict[bytes, Callable[[bytes], None]] = {
            b"\n": lambda cmd: self._line_feed(),
            b"\r": ignore,
            b"\x18": ignore,
            b"\x07": ignore,  # BEL: buzzer on models that have one
            b"\t": lambda cmd: self._tab(),
            b"\x0c": lambda cmd: self._print_line(),
            b"\x1b@": lambda cmd: self._initialize(),
            b"\x1b!": self._esc_print_mode,
            b"\x1bE": lambda cmd: m(bold=bool(cmd[2] & 1)),
            b"\x1bG": lambda cmd: m(double_strike=bool(cmd[2] & 1)),
            b"\x1b-": lambda cmd: m(underline=cmd[2] % 48 if cmd[2] % 48 <= 2 else 0),
            b"\x1bM": lambda cmd: m(font=Font.B if cmd[2] in (1, 49) else Font.A),
            b"\x1ba": self._esc_align,
            b"\x1b{": lambda cmd: m(upside_down=bool(cmd[2] & 1)),
            b"\x1bt": self._esc_code_page,
            b"\x1bd": self._esc_feed_lines,
            b"\x1bJ": lambda cmd: self._feed_dots(cmd[2]),
            b"\x1be": ignore,  # reverse feed: paper cannot go back on the record
            b"\x1b2": lambda cmd: m(line_spacing=_DEFAULT_LINE_SPACING),
            b"\x1b3": lambda cmd: m(line_spacing=cmd[2]),
            b"\x1bA": lambda cmd: m(line_spacing=cmd[2] * 3),  # n/60 inch
            b"\x1b+": lambda cmd: m(line_spacing=cmd[2] // 2),  # n/360 inch
            b"\x1bp": lambda cmd: self._drawer_pulse(
                pin=2 if cmd[2] in (0, 48) else 5, on_ms=cmd[3] * 2
            ),
            b"\x1bi": lambda cmd: self._cut(partial=True),
            b"\x1bm": lambda cmd: self._cut(partial=True),
            b"\x1b*": self._esc_bit_image,
            b"\x1b(": ignore,  # buzzer and other ESC ( settings: no mark on paper
            b"\x1dV": lambda cmd: self._cut(partial=cmd[2] in _PARTIAL_CUT_MODES),
            b"\x1d!": lambda cmd: m(width=(cmd[2] >> 4 & 7) + 1, height=(cmd[2] & 7) + 1),
            b"\x1dB": lambda cmd: m(inverse=bool(cmd[2] & 1)),
            b"\x1dH": lambda cmd: m(hri_position=cmd[2] % 48),
            b"\x1dh": lambda cmd: m(barcode_height=cmd[2]),
            b"\x1dw": lambda cmd: m(barcode_width=cmd[2]),
            b"\x1dL": lambda cmd: m(left_margin=cmd[2] | cmd[3] << 8),
            b"\x1dW": lambda cmd: m(area_width=(cmd[2] | cmd[3] << 8) or None),
            b"\x1dk": self._gs_barcode,
            b"\x1dv": self._gs_raster,
            b"\x1d(": self._gs_paren,
            b"\x1d8": self._gs_8,
        }
        # Settings that leave no mark on the emulated paper (smoothing, density, colour,
        # HRI font, international charset, rotation, spacing, peripherals, panel keys).
        for key in (b"\x1bR", b"\x1bV", b"\x1bU", b"\x1b ", b"\x1b=", b"\x1bc", b"\x1bD"):
            handlers[key] = ignore
        for key in (b"\x1db", b"\x1d|", b"\x1df", b"\x1dP", b"\x1dE", b"\x1bS", b"\x1bL"):
            handlers[key] = ignore
        handlers[b"\x1br"] = ignore
        return handlers

    def _modes_set(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self._modes, name, value)

    def _initialize(self) -> None:
        # ESC @ discards the line buffer and resets modes; ASB and faults stay.
        self._modes = _Modes()
        self._line = _Line()

    def _esc_print_mode(self, cmd: bytes) -> None:
        n = cmd[2]
        self._modes_set(
            font=Font.B if n & 0x01 else Font.A,
            bold=bool(n & 0x08),
            height=2 if n & 0x10 else 1,
            width=2 if n & 0x20 else 1,
            underline=1 if n & 0x80 else 0,
        )

    def _esc_align(self, cmd: bytes) -> None:
        align = {0: Align.LEFT, 1: Align.CENTER, 2: Align.RIGHT}.get(cmd[2] % 48, Align.LEFT)
        self._modes.align = align
        if self._line.empty:
            self._line.align = align

    def _esc_code_page(self, cmd: bytes) -> None:
        if cmd[2] in self._code_page_names:
            self._modes.code_page = cmd[2]
        else:
            self._unknown_commands.append(cmd)

    # -- text ------------------------------------------------------------------------------
    def _table(self, page: int) -> str:
        """A ``codecs.charmap_decode`` table: ASCII below 0x80, the page's characters above."""
        table = self._code_page_tables.get(page)
        if table is None:
            try:
                chars = list(EscposTextEncoder._get_codepage_char_list(self._code_page_names[page]))
            except (LookupError, AssertionError):
                chars = ["?"] * 128
            upper = [chr(0x80 + index) for index in range(128)]
            upper[: len(chars)] = [char if len(char) == 1 else "?" for char in chars[:128]]
            table = "".join(chr(index) for index in range(128)) + "".join(upper)
            self._code_page_tables[page] = table
        return table

    def _decode(self, data: bytes) -> str:
        # A charmap table decodes in C; a line of a receipt is decoded many times a second.
        return codecs.charmap_decode(data, "strict", self._table(self._modes.code_page))[0]

    def _char_dots(self, font: Font) -> int:
        columns = self.columns_b if font is Font.B else self.columns_a
        return self.width_px // columns

    def _area_dots(self) -> int:
        modes = self._modes
        area = self.width_px - modes.left_margin
        if modes.area_width is not None:
            area = min(area, modes.area_width)
        return max(area, self._char_dots(Font.A))

    def _text(self, data: bytes) -> None:
        self._put_text(self._decode(data))

    def _put_text(self, text: str) -> None:
        style = self._modes.style()
        char_dots = self._char_dots(style.font) * style.width
        area = self._area_dots()
        # Whole runs of characters at a time: the line takes as many as fit, then wraps.
        while text:
            line = self._line
            fit = (area - line.dots) // char_dots
            if line.spans and fit <= 0:
                self._flush_line()  # the printer wraps a full line
                continue
            chunk, text = text[: max(fit, 1)], text[max(fit, 1) :]
            if not line.spans:
                line.align = self._modes.align
            if line.spans and line.spans[-1].style == style:
                line.spans[-1].text += chunk
            else:
                line.spans.append(Span(chunk, style))
            line.dots += char_dots * len(chunk)

    def _print_lines(self, data: bytes) -> None:
        """Print complete lines of text (each ending in LF)."""
        if not self._line.empty:  # the first line ends what the line buffer holds
            end = data.index(b"\n")
            self._text(data[:end])
            self._line_feed()
            data = data[end + 1 :]
            if not data:
                return
        self._text_lines(data)

    def _text_lines(self, data: bytes) -> None:
        """Print complete lines of text from an empty line buffer: the same paper as
        ``_text`` then ``_line_feed`` for each, without the line buffer when a line fits."""
        modes = self._modes
        style = modes.style()
        char_dots = self._char_dots(style.font) * style.width
        area = self._area_dots()
        columns = self._line_columns(style.font)
        align, spacing = modes.align, modes.line_spacing
        for line in self._decode(data[:-1]).split("\n"):
            if len(line) * char_dots > area:
                self._put_text(line)  # wraps: the general way
                self._line_feed()
            else:
                self._paper.add(TextLine([Span(line, style)], align, columns, spacing))

    def _tab(self) -> None:
        char_dots = self._char_dots(self._modes.font) * self._modes.width
        column = self._line.dots // char_dots
        self._text(b" " * (8 - column % 8))

    def _line_columns(self, font: Font) -> int:
        return self._area_dots() // self._char_dots(font)

    def _flush_line(self) -> bool:
        """Print what the line buffer holds; True if anything was printed."""
        line = self._line
        if line.empty:
            return False
        if line.stripe is not None:
            self._paper.add(RasterImage(line.stripe, ImageSource.COLUMN, line.align))
        if line.spans:
            columns = self._line_columns(line.spans[0].style.font)
            self._paper.add(TextLine(line.spans, line.align, columns, self._modes.line_spacing))
        self._line = _Line(align=self._modes.align)
        return True

    def _print_line(self) -> None:
        self._flush_line()

    def _line_feed(self) -> None:
        if not self._flush_line():
            columns = self._line_columns(self._modes.font)
            self._paper.add(TextLine([], self._modes.align, columns, self._modes.line_spacing))

    def _esc_feed_lines(self, cmd: bytes) -> None:
        if cmd[2] == 0:
            self._flush_line()
        for _ in range(cmd[2]):
            self._line_feed()

    def _feed_dots(self, dots: int) -> None:
        self._flush_line()
        self._paper.add(Feed(dots))

    # -- mechanics -------------------------------------------------------------------------
    def _cut(self, partial: bool) -> None:
        self._flush_line()
        self._paper.add(Cut(partial=partial))
        self._cuts += 1

    def _drawer_pulse(self, pin: int, on_ms: int) -> None:
        self._print_pending()  # the pulse comes after what was sent before it
        pulse = DrawerPulse(pin=pin, on_ms=on_ms)
        self.drawer_pulses.append(pulse)
        self._paper.add(pulse)
        self._device.drawer_open = True
        self._status_changed()
        if self.drawer_auto_close_ms > 0:
            self._schedule_auto_close()

    def _schedule_auto_close(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (plain synchronous use): the drawer stays open
        if self._auto_close is not None:
            self._auto_close.cancel()
        self._auto_close = loop.call_later(self.drawer_auto_close_ms / 1000, self._close_drawer)

    def _close_drawer(self) -> None:
        self._auto_close = None
        self.apply_device_fault(_Fault.DRAWER, "closed")

    # -- barcodes and 2D codes -------------------------------------------------------------
    def _gs_barcode(self, cmd: bytes) -> None:
        m = cmd[2]
        if m <= 6:
            raw, symbology = cmd[3:-1], _SYMBOLOGIES.get(m + 65)
        else:
            raw, symbology = cmd[4:], _SYMBOLOGIES.get(m)
        if symbology is None:
            self._unknown_commands.append(cmd[:3])
            return
        code128 = symbology in (Symbology.CODE128, Symbology.GS1_128)
        data = decode_code128(raw) if code128 else raw.decode("latin-1")
        self._flush_line()
        modes = self._modes
        self._paper.add(
            Barcode(
                symbology=symbology,
                data=data,
                raw=bytes(raw),
                height=modes.barcode_height,
                module_width=modes.barcode_width,
                hri_position=modes.hri_position,
                align=modes.align,
            )
        )

    def _gs_paren(self, cmd: bytes) -> None:
        function, payload = cmd[2], cmd[5:]
        if function == ord("k") and len(payload) >= 2:
            self._gs_paren_k(cmd, payload)
        elif function == ord("L") and len(payload) >= 2:
            self._graphics(cmd, payload)
        else:
            self._unknown_commands.append(cmd[:3])

    def _gs_8(self, cmd: bytes) -> None:
        if cmd[2] == ord("L") and len(cmd) >= 9:
            self._graphics(cmd, cmd[7:])
        else:
            self._unknown_commands.append(cmd[:3])

    def _gs_paren_k(self, cmd: bytes, payload: bytes) -> None:
        symbol, fn = payload[0], payload[1]
        modes = self._modes
        if symbol != 49:  # only QR (cn 49); PDF417, MaxiCode, ... are not emulated
            self._unknown_commands.append(cmd[:7])
        elif fn == 65 and len(payload) >= 3:
            modes.qr_model = {49: 1, 50: 2, 51: 3}.get(payload[2], 2)
        elif fn == 67 and len(payload) >= 3:
            modes.qr_module = payload[2]
        elif fn == 69 and len(payload) >= 3:
            modes.qr_ec = _QR_EC_LEVELS.get(payload[2], "L")
        elif fn == 80:
            modes.qr_data = bytes(payload[3:])
        elif fn == 81:
            self._flush_line()
            try:
                text = modes.qr_data.decode("utf-8")
            except UnicodeDecodeError:
                text = modes.qr_data.decode("latin-1")
            self._paper.add(
                QrCode(
                    data=text,
                    module_size=modes.qr_module,
                    ec_level=modes.qr_ec,
                    model=modes.qr_model,
                    align=modes.align,
                )
            )
        else:
            self._unknown_commands.append(cmd[:7])

    # -- images ----------------------------------------------------------------------------
    def _gs_raster(self, cmd: bytes) -> None:
        if cmd[2] != ord("0"):
            self._unknown_commands.append(cmd[:3])
            return
        mode = cmd[3] % 48
        width, height = (cmd[4] | cmd[5] << 8) * 8, cmd[6] | cmd[7] << 8
        image = bits_to_image(cmd[8:], width, height)
        image = scaled(image, 2 if mode in (1, 3) else 1, 2 if mode in (2, 3) else 1)
        self._flush_line()
        self._paper.add(RasterImage(image, ImageSource.RASTER, self._modes.align))

    def _graphics(self, cmd: bytes, payload: bytes) -> None:
        """``GS ( L`` / ``GS 8 L``: fn 112 stores a raster in the buffer, fn 50 prints it."""
        fn = payload[1]
        if fn == 112 and len(payload) >= 10:
            scale_x, scale_y = payload[3], payload[4]
            width = payload[6] | payload[7] << 8
            height = payload[8] | payload[9] << 8
            image = bits_to_image(payload[10:], width, height)
            self._modes.graphics = scaled(image, max(scale_x, 1), max(scale_y, 1))
        elif fn in (50, 2):
            graphics = self._modes.graphics
            if graphics is not None:
                self._flush_line()
                self._paper.add(RasterImage(graphics, ImageSource.GRAPHICS, self._modes.align))
                self._modes.graphics = None
        elif fn not in (48, 49):  # 48/49 query capacity/tone: harmless
            self._unknown_commands.append(cmd[:7])

    def _esc_bit_image(self, cmd: bytes) -> None:
        mode = cmd[2]
        if mode not in (0, 1, 32, 33):
            self._unknown_commands.append(cmd[:3])
            return
        stripe = column_image(mode, cmd[5:])
        line = self._line
        if line.empty:
            line.align = self._modes.align
        if line.stripe is None:
            line.stripe = stripe
        else:  # two ESC * on one line sit side by side
            joined = Image.new("1", (line.stripe.width + stripe.width, stripe.height), 1)
            joined.paste(line.stripe, (0, 0))
            joined.paste(stripe, (line.stripe.width, 0))
            line.stripe = joined

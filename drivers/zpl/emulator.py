"""A Zebra ZPL II label printer, emulated: takes formats, answers ``~HS``, takes faults.

``ZplEmulator.receive`` splits the byte stream (``drivers.zpl._stream``) into formats
``^XA ... ^XZ`` and immediate tilde commands, acting on them in stream order:

* ``~HS`` is answered at once with ``host_status_reply``, whatever the state; ``~PP``
  pauses, ``~PS`` resumes, ``~JA`` cancels every buffered format, ``~SD`` sets the
  darkness (recorded only), ``~JR``/``~WC`` are accepted and ignored.
* Each format is parsed once, on arrival, with a ``FormatState`` kept across formats
  (``^CI``, ``^PW``, ``^LL`` persist as on the printer). A format with ``^PQq`` prints q
  labels; one without fields only changes settings and prints nothing. A malformed one
  is recorded as an error and does not print.
* While media is out, the head is open, the ribbon is out or the printer is paused,
  formats wait in the receive buffer (``~HS`` counts them and their labels) and print
  in order, exactly once, when the last fault clears.

Printed labels are kept as parsed ``Label`` objects; PNGs are rendered only when asked
for (``output_png``, ``label_png``), so printing thousands of labels stays cheap.
"""

from __future__ import annotations

import enum
import io
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image

from drivers.emulation import Emulator
from drivers.errors import InvalidURL, ProtocolError, UnsupportedFeature
from drivers.zpl._stream import BrokenFormat, FormatBytes, Immediate, ZplStreamSplitter
from drivers.zpl.format import FormatState, Label, parse_format
from drivers.zpl.media import SUPPORTED_DPI, Media
from drivers.zpl.render import label_png as render_label_png
from drivers.zpl.render import label_text, render_label
from drivers.zpl.status import LabelStatus, host_status_reply, parse_host_status

__all__ = ["EmulatorOption", "PrintedLabel", "RejectedFormat", "ZplEmulator"]

PNG_LABELS = 32  # output_png shows this many of the latest labels
_SEPARATOR_DOTS = 4
_SEPARATOR_GREY = 160
# Receive buffer size of a desktop Zebra; beyond it ~HS reports "buffer full".
RECEIVE_BUFFER_BYTES = 1024 * 1024


class EmulatorOption(enum.StrEnum):
    """Options of ``emu://zpl/NAME?...``."""

    DPI = "dpi"
    WIDTH_MM = "width_mm"
    HEIGHT_MM = "height_mm"


class _Fault(enum.StrEnum):
    MEDIA = "media"
    HEAD = "head"
    PAUSE = "pause"
    RIBBON = "ribbon"


# fault -> {value: is the fault active}; the first value is the fault, the second its end.
_FAULT_VALUES: dict[_Fault, dict[str, bool]] = {
    _Fault.MEDIA: {"out": True, "ok": False},
    _Fault.HEAD: {"open": True, "closed": False},
    _Fault.PAUSE: {"on": True, "off": False},
    _Fault.RIBBON: {"out": True, "ok": False},
}


@dataclass(frozen=True, slots=True)
class PrintedLabel:
    """One label that came out: ``copy`` of ``copies`` (``^PQ``) of format ``format_number``."""

    number: int
    label: Label
    copy: int
    copies: int
    format_number: int


@dataclass(frozen=True, slots=True)
class RejectedFormat:
    """A format the printer ignored because it could not be parsed."""

    format_number: int
    error: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Queued:
    format_number: int
    label: Label
    copies: int
    size: int


def _mm_option(opts: Mapping[str, str], key: str) -> float | None:
    raw = opts.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidURL(f"zpl emulator option {key}={raw!r} is not a number") from None
    if not 5 <= value <= 1000:
        raise InvalidURL(f"zpl emulator option {key}={raw!r} is outside 5..1000 mm")
    return value


class ZplEmulator(Emulator):
    """A Zebra ZPL II label printer (ZD-series desktop, direct thermal by default).

    Options: ``dpi`` (203 or 300, default 203), ``width_mm``/``height_mm`` (the loaded
    label; without them the format's ``^PW``/``^LL`` or a 2 x 3 in label apply).
    """

    kind: ClassVar[str] = "zpl"
    OPTIONS: ClassVar[frozenset[str]] = frozenset(EmulatorOption)

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        super().__init__()
        opts = self.known_options(options)
        raw_dpi = opts.get(EmulatorOption.DPI, "203")
        if not raw_dpi.isdigit() or int(raw_dpi) not in SUPPORTED_DPI:
            raise InvalidURL(f"zpl emulator option dpi={raw_dpi!r}: expected 203 or 300")
        self.dpi = int(raw_dpi)
        width_mm = _mm_option(opts, EmulatorOption.WIDTH_MM)
        height_mm = _mm_option(opts, EmulatorOption.HEIGHT_MM)
        default = Media(dpi=self.dpi)
        self.media = Media(
            width_mm=width_mm or default.width_mm,
            height_mm=height_mm or default.height_mm,
            dpi=self.dpi,
        )
        self.format_state = FormatState(dpi=self.dpi)
        """What persists from format to format (^CI, ^PW, ^LL, ^LH)."""
        if width_mm is not None:
            self.format_state.print_width = self.media.width_dots
        if height_mm is not None:
            self.format_state.label_length = self.media.height_dots

        self.darkness: int | None = None
        """The last ``~SD`` value (00..30), None until one is sent."""
        self.receive_buffer_bytes = RECEIVE_BUFFER_BYTES
        self.formats: list[bytes] = []
        """Every complete format received (``^XA``..``^XZ``), printed or not, in order."""
        self.printed: list[PrintedLabel] = []
        self.rejected: list[RejectedFormat] = []
        self.labels_printed = 0
        self.ignored_commands: list[str] = []
        """Immediate commands accepted without effect (``JR``, ``WC``)."""
        self._splitter = ZplStreamSplitter()
        self._output: list[PrintedLabel | RejectedFormat] = []
        self._queue: deque[_Queued] = deque()
        self._queued_labels = 0
        self._queued_bytes = 0
        self._formats_received = 0
        self._faults: dict[_Fault, bool] = dict.fromkeys(_Fault, False)

    # -- the byte stream -------------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Consume host bytes split anywhere; return the ``~HS`` answers they asked for."""
        replies = bytearray()
        for event in self._splitter.feed(data):
            if isinstance(event, FormatBytes):
                self._take_format(event.data)
            elif isinstance(event, Immediate):
                replies += self._immediate(event)
            elif isinstance(event, BrokenFormat):
                self._formats_received += 1
                reason = f"malformed format: {event.reason}"
                self._reject(self._formats_received, reason, event.data)
        return bytes(replies)

    def _immediate(self, command: Immediate) -> bytes:
        name = command.name
        if name == "HS":
            return self._host_status()
        if name == "PP":
            self._faults[_Fault.PAUSE] = True
        elif name == "PS":
            self._faults[_Fault.PAUSE] = False
            self._release()
        elif name == "JA":
            self._queue.clear()
            self._queued_labels = self._queued_bytes = 0
        elif name == "SD" and command.argument:
            self.darkness = min(int(command.argument), 30)
        else:
            self.ignored_commands.append(name)
        return b""

    def _take_format(self, data: bytes) -> None:
        self._formats_received += 1
        number = self._formats_received
        self.formats.append(data)
        try:
            label = parse_format(data, self.format_state)
        except (ProtocolError, ValueError) as exc:
            # A real printer skips what it cannot parse and carries on with the stream.
            self._reject(number, str(exc), data)
            return
        if not label.fields:
            # A settings-only format (^XA^PW..^LL..^XZ) feeds no label on a Zebra.
            return
        copies = max(1, label.quantity)
        if self._blocked or self._queue:
            self._queue.append(_Queued(number, label, copies, len(data)))
            self._queued_labels += copies
            self._queued_bytes += len(data)
        else:
            self._print(number, label, copies)

    def _reject(self, number: int, error: str, data: bytes) -> None:
        rejected = RejectedFormat(number, error, data)
        self.rejected.append(rejected)
        self._output.append(rejected)

    def _print(self, format_number: int, label: Label, copies: int) -> None:
        for copy in range(1, copies + 1):
            self.labels_printed += 1
            printed = PrintedLabel(self.labels_printed, label, copy, copies, format_number)
            self.printed.append(printed)
            self._output.append(printed)

    def _release(self) -> None:
        """Print buffered formats, oldest first, while nothing blocks the printer."""
        while self._queue and not self._blocked:
            queued = self._queue.popleft()
            self._queued_labels -= queued.copies
            self._queued_bytes -= queued.size
            self._print(queued.format_number, queued.label, queued.copies)

    @property
    def _blocked(self) -> bool:
        return any(self._faults.values())

    # -- status ----------------------------------------------------------------------------
    def _host_status(self) -> bytes:
        faults = self._faults
        return host_status_reply(
            media_out=faults[_Fault.MEDIA],
            paused=faults[_Fault.PAUSE],
            head_open=faults[_Fault.HEAD],
            ribbon_out=faults[_Fault.RIBBON],
            label_length_dots=self.format_state.label_length or self.media.height_dots,
            formats_in_buffer=len(self._queue),
            labels_remaining=self._queued_labels,
            buffer_full=self._queued_bytes >= self.receive_buffer_bytes,
            partial_format=self._splitter.in_format,
        )

    def label_status(self) -> LabelStatus:
        """The state the printer would report to ``~HS``, as the driver's status model."""
        return parse_host_status(self._host_status())

    # -- faults ----------------------------------------------------------------------------
    def check_device_fault(self, key: str, value: str) -> None:
        self._parse_fault(key, value)

    def apply_device_fault(self, key: str, value: str) -> None:
        fault, active = self._parse_fault(key, value)
        self._faults[fault] = active
        self._release()

    @staticmethod
    def _parse_fault(key: str, value: str) -> tuple[_Fault, bool]:
        try:
            fault = _Fault(key)
        except ValueError:
            known = ", ".join(f.value for f in _Fault)
            raise UnsupportedFeature(
                f"zpl emulator has no fault {key!r} (known: {known}, link)"
            ) from None
        choices = _FAULT_VALUES[fault]
        try:
            return fault, choices[value.lower()]
        except KeyError:
            raise UnsupportedFeature(f"{key}={value!r}: expected {' or '.join(choices)}") from None

    def state(self) -> dict[str, str]:
        names = {fault: {v: k for k, v in _FAULT_VALUES[fault].items()} for fault in _Fault}
        shown = {fault.value: names[fault][active] for fault, active in self._faults.items()}
        return {
            **super().state(),
            **shown,
            "formats_in_buffer": str(len(self._queue)),
            "labels_remaining": str(self._queued_labels),
            "labels_printed": str(self.labels_printed),
            "darkness": "" if self.darkness is None else str(self.darkness),
        }

    # -- output ----------------------------------------------------------------------------
    def output_text(self) -> str:
        parts: list[str] = []
        for entry in self._output:
            if isinstance(entry, RejectedFormat):
                parts.append(f"--- format {entry.format_number} not printed: {entry.error} ---\n")
                continue
            parts.append(f"--- label {entry.number} (copy {entry.copy} of {entry.copies}) ---\n")
            text = label_text(entry.label)
            parts.append(text if text.endswith("\n") or not text else text + "\n")
        return "".join(parts)

    def output_png(self) -> bytes:
        latest = self.printed[-PNG_LABELS:]
        if not latest:
            size = (
                self.format_state.print_width or self.media.width_dots,
                self.format_state.label_length or self.media.height_dots,
            )
            blank = Image.new("L", size, 255)
            return _png(blank)
        rendered: dict[int, Image.Image] = {}  # copies of one format render once
        images: list[Image.Image] = []
        for printed in latest:
            key = id(printed.label)
            if key not in rendered:
                rendered[key] = render_label(printed.label).convert("L")
            images.append(rendered[key])
        width = max(image.width for image in images)
        height = sum(image.height for image in images) + _SEPARATOR_DOTS * (len(images) - 1)
        sheet = Image.new("L", (width, height), 255)
        y = 0
        for image in images:
            if y:
                sheet.paste(_SEPARATOR_GREY, (0, y - _SEPARATOR_DOTS, width, y))
            sheet.paste(image, (0, y))
            y += image.height + _SEPARATOR_DOTS
        return _png(sheet)

    def label_png(self, index: int) -> bytes:
        """One printed label as a PNG; ``index`` into ``printed`` (0 = first, -1 = last)."""
        return render_label_png(self.printed[index].label)

    def clear_output(self) -> None:
        self.printed.clear()
        self.rejected.clear()
        self.formats.clear()
        self._output.clear()
        self.ignored_commands.clear()
        self.labels_printed = 0


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()

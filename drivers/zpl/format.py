"""Parse one ZPL II format (``^XA`` ... ``^XZ``) into a :class:`Label` of placed fields.

The parser works on bytes: ``^`` and ``~`` are ASCII and never occur inside a UTF-8 or
cp850 character, so the format is split on them first and only field data (``^FD``,
``^FX``) is decoded, with the ``^CI`` character set in effect. Settings a Zebra keeps
from one format to the next (``^PW ^LL ^LH ^CI ^CF ^BY ^LR``) live in a mutable
:class:`FormatState` that the caller keeps per printer.

Every field comes out with its top-left corner in dots, ``^LH`` applied and ``^FT``
(baseline / bottom anchored) resolved where the size is known from the format alone.
Field data the scanner will read is normalised here (EAN/UPC check digits, ``^BC``
invocation codes, the ``^BQ`` mode prefix), so the renderer and the text output agree.

As on the printer, ``~`` starts a command even inside field data; send ``_7E`` with
``^FH`` for a literal tilde.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from drivers.errors import ProtocolError
from drivers.zpl.barcodes import LINEAR_DIGITS, Symbology, gs1_check_digit
from drivers.zpl.fonts import baseline

__all__ = [
    "BarcodeField",
    "BoxField",
    "Field",
    "FormatState",
    "Justify",
    "Label",
    "LineColor",
    "Rotation",
    "TextBlock",
    "TextField",
    "ZplSyntaxError",
    "parse_format",
]

_CARET = b"^"
_TILDE_BYTE = b"~"
_MAX_DOTS = 32000
_DEFAULT_SIZE_INCHES = (4, 6)  # a common shipping-label roll when ^PW/^LL never came

# ^CI: 0..13 are the single-byte sets based on code page 850 (national variants differ
# in a handful of characters we do not model), 27 is Zebra's 1252, 28 UTF-8.
_CI_ENCODINGS = {**dict.fromkeys(range(14), "cp850"), 27: "cp1252", 28: "utf-8"}

# Set-up commands real designer software emits; they change nothing we draw.
_SETUP_COMMANDS = frozenset(
    b"MN MD PR MT PO PM LS MM JM JU LT FW MF ML MU PA SZ KL KD JZ JS JT PF PP PS CW".split()
)

# Bitmap font cells (height, width) in dots, used for default sizes; we draw every
# font letter with the scalable font, stretched to the requested cell.
_BITMAP_CELLS = {
    "A": (9, 5),
    "B": (11, 7),
    "C": (18, 10),
    "D": (18, 10),
    "E": (28, 15),
    "F": (26, 13),
    "G": (60, 40),
    "H": (21, 13),
}


class ZplSyntaxError(ProtocolError):
    """A format that cannot be printed as sent; names the command and its byte offset."""

    def __init__(self, command: str, position: int, problem: str) -> None:
        self.command = command
        self.position = position
        self.problem = problem
        super().__init__(f"{command} at byte {position}: {problem}")


class Rotation(enum.StrEnum):
    """Field orientation: normal, rotated 90° clockwise, inverted 180°, bottom-up 270°."""

    NORMAL = "N"
    ROTATED = "R"
    INVERTED = "I"
    BOTTOM_UP = "B"


class Justify(enum.StrEnum):
    """``^FB`` line justification."""

    LEFT = "L"
    CENTER = "C"
    RIGHT = "R"
    JUSTIFIED = "J"


class LineColor(enum.StrEnum):
    """``^GB`` line colour."""

    BLACK = "B"
    WHITE = "W"


@dataclass(frozen=True, slots=True)
class TextBlock:
    """``^FB``: word-wrap the text into a block."""

    width: int  # dots; 0 means no wrapping, only forced breaks
    max_lines: int = 1
    line_spacing: int = 0  # extra dots between lines (may be negative)
    justify: Justify = Justify.LEFT
    hanging_indent: int = 0  # dots, for the second and later lines


@dataclass(frozen=True, slots=True)
class TextField:
    """A line (or ``^FB`` block) of text; ``x, y`` is the top-left of the character cell."""

    x: int
    y: int
    text: str  # decoded; with ^FB, forced line breaks (``\\&``) are "\\n"
    font: str = "0"
    height: int = 30
    width: int = 30
    rotation: Rotation = Rotation.NORMAL
    block: TextBlock | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class BarcodeField:
    """A barcode; ``data`` is exactly what a scanner reads from it."""

    x: int
    y: int  # top of the symbol, or its bottom when ``anchor_bottom``
    symbology: Symbology
    data: str
    module_width: int = 2  # narrow bar (1D, ^BY) or module side (^BQ magnification, ^BX)
    ratio: float = 3.0  # ^BY wide-to-narrow ratio (no symbology here uses it)
    height: int = 10  # bar height of a 1D symbol, dots; 0 for 2D
    interpretation: bool = True  # human-readable line (1D)
    interpretation_above: bool = False
    error_correction: str = ""  # QR: L, M, Q or H
    charset: str = "utf-8"  # how 2D data becomes bytes, from ^CI
    anchor_bottom: bool = False  # ^FT on a 2D symbol: its size is known only once encoded
    rotation: Rotation = Rotation.NORMAL
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class BoxField:
    """``^GB``: a box, line (one side equal to the thickness) or filled rectangle."""

    x: int
    y: int
    width: int
    height: int
    thickness: int = 1
    color: LineColor = LineColor.BLACK
    rounding: int = 0  # 0..8
    reverse: bool = False

    @property
    def filled(self) -> bool:
        return self.thickness >= min(self.width, self.height)


Field = TextField | BarcodeField | BoxField


@dataclass(frozen=True, slots=True)
class Label:
    """One parsed format: the label's size in dots and its fields in format order."""

    width: int
    length: int
    dpi: int
    fields: tuple[Field, ...]
    quantity: int = 1
    comments: tuple[str, ...] = ()  # ^FX
    ignored: tuple[str, ...] = ()  # unknown commands, e.g. "^GF"
    warnings: tuple[str, ...] = ()  # things a Zebra silently fixes, e.g. a wrong check digit


@dataclass
class FormatState:
    """Settings that persist from one format to the next, like on a real printer."""

    dpi: int = 203
    encoding: str = "cp850"  # ^CI0 default; ^CI28 -> "utf-8", ^CI27 -> "cp1252"
    print_width: int | None = None  # ^PW, dots
    label_length: int | None = None  # ^LL, dots
    home: tuple[int, int] = (0, 0)  # ^LH
    font: str = "A"  # ^CF default font and cell (Zebra's power-on default: A, 9, 5)
    font_height: int = 9
    font_width: int = 5
    module_width: int = 2  # ^BY
    bar_ratio: float = 3.0
    bar_height: int = 10
    reverse_all: bool = False  # ^LRY


@dataclass(slots=True)
class _Code:
    """A barcode command waiting for its field data."""

    symbology: Symbology
    command: str
    position: int
    rotation: Rotation
    height: int = 0
    interpretation: bool = True
    above: bool = False
    mode: str = "N"  # ^BC mode
    module: int = 0  # 2D module size


# "4A" / "4a" -> b"J": a table lookup per escape beats a regex callback.
_HEX_BYTES = {
    f"{value:02{case}}".encode(): bytes((value,)) for value in range(256) for case in "Xx"
}


def _unhex(raw: bytes, indicator: bytes) -> bytes:
    """Decode ``^FH`` escapes: the indicator and two hex digits stand for one byte."""
    head, *rest = raw.split(indicator)
    out = [head]
    for part in rest:
        byte = _HEX_BYTES.get(part[:2])
        if byte is None:  # not an escape: the indicator is printed as is
            out.append(indicator + part)
        else:
            out.append(byte + part[2:])
    return b"".join(out)


_BLOCK_ESCAPES = re.compile(r"\\([&\\])")
_QR_PREFIX = re.compile(r"([HQML])([AM]),")
_QR_MANUAL_BYTES = re.compile(r"B\d{4}")
_CODE128_INVOCATION = re.compile(r">([9:;5678<=])")
_CODE128_REPLACEMENT = {"<": ">", "=": "~"}


def _code128_plain(data: str) -> str:
    """``^BC`` mode N data without its invocation codes (subset starts and switches)."""

    def replace(match: re.Match[str]) -> str:
        return _CODE128_REPLACEMENT.get(match[1], "")

    return _CODE128_INVOCATION.sub(replace, data) if ">" in data else data


def _params(body: bytes) -> list[str]:
    # Values are stripped where they are read (int() ignores spaces by itself).
    return body[2:].translate(None, b"\r\n").decode("latin-1").split(",")


class _BadParam(Exception):
    """A parameter problem; the parse loop adds the command's byte offset."""

    def __init__(self, command: str, problem: str) -> None:
        super().__init__(command, problem)
        self.command = command
        self.problem = problem


def _int(
    params: list[str], index: int, default: int, command: str, low: int = 0, high: int = _MAX_DOTS
) -> int:
    try:
        text = params[index]
        value = int(text)
    except IndexError:
        return default
    except ValueError:
        if not text.strip():
            return default
        raise _BadParam(command, f"{text!r} is not a whole number") from None
    if low <= value <= high:
        return value
    raise _BadParam(command, f"{value} is outside {low}..{high}")


def _choice(params: list[str], index: int, default: str, allowed: str, command: str) -> str:
    value = params[index].strip().upper() if index < len(params) else ""
    if not value:
        return default
    if len(value) != 1 or value not in allowed:
        raise _BadParam(command, f"{params[index]!r} is not one of {allowed}")
    return value


def _yes(params: list[str], index: int, default: bool, command: str) -> bool:
    return _choice(params, index, "Y" if default else "N", "YN", command) == "Y"


_ROTATIONS = {rotation.value: rotation for rotation in Rotation}
_JUSTIFY = {justify.value: justify for justify in Justify}


def _rotation(params: list[str], command: str) -> Rotation:
    return _ROTATIONS[_choice(params, 0, "N", "NRIB", command)]


@lru_cache(maxsize=1024)
def _origin(body: bytes) -> tuple[int, int]:
    """``^FO``/``^FT`` x and y; cached because templates repeat their positions."""
    params = _params(body)
    command = "^F" + chr(body[1]).upper()
    return _int(params, 0, 0, command), _int(params, 1, 0, command)


def _font_size(
    font: str, params: list[str], first: int, command: str, default: tuple[int, int]
) -> tuple[int, int]:
    """Height and width from ``params[first:first + 2]``; either may be omitted."""
    base_height, base_width = _BITMAP_CELLS.get(font, (0, 0))
    height = _int(params, first, 0, command)
    width = _int(params, first + 1, 0, command)
    if not height and not width:
        return (base_height, base_width) if base_height else default
    if not height:
        height = width if not base_height else round(width * base_height / base_width)
    if not width:
        width = height if not base_height else round(height * base_width / base_height)
    return max(height, 1), max(width, 1)


@lru_cache(maxsize=1024)
def _font_command(body: bytes, default: tuple[int, int]) -> tuple[str, int, int, Rotation]:
    """``^Afo,h,w``: font letter, height, width, rotation; ``default`` is the ^CF cell."""
    font = chr(body[1]).upper() if len(body) > 1 else "0"
    command = f"^A{font}"
    params = _params(body)
    rotation = _rotation(params, command)
    height, width = _font_size(font, params, 1, command, default)
    return font, height, width, rotation


@lru_cache(maxsize=1024)
def _text_block(body: bytes) -> TextBlock:
    """``^FBa,b,c,d,e``; the result is immutable, so it is cached and shared."""
    params = _params(body)
    return TextBlock(
        width=_int(params, 0, 0, "^FB"),
        max_lines=_int(params, 1, 1, "^FB", 1, 9999),
        line_spacing=_int(params, 2, 0, "^FB", -9999, 9999),
        justify=_JUSTIFY[_choice(params, 3, "L", "LCRJ", "^FB")],
        hanging_indent=_int(params, 4, 0, "^FB", 0, 9999),
    )


@lru_cache(maxsize=1024)
def _box(body: bytes) -> tuple[int, int, int, LineColor, int]:
    """``^GBw,h,t,c,r``: width, height, thickness, colour, rounding."""
    params = _params(body)
    thickness = _int(params, 2, 1, "^GB", 1)
    width = max(_int(params, 0, thickness, "^GB", 0), thickness)
    height = max(_int(params, 1, thickness, "^GB", 0), thickness)
    color = LineColor.WHITE if _choice(params, 3, "B", "BW", "^GB") == "W" else LineColor.BLACK
    return width, height, thickness, color, _int(params, 4, 0, "^GB", 0, 8)


class _Parser:
    """The state of one format being parsed; :func:`parse_format` is the entry point."""

    def __init__(self, state: FormatState) -> None:
        self.state = state
        self.fields: list[Field] = []
        self.comments: list[str] = []
        self.ignored: list[str] = []
        self.warnings: list[str] = []
        self.quantity = 1
        self._reset_field()

    def _reset_field(self) -> None:
        self.x = 0
        self.y = 0
        self.from_baseline = False
        self.font: tuple[str, int, int, Rotation] | None = None
        self.block: TextBlock | None = None
        self.reverse = False
        self.hex_indicator: bytes | None = None
        self.data: bytes | None = None
        self.data_position = 0
        self.code: _Code | None = None
        self.box: tuple[int, int, int, LineColor, int] | None = None

    # -- helpers ---------------------------------------------------------------------------
    def _decode(self, raw: bytes) -> str:
        return raw.translate(None, b"\r\n").decode(self.state.encoding, errors="replace")

    def _check_closed(self, command: str) -> None:
        if self.data is not None:
            raise ZplSyntaxError(
                "^FD", self.data_position, f"field data not closed by ^FS before {command}"
            )

    # -- field origin ----------------------------------------------------------------------
    def origin(self, body: bytes, from_baseline: bool) -> None:
        if self.data is not None:
            self._check_closed("^FT" if from_baseline else "^FO")
        x, y = _origin(body)
        home_x, home_y = self.state.home
        self.x = home_x + x
        self.y = home_y + y
        self.from_baseline = from_baseline

    def cmd_fo(self, body: bytes, position: int) -> None:
        self.origin(body, from_baseline=False)

    def cmd_ft(self, body: bytes, position: int) -> None:
        self.origin(body, from_baseline=True)

    # -- text ------------------------------------------------------------------------------
    def cmd_a(self, body: bytes, position: int) -> None:
        state = self.state
        self.font = _font_command(body, (state.font_height, state.font_width))

    def cmd_cf(self, body: bytes, position: int) -> None:
        params = _params(body)
        font = params[0].strip().upper()[:1] or self.state.font
        if len(params) > 1:
            height, width = _font_size(
                font, params, 1, "^CF", (self.state.font_height, self.state.font_width)
            )
        else:
            height, width = _BITMAP_CELLS.get(font, (self.state.font_height, self.state.font_width))
        self.state.font, self.state.font_height, self.state.font_width = font, height, width

    def cmd_fb(self, body: bytes, position: int) -> None:
        self.block = _text_block(body)

    def cmd_fr(self, body: bytes, position: int) -> None:
        self.reverse = True

    def cmd_fh(self, body: bytes, position: int) -> None:
        indicator = body[2:].strip()
        self.hex_indicator = indicator[:1] or b"_"

    def cmd_fd(self, body: bytes, position: int) -> None:
        self.data = body[2:]
        self.data_position = position

    def cmd_fs(self, body: bytes, position: int) -> None:
        field = self._build_field()
        if field is not None:
            self.fields.append(field)
        self._reset_field()

    def cmd_fx(self, body: bytes, position: int) -> None:
        self.comments.append(self._decode(body[2:]).strip())

    # -- graphics and barcodes -------------------------------------------------------------
    def cmd_gb(self, body: bytes, position: int) -> None:
        self.box = _box(body)

    def cmd_by(self, body: bytes, position: int) -> None:
        params = _params(body)
        state = self.state
        state.module_width = _int(params, 0, state.module_width, "^BY", 1, 10)
        if len(params) > 1 and params[1].strip():
            try:
                ratio = float(params[1])
            except ValueError:
                raise _BadParam("^BY", f"{params[1]!r} is not a ratio") from None
            if not 2.0 <= ratio <= 3.0:
                raise _BadParam("^BY", f"ratio {ratio} is outside 2.0..3.0")
            state.bar_ratio = ratio
        state.bar_height = _int(params, 2, state.bar_height, "^BY", 1)

    def _linear(self, body: bytes, position: int, symbology: Symbology, command: str) -> None:
        params = _params(body)
        code = _Code(symbology, command, position, _rotation(params, command))
        code.height = _int(params, 1, self.state.bar_height, command, 1)
        code.interpretation = _yes(params, 2, True, command)
        code.above = _yes(params, 3, False, command)
        if symbology is Symbology.CODE128:
            code.mode = _choice(params, 5, "N", "NUAD", command)
        self.code = code

    def cmd_bc(self, body: bytes, position: int) -> None:
        self._linear(body, position, Symbology.CODE128, "^BC")

    def cmd_be(self, body: bytes, position: int) -> None:
        self._linear(body, position, Symbology.EAN13, "^BE")

    def cmd_bu(self, body: bytes, position: int) -> None:
        self._linear(body, position, Symbology.UPCA, "^BU")

    def cmd_b8(self, body: bytes, position: int) -> None:
        self._linear(body, position, Symbology.EAN8, "^B8")

    def cmd_bq(self, body: bytes, position: int) -> None:
        params = _params(body)
        dpi = self.state.dpi
        default = 1 if dpi <= 150 else 2 if dpi < 300 else 3
        code = _Code(Symbology.QR, "^BQ", position, _rotation(params, "^BQ"))
        _int(params, 1, 2, "^BQ", 1, 2)  # model: validated, both print alike
        code.module = _int(params, 2, default, "^BQ", 1, 10)
        self.code = code

    def cmd_bx(self, body: bytes, position: int) -> None:
        params = _params(body)
        code = _Code(Symbology.DATAMATRIX, "^BX", position, _rotation(params, "^BX"))
        code.module = _int(params, 1, self.state.module_width, "^BX", 1, 100)
        quality = _int(params, 2, 200, "^BX", 0, 200)
        if quality != 200:
            raise _BadParam("^BX", f"only ECC 200 is supported, not {quality}")
        self.code = code

    # -- label settings --------------------------------------------------------------------
    def cmd_pw(self, body: bytes, position: int) -> None:
        self.state.print_width = _int(_params(body), 0, 0, "^PW", 2) or None

    def cmd_ll(self, body: bytes, position: int) -> None:
        self.state.label_length = _int(_params(body), 0, 0, "^LL", 1) or None

    def cmd_lh(self, body: bytes, position: int) -> None:
        params = _params(body)
        self.state.home = (
            _int(params, 0, 0, "^LH"),
            _int(params, 1, 0, "^LH"),
        )

    def cmd_lr(self, body: bytes, position: int) -> None:
        self.state.reverse_all = _yes(_params(body), 0, False, "^LR")

    def cmd_ci(self, body: bytes, position: int) -> None:
        number = _int(_params(body), 0, 0, "^CI", 0, 36)
        encoding = _CI_ENCODINGS.get(number)
        if encoding is None:
            self.ignored.append(f"^CI{number}")  # keep the current set; shown in the output
        else:
            self.state.encoding = encoding

    def cmd_pq(self, body: bytes, position: int) -> None:
        self.quantity = _int(_params(body), 0, 1, "^PQ", 1, 99_999_999)

    # -- building fields -------------------------------------------------------------------
    def _field_text(self) -> str:
        raw = self.data or b""
        if self.hex_indicator is not None and self.hex_indicator in raw:
            raw = _unhex(raw, self.hex_indicator)
        return self._decode(raw)

    def _build_field(self) -> Field | None:
        reverse = self.reverse or self.state.reverse_all
        if self.box is not None:
            width, height, thickness, color, rounding = self.box
            y = self.y - height if self.from_baseline else self.y
            return BoxField(self.x, y, width, height, thickness, color, rounding, reverse)
        if self.data is None:
            return None
        text = self._field_text()
        if self.code is not None:
            return self._barcode(self.code, text, reverse)
        if not text:
            return None
        if self.font is not None:
            font, height, width, rotation = self.font
        else:
            state = self.state
            font, height, width = state.font, state.font_height, state.font_width
            rotation = Rotation.NORMAL
        block = self.block
        if block is not None and "\\" in text:
            text = _BLOCK_ESCAPES.sub(lambda m: "\n" if m[1] == "&" else "\\", text)
        y = self.y
        if self.from_baseline:
            y -= baseline(height)
            if block is not None:  # ^FT names the baseline of the block's last line
                y -= (block.max_lines - 1) * (height + block.line_spacing)
        return TextField(self.x, y, text, font, height, width, rotation, block, reverse)

    def _barcode(self, code: _Code, text: str, reverse: bool) -> BarcodeField:
        symbology = code.symbology
        error_correction = ""
        if symbology is Symbology.CODE128:
            data = _code128_plain(text) if code.mode == "N" else text
            if not data or not data.isascii():
                raise ZplSyntaxError(code.command, code.position, f"cannot encode {text!r}")
        elif symbology in LINEAR_DIGITS:
            data = self._gs1_digits(code, text)
        elif symbology is Symbology.QR:
            error_correction, data = self._qr_payload(code, text)
        else:
            data = text
            if not data:
                raise ZplSyntaxError(code.command, self.data_position, "no field data")
        is_2d = symbology.is_2d
        height = 0 if is_2d else code.height
        y = self.y - height if self.from_baseline else self.y
        return BarcodeField(
            x=self.x,
            y=y,
            symbology=symbology,
            data=data,
            module_width=code.module if is_2d else self.state.module_width,
            ratio=self.state.bar_ratio,
            height=height,
            interpretation=code.interpretation and not is_2d,
            interpretation_above=code.above,
            error_correction=error_correction,
            charset=self.state.encoding,
            anchor_bottom=self.from_baseline and is_2d,
            rotation=code.rotation,
            reverse=reverse,
        )

    def _gs1_digits(self, code: _Code, text: str) -> str:
        """EAN/UPC digits with the check digit the printer computes (it never trusts ours)."""
        digits = LINEAR_DIGITS[code.symbology]
        if not text.isdigit() or not text.isascii():
            raise ZplSyntaxError(code.command, code.position, f"{text!r} is not all digits")
        if len(text) > digits + 1:
            raise ZplSyntaxError(
                code.command, code.position, f"{text!r} has more than {digits + 1} digits"
            )
        body = text[:digits].zfill(digits)  # a Zebra pads short data with leading zeros
        check = gs1_check_digit(body)
        if len(text) == digits + 1 and text[-1] != check:
            self.warnings.append(
                f"{code.command} {text}: check digit {text[-1]} printed as {check}"
            )
        return body + check

    def _qr_payload(self, code: _Code, text: str) -> tuple[str, str]:
        """Split ``^FD<level><mode>,data`` into the error-correction level and the data."""
        match = _QR_PREFIX.match(text)
        if match is None:
            raise ZplSyntaxError(
                "^BQ",
                code.position,
                f"field data {text[:12]!r} must start with a level and input mode, e.g. 'QA,'",
            )
        level, mode = match.groups()
        data = text[match.end() :]
        if mode == "M":  # manual input: one character-mode letter (B takes a 4-digit count)
            byte_mode = _QR_MANUAL_BYTES.match(data)
            if byte_mode is not None:
                data = data[byte_mode.end() :]
            elif data[:1] in ("N", "A", "K"):
                data = data[1:]
            else:
                raise ZplSyntaxError("^BQ", code.position, f"unknown manual mode {data[:1]!r}")
        if not data:
            raise ZplSyntaxError("^BQ", code.position, "no data after the QR prefix")
        return level, data

    # -- the loop --------------------------------------------------------------------------
    def parse(self, data: bytes) -> None:
        # Splitting on the caret is several times faster than a regex scan; the byte
        # offset of each command is kept for error messages.
        caret = _CARET
        handlers = _HANDLERS
        tilde = _TILDE_BYTE
        offset = data.find(caret)
        if offset < 0 or data[offset + 1 : offset + 3].upper() != b"XA":
            first = data[offset + 1 : offset + 3].decode("latin-1") if offset >= 0 else "XA"
            raise ZplSyntaxError(f"^{first}", max(offset, 0), "the format must start with ^XA")
        while offset >= 0:
            position = offset
            restart = -1
            for piece in data[offset + 1 :].split(caret):
                at = position
                position += len(piece) + 1
                if tilde in piece:
                    # Immediate commands belong to the stream, not the format.
                    piece = piece[: piece.index(tilde)]
                name = piece[:2].upper()
                handler = handlers.get(name)
                if handler is not None:
                    try:
                        handler(self, piece, at)
                    except _BadParam as exc:
                        raise ZplSyntaxError(exc.command, at, exc.problem) from None
                elif name == b"XZ":
                    self._check_closed("^XZ")
                    if self.box is not None:  # a box without ^FS still prints
                        self.cmd_fs(piece, at)
                    return
                elif name == b"CC" and len(piece) > 2:
                    caret = piece[2:3]
                    restart = data.find(caret, at + 4)
                    break
                elif name not in _SETUP_COMMANDS and name and name != b"XA":
                    self.ignored.append("^" + name.decode("latin-1"))
            offset = restart
        self._check_closed("the end of the format")
        raise ZplSyntaxError("^XZ", len(data), "the format is not closed by ^XZ")

    def label(self) -> Label:
        state = self.state
        inch_w, inch_l = _DEFAULT_SIZE_INCHES
        return Label(
            width=state.print_width or inch_w * state.dpi,
            length=state.label_length or inch_l * state.dpi,
            dpi=state.dpi,
            fields=tuple(self.fields),
            quantity=self.quantity,
            comments=tuple(self.comments),
            ignored=tuple(dict.fromkeys(self.ignored)),
            warnings=tuple(self.warnings),
        )


_Handler = Callable[[_Parser, bytes, int], None]
_HANDLERS: dict[bytes, _Handler] = {
    b"FO": _Parser.cmd_fo,
    b"FT": _Parser.cmd_ft,
    b"FD": _Parser.cmd_fd,
    b"FV": _Parser.cmd_fd,  # variable field data prints like ^FD
    b"FS": _Parser.cmd_fs,
    b"FB": _Parser.cmd_fb,
    b"FR": _Parser.cmd_fr,
    b"FH": _Parser.cmd_fh,
    b"FX": _Parser.cmd_fx,
    b"CF": _Parser.cmd_cf,
    b"GB": _Parser.cmd_gb,
    b"BY": _Parser.cmd_by,
    b"BC": _Parser.cmd_bc,
    b"BE": _Parser.cmd_be,
    b"BU": _Parser.cmd_bu,
    b"B8": _Parser.cmd_b8,
    b"BQ": _Parser.cmd_bq,
    b"BX": _Parser.cmd_bx,
    b"PW": _Parser.cmd_pw,
    b"LL": _Parser.cmd_ll,
    b"LH": _Parser.cmd_lh,
    b"LR": _Parser.cmd_lr,
    b"CI": _Parser.cmd_ci,
    b"PQ": _Parser.cmd_pq,
}
# ^A plus a font name: 0-9, A-Z and @ (a downloaded font, drawn with the same face).
_HANDLERS.update(
    dict.fromkeys(
        (b"A" + bytes((c,)) for c in b"0123456789@ABCDEFGHIJKLMNOPQRSTUVWXYZ"), _Parser.cmd_a
    )
)


def parse_format(data: bytes, state: FormatState) -> Label:
    """Parse one format: the bytes from ``^XA`` up to and including ``^XZ``.

    ``state`` is updated in place with the settings that outlive the format (``^PW``,
    ``^LL``, ``^LH``, ``^CI``, ``^CF``, ``^BY``, ``^LR``), as the printer applies them.
    Raises :class:`ZplSyntaxError` naming the command and byte offset of a problem.
    """
    parser = _Parser(state)
    parser.parse(data)
    return parser.label()

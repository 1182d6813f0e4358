"""Receipt content → ESC/POS bytes, built by python-escpos for one printer profile.

``ReceiptEncoder`` is a thin, typed front for python-escpos's ``Dummy`` printer: it
picks the right python-escpos call for the profile (hardware or software barcode,
native or raster QR), validates input first so a bad block raises ``EncodingError``
without leaving half a command in the output, and keeps every block self-contained:
each block starts from the printer's default style and restores it afterwards.

Text notes:

* each ``text()`` block ends the line (a trailing newline is added when missing),
  because ESC/POS applies alignment only at the start of a line;
* control characters other than newline are not passed to the printer (they could
  smuggle commands such as a drawer kick into a receipt): CR LF and CR become a
  newline, a tab becomes a space, anything else becomes ``?``;
* python-escpos switches code pages per character (``ESC t n``); a character no code
  page of the profile holds is printed as ``?``. Text containing CJK ideographs is sent
  as GB18030 by python-escpos, which only Chinese-market printers understand.
"""

from __future__ import annotations

import codecs
import copy
import enum
import re
from functools import lru_cache
from typing import Any

from PIL import Image

from drivers.errors import EncodingError, UnsupportedFeature
from drivers.escpos._lib import (
    EscposMagicEncode,
    EscposNotSupported,
    EscposProfile,
    EscposTextEncoder,
    escpos_constants,
    escpos_exceptions,
    escpos_printer,
    get_profile,
)
from drivers.escpos.profiles import PrinterProfile
from drivers.escpos.styles import Align, Font

__all__ = [
    "Align",
    "Font",
    "QrErrorLevel",
    "ReceiptEncoder",
    "Symbology",
    "TextSize",
    "drawer_kick_bytes",
    "validate_barcode",
]


class TextSize(enum.StrEnum):
    """Character size; double sizes halve the number of columns or lines."""

    NORMAL = "normal"
    DOUBLE_HEIGHT = "double_height"
    DOUBLE_WIDTH = "double_width"
    DOUBLE = "double"


class Symbology(enum.StrEnum):
    """1D barcodes the printer draws itself; values are python-escpos names."""

    CODE128 = "CODE128"
    EAN13 = "EAN13"
    EAN8 = "EAN8"
    UPCA = "UPC-A"
    CODE39 = "CODE39"
    ITF = "ITF"
    CODABAR = "CODABAR"


class QrErrorLevel(enum.StrEnum):
    """QR error correction: L 7 %, M 15 %, Q 25 %, H 30 % of the symbol can be lost."""

    L = "L"
    M = "M"
    Q = "Q"
    H = "H"


_QR_LEVEL_CODE: dict[QrErrorLevel, int] = {
    QrErrorLevel.L: escpos_constants.QR_ECLEVEL_L,
    QrErrorLevel.M: escpos_constants.QR_ECLEVEL_M,
    QrErrorLevel.Q: escpos_constants.QR_ECLEVEL_Q,
    QrErrorLevel.H: escpos_constants.QR_ECLEVEL_H,
}
# Largest byte-mode payload of a version 40 QR symbol per error level.
_QR_MAX_BYTES: dict[QrErrorLevel, int] = {
    QrErrorLevel.L: 2953,
    QrErrorLevel.M: 2331,
    QrErrorLevel.Q: 1663,
    QrErrorLevel.H: 1273,
}
# python-barcode names, for printers that can only draw CODE128 as an image.
_SOFTWARE_NAMES: dict[Symbology, str] = {
    Symbology.CODE128: "code128",
    Symbology.EAN13: "ean13",
    Symbology.EAN8: "ean8",
    Symbology.UPCA: "upca",
    Symbology.CODE39: "code39",
    Symbology.ITF: "itf",
    Symbology.CODABAR: "codabar",
}
_DRAWER_PIN_CODE = {2: 0, 5: 1}
_CODE128_PREFIX = re.compile(r"^\{[A-C]")
_CONTROL_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")

# Human rules per symbology, checked in this order before python-escpos's own check.
_RULES: dict[Symbology, tuple[str, re.Pattern[str]]] = {
    Symbology.EAN13: ("needs 12 or 13 digits", re.compile(r"^[0-9]{12,13}$")),
    Symbology.EAN8: ("needs 7 or 8 digits", re.compile(r"^[0-9]{7,8}$")),
    Symbology.UPCA: ("needs 11 or 12 digits", re.compile(r"^[0-9]{11,12}$")),
    Symbology.CODE39: (
        "takes 1-255 characters from 0-9 A-Z space $ % + - . / (optionally between *)",
        re.compile(r"^([0-9A-Z $%+\-./]{1,255}|\*[0-9A-Z $%+\-./]{1,253}\*)$"),
    ),
    Symbology.ITF: (
        "needs an even number (2-254) of digits",
        re.compile(r"^([0-9]{2}){1,127}$"),
    ),
    Symbology.CODABAR: (
        "needs a start and stop letter A-D around 0-9 $ + - . / : (e.g. 'A40156B')",
        re.compile(r"^[A-Da-d][0-9$+\-./:]{1,253}[A-Da-d]$"),
    ),
}
# Symbologies whose last digit is a check digit when the full length is given.
_CHECKED_LENGTH: dict[Symbology, int] = {Symbology.EAN13: 13, Symbology.EAN8: 8, Symbology.UPCA: 12}


def _check_digit(digits: str) -> int:
    """GS1 mod-10 check digit: weights 3,1,3,... from the rightmost data digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _code128_payload(data: str) -> str:
    """Data as python-escpos wants it for CODE128: with a code-set prefix.

    Code set B prints all printable ASCII; ``{`` is the printer's escape character
    inside CODE128 data, so a literal brace goes out as ``{{``. Data that already
    starts with ``{A``, ``{B`` or ``{C`` is the caller's own command string.
    """
    if _CODE128_PREFIX.match(data):
        return data
    return "{B" + data.replace("{", "{{")


def validate_barcode(data: str, symbology: Symbology) -> None:
    """Raise ``EncodingError`` with a human message unless ``data`` fits ``symbology``.

    Checks length and characters like python-escpos does, and additionally the check
    digit of EAN-13, EAN-8 and UPC-A when it is given.
    """
    label = symbology.value
    if symbology is Symbology.CODE128:
        if not data:
            raise EncodingError("CODE128 needs at least one character, got ''")
        if _CODE128_PREFIX.match(data):
            body_ok = len(data) > 2 and data.isascii()
        else:
            body_ok = all(" " <= ch <= "~" for ch in data)
            if not body_ok:
                raise EncodingError(
                    f"CODE128 takes printable ASCII characters (space to ~), got {data!r}"
                )
        payload = _code128_payload(data)
        if not body_ok or len(payload) > 255:
            raise EncodingError(f"CODE128 takes 1-253 ASCII characters, got {data!r}")
        return
    rule, pattern = _RULES[symbology]
    if not pattern.match(data):
        raise EncodingError(f"{label} {rule}, got {data!r}")
    full = _CHECKED_LENGTH.get(symbology)
    if full is not None and len(data) == full:
        expected = _check_digit(data[:-1])
        if int(data[-1]) != expected:
            raise EncodingError(
                f"{label} check digit of {data!r} should be {expected}, got {data[-1]} "
                f"(or leave it out and the printer adds it)"
            )


def drawer_kick_bytes(pin: int = 2, on_ms: int = 100) -> bytes:
    """``ESC p m t1 t2`` pulsing drawer connector ``pin`` (2 or 5) for ``on_ms`` ms."""
    if pin not in _DRAWER_PIN_CODE:
        raise EncodingError(f"drawer pin must be 2 or 5, got {pin}")
    # t1/t2 count 2 ms units; the off time matches the on time like python-escpos's
    # default kick (50, 50 = 100 ms).
    units = round(on_ms / 2)
    if not 1 <= units <= 255:
        raise EncodingError(f"drawer pulse must be 2-510 ms, got {on_ms}")
    kick: bytes = escpos_constants.CD_KICK_DEC_SEQUENCE(
        0x1B, ord("p"), _DRAWER_PIN_CODE[pin], units, units
    )
    return kick


class _TunedProfile(EscposProfile):  # type: ignore[misc]
    """A python-escpos profile whose data is ours, so nothing global is mutated.

    python-escpos writes a computed dpi into the shared class-level profile data and
    prints warnings when the paper width is "Unknown"; a private copy filled in from
    ``PrinterProfile`` avoids both and lets a ``PrinterProfile`` override features.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(columns=None, features=data["features"])
        self.profile_data = data
        self.encoding_choices: dict[Any, str | None] = {}


@lru_cache(maxsize=64)
def _escpos_profile_for(name: str) -> Any:
    return get_profile(name)


@lru_cache(maxsize=64)
def _tuned_profile(profile: PrinterProfile) -> _TunedProfile:
    try:
        base = _escpos_profile_for(profile.name)
    except KeyError:
        base = _escpos_profile_for("default")
    data: dict[str, Any] = copy.deepcopy(base.profile_data)
    features: dict[str, Any] = data.setdefault("features", {})
    full_cut = bool(features.get("paperFullCut"))
    features.update(
        qrCode=profile.qr_native,
        barcodeB=profile.barcode_b,
        bitImageRaster=profile.raster,
        paperPartCut=profile.partial_cut,
        paperFullCut=profile.paper_cut and (full_cut or not profile.partial_cut),
        pulseStandard=bool(profile.drawer_pins),
    )
    fonts: dict[str, Any] = data.setdefault("fonts", {})
    fonts.setdefault("0", {"name": "Font A"})["columns"] = profile.columns_a
    if profile.font_b:
        fonts.setdefault("1", {"name": "Font B"})["columns"] = profile.columns_b
    media: dict[str, Any] = data.setdefault("media", {})
    media["dpi"] = profile.dpi
    media.setdefault("width", {})["pixels"] = profile.width_px
    return _TunedProfile(data)


# Code page name -> {character: byte}. python-escpos rebuilds these tables for every
# printer object, which dominated encoding time; they depend on the code page alone,
# so all encoders share them. Only the tables are shared: the per-receipt preference
# for recently used pages stays per encoder, so the bytes of a receipt do not depend
# on what was encoded before it.
_CHARACTER_TABLES: dict[str, dict[str, int]] = {}
_CHOICES_LIMIT = 50_000
_NOT_REMEMBERED = "\x00not remembered"


class _TextEncoder(EscposTextEncoder):  # type: ignore[misc]
    """python-escpos's code page chooser, remembering its answers per profile.

    Its choice sorts every code page of the profile on each page switch; the answer
    depends only on the character and the pages used so far in this receipt, so it is
    remembered under exactly that key and the bytes stay the same.
    """

    def __init__(self, code_pages: dict[str, int], choices: dict[Any, str | None]) -> None:
        super().__init__(code_pages)
        self.available_characters = _CHARACTER_TABLES
        self._choices = choices

    def find_suitable_encoding(self, char: str) -> str | None:
        key = (frozenset(self.used_encodings), char)
        # One lookup, not "in" then "[]": another thread may clear the dict in between.
        remembered = self._choices.get(key, _NOT_REMEMBERED)
        if remembered != _NOT_REMEMBERED:
            if remembered:
                self.used_encodings.add(remembered)
            return remembered
        chosen: str | None = super().find_suitable_encoding(char)
        if len(self._choices) >= _CHOICES_LIMIT:
            self._choices.clear()  # bound memory against endless distinct characters
        self._choices[key] = chosen
        return chosen


class _MagicEncode(EscposMagicEncode):  # type: ignore[misc]
    """python-escpos's code page switching, with a shortcut for the common case.

    Its ``write`` tests the text character by character against the current code page
    and writes the longest run the page can print, then picks a page for the next
    character. Do the same with a C charmap codec built from the library's own table:
    the run in one call, and only the character that needs another page (or has none)
    goes the library's own way. Text with Chinese characters goes to the library whole,
    as it encodes such text all at once. The bytes are always those python-escpos sends.
    """

    def write(self, text: str) -> None:
        if self.disabled or not text or _CJK.search(text):
            super().write(text)
            return
        while text:
            charmap = _charmap(self.encoder, self.encoding) if self.encoding else None
            if charmap is None:
                super().write(text[0])  # no page chosen yet: the library chooses
                text = text[1:]
                continue
            try:
                encoded, _ = codecs.charmap_encode(text, "strict", charmap)
            except UnicodeEncodeError as exc:
                if exc.start:
                    self.driver._raw(codecs.charmap_encode(text[: exc.start], "strict", charmap)[0])
                super().write(text[exc.start])  # switches pages, or prints "?"
                text = text[exc.start + 1 :]
            else:
                self.driver._raw(encoded)
                return


# What python-escpos' magic encoder treats as Chinese (it then sends the text as GB18030).
_CJK = re.compile("[\u4e00-\u9fa5]")

# encoding -> a C charmap codec table built from python-escpos' own character table
# (ASCII below 0x80, the page's characters above), or None when it has none.
# Shared like _CHARACTER_TABLES: they depend on the code page alone.
_CHARMAPS: dict[str, Any] = {}


def _charmap(encoder: EscposTextEncoder, encoding: str) -> Any:
    if encoding in _CHARMAPS:
        return _CHARMAPS[encoding]
    try:
        table: dict[str, int] = encoder._get_codepage_char_map(encoding)
    except LookupError:
        built = None
    else:
        decoding = [chr(code) for code in range(128)] + ["\ufffe"] * 128
        for char, byte in table.items():
            if ord(char) >= 128 and 128 <= byte < 256:
                decoding[byte] = char
        built = codecs.charmap_build("".join(decoding))
    _CHARMAPS[encoding] = built
    return built


def _new_printer(profile: PrinterProfile) -> Any:
    tuned = _tuned_profile(profile)
    text_encoder = _TextEncoder(tuned.get_code_pages(), tuned.encoding_choices)
    printer = escpos_printer.Dummy(profile=tuned, magic_encode_args={"encoder": text_encoder})
    printer.magic = _MagicEncode(printer, encoder=text_encoder)
    return printer


def _clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL_CHARS.sub("?", text)


class ReceiptEncoder:
    """Builds the bytes of one receipt for ``profile``; starts with ``ESC @`` (init).

    Not thread-safe; use one encoder per receipt. Every method either appends a whole
    block or raises (``EncodingError`` for bad content, ``UnsupportedFeature`` for
    something the profile cannot print) and appends nothing.
    """

    def __init__(self, profile: PrinterProfile) -> None:
        self.profile = profile
        self._done = bytearray()
        self._printer = _new_printer(profile)
        self._printer.hw("INIT")

    # -- blocks ---------------------------------------------------------------------

    def text(
        self,
        text: str,
        *,
        bold: bool = False,
        underline: bool = False,
        size: TextSize = TextSize.NORMAL,
        align: Align = Align.LEFT,
        font: Font = Font.A,
    ) -> None:
        """Print ``text`` (one or more lines) in one style, then restore the default style."""
        if font is Font.B and not self.profile.font_b:
            raise UnsupportedFeature(f"profile {self.profile.name} has no font B")
        body = _clean_text(text)
        if not body.endswith("\n"):
            body += "\n"
        style: dict[str, Any] = {}
        reset: dict[str, Any] = {}
        if size is not TextSize.NORMAL:
            style["double_width"] = size in (TextSize.DOUBLE_WIDTH, TextSize.DOUBLE)
            style["double_height"] = size in (TextSize.DOUBLE_HEIGHT, TextSize.DOUBLE)
            reset["normal_textsize"] = True
        if bold:
            style["bold"], reset["bold"] = True, False
        if underline:
            style["underline"], reset["underline"] = 1, 0
        if font is not Font.A:
            style["font"], reset["font"] = font.value, Font.A.value
        if align is not Align.LEFT:
            style["align"], reset["align"] = align.value, Align.LEFT.value
        with self._block():
            if style:
                self._printer.set(**style)
            self._printer.text(body)
            if reset:
                self._printer.set(**reset)

    def barcode(
        self,
        data: str,
        symbology: Symbology,
        *,
        height: int = 64,
        module_width: int = 2,
        hri: bool = True,
        align: Align = Align.CENTER,
    ) -> None:
        """Print a 1D barcode, ``height`` dots tall, with the text below when ``hri``."""
        validate_barcode(data, symbology)
        if not 1 <= height <= 255:
            raise EncodingError(f"barcode height must be 1-255 dots, got {height}")
        if not 2 <= module_width <= 6:
            raise EncodingError(f"barcode module width must be 2-6 dots, got {module_width}")
        hardware = symbology is not Symbology.CODE128 or self.profile.barcode_b
        if not hardware and not self.profile.raster:
            raise UnsupportedFeature(
                f"profile {self.profile.name} can print {symbology.value} neither natively "
                "nor as an image"
            )
        with self._block():
            if hardware:
                self._hardware_barcode(data, symbology, height, module_width, hri, align)
            else:
                self._software_barcode(data, symbology, height, module_width, align)

    def qr(
        self,
        data: str,
        *,
        module_size: int = 6,
        error_level: QrErrorLevel = QrErrorLevel.M,
        align: Align = Align.CENTER,
    ) -> None:
        """Print a QR code: drawn by the printer (``GS ( k``) when it can, else as an image."""
        if not data:
            raise EncodingError("QR data is empty")
        size = len(data.encode("utf-8"))
        if size > _QR_MAX_BYTES[error_level]:
            raise EncodingError(
                f"QR data is {size} bytes; at error level {error_level.value} "
                f"at most {_QR_MAX_BYTES[error_level]} fit"
            )
        if not 1 <= module_size <= 16:
            raise EncodingError(f"QR module size must be 1-16 dots, got {module_size}")
        if not self.profile.qr_native and not self.profile.raster:
            raise UnsupportedFeature(f"profile {self.profile.name} cannot print QR codes")
        level = _QR_LEVEL_CODE[error_level]
        with self._block():
            if self.profile.qr_native:
                self._aligned_call(
                    align, self._printer.qr, data, ec=level, size=module_size, native=True
                )
            else:
                center = align is Align.CENTER
                self._aligned_call(
                    Align.RIGHT if align is Align.RIGHT else Align.LEFT,
                    self._printer.qr,
                    data,
                    ec=level,
                    size=module_size,
                    native=False,
                    image_arguments={"impl": "bitImageRaster", "center": center},
                )

    def image(self, image: Image.Image, *, align: Align = Align.CENTER) -> None:
        """Print ``image`` in black and white (raster), scaled down to the paper width."""
        if not self.profile.raster:
            raise UnsupportedFeature(f"profile {self.profile.name} cannot print images")
        if image.width < 1 or image.height < 1:
            raise EncodingError(f"image is empty ({image.width}x{image.height})")
        width = self.profile.width_px
        if image.width > width:
            height = max(1, round(image.height * width / image.width))
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        if align is Align.RIGHT and image.width < width:
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", (width, image.height), (255, 255, 255, 255))
            canvas.paste(rgba, (width - image.width, 0), rgba)
            image = canvas
        with self._block():
            self._printer.image(image, impl="bitImageRaster", center=align is Align.CENTER)

    def feed(self, lines: int) -> None:
        """Feed ``lines`` (0-255) blank lines."""
        if not 0 <= lines <= 255:
            raise EncodingError(f"feed takes 0-255 lines, got {lines}")
        if lines:
            with self._block():
                self._printer.print_and_feed(lines)

    def cut(self, partial: bool = False) -> None:
        """Feed the last printed line past the cutter, then cut (full unless ``partial``).

        A partial cut falls back to a full one on printers without it, and a printer
        without a cutter only feeds, so the paper can be torn off.
        """
        with self._block():
            self._printer.cut(mode="PART" if partial else "FULL")

    def drawer(self, pin: int, on_ms: int = 100) -> None:
        """Pulse cash drawer connector ``pin`` (2 or 5) for ``on_ms`` milliseconds."""
        kick = drawer_kick_bytes(pin, on_ms)
        if pin not in self.profile.drawer_pins:
            raise UnsupportedFeature(f"profile {self.profile.name} cannot kick a drawer")
        with self._block():
            self._printer._raw(kick)

    def getvalue(self) -> bytes:
        """All bytes built so far."""
        self._flush()
        return bytes(self._done)

    # -- internals ------------------------------------------------------------------

    def _flush(self) -> None:
        pending: bytes = self._printer.output
        if pending:
            self._done += pending
            self._printer.clear()

    def _block(self) -> _Block:
        self._flush()
        return _Block(self)

    def _rollback(self) -> None:
        self._printer.clear()

    def _aligned_call(self, align: Align, call: Any, *args: Any, **kwargs: Any) -> None:
        if align is not Align.LEFT:
            self._printer.set(align=align.value)
        call(*args, **kwargs)
        if align is not Align.LEFT:
            self._printer.set(align=Align.LEFT.value)

    def _hardware_barcode(
        self,
        data: str,
        symbology: Symbology,
        height: int,
        module_width: int,
        hri: bool,
        align: Align,
    ) -> None:
        code = _code128_payload(data) if symbology is Symbology.CODE128 else data
        # The private renderer is python-escpos's own byte builder behind barcode();
        # the public method also print()s its renderer choice to stdout on every call,
        # which would flood a daemon's journal.
        self._aligned_call(
            align,
            self._printer._hw_barcode,
            code,
            symbology.value,
            height=height,
            width=module_width,
            pos="BELOW" if hri else "OFF",
            font="A",
            align_ct=False,
            function_type=None,
            check=True,
        )

    def _software_barcode(
        self, data: str, symbology: Symbology, height: int, module_width: int, align: Align
    ) -> None:
        if symbology is Symbology.CODE128 and _CODE128_PREFIX.match(data):
            # python-barcode picks code sets itself and takes plain text.
            data = data[2:].replace("{{", "{")
        dots_to_mm = 25.4 / self.profile.dpi
        self._aligned_call(
            Align.RIGHT if align is Align.RIGHT else Align.LEFT,
            self._printer._sw_barcode,
            _SOFTWARE_NAMES[symbology],
            data,
            impl="bitImageRaster",
            module_height=height * dots_to_mm,
            module_width=module_width * dots_to_mm,
            text_distance=3,
            font_size=9,
            center=align is Align.CENTER,
        )


class _Block:
    """Context for one block: on error, drop its bytes and translate library errors."""

    def __init__(self, encoder: ReceiptEncoder) -> None:
        self._encoder = encoder

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            return
        self._encoder._rollback()
        if isinstance(exc, EscposNotSupported):
            raise UnsupportedFeature(str(exc)) from exc
        if isinstance(exc, escpos_exceptions.ImageWidthError):
            raise EncodingError(f"too wide for the paper: {exc}") from exc
        if isinstance(exc, escpos_exceptions.Error | ValueError):
            raise EncodingError(str(exc) or type(exc).__name__) from exc

"""The emulated printer's paper: what came out, in order, as typed elements.

The ESC/POS emulator appends elements here as it executes print data; ``render`` turns
the paper into plain text or a PNG. Elements keep both what was sent (``raw`` bytes for
barcodes) and what a reader of the receipt sees (decoded text, barcode data), so tests can
check either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TypeVar

from PIL import Image

from drivers.escpos.styles import Align, Font

__all__ = [
    "Align",
    "Barcode",
    "Cut",
    "DrawerPulse",
    "Element",
    "Feed",
    "Font",
    "ImageSource",
    "Paper",
    "QrCode",
    "RasterImage",
    "Span",
    "Symbology",
    "TextLine",
    "TextStyle",
]


class ImageSource(enum.StrEnum):
    """Which ESC/POS command carried an image (column images arrive in stripes)."""

    RASTER = "raster"  # GS v 0
    GRAPHICS = "graphics"  # GS ( L / GS 8 L
    COLUMN = "column"  # ESC *


class Symbology(enum.StrEnum):
    """1D barcode types, named as python-escpos names them."""

    UPC_A = "UPC-A"
    UPC_E = "UPC-E"
    EAN13 = "EAN13"
    EAN8 = "EAN8"
    CODE39 = "CODE39"
    ITF = "ITF"
    CODABAR = "CODABAR"
    CODE93 = "CODE93"
    CODE128 = "CODE128"
    GS1_128 = "GS1-128"
    GS1_DATABAR_OMNIDIRECTIONAL = "GS1 DATABAR OMNIDIRECTIONAL"
    GS1_DATABAR_TRUNCATED = "GS1 DATABAR TRUNCATED"
    GS1_DATABAR_LIMITED = "GS1 DATABAR LIMITED"
    GS1_DATABAR_EXPANDED = "GS1 DATABAR EXPANDED"


@dataclass(frozen=True)
class TextStyle:
    """Character modes in effect when a character was printed."""

    bold: bool = False
    underline: int = 0  # 0 off, 1 thin, 2 thick
    width: int = 1  # character width multiplier 1..8
    height: int = 1  # character height multiplier 1..8
    font: Font = Font.A
    inverse: bool = False
    upside_down: bool = False
    double_strike: bool = False


@dataclass
class Span:
    """A run of characters printed with one style."""

    text: str
    style: TextStyle


@dataclass
class TextLine:
    """One printed line of text; an empty ``spans`` list is a blank line (a bare LF).

    ``columns`` is how many normal-width characters of the line's font fit on it, used to
    place centred and right-aligned text; ``spacing`` is the line spacing in dots
    (``ESC 3``) in effect when the line was printed.
    """

    spans: list[Span]
    align: Align = Align.LEFT
    columns: int = 42
    spacing: int = 30

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)

    @property
    def width_columns(self) -> int:
        """Columns the text takes, double-width characters counting as their multiplier."""
        return sum(len(span.text) * span.style.width for span in self.spans)

    @property
    def font(self) -> Font:
        return self.spans[0].style.font if self.spans else Font.A


@dataclass
class Barcode:
    """A 1D barcode. ``data`` is what a scanner reads; ``raw`` is what was sent.

    For CODE128 the ESC/POS code-set prefixes (``{B`` ...) are in ``raw`` but not ``data``.
    """

    symbology: Symbology
    data: str
    raw: bytes
    height: int = 162  # dots
    module_width: int = 3  # dots per narrow bar
    hri_position: int = 0  # 0 none, 1 above, 2 below, 3 both
    align: Align = Align.LEFT


@dataclass
class QrCode:
    """A QR code printed natively (``GS ( k``)."""

    data: str
    module_size: int = 3
    ec_level: str = "L"
    model: int = 2
    align: Align = Align.LEFT


@dataclass
class RasterImage:
    """A bitmap, 1-bit, black = printed dots, scaled as the printer scaled it."""

    image: Image.Image
    source: ImageSource = ImageSource.RASTER
    align: Align = Align.LEFT

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@dataclass
class Feed:
    """Paper fed by a number of dots without printing (``ESC J``)."""

    dots: int


@dataclass
class Cut:
    partial: bool = False


@dataclass
class DrawerPulse:
    """A cash drawer kick: connector pin (2 or 5) and pulse length in milliseconds."""

    pin: int
    on_ms: int


Element = TextLine | Barcode | QrCode | RasterImage | Feed | Cut | DrawerPulse
_E = TypeVar("_E")


@dataclass
class Paper:
    """Everything printed since the last tear-off, in order."""

    elements: list[Element] = field(default_factory=list)

    def add(self, element: Element) -> None:
        """Append one element; ESC * stripes printed one under the other join into one image."""
        last = self.elements[-1] if self.elements else None
        if (
            isinstance(element, RasterImage)
            and element.source is ImageSource.COLUMN
            and isinstance(last, RasterImage)
            and last.source is ImageSource.COLUMN
            and last.image.width == element.image.width
        ):
            joined = Image.new("1", (last.image.width, last.image.height + element.image.height), 1)
            joined.paste(last.image, (0, 0))
            joined.paste(element.image, (0, last.image.height))
            last.image = joined
            return
        self.elements.append(element)

    def clear(self) -> None:
        self.elements.clear()

    def of_type(self, kind: type[_E]) -> list[_E]:
        """The elements of one type, e.g. ``paper.of_type(Barcode)``."""
        return [element for element in self.elements if isinstance(element, kind)]

"""A hang tag laid out in millimetres, independent of any printer.

A :class:`TagLayout` is what a tag template's markup describes
(:func:`posbridge.hangtags.markup.parse_tag_markup`) and what
:func:`posbridge.hangtags.zpl.tag_zpl` turns into ZPL for a printer of any resolution.
Positions are the top-left corner of an element, measured from the top-left corner of the
tag; every length is in millimetres (floats: geometry, not money).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Align",
    "BarcodeElement",
    "BarcodeKind",
    "BoxElement",
    "DataMatrixElement",
    "Element",
    "LineElement",
    "QrElement",
    "QrLevel",
    "TagLayout",
    "TextElement",
]


class Align(enum.StrEnum):
    """Horizontal alignment of text inside its box."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"
    JUSTIFY = "justify"


class BarcodeKind(enum.StrEnum):
    """Linear symbologies of ``@barcode``."""

    EAN13 = "ean13"
    UPCA = "upca"
    EAN8 = "ean8"
    CODE128 = "code128"


class QrLevel(enum.StrEnum):
    """QR error correction: L 7 %, M 15 %, Q 25 %, H 30 % of the symbol may be damaged."""

    L = "L"
    M = "M"
    Q = "Q"
    H = "H"


@dataclass(frozen=True, slots=True)
class TextElement:
    """Text in a box ``width_mm`` wide, wrapped to at most ``lines`` lines.

    ``size_mm`` is the font height (ZPL's ``^A0`` character height; capital letters are
    about 70 % of it). ``reverse`` prints white on a black box; ``strike`` draws a line
    through the (single-line) text, e.g. for a compare-at price; ``fit`` shrinks the font
    of a one-line text (down to half its size) until it fits the width.
    """

    x_mm: float
    y_mm: float
    width_mm: float
    size_mm: float
    text: str
    align: Align = Align.LEFT
    lines: int = 1
    bold: bool = False
    reverse: bool = False
    strike: bool = False
    fit: bool = False

    @property
    def height_mm(self) -> float:
        """The height of the text box: ``lines`` rows of ``size_mm``."""
        return self.size_mm * self.lines


@dataclass(frozen=True, slots=True)
class BarcodeElement:
    """A linear barcode; ``height_mm`` is the bars' height, ``module_mm`` the narrow bar.

    EAN/UPC data is the digits with or without the check digit (the printer computes it).
    ``text`` prints the human-readable digits under the bars.
    """

    x_mm: float
    y_mm: float
    kind: BarcodeKind
    data: str
    height_mm: float = 15.0
    module_mm: float = 0.33
    text: bool = True


@dataclass(frozen=True, slots=True)
class QrElement:
    """A QR code; ``module_mm`` is the side of one square (ZPL magnification 1..10)."""

    x_mm: float
    y_mm: float
    data: str
    module_mm: float = 0.5
    level: QrLevel = QrLevel.Q


@dataclass(frozen=True, slots=True)
class DataMatrixElement:
    """A Data Matrix (ECC 200) code; ``module_mm`` is the side of one square."""

    x_mm: float
    y_mm: float
    data: str
    module_mm: float = 0.5


@dataclass(frozen=True, slots=True)
class LineElement:
    """A straight line ``length_mm`` long, horizontal or (``vertical``) downwards."""

    x_mm: float
    y_mm: float
    length_mm: float
    thickness_mm: float = 0.3
    vertical: bool = False


@dataclass(frozen=True, slots=True)
class BoxElement:
    """A rectangle; ``fill`` paints it black, ``rounding`` 0..8 rounds its corners (ZPL)."""

    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    thickness_mm: float = 0.3
    fill: bool = False
    rounding: int = 0


Element = TextElement | BarcodeElement | QrElement | DataMatrixElement | LineElement | BoxElement


@dataclass(frozen=True, slots=True)
class TagLayout:
    """One hang tag: its size and its elements, drawn in order (later ones on top)."""

    width_mm: float
    height_mm: float
    elements: tuple[Element, ...]

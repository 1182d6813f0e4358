"""A :class:`~posbridge.hangtags.layout.TagLayout` -> one ZPL II format for a label printer.

Millimetres become dots at the media's resolution here, so one layout prints the same
on a 203 and a 300 dpi printer. Every text comes out through ``^FH`` with ``^``, ``~``
and ``_`` written as hex escapes (``_5E``, ``_7E``, ``_5F``) and control characters as
spaces: nothing from data can end a field or start a command.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from drivers.zpl.media import Media
from posbridge.hangtags.errors import INVALID_ITEM, HangTagError
from posbridge.hangtags.layout import (
    Align,
    BarcodeElement,
    BarcodeKind,
    BoxElement,
    DataMatrixElement,
    Element,
    LineElement,
    QrElement,
    TagLayout,
    TextElement,
)
from posbridge.hangtags.markup import (
    _UNMARK,
    INVALID_LAYOUT,
    MAX_ELEMENTS,
    MAX_VALUE_CHARS,
    line_element,
    tag_lines,
    too_many_elements,
)

__all__ = ["MAX_COPIES", "Measure", "escape_field", "markup_zpl", "tag_zpl"]

#: Copies of one tag in one format (``^PQ``).
MAX_COPIES = 10_000
#: How much bigger than the media a layout may be before it is refused, in mm.
_FIT_SLACK_MM = 0.5

#: ``measure(text, height_dots, width_dots) -> width in dots`` of one line of ``^A0`` text.
Measure = Callable[[str, int, int], int]

_FIELD: dict[int, str] = {code: " " for code in (*range(0x20), 0x7F)}
_FIELD.update({ord("^"): "_5E", ord("~"): "_7E", ord("_"): "_5F"})
# In a field block (^FB) "\&" is a line break and "\\" a backslash.
_BLOCK = {**_FIELD, ord("\\"): "\\\\"}
_JUSTIFY = {Align.LEFT: "L", Align.CENTER: "C", Align.RIGHT: "R", Align.JUSTIFY: "J"}
_BARCODE = {
    BarcodeKind.EAN13: ("^BEN,{h},{t},N", 12),
    BarcodeKind.UPCA: ("^BUN,{h},{t},N,Y", 11),
    BarcodeKind.EAN8: ("^B8N,{h},{t},N", 7),
}


def escape_field(text: str) -> str:
    """Field data for use after ``^FH``: ``^ ~ _`` as hex, control characters as spaces."""
    return text.translate(_FIELD)


def markup_zpl(
    text: str, media: Media, copies: int = 1, *, template: str, source: str | None = None
) -> bytes:
    """``tag_zpl(parse_tag_markup(text, ...), media, copies)``, the same bytes, faster.

    A batch prints the same markup lines on many tags (the brand, a price, the rules):
    their ZPL is looked up by the line's text, so only lines never seen before are
    parsed into elements. The check of the copies and of the tag's size is the same.
    """
    _check_copies(copies)
    width, height, lines = tag_lines(text, template=template, source=source)
    _check_size(width, height, media)
    dpi = media.dpi
    parts = [f"^XA^CI28^PW{media.width_dots}^LL{media.height_dots}^LH0,0"]
    cache = _LINE_FRAGMENTS
    elements = 0
    for number, line in lines:
        key = (dpi, width, height, line)
        fragment = cache.get(key)
        if fragment is None:
            fragment = _plain_text_fragment(line, width, height, dpi)
        if fragment is None:
            element = line_element(number, line, width, height, template=template, source=source)
            fragment = "" if element is None else _element(element, dpi, None)
            if len(cache) >= _FRAGMENTS_MAX:
                cache.clear()
            cache[key] = fragment
        if fragment:
            elements += 1
            if elements > MAX_ELEMENTS:
                raise too_many_elements(template)
            parts.append(fragment)
    parts.append(f"^PQ{copies}^XZ")
    return "".join(parts).encode("utf-8")


# ZPL of whole markup lines seen before, by (dpi, tag width, tag height, line).
_LINE_FRAGMENTS: dict[tuple[int, float, float, str], str] = {}

# Text whose ZPL does not depend on its value (no fit, no strike-through) is the ZPL of
# its options with the value put in: a product's name or id, new on every tag, then
# costs a string join instead of a parse. Keyed by (dpi, tag size, the line's options).
_PLACEHOLDER = "QXZVALUEQXZ"
_PLAIN: dict[tuple[int, float, float, str], list[str] | None] = {}


def _plain_text_fragment(line: str, width: float, height: float, dpi: int) -> str | None:
    """The ZPL of a plain @text line, or None when the line needs the full parse."""
    cut = line.find("|")
    if cut < 0:
        return None
    head = line[:cut]
    key = (dpi, width, height, head)
    try:
        pieces = _PLAIN[key]
    except KeyError:
        pieces = _plain_pieces(head, width, height, dpi)
        if len(_PLAIN) >= _FRAGMENTS_MAX:
            _PLAIN.clear()
        _PLAIN[key] = pieces
    if pieces is None:
        return None
    value = line[cut + 1 :].translate(_UNMARK).strip()
    if not value or len(value) > MAX_VALUE_CHARS:
        return None  # left off, or refused: the full parse says which
    return value.translate(_BLOCK).join(pieces)


def _plain_pieces(head: str, width: float, height: float, dpi: int) -> list[str] | None:
    if not head.startswith("@text"):
        return None
    try:
        element = line_element(0, f"{head}| {_PLACEHOLDER}", width, height, template="")
    except HangTagError:
        return None  # the full parse reports it, with the template line
    if type(element) is not TextElement or element.fit or element.strike:
        return None
    return _element(element, dpi, None).split(_PLACEHOLDER)



def _check_copies(copies: int) -> None:
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise HangTagError(INVALID_ITEM, f"copies must be 1..{MAX_COPIES}, not {copies!r}")


def _check_size(width_mm: float, height_mm: float, media: Media) -> None:
    if width_mm > media.width_mm + _FIT_SLACK_MM or height_mm > media.height_mm + _FIT_SLACK_MM:
        raise HangTagError(
            INVALID_LAYOUT,
            f"the tag is {width_mm:g} x {height_mm:g} mm but the media is"
            f" {media.width_mm:g} x {media.height_mm:g} mm",
        )


def tag_zpl(
    layout: TagLayout, media: Media, copies: int = 1, *, measure: Measure | None = None
) -> bytes:
    """One ZPL format (``^XA ... ^PQ{copies}^XZ``, UTF-8) that prints ``layout`` on ``media``.

    ``measure`` gives the drawn width of a text, to strike it through; it defaults to
    :func:`drivers.zpl.render.measure_text`, the metrics the ZPL renderer draws with.

    Raises :class:`HangTagError` ``invalid_layout`` when the layout is larger than the
    media and ``invalid_item`` for copies outside 1..MAX_COPIES.
    """
    _check_copies(copies)
    _check_size(layout.width_mm, layout.height_mm, media)
    dpi = media.dpi
    parts = [f"^XA^CI28^PW{media.width_dots}^LL{media.height_dots}^LH0,0"]
    if measure is None:
        cache = _FRAGMENTS
        for element in layout.elements:
            key = (element, dpi)
            fragment = cache.get(key)
            if fragment is None:
                fragment = _element(element, dpi, None)
                if len(cache) >= _FRAGMENTS_MAX:
                    cache.clear()
                cache[key] = fragment
            parts.append(fragment)
    else:
        for element in layout.elements:
            parts.append(_element(element, dpi, measure))
    parts.append(f"^PQ{copies}^XZ")
    return "".join(parts).encode("utf-8")


# ZPL of elements seen before (a price, a rule): most of a tag repeats across a batch.
_FRAGMENTS: dict[tuple[Element, int], str] = {}
_FRAGMENTS_MAX = 20_000


def _dots(mm: float, dpi: int) -> int:
    # Same rounding as Media.dots.
    return round(mm * dpi / 25.4)


def _element(element: Element, dpi: int, measure: Measure | None) -> str:
    if type(element) is TextElement:
        return _text(element, dpi, measure)
    if type(element) is BarcodeElement:
        return _barcode(element, dpi)
    if type(element) is QrElement:
        magnification = min(10, max(1, _dots(element.module_mm, dpi)))
        data = escape_field(element.data)
        return (
            f"^FO{_dots(element.x_mm, dpi)},{_dots(element.y_mm, dpi)}^BQN,2,{magnification}"
            f"^FH^FD{element.level}A,{data}^FS"
        )
    if type(element) is DataMatrixElement:
        module = max(1, _dots(element.module_mm, dpi))
        # "~" would start one of ^BX's own escape sequences (~1 = FNC1): markup refuses it.
        data = escape_field(element.data.replace("~", " "))
        return (
            f"^FO{_dots(element.x_mm, dpi)},{_dots(element.y_mm, dpi)}^BXN,{module},200"
            f"^FH^FD{data}^FS"
        )
    if type(element) is LineElement:
        length = max(1, _dots(element.length_mm, dpi))
        thickness = max(1, _dots(element.thickness_mm, dpi))
        w, h = (thickness, length) if element.vertical else (length, thickness)
        return f"^FO{_dots(element.x_mm, dpi)},{_dots(element.y_mm, dpi)}^GB{w},{h},{thickness}^FS"
    if type(element) is BoxElement:
        w = max(1, _dots(element.width_mm, dpi))
        h = max(1, _dots(element.height_mm, dpi))
        # A border as thick as the shorter side paints the box black.
        t = min(w, h) if element.fill else min(w, h, max(1, _dots(element.thickness_mm, dpi)))
        rounding = f",B,{element.rounding}" if element.rounding else ""
        return (
            f"^FO{_dots(element.x_mm, dpi)},{_dots(element.y_mm, dpi)}^GB{w},{h},{t}{rounding}^FS"
        )
    raise TypeError(f"not a tag element: {element!r}")


def _text(element: TextElement, dpi: int, measure: Measure | None) -> str:
    x, y = _dots(element.x_mm, dpi), _dots(element.y_mm, dpi)
    width = max(1, _dots(element.width_mm, dpi))
    size = max(1, _dots(element.size_mm, dpi))
    if element.fit and element.lines == 1:
        drawn = (measure or _measure_text)(element.text, size, size)
        if drawn > width:
            size = max(size // 2, size * width // drawn, 1)
    data = element.text.translate(_BLOCK)
    font = f"^A0N,{size},{size}^FB{width},{element.lines},0,{_JUSTIFY[element.align]}"
    parts: list[str] = []
    if element.reverse:
        # White on black: a black box the size of the text block, the text inverted.
        height = size * element.lines
        parts.append(f"^FO{x},{y}^GB{width},{height},{min(width, height)}^FS")
        parts.append(f"^FO{x},{y}{font}^FR^FH^FD{data}^FS")
    else:
        parts.append(f"^FO{x},{y}{font}^FH^FD{data}^FS")
        if element.bold:
            # Font 0 has no bold face: print it again one stroke to the right.
            parts.append(f"^FO{x + _bold_offset(dpi)},{y}{font}^FH^FD{data}^FS")
    if element.strike:
        parts.append(_strike(element, x, y, width, size, dpi, measure))
    return "".join(parts)


def _bold_offset(dpi: int) -> int:
    return max(1, _dots(0.13, dpi))


def _strike(
    element: TextElement, x: int, y: int, width: int, size: int, dpi: int, measure: Measure | None
) -> str:
    """A line through the middle of the text's first line, as wide as the text drawn."""
    drawn = min(width, (measure or _measure_text)(element.text, size, size))
    if element.bold and not element.reverse:
        drawn = min(width, drawn + _bold_offset(dpi))
    if element.align is Align.CENTER:
        left = x + (width - drawn) // 2
    elif element.align is Align.RIGHT:
        left = x + width - drawn
    else:
        left = x
    thickness = max(2, round(size / 12))
    # The ^A0 cell runs from the top of the capitals to the bottom of the descenders;
    # digits and capitals fill its upper ~73 %, so their middle is at ~37 %.
    top = y + round(size * 0.37) - thickness // 2
    return f"^FO{left},{top}^GB{max(1, drawn)},{thickness},{thickness}^FS"


@lru_cache(maxsize=4096)
def _measure_text(text: str, height: int, width: int) -> int:
    # Imported on first use: the font (Pillow) is only needed to strike or fit text.
    from drivers.zpl.render import measure_text

    return measure_text(text, height, width)


def _barcode(element: BarcodeElement, dpi: int) -> str:
    x, y = _dots(element.x_mm, dpi), _dots(element.y_mm, dpi)
    module = max(1, _dots(element.module_mm, dpi))
    height = max(1, _dots(element.height_mm, dpi))
    hri = "Y" if element.text else "N"
    head = f"^FO{x},{y}^BY{module}"
    if element.kind is BarcodeKind.CODE128:
        data = element.data
        # Start in subset C for even-length digit strings (half as wide), else in B.
        start = ">;" if data.isdigit() and len(data) % 2 == 0 else ">:"
        clean = "".join(c for c in data if " " <= c <= "}" and c not in "^>")
        return f"{head}^BCN,{height},{hri},N,N^FD{start}{clean}^FS"
    command, digits = _BARCODE[element.kind]
    data = "".join(c for c in element.data if "0" <= c <= "9")[:digits]
    return f"{head}{command.format(h=height, t=hri)}^FD{data}^FS"

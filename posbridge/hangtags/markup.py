"""Tag markup (what a hang-tag template renders) -> :class:`~posbridge.hangtags.layout.TagLayout`.

One element per non-empty line; all lengths in millimetres::

    @tag w=50.8 h=76.2
    @text x=3 y=4 w=44.8 size=4 align=center lines=2 | {{ product.name }}
    @text x=3 y=20 size=9 bold | {{ price.text }}
    @text x=30 y=22 size=5 strike | {{ compare_at.text }}
    @barcode gtin x=6 y=50 h=15 module=0.33 | {{ product.gtin }}
    @qr x=30 y=5 module=0.5 | https://example.com/p/{{ product.id }}
    @datamatrix x=3 y=5 module=0.5 | {{ product.id }}
    @line x=3 y=45 w=44.8 t=0.3
    @box x=1 y=1 w=48.8 h=74.2 t=0.5 fill round=2

The options come before the first ``|``, the value after it. An element whose value is
empty (``{{ compare_at.text }}`` with no compare-at price) is left off. The full format is
in ``docs/hang-tag-templates.md``.

Values from data cannot become markup: the template environment's ``finalize`` wraps
every string a ``{{ ... }}`` prints in private-use markers and replaces its ``|`` and
control characters (:func:`mark_value`), so a value never starts a directive, never is
the ``|`` separator, and in the options may only be one plain token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from posbridge.hangtags.errors import INVALID_GTIN, HangTagError
from posbridge.hangtags.gtin import check_digit, gtin_symbology, normalize_gtin
from posbridge.hangtags.layout import (
    Align,
    BarcodeElement,
    BarcodeKind,
    BoxElement,
    DataMatrixElement,
    Element,
    LineElement,
    QrElement,
    QrLevel,
    TagLayout,
    TextElement,
)

__all__ = [
    "INVALID_LAYOUT",
    "line_element",
    "tag_lines",
    "too_many_elements",
    "MAX_ELEMENTS",
    "MAX_VALUE_CHARS",
    "TagTemplateError",
    "mark_value",
    "parse_tag_markup",
]

INVALID_LAYOUT = "invalid_layout"
#: Elements one tag may have.
MAX_ELEMENTS = 200
#: Characters one element's value may have (a QR code holds at most ~4000).
MAX_VALUE_CHARS = 2000
#: Largest coordinate or length accepted, in mm.
_MAX_MM = 1000.0
#: Rounding slack when checking that an element stays on the tag, in mm.
_SLACK_MM = 0.05

# Private-use code points that mark what came from data. They are removed from data
# first, so data cannot forge them.
_PIPE = "\ue001"  # a "|" from data: never the separator
_OPEN = "\ue002"  # a value from data starts
_CLOSE = "\ue003"  # ... and ends
_SANITIZE: dict[int, str | None] = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0))}
_SANITIZE.update({ord("|"): _PIPE, ord(_PIPE): None, ord(_OPEN): None, ord(_CLOSE): None})
_SANITIZE.update({0x2028: " ", 0x2029: " "})  # line/paragraph separators
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f|\u2028\u2029\ue001-\ue003]")
_UNMARK: dict[int, str | None] = {ord(_PIPE): "|", ord(_OPEN): None, ord(_CLOSE): None}
# Data inside the options may only be one token such as a number or a word.
_DATA_IN_HEAD = re.compile(_OPEN + r"([^" + _CLOSE + r"]*)" + _CLOSE)
_TOKEN = re.compile(r"[A-Za-z0-9._-]*")


class TagTemplateError(HangTagError):
    """A :class:`HangTagError` about a template, naming it and the line.

    ``line`` is the line of the template source when known; ``output_line`` the line of
    the rendered markup an ``invalid_layout`` error is about.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        template: str,
        line: int | None = None,
        output_line: int | None = None,
    ) -> None:
        where = f"{template}, line {line}" if line is not None else template
        super().__init__(code, f"{where}: {message}")
        self.template = template
        self.line = line
        self.output_line = output_line
        self.detail = message

    @property
    def not_found(self) -> bool:
        """True for ``template_not_found`` too (the API answers 404)."""
        return self.code == "template_not_found" or super().not_found


def mark_value(value: object) -> str:
    """Jinja ``finalize``: a value from data as text that cannot become markup.

    Numbers pass unchanged (``y={{ 20 + i * 6 }}``); ``None`` prints nothing.
    """
    if type(value) is str:
        if _UNSAFE.search(value) is None:  # the usual case: nothing to replace
            return _OPEN + value + _CLOSE
        return _OPEN + value.translate(_SANITIZE) + _CLOSE
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return _OPEN + str(value).translate(_SANITIZE) + _CLOSE


# ------------------------------------------------------------------------- options


class _LineError(ValueError):
    """What is wrong with one markup line (the caller adds template and line)."""


def _mm(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _LineError(f"{name}={text!r} is not a number of millimetres") from None
    if not math.isfinite(value) or not 0 <= value <= _MAX_MM:
        raise _LineError(f"{name}={text} must be 0..{_MAX_MM:g} mm")
    return value


def _positive_mm(name: str, text: str) -> float:
    value = _mm(name, text)
    if value <= 0:
        raise _LineError(f"{name}={text} must be more than 0 mm")
    return value


def _int_in(name: str, text: str, low: int, high: int) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise _LineError(f"{name}={text!r} must be a whole number {low}..{high}")
    return int(text)


def _choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise _LineError(f"{name}={text!r} must be one of {', '.join(choices)}")
    return text


_ALIGNS = tuple(a.value for a in Align)
_LEVELS = tuple(level.value for level in QrLevel)
_KINDS = (*(k.value for k in BarcodeKind), "gtin")

# Per directive: option names with their parser, and bare words standing for name=value.
_Parser = Callable[[str, str], Any]
_OPTIONS: dict[str, tuple[dict[str, _Parser], dict[str, tuple[str, str]]]] = {
    "tag": ({"w": _positive_mm, "h": _positive_mm}, {}),
    "text": (
        {
            "x": _mm,
            "y": _mm,
            "w": _positive_mm,
            "size": _positive_mm,
            "align": lambda n, t: Align(_choice(n, t, _ALIGNS)),
            "lines": lambda n, t: _int_in(n, t, 1, 20),
        },
        {
            **{a: ("align", a) for a in _ALIGNS},
            "bold": ("bold", "yes"),
            "reverse": ("reverse", "yes"),
            "strike": ("strike", "yes"),
            "fit": ("fit", "yes"),
        },
    ),
    "barcode": (
        {"x": _mm, "y": _mm, "h": _positive_mm, "module": _positive_mm},
        {"text": ("text", "yes"), "notext": ("text", "no")},
    ),
    "qr": (
        {
            "x": _mm,
            "y": _mm,
            "module": _positive_mm,
            "level": lambda n, t: QrLevel(_choice(n, t, _LEVELS)),
        },
        {},
    ),
    "datamatrix": ({"x": _mm, "y": _mm, "module": _positive_mm}, {}),
    "line": ({"x": _mm, "y": _mm, "w": _positive_mm, "h": _positive_mm, "t": _positive_mm}, {}),
    "box": (
        {
            "x": _mm,
            "y": _mm,
            "w": _positive_mm,
            "h": _positive_mm,
            "t": _positive_mm,
            "round": lambda n, t: _int_in(n, t, 0, 8),
        },
        {"fill": ("fill", "yes")},
    ),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "tag": ("w", "h"),
    "text": ("x", "y", "size"),
    "barcode": ("x", "y"),
    "qr": ("x", "y"),
    "datamatrix": ("x", "y"),
    "line": ("x", "y"),
    "box": ("x", "y", "w", "h"),
}
_WITH_VALUE = frozenset({"text", "barcode", "qr", "datamatrix"})
# Module counts of the fixed-width symbologies (bars only), to keep them on the tag.
_MODULES = {BarcodeKind.EAN13: 95, BarcodeKind.UPCA: 95, BarcodeKind.EAN8: 67}


def _split_options(directive: str, words: list[str]) -> dict[str, Any]:
    names, bare = _OPTIONS[directive]
    options: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep:
            if word not in bare:
                allowed = ", ".join([*(f"{n}=" for n in names), *bare])
                raise _LineError(f"unknown option {word!r} for @{directive} (allowed: {allowed})")
            key, text = bare[word]
            # A bare word is a flag ("yes"/"no") or stands for align=WORD.
            value: Any = Align(text) if key == "align" else text == "yes"
        elif key in names:
            value = names[key](key, text)
        else:
            allowed = ", ".join([*(f"{n}=" for n in names), *bare])
            raise _LineError(f"unknown option {key!r} for @{directive} (allowed: {allowed})")
        if key in options:
            raise _LineError(f"option {key!r} given twice")
        options[key] = value
    missing = [name for name in _REQUIRED[directive] if name not in options]
    if missing:
        raise _LineError(f"@{directive} needs {', '.join(n + '=' for n in missing)}")
    return options


def _off(what: str, end: float, limit: float, axis: str) -> None:
    if end > limit + _SLACK_MM:
        raise _LineError(
            f"{what} reaches {axis}={end:g} mm, off the {limit:g} mm tag"
            f" ({'width' if axis == 'x' else 'height'})"
        )


# A prototype: the element's constructor with every option bound, waiting for its value.
_Proto = Callable[..., Element]


def _prototype(head: str, width: float, height: float) -> tuple[str, _Proto | None]:
    """Parse a line's directive and options into (directive, element constructor)."""
    words = head.split()
    directive = words[0][1:]
    if directive not in _OPTIONS or directive == "tag":
        known = ", ".join(f"@{d}" for d in _OPTIONS if d != "tag")
        hint = " (@tag must be the first line)" if directive == "tag" else ""
        raise _LineError(f"unknown directive '@{directive}'{hint} (known: {known})")
    args = words[1:]
    kind: str | None = None
    if directive == "barcode":
        if not args or "=" in args[0] or args[0] not in _KINDS:
            raise _LineError(f"@barcode needs a symbology first: {', '.join(_KINDS)}")
        kind, args = args[0], args[1:]
    opts = _split_options(directive, args)
    x, y = opts["x"], opts["y"]
    _off(f"@{directive}", x, width, "x")
    _off(f"@{directive}", y, height, "y")
    match directive:
        case "text":
            w = opts.get("w", width - 2 * x)
            if w <= 0:
                raise _LineError("@text has no room: give w=")
            lines = opts.get("lines", 1)
            _off("@text", x + w, width, "x")
            _off("@text", y + lines * opts["size"], height, "y")
            return directive, partial(
                TextElement,
                x,
                y,
                w,
                opts["size"],
                align=opts.get("align", Align.LEFT),
                lines=lines,
                bold=opts.get("bold", False),
                reverse=opts.get("reverse", False),
                strike=opts.get("strike", False),
                fit=opts.get("fit", False),
            )
        case "barcode":
            h = opts.get("h", 15.0)
            module = opts.get("module", 0.33)
            _off("@barcode", y + h, height, "y")
            return kind or "", partial(
                _barcode,
                x,
                y,
                height_mm=h,
                module_mm=module,
                text=opts.get("text", True),
                tag_width=width,
            )
        case "qr":
            return directive, partial(
                QrElement,
                x,
                y,
                module_mm=opts.get("module", 0.5),
                level=opts.get("level", QrLevel.Q),
            )
        case "datamatrix":
            return directive, partial(DataMatrixElement, x, y, module_mm=opts.get("module", 0.5))
        case "line":
            if ("w" in opts) == ("h" in opts):
                raise _LineError("@line needs either w= (horizontal) or h= (vertical)")
            t = opts.get("t", 0.3)
            if "w" in opts:
                _off("@line", x + opts["w"], width, "x")
                _off("@line", y + t, height, "y")
                element: Element = LineElement(x, y, opts["w"], t)
            else:
                _off("@line", y + opts["h"], height, "y")
                _off("@line", x + t, width, "x")
                element = LineElement(x, y, opts["h"], t, vertical=True)
            return directive, _constant(element)
        case "box":
            _off("@box", x + opts["w"], width, "x")
            _off("@box", y + opts["h"], height, "y")
            return directive, _constant(
                BoxElement(
                    x,
                    y,
                    opts["w"],
                    opts["h"],
                    opts.get("t", 0.3),
                    fill=opts.get("fill", False),
                    rounding=opts.get("round", 0),
                )
            )
    raise AssertionError(directive)  # pragma: no cover


def _constant(element: Element) -> _Proto:
    def make() -> Element:
        return element

    return make


def _barcode(
    x: float,
    y: float,
    kind: str,
    data: str,
    *,
    height_mm: float,
    module_mm: float,
    text: bool,
    tag_width: float,
) -> BarcodeElement:
    if kind == "gtin":
        size = len(data)
        if (
            size in _GTIN_KINDS
            and data.isascii()
            and data.isdigit()
            and check_digit(data[:-1]) == ord(data[-1]) - 48
        ):
            code = _GTIN_KINDS[size]  # the usual, complete GTIN: checked once, here
        else:
            gtin = normalize_gtin(data)  # completes a missing check digit, or says why not
            code, data = BarcodeKind(gtin_symbology(gtin).lower()), gtin
    else:
        code = BarcodeKind(kind)
        data = _barcode_data(code, data)
    if code in _MODULES:  # known once the kind is (a "gtin" barcode's depends on the value)
        _off(f"@barcode {code}", x + _MODULES[code] * module_mm, tag_width, "x")
    return BarcodeElement(x, y, code, data, height_mm=height_mm, module_mm=module_mm, text=text)


_GTIN_KINDS = {8: BarcodeKind.EAN8, 12: BarcodeKind.UPCA, 13: BarcodeKind.EAN13}


_DIGIT_LENGTHS = {BarcodeKind.EAN13: 12, BarcodeKind.UPCA: 11, BarcodeKind.EAN8: 7}
# Code 128 in ZPL: ">" starts an invocation code and "^"/"~" need one; refused rather
# than translated, as shop codes practically never contain them.
_CODE128_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("^>~")


def _barcode_data(kind: BarcodeKind, data: str) -> str:
    if kind is BarcodeKind.CODE128:
        if not _CODE128_CHARS.issuperset(data):
            raise _LineError(f"code128 data {data!r} may hold printable ASCII except ^ > ~")
        return data
    body = _DIGIT_LENGTHS[kind]
    if not data.isascii() or not data.isdigit() or len(data) not in (body, body + 1):
        raise _BadGtin(
            f"{kind} needs {body} digits (or {body + 1} with the check digit), got {data!r}"
        )
    if len(data) == body + 1 and check_digit(data[:body]) != int(data[body]):
        raise _BadGtin(
            f"{kind} {data!r}: check digit should be {check_digit(data[:body])}, not {data[body]}"
        )
    return data


class _BadGtin(_LineError):
    """Barcode data that is no valid EAN/UPC (code ``invalid_gtin``)."""


# ---------------------------------------------------------------------------- parse

# Parsed heads, keyed by (tag width, tag height, head): templates print the same
# literal options for every tag, so each is parsed once.
_CACHE: dict[tuple[float, float, str], tuple[str, _Proto | None]] = {}
_CACHE_MAX = 4096


def _head(head: str, width: float, height: float) -> tuple[str, _Proto | None]:
    key = (width, height, head)
    found = _CACHE.get(key)
    if found is None:
        if _OPEN in head:
            head = _check_data_in_head(head)
        found = _prototype(head, width, height)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def _check_data_in_head(head: str) -> str:
    for match in _DATA_IN_HEAD.finditer(head):
        if not _TOKEN.fullmatch(match[1]):
            raise _LineError(f"a value in the options must be a number or a word, not {match[1]!r}")
    return head.replace(_OPEN, "").replace(_CLOSE, "")


def _lines(markup: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(markup.split("\n"), start=1):
        line = raw.strip()
        if line:
            yield number, line


@lru_cache(maxsize=64)  # one or two sizes per batch, on every tag
def _tag_size(line: str) -> tuple[float, float]:
    words = line.split()
    if words[0] != "@tag":
        raise _LineError("the first line must be '@tag w=WIDTH h=HEIGHT' (millimetres)")
    if _OPEN in line:
        raise _LineError("@tag takes literal sizes, not values from data")
    options = _split_options("tag", words[1:])
    return options["w"], options["h"]


def parse_tag_markup(text: str, *, template: str, source: str | None = None) -> TagLayout:
    """Turn tag markup (a template's output) into a :class:`TagLayout`.

    Raises :class:`TagTemplateError` (``invalid_layout``, or ``invalid_gtin`` for barcode
    data that is no EAN/UPC) naming ``template`` and the line: the template ``source``
    line when it can be told (give ``source``), and always the output line.
    """
    width, height, lines = tag_lines(text, template=template, source=source)
    elements: list[Element] = []
    for number, line in lines:
        element = line_element(number, line, width, height, template=template, source=source)
        if element is not None:
            if len(elements) >= MAX_ELEMENTS:
                raise too_many_elements(template)
            elements.append(element)
    return TagLayout(width, height, tuple(elements))


def tag_lines(
    text: str, *, template: str, source: str | None = None
) -> tuple[float, float, Iterator[tuple[int, str]]]:
    """The tag size from the first line, and the numbered element lines after it."""
    lines = _lines(text)
    first = next(lines, None)
    if first is None:
        raise TagTemplateError(INVALID_LAYOUT, "the template printed nothing", template=template)
    try:
        width, height = _tag_size(first[1])
    except _LineError as exc:
        raise _error(exc, template, first, source) from None
    return width, height, lines


def too_many_elements(template: str) -> TagTemplateError:
    return TagTemplateError(INVALID_LAYOUT, f"more than {MAX_ELEMENTS} elements", template=template)


def line_element(
    number: int,
    line: str,
    width: float,
    height: float,
    *,
    template: str,
    source: str | None = None,
) -> Element | None:
    """The element of one markup line (None: a value left empty, so nothing to draw)."""
    key = (width, height, line)
    cache = _LINE_CACHE
    element = cache.get(key, _MISS)
    if element is _MISS:
        try:
            element = _element(line, width, height)
        except _LineError as exc:
            raise _error(exc, template, (number, line), source) from None
        except HangTagError as exc:  # invalid_gtin from normalize_gtin
            raise _error(exc, template, (number, line), source, code=exc.code) from None
        if len(cache) >= _LINE_CACHE_MAX:
            cache.clear()
        cache[key] = element
    return element  # type: ignore[return-value]  # never _MISS here


# Elements of whole markup lines: the lines a template prints for many tags (a price,
# a colour, the rules) are parsed once. Elements are immutable, so sharing is safe.
_MISS = object()
_LINE_CACHE: dict[tuple[float, float, str], Element | None | object] = {}
_LINE_CACHE_MAX = 20_000


def _element(line: str, width: float, height: float) -> Element | None:
    if line[0] != "@":
        raise _LineError("a line must start with a directive such as @text")
    cut = line.find("|")
    head = line if cut < 0 else line[:cut]
    directive, make = _head(head, width, height)
    assert make is not None
    if cut < 0:
        if directive in _WITH_VALUE or directive in _KINDS:
            raise _LineError(f"@{head.split()[0][1:]} needs '| value' after its options")
        return make()
    if directive not in _WITH_VALUE and directive not in _KINDS:
        raise _LineError(f"@{directive} takes no value (remove '| ...')")
    value = line[cut + 1 :].translate(_UNMARK).strip()
    if not value:
        return None  # no data for this element: leave it off
    if len(value) > MAX_VALUE_CHARS:
        raise _LineError(f"the value has {len(value)} characters; at most {MAX_VALUE_CHARS}")
    if directive == "datamatrix" and "~" in value:
        # ^BX reads "~" as the start of its own escape sequences (~1 is FNC1).
        raise _LineError(f"datamatrix data {value!r} may not contain '~'")
    if directive in _KINDS:
        return make(directive, value)
    return make(value)


def _error(
    exc: Exception,
    template: str,
    where: tuple[int, str],
    source: str | None,
    *,
    code: str | None = None,
) -> TagTemplateError:
    number, line = where
    if isinstance(exc, _BadGtin):
        code = INVALID_GTIN
    shown = line.translate(_UNMARK)
    shown = repr(shown if len(shown) <= 70 else shown[:67] + "...")
    message = exc.message if isinstance(exc, HangTagError) else str(exc)
    source_line = _source_line(source, line) if source is not None else None
    return TagTemplateError(
        code or INVALID_LAYOUT,
        f"{message} in {shown} (output line {number})",
        template=template,
        line=source_line,
        output_line=number,
    )


def _source_line(source: str, line: str) -> int | None:
    """The template line that printed ``line``: the one starting with its literal head.

    Found by matching the text before the first value from data; ``None`` when no
    single template line matches (the line was built by expressions).
    """
    literal = line.split(_OPEN, 1)[0].strip()
    if not literal:
        return None
    best: tuple[int, int] | None = None  # (length matched, line number)
    ambiguous = False
    for number, raw in enumerate(source.split("\n"), start=1):
        text = raw.strip()
        size = _common_prefix(text, literal)
        if size < min(len(literal), 2) or not text.startswith("@"):
            continue
        if best is None or size > best[0]:
            best, ambiguous = (size, number), False
        elif size == best[0]:
            ambiguous = True
    return None if best is None or ambiguous else best[1]


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size

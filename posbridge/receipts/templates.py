"""Receipt templates: sandboxed Jinja2 that turns receipt data into a ReceiptDocument.

A template renders *receipt markup*: one block per non-empty line, for example::

    @text[center,bold,size=double] {{ store.name }}
    @columns {{ item.qty }} x {{ item.name }} | {{ item.total|money }}
    @rule
    @barcode CODE128 {{ barcode }}
    @cut

Lines without a leading ``@`` are plain text blocks. The full format, the filters and
the data the default ``sales`` template expects are in ``docs/receipt-templates.md``.

Safety: templates run in Jinja's immutable sandbox with no filesystem access besides the
template loader, ranges and repetition are bounded, and output is capped. Values that
come from data can never become markup: every ``{{ ... }}`` result has its line breaks
and control characters turned into spaces, its ``|`` kept out of the ``columns``
separator and a leading ``@`` kept from starting a directive. Directives and separators
must be literal template text.

Rendering is CPU-bound and synchronous; callers on an event loop should run
:meth:`TemplateStore.render` in a worker thread.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, get_territory_currencies
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    pass_context,
)
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from pydantic import ValidationError

from posbridge._files import write_atomically
from posbridge.receipts.document import MAX_BLOCKS, BlockType, ReceiptDocument

__all__ = [
    "BUILTIN_DIR",
    "DATA_FILTERS",
    "DEFAULT_LOCALE",
    "DEFAULT_TEMPLATE",
    "MAX_OUTPUT_CHARS",
    "MAX_SOURCE_CHARS",
    "TemplateError",
    "TemplateErrorCode",
    "TemplateStore",
    "parse_markup",
]

#: Templates shipped with posbridge.
BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "sales"
#: Locale used when the data has no ``locale``.
DEFAULT_LOCALE = "de_AT"
#: Characters a template may output (a long receipt is ~10 000).
MAX_OUTPUT_CHARS = 1_000_000
#: Size of a template's source accepted by :meth:`TemplateStore.put`.
MAX_SOURCE_CHARS = 256 * 1024
#: Items all ``range()`` calls of one rendering may produce together.
MAX_RANGE_TOTAL = 100_000
#: Largest width the padding filters and string repetition accept.
MAX_PAD = 10_000

_SUFFIX = ".j2"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

# Markers that finalize() puts into values from data and the markup parser takes out
# again (private-use code points; removed from data first, so data cannot forge them).
_DATA_AT = "\ue000"  # before an "@" that starts a value: never a directive
_DATA_PIPE = "\ue001"  # a "|" from data: never the columns separator
_SANITIZE: dict[int, str | None] = {code: " " for code in (*range(0x20), *range(0x7F, 0xA0))}
_SANITIZE.update({ord(_DATA_AT): None, ord(_DATA_PIPE): None, ord("|"): _DATA_PIPE})


class TemplateErrorCode(StrEnum):
    """Stable codes of :class:`TemplateError`."""

    NOT_FOUND = "template_not_found"
    SYNTAX = "template_syntax"
    SECURITY = "template_security"
    DATA = "template_data"
    OUTPUT = "template_output"
    NAME = "template_name"
    """A template name that does not match ``[a-z0-9][a-z0-9_-]{0,63}``."""
    READONLY = "template_readonly"
    """The store has no directory to save templates in."""


class TemplateError(Exception):
    """A template could not be found, compiled, run, or its output made a document.

    ``code`` is stable; ``template`` and ``line`` (1-based, in the template source) say
    where, when known. ``template_output`` errors carry ``output_line`` instead: the line
    of the rendered markup (also quoted in the message).
    """

    def __init__(
        self,
        code: TemplateErrorCode,
        message: str,
        *,
        template: str | None = None,
        line: int | None = None,
        output_line: int | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.template = template
        self.line = line
        self.output_line = output_line
        where = ""
        if template is not None:
            where = f"{template}, line {line}: " if line is not None else f"{template}: "
        super().__init__(f"{where}{message}")


class _DataProblem(ValueError):
    """A filter got data it cannot format (an amount that is not a number, ...)."""


# --------------------------------------------------------------------------- data


class _DataMap(dict[str, Any]):
    """A mapping from receipt data that knows where it sits (``items[2]``)."""

    # Underscored, so the sandbox hides it from templates.
    __slots__ = ("_path",)

    def __init__(self, items: Mapping[str, Any], path: str) -> None:
        super().__init__(items)
        self._path = path


class _DataList(list[Any]):
    """A list from receipt data that knows where it sits."""

    __slots__ = ("_path",)

    def __init__(self, items: Sequence[Any], path: str) -> None:
        super().__init__(items)
        self._path = path


def _wrap(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return _DataMap({str(k): _wrap(v, f"{path}.{k}") for k, v in value.items()}, path)
    if isinstance(value, list | tuple):
        return _DataList([_wrap(v, f"{path}[{i}]") for i, v in enumerate(value)], path)
    return value


class _DataUndefined(StrictUndefined):
    """StrictUndefined whose message names the full data path (``store.vat_id``)."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint or obj is missing:
            return super()._undefined_message
        if isinstance(obj, _DataMap | _DataList):
            path = obj._path
            where = f"{path}[{name!r}]" if isinstance(name, int) else f"{path}.{name}"
            return f"{where} is undefined"
        return super()._undefined_message


# ------------------------------------------------------------------------ filters

_range_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("range_budget")


def _bounded_range(*args: int) -> range:
    """``range`` whose items, summed over one rendering, stay under MAX_RANGE_TOTAL."""
    result = range(*args)
    budget = _range_budget.get(None)
    if budget is None:
        budget = [MAX_RANGE_TOTAL]
        _range_budget.set(budget)
    budget[0] -= len(result)
    if budget[0] < 0:
        raise SecurityError(
            f"loops over range() produce more than {MAX_RANGE_TOTAL} items in one receipt"
        )
    return result


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise _DataProblem(f"locale {name!r} is unknown") from exc


def _context_locale(context: Context) -> Locale:
    value = context.get("locale", DEFAULT_LOCALE)
    return _locale(str(value) if isinstance(value, str) else DEFAULT_LOCALE)


def _defined(value: Any) -> None:
    """Let a filter given missing data fail with the undefined error naming the path."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def _decimal(value: Any, what: str) -> Decimal:
    # Amounts travel as strings or integers; a float is taken by its shortest repr
    # (0.1 -> "0.1"), never by its binary expansion.
    _defined(value)
    if isinstance(value, bool) or value is None:
        raise _DataProblem(f"{what}: {value!r} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _DataProblem(f"{what}: {value!r} is not a number") from exc
    if not number.is_finite():
        raise _DataProblem(f"{what}: {value!r} is not a finite number")
    return number


@pass_context
def _money(context: Context, amount: Any, currency: str | None = None) -> str:
    """``{{ 49|money }}`` -> ``€ 49,00`` in the data's locale and currency."""
    locale = _context_locale(context)
    code = currency or context.get("currency")
    if not isinstance(code, str) or not code:
        territory = locale.territory
        currencies = get_territory_currencies(territory) if territory else []
        if not currencies:
            raise _DataProblem("money: no currency given and the data has no 'currency'")
        code = currencies[0]
    return format_currency(_decimal(amount, "money"), code.upper(), locale=locale)


@pass_context
def _number(context: Context, value: Any, decimals: int | None = None) -> str:
    """``{{ '10.5'|number }}`` -> ``10,5``; ``number(2)`` -> ``10,50``.

    Without ``decimals`` the value keeps the digits it was given (``"20.50"`` stays
    ``20,50``): amounts are strings precisely so that they print as written.
    """
    number = _decimal(value, "number")
    if decimals is None:
        exponent = number.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    elif not isinstance(decimals, int) or not 0 <= decimals <= 10:
        raise _DataProblem(f"number: decimals must be 0..10, got {decimals!r}")
    number = number.quantize(Decimal(1).scaleb(-decimals))
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(number, format=pattern, locale=_context_locale(context))


def _to_decimal(value: Any) -> Decimal:
    """``{% if item.qty|decimal != 1 %}``: an amount as a number, to compare or add."""
    return _decimal(value, "decimal")


def _parse_when(value: Any, what: str) -> dt.datetime | dt.date | dt.time:
    _defined(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (dt.datetime.fromisoformat, dt.time.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                continue
    raise _DataProblem(f"{what}: {value!r} is not an ISO 8601 date/time")


def _as_datetime(value: Any, what: str) -> dt.datetime:
    when = _parse_when(value, what)
    if isinstance(when, dt.datetime):
        return when
    if isinstance(when, dt.date):
        return dt.datetime.combine(when, dt.time())
    raise _DataProblem(f"{what}: {value!r} has no date")


@pass_context
def _date(context: Context, value: Any, format: str = "medium") -> str:
    """``{{ receipt.time|date }}`` -> ``02.05.2024`` (Babel format or pattern)."""
    when = _parse_when(value, "date")
    day = when.date() if isinstance(when, dt.datetime) else when
    if isinstance(day, dt.time):
        raise _DataProblem(f"date: {value!r} has no date")
    return format_date(day, format=format, locale=_context_locale(context))


@pass_context
def _time(context: Context, value: Any, format: str = "short") -> str:
    """``{{ receipt.time|time }}`` -> ``14:31``; the time is printed as given, not converted."""
    when = _parse_when(value, "time")
    if isinstance(when, dt.datetime):
        when = when.timetz()
    if not isinstance(when, dt.time):
        raise _DataProblem(f"time: {value!r} has no time of day")
    # Babel would convert an aware time to UTC; drop the zone to print local time.
    return format_time(when.replace(tzinfo=None), format=format, locale=_context_locale(context))


@pass_context
def _datetime(context: Context, value: Any, format: str = "medium") -> str:
    """``{{ receipt.time|datetime('short') }}`` -> ``02.05.24, 14:31``."""
    when = _as_datetime(value, "datetime")
    # Print the wall-clock time the data carries; a receipt shows local time.
    return format_datetime(
        when.replace(tzinfo=None), format=format, locale=_context_locale(context)
    )


def _width(width: Any, what: str) -> int:
    if not isinstance(width, int) or isinstance(width, bool) or not 0 <= width <= MAX_PAD:
        raise _DataProblem(f"{what}: width must be an integer 0..{MAX_PAD}, got {width!r}")
    return width


def _ljust(value: Any, width: int, fill: str = " ") -> str:
    """``{{ name|pad(20) }}``: left-align in ``width`` columns."""
    return str(value).ljust(_width(width, "pad"), fill[:1] or " ")


def _rjust(value: Any, width: int, fill: str = " ") -> str:
    """``{{ qty|rjust(3) }}``: right-align in ``width`` columns."""
    return str(value).rjust(_width(width, "rjust"), fill[:1] or " ")


def _center(value: Any, width: int = 80) -> str:
    return str(value).center(_width(width, "center"))


def _finalize(value: Any) -> str:
    """Every ``{{ ... }}`` result: plain, one-line text that cannot become markup."""
    if value is None:
        return ""
    text = str(value).translate(_SANITIZE)
    return _DATA_AT + text if text.startswith("@") else text


# ------------------------------------------------------------------- environment


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with data keys winning over dict methods and bounded repetition."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``item.values`` must be the item's "values" field, not dict.values.
        if isinstance(obj, _DataMap) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 1000:
            raise SecurityError("exponents above 1000 are not allowed in templates")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_OUTPUT_CHARS
                ):
                    raise SecurityError("repetition longer than the output limit")
        return super().call_binop(context, operator, left, right)

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        # str.ljust(10**9) and friends would allocate gigabytes before any cap applies.
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_OUTPUT_CHARS:
                raise SecurityError(f"argument {arg} is too large for a template")
        return super().call(__context, __obj, *args, **kwargs)


#: Filters for formatting data (money, numbers, dates, padding) in the data's locale;
#: hang-tag templates use the same ones.
DATA_FILTERS: dict[str, Callable[..., Any]] = {
    "money": _money,
    "number": _number,
    "decimal": _to_decimal,
    "date": _date,
    "time": _time,
    "datetime": _datetime,
    "pad": _ljust,
    "ljust": _ljust,
    "rjust": _rjust,
    "center": _center,
}


def _make_environment(loader: BaseLoader) -> _Environment:
    env = _Environment(
        loader=loader,
        autoescape=False,
        undefined=_DataUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )
    env.globals["range"] = _bounded_range
    env.filters.update(DATA_FILTERS)
    return env


# ------------------------------------------------------------------------ markup


# Every directive names a block type.
_Directive = BlockType


_HEAD = re.compile(r"@(?P<name>[^\s\[]*)")
_DIRECTIVES = frozenset(_Directive)

_ALIGNS = ("left", "center", "right")
_SIZES = ("normal", "double", "double_height", "double_width")
_FONTS = ("a", "b")
# For each directive: option names, and bare words that stand for "option=word".
_OPTIONS: dict[_Directive, tuple[frozenset[str], dict[str, tuple[str, str]]]] = {}


def _opts(names: str, **bare: tuple[str, ...]) -> tuple[frozenset[str], dict[str, tuple[str, str]]]:
    flags: dict[str, tuple[str, str]] = {}
    for option, words in bare.items():
        for word in words:
            flags[word] = (option, word)
    return frozenset(names.split()), flags


_OPTIONS.update(
    {
        _Directive.TEXT: _opts(
            "align bold underline size font",
            align=_ALIGNS,
            size=_SIZES,
            bold=("bold",),
            underline=("underline",),
        ),
        _Directive.COLUMNS: _opts("bold size font", size=_SIZES, bold=("bold",)),
        _Directive.RULE: _opts("font"),
        _Directive.BARCODE: _opts("height module_width hri align", align=_ALIGNS),
        _Directive.QR: _opts("module_size error_level align", align=_ALIGNS),
        _Directive.IMAGE: _opts("align", align=_ALIGNS),
        _Directive.FEED: _opts(""),
        _Directive.CUT: _opts("partial", partial=("partial",)),
        _Directive.DRAWER: _opts(""),
    }
)
_FLAG_TRUE = {"bold", "underline", "partial"}


class _MarkupError(ValueError):
    pass


def _parse_options(directive: _Directive, text: str) -> dict[str, Any]:
    names, bare = _OPTIONS[directive]
    options: dict[str, Any] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            if item not in bare:
                allowed = ", ".join(sorted({*names, *bare}))
                raise _MarkupError(
                    f"unknown option {item!r} for @{directive} (allowed: {allowed or 'none'})"
                )
            key, word = bare[item]
            value = "true" if key in _FLAG_TRUE else word
        elif key not in names:
            allowed = ", ".join(sorted(names)) or "none"
            raise _MarkupError(f"unknown option {key!r} for @{directive} (allowed: {allowed})")
        if key in options:
            raise _MarkupError(f"option {key!r} given twice")
        options[key] = value
    return options


def _int(value: str) -> int | str:
    # Left as text when not a number: the document model then names the field.
    return int(value) if value.isdigit() else value


def _block(directive: _Directive, options: dict[str, Any], rest: str) -> dict[str, Any]:
    for key in ("height", "module_width", "module_size"):
        if key in options:
            options[key] = _int(options[key])
    match directive:
        case _Directive.TEXT:
            return {"type": "text", "text": rest, **options}
        case _Directive.COLUMNS:
            left, sep, right = rest.rpartition("|")
            if not sep:
                raise _MarkupError("@columns needs 'left | right'")
            return {"type": "columns", "left": left.rstrip(), "right": right.strip(), **options}
        case _Directive.RULE:
            char = rest.strip()
            return {"type": "rule", **({"char": char} if char else {}), **options}
        case _Directive.BARCODE:
            symbology, _, data = rest.strip().partition(" ")
            if not symbology or not data.strip():
                raise _MarkupError("@barcode needs 'SYMBOLOGY data'")
            return {"type": "barcode", "symbology": symbology, "data": data.strip(), **options}
        case _Directive.QR:
            return {"type": "qr", "data": rest.strip(), **options}
        case _Directive.IMAGE:
            return {"type": "image", "png": rest.strip(), **options}
        case _Directive.FEED:
            lines = rest.strip()
            return {"type": "feed", **({"lines": _int(lines)} if lines else {})}
        case _Directive.CUT:
            if rest.strip():
                raise _MarkupError("@cut takes no text (use @cut[partial])")
            return {"type": "cut", **options}
        case _Directive.DRAWER:
            pin = rest.strip()
            return {"type": "drawer", **({"pin": _int(pin)} if pin else {})}
    raise _MarkupError(f"unknown directive @{directive}")  # pragma: no cover


def _unmark(text: str) -> str:
    return text.replace(_DATA_AT, "").replace(_DATA_PIPE, "|")


def _parse_line(line: str) -> dict[str, Any]:
    if line.startswith("@@"):
        return {"type": "text", "text": _unmark(line[1:])}
    if not line.startswith("@"):
        return {"type": "text", "text": _unmark(line)}
    head = _HEAD.match(line)
    assert head is not None  # the line starts with "@"
    if head["name"] not in _DIRECTIVES:
        known = ", ".join(f"@{d}" for d in _Directive)
        raise _MarkupError(
            f"unknown directive '@{head['name']}' (known: {known}; start a text line with"
            " @@ to print a literal @)"
        )
    directive = _Directive(head["name"])
    after = line[head.end() :]
    options_text = ""
    if after.startswith("["):
        close = after.find("]")
        if close < 0:
            raise _MarkupError(f"@{directive}[...: missing ']'")
        options_text, after = after[1:close], after[close + 1 :]
    if after and not after.startswith(" "):
        raise _MarkupError(f"put a space between @{directive}[...] and its text")
    rest = after[1:]
    options = _parse_options(directive, _unmark(options_text))
    block = _block(directive, options, rest)
    for key in ("text", "left", "right", "data", "char", "png"):
        if isinstance(block.get(key), str):
            block[key] = _unmark(block[key])
    return block


def _markup_lines(markup: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(markup.split("\n"), start=1):
        # Indentation is for the template's readability; text after a directive keeps
        # its spacing, but no line keeps trailing spaces.
        line = raw.strip()
        if line:
            yield number, line


def parse_markup(markup: str, *, template: str | None = None) -> ReceiptDocument:
    """Turn receipt markup (what a template renders) into a validated document.

    Raises :class:`TemplateError` ``template_output`` naming the markup line.
    """
    blocks: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in _markup_lines(markup):
        if len(blocks) >= MAX_BLOCKS:
            raise TemplateError(
                TemplateErrorCode.OUTPUT,
                f"output has more than {MAX_BLOCKS} blocks",
                template=template,
            )
        try:
            blocks.append(_parse_line(line))
        except _MarkupError as exc:
            raise _output_error(f"{exc} in {_show(line)}", template, number) from exc
        numbers.append(number)
    if not blocks:
        raise TemplateError(
            TemplateErrorCode.OUTPUT, "the template printed nothing", template=template
        )
    try:
        return ReceiptDocument.model_validate({"blocks": blocks})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = first["loc"]
        if len(loc) >= 2 and loc[0] == "blocks" and isinstance(loc[1], int):
            index = loc[1]
            lines = markup.split("\n")
            field = ".".join(str(part) for part in loc[3:]) or "block"
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            message = f"{field}: {first['msg']} in {_show(lines[numbers[index] - 1].strip())}"
            raise _output_error(message + more, template, numbers[index]) from exc
        raise _output_error(first["msg"], template, None) from exc


def _show(line: str) -> str:
    line = _unmark(line)
    return repr(line if len(line) <= 60 else line[:57] + "...")


def _output_error(message: str, template: str | None, line: int | None) -> TemplateError:
    where = f"output line {line}: " if line is not None else ""
    return TemplateError(
        TemplateErrorCode.OUTPUT, where + message, template=template, output_line=line
    )


# ------------------------------------------------------------------------- store


def _template_line(tb: TracebackType | None, filename: str | None) -> tuple[str | None, int | None]:
    """The innermost template frame of a rendering traceback: (template file, line)."""
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if code_file == filename or code_file.endswith(_SUFFIX) or code_file == "<template>":
            found = (code_file, tb.tb_lineno)
        tb = tb.tb_next
    return found


class TemplateStore:
    """Built-in templates plus an optional directory of the retailer's own ``*.j2``.

    A retailer template with the same name as a built-in one replaces it (a custom
    ``sales``). Safe to share between threads.
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self._directory = Path(directory) if directory is not None else None
        loaders: list[BaseLoader] = []
        if self._directory is not None:
            loaders.append(FileSystemLoader(self._directory))
        loaders.append(FileSystemLoader(BUILTIN_DIR))
        self._env = _make_environment(ChoiceLoader(loaders))

    @property
    def directory(self) -> Path | None:
        """Where :meth:`put` saves templates, if anywhere."""
        return self._directory

    def names(self) -> list[str]:
        """Every template name, sorted."""
        found: set[str] = set()
        for folder in (BUILTIN_DIR, self._directory):
            if folder is not None and folder.is_dir():
                found.update(
                    path.name.removesuffix(_SUFFIX)
                    for path in folder.glob(f"*{_SUFFIX}")
                    if _NAME.fullmatch(path.name.removesuffix(_SUFFIX))
                )
        return sorted(found)

    def source(self, name: str) -> str:
        """The source text of template ``name``."""
        self._check_name(name, TemplateErrorCode.NOT_FOUND)
        assert self._env.loader is not None
        try:
            text, _, _ = self._env.loader.get_source(self._env, name + _SUFFIX)
        except TemplateNotFound as exc:
            raise _not_found(name) from exc
        return text

    def render(self, name: str, data: Mapping[str, object]) -> ReceiptDocument:
        """Render template ``name`` with receipt ``data`` into a validated document."""
        self._check_name(name, TemplateErrorCode.NOT_FOUND)
        try:
            template = self._env.get_template(name + _SUFFIX)
        except TemplateNotFound as exc:
            raise _not_found(name) from exc
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, name) from exc
        return self._run(template, name, data)

    def render_source(
        self, source: str, data: Mapping[str, object], *, name: str = "<inline>"
    ) -> ReceiptDocument:
        """Render a template given as text (to try one before :meth:`put`)."""
        try:
            template = self._env.from_string(source)
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, name) from exc
        return self._run(template, name, data)

    def put(self, name: str, source: str) -> None:
        """Check ``source`` compiles and save it as the retailer's template ``name``.

        The file is replaced atomically: a concurrent render sees the old or the new
        template, never half of one.
        """
        self._check_name(name, TemplateErrorCode.NAME)
        if self._directory is None:
            raise TemplateError(
                TemplateErrorCode.READONLY, "this store has no directory for templates"
            )
        if len(source) > MAX_SOURCE_CHARS:
            raise TemplateError(
                TemplateErrorCode.SYNTAX,
                f"template is {len(source)} characters; at most {MAX_SOURCE_CHARS}",
                template=name,
            )
        try:
            self._env.compile(source, name=name, filename=name + _SUFFIX)
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, name) from exc
        write_atomically(self._directory, name + _SUFFIX, source)
        # The mtime check could miss two saves within one timestamp tick.
        if self._env.cache is not None:
            self._env.cache.clear()

    @staticmethod
    def _check_name(name: str, code: TemplateErrorCode) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise TemplateError(
                code,
                f"template name {name!r} is not valid: lowercase letters, digits, '_' and"
                " '-', starting with a letter or digit, at most 64 characters",
            )

    def _run(self, template: Template, name: str, data: Mapping[str, object]) -> ReceiptDocument:
        context = {str(key): _wrap(value, str(key)) for key, value in data.items()}
        context.setdefault("locale", DEFAULT_LOCALE)
        try:
            locale = context["locale"]
            if not isinstance(locale, str):
                raise _DataProblem(f"locale must be a string, got {locale!r}")
            _locale(locale)
        except _DataProblem as exc:
            raise TemplateError(TemplateErrorCode.DATA, str(exc), template=name) from exc
        token = _range_budget.set([MAX_RANGE_TOTAL])
        try:
            markup = self._generate(template, name, context)
        finally:
            _range_budget.reset(token)
        return parse_markup(markup, template=name)

    @staticmethod
    def _generate(template: Template, name: str, context: dict[str, Any]) -> str:
        parts: list[str] = []
        size = 0
        try:
            for chunk in template.generate(context):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateError(
                        TemplateErrorCode.OUTPUT,
                        f"output is longer than {MAX_OUTPUT_CHARS} characters",
                        template=name,
                    )
                parts.append(chunk)
        except TemplateError:
            raise
        except SecurityError as exc:
            _raise_from(TemplateErrorCode.SECURITY, exc, name, template.filename)
        except TemplateSyntaxError as exc:
            # An {% include %} of a broken template fails while rendering.
            raise _syntax_error(exc, name) from exc
        except TemplateNotFound as exc:
            raise _not_found(str(exc.name)) from exc
        except (UndefinedError, _DataProblem) as exc:
            _raise_from(TemplateErrorCode.DATA, exc, name, template.filename)
        except Exception as exc:  # noqa: BLE001 - translated, never swallowed
            # TypeError, ZeroDivisionError, ... from expressions over the data: the
            # template and the data disagree. Never let one become a 500.
            _raise_from(TemplateErrorCode.DATA, exc, name, template.filename)
        return "".join(parts)


def _raise_from(
    code: TemplateErrorCode, exc: BaseException, name: str, filename: str | None
) -> NoReturn:
    where, line = _template_line(exc.__traceback__, filename)
    template = name
    if where is not None and where.endswith(_SUFFIX) and Path(where).stem != name:
        template = Path(where).stem  # the error is inside an included template
    message = (
        str(exc)
        if isinstance(exc, UndefinedError | SecurityError | _DataProblem)
        else (f"{type(exc).__name__}: {exc}")
    )
    raise TemplateError(code, message, template=template, line=line) from exc


def _not_found(name: str) -> TemplateError:
    return TemplateError(TemplateErrorCode.NOT_FOUND, f"no template named {name!r}")


def _syntax_error(exc: TemplateSyntaxError, name: str) -> TemplateError:
    template = Path(exc.filename).stem if exc.filename else name
    return TemplateError(
        TemplateErrorCode.SYNTAX, exc.message or str(exc), template=template, line=exc.lineno
    )

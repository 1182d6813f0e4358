"""Hang-tag templates: sandboxed Jinja2 that turns a product's tag context into ZPL.

Two kinds, told apart by the name:

* ``NAME`` (file ``NAME.j2``) renders *tag markup* (:mod:`posbridge.hangtags.markup`),
  laid out in millimetres and turned into ZPL for the printer's resolution
  (:mod:`posbridge.hangtags.zpl`). ``tag-2x1`` and ``tag-2x3`` are built in.
* ``NAME.zpl`` (file ``NAME.zpl.j2``) is raw ZPL from a label designer with ``{{ }}``
  placeholders. Every value is made safe for where it lands (:func:`_secure_zpl`): in
  field data through ``^FH`` hex escapes (``^FH`` is inserted where the template did not
  write one), elsewhere with ``^`` and ``~`` blanked; ``^PQ`` is set to the copies.

Safety, as for receipts (:mod:`posbridge.receipts.templates`, whose sandbox and filters
this reuses): Jinja's immutable sandbox, bounded ``range()``, repetition and
concatenation, capped output, and a per-render budget of work - loop iterations,
attribute look-ups and calls are counted, and the clock is checked, in the sandbox's
hooks - so a template that loops forever stops with ``template_timeout`` in well under a
second, without signals or threads. Each template is compiled once and cached.

Rendering is CPU-bound and synchronous; callers on an event loop should run it in a
worker thread (a batch of tags at once, not one thread hop per tag).
"""

from __future__ import annotations

import contextvars
import enum
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_context,
)
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.filters import do_replace
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from drivers.zpl.media import Media
from posbridge._files import write_atomically
from posbridge.hangtags.errors import INVALID_ITEM, HangTagError
from posbridge.hangtags.layout import TagLayout
from posbridge.hangtags.markup import TagTemplateError, mark_value, parse_tag_markup
from posbridge.hangtags.zpl import MAX_COPIES, markup_zpl
from posbridge.receipts.templates import DATA_FILTERS, _Environment

__all__ = [
    "BUILTIN_DIR",
    "MAX_OUTPUT_CHARS",
    "MAX_SOURCE_BYTES",
    "MAX_STEPS",
    "TEMPLATE_ERROR",
    "TEMPLATE_NAME",
    "TEMPLATE_NOT_FOUND",
    "TEMPLATE_READONLY",
    "TEMPLATE_SYNTAX",
    "TEMPLATE_TIMEOUT",
    "TEMPLATE_TOO_LARGE",
    "TIME_LIMIT_S",
    "HangTagTemplates",
    "TemplateKind",
]

#: Templates shipped with posbridge.
BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
#: Size of a template's source, in UTF-8 bytes.
MAX_SOURCE_BYTES = 64 * 1024
#: Characters one rendering may print (a tag is ~1000).
MAX_OUTPUT_CHARS = 200_000
#: Longest string an expression may build (concatenation, ``+``, ``replace``).
MAX_STRING_CHARS = 200_000
_CHUNKS_PER_CHECK = 32
#: Loop iterations, attribute look-ups and calls one rendering may make.
MAX_STEPS = 200_000
#: Wall-clock limit of one rendering, checked every 1024 steps.
TIME_LIMIT_S = 0.5

TEMPLATE_NOT_FOUND = "template_not_found"
TEMPLATE_SYNTAX = "template_syntax"
TEMPLATE_ERROR = "template_error"
TEMPLATE_TOO_LARGE = "template_too_large"
TEMPLATE_TIMEOUT = "template_timeout"
TEMPLATE_NAME = "template_name"
TEMPLATE_READONLY = "template_readonly"

_SUFFIX = ".j2"
_ZPL_SUFFIX = ".zpl"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
# How often a cached template's file is looked at again for changes made behind our back.
_RECHECK_S = 2.0


class TemplateKind(enum.StrEnum):
    """What a template renders."""

    MARKUP = "markup"  # tag markup -> layout -> ZPL
    ZPL = "zpl"  # raw ZPL with placeholders


def _kind(name: str) -> TemplateKind:
    return TemplateKind.ZPL if name.endswith(_ZPL_SUFFIX) else TemplateKind.MARKUP


# ------------------------------------------------------------------------- budget


class _OutOfTime(Exception):
    """The rendering used up its budget of steps or time."""


class _Budget:
    """Steps left and the deadline of one rendering; the clock is read every 1024 steps."""

    __slots__ = ("deadline", "left")

    def __init__(self) -> None:
        self.left = MAX_STEPS
        self.deadline = time.monotonic() + TIME_LIMIT_S

    def tick(self) -> None:
        self.left -= 1
        if not self.left & 1023:
            self.check()

    def charge(self, steps: int) -> None:
        """Charge ``steps`` at once (a ``range()`` of that length)."""
        self.left -= steps
        self.check()

    def check(self) -> None:
        if self.left <= 0 or time.monotonic() > self.deadline:
            raise _OutOfTime


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "hangtag_budget", default=None
)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


@pass_context  # pass_context keeps Jinja from running it at compile time
def _loop_budget(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """Wrapped around every ``{% for %}`` iterable: each iteration costs one step."""
    budget = _budget.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.tick()
        yield item


@pass_context
def _bounded_string(context: Context, value: str) -> str:
    """Wrapped around every ``~`` concatenation: doubling a string in a loop stops here."""
    if len(value) > MAX_STRING_CHARS:
        raise SecurityError(f"a string longer than {MAX_STRING_CHARS} characters")
    return value


def _range(*args: int) -> range:
    """``range`` that charges its length to the budget up front."""
    result = range(*args)
    budget = _budget.get()
    if budget is not None:
        budget.charge(len(result))
    return result


def _replace(context: Any, text: str, old: str, new: str, count: int | None = None) -> str:
    """Jinja's ``replace`` that refuses to build strings over MAX_STRING_CHARS."""
    source = str(text)
    growth = len(str(new)) - len(str(old))
    if growth > 0 and len(source) + source.count(str(old)) * growth > MAX_STRING_CHARS:
        raise SecurityError(f"replace would build more than {MAX_STRING_CHARS} characters")
    return do_replace(context, text, old, new, count)


_replace_filter = pass_context(lambda ctx, *a: _replace(ctx.eval_ctx, *a))


# ---------------------------------------------------------------------- undefined


class _Missing(ChainableUndefined):
    """Anything under a ``None`` (``compare_at.text`` with no compare-at price): empty."""

    __slots__ = ()


class _TagUndefined(StrictUndefined):
    """Strict for typos (``product.nme``, an unknown name), empty under ``None``."""

    __slots__ = ()

    def __new__(  # type: ignore[misc]  # returns a _Missing under None on purpose
        cls,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> StrictUndefined | _Missing:
        if obj is None or isinstance(obj, _Missing):
            return _Missing(hint, obj, name, exc)
        return super().__new__(cls)


# -------------------------------------------------------------------- environment


class _TagEnvironment(_Environment):
    """The receipts' sandbox plus the work budget and data keys winning over methods."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget = _budget.get()
        if budget is not None:
            budget.tick()
        # ``product.attributes.items`` is the data's "items", not dict.items.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        # Skips the receipts' override, which only knows receipt data wrappers.
        return ImmutableSandboxedEnvironment.getattr(self, obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _tick()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if (
            operator == "+"
            and isinstance(left, str | list | tuple)
            and isinstance(right, str | list | tuple)
            and len(left) + len(right) > MAX_STRING_CHARS
        ):
            raise SecurityError(f"a value longer than {MAX_STRING_CHARS} characters")
        return super().call_binop(context, operator, left, right)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Bounded().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree  # type: ignore[no-any-return]


class _Bounded(NodeTransformer):
    """Counts every loop iteration and bounds every ``~`` concatenation.

    Rewriting the template's syntax tree is the one place where Jinja lets us reach
    both: each ``{% for %}`` iterable goes through ``_loop_budget`` and each ``a ~ b``
    through ``_bounded_string``.
    """

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_loop_budget", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, "_bounded_string", [], [], None, None, lineno=node.lineno)


def _make_environment(loader: ChoiceLoader, finalize: Callable[[Any], str]) -> _TagEnvironment:
    env = _TagEnvironment(
        loader=loader,
        autoescape=False,
        undefined=_TagUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # HangTagTemplates checks the files itself, at most every 2 s
        cache_size=-1,
    )
    env.globals["range"] = _range
    env.filters.update(
        {
            "_loop_budget": _loop_budget,
            "_bounded_string": _bounded_string,
            "replace": _replace_filter,
            **DATA_FILTERS,
        }
    )
    return env


# ---------------------------------------------------------------------- raw ZPL

# Values in raw ZPL output are wrapped in these (data cannot contain them: see _zpl_value).
_OPEN, _CLOSE = "\ue002", "\ue003"
_ZPL_VALUE_CLEAN: dict[int, str | None] = {
    code: " " for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}
_ZPL_VALUE_CLEAN.update({ord(_OPEN): None, ord(_CLOSE): None, ord("\ue001"): None})
# A command prefix, or one value from data.
_ZPL_TOKEN = re.compile("[\\^~]|" + _OPEN + "([^" + _CLOSE + "]*)" + _CLOSE)
# Commands that change the command prefixes or the delimiter: the scan below could not
# follow them, so templates may not use them.
_FORBIDDEN = frozenset({"^CC", "~CC", "^CT", "~CT", "^CD", "~CD"})
_PQ = re.compile(r"\^PQ[0-9]*", re.IGNORECASE)
_XZ = re.compile(r"\^XZ", re.IGNORECASE)
_XA = re.compile(r"\^XA", re.IGNORECASE)


def _zpl_value(value: object) -> str:
    """``finalize`` for raw ZPL: any value, marked for :func:`_secure_zpl`."""
    if value is None:
        return ""
    return _OPEN + str(value).translate(_ZPL_VALUE_CLEAN) + _CLOSE


def _hex(text: str, indicator: str) -> str:
    out = text.replace(indicator, f"{indicator}{ord(indicator):02X}")
    return out.replace("^", f"{indicator}5E").replace("~", f"{indicator}7E")


class _ZplProblem(ValueError):
    pass


def _secure_zpl(text: str, copies: int) -> str:
    """Make the values in rendered raw ZPL inert and set the copies.

    Walks the output command by command. A value inside field data (after ``^FD`` /
    ``^FV``) is hex-escaped with the field's ``^FH`` indicator; when the field has no
    ``^FH``, one is inserted before its ``^FD`` and the template's own ``_`` in that
    field's data escaped too, so it still prints as written. A value anywhere else (a
    coordinate, a comment) has ``^`` and ``~`` blanked: it can never start a command.
    """
    pieces: list[str] = []
    position = 0
    in_data = False
    indicator: str | None = None  # the ^FH in effect for the current field
    data_command = -1  # index in pieces of the current field's ^FD
    literals: list[int] = []  # pieces of the current field data written by the template
    needs_fh = False

    def end_field() -> None:
        nonlocal in_data, needs_fh
        if needs_fh:
            pieces[data_command] = "^FH" + pieces[data_command]
            for index in literals:
                pieces[index] = pieces[index].replace("_", "_5F")
        in_data, needs_fh = False, False
        literals.clear()

    for match in _ZPL_TOKEN.finditer(text):
        literal = text[position : match.start()]
        if literal:
            pieces.append(literal)
            if in_data:
                literals.append(len(pieces) - 1)
        position = match.end()
        value = match[1]
        if value is None:  # a command from the template
            if in_data:
                end_field()
            command = text[match.start() : match.start() + 3].upper()
            if command in _FORBIDDEN:
                raise _ZplProblem(f"{command} (changing ZPL's command characters) is not allowed")
            if command in ("^FD", "^FV"):
                in_data = True
                data_command = len(pieces)
            elif command == "^FH":
                after = text[match.start() + 3 : match.start() + 4]
                indicator = after if after and after not in "^~\r\n" + _OPEN else "_"
            elif command == "^FS":
                indicator = None
            pieces.append(match[0])
        elif in_data:
            if indicator is not None:
                pieces.append(_hex(value, indicator))
            else:
                needs_fh = True
                pieces.append(_hex(value, "_"))
        else:
            pieces.append(value.replace("^", " ").replace("~", " "))
    if in_data:
        end_field()
    pieces.append(text[position:])
    out = "".join(pieces)
    if not _XZ.search(out):
        raise _ZplProblem("the output has no ^XZ (end of format)")
    if "^CI" not in out.upper():
        # Values are sent as UTF-8: say so unless the template chose a character set.
        out = _XA.sub("^XA^CI28", out, count=1)
    if _PQ.search(out):
        out = _PQ.sub(f"^PQ{copies}", out)
    else:
        last = list(_XZ.finditer(out))[-1]
        out = f"{out[: last.start()]}^PQ{copies}{out[last.start() :]}"
    return out


# -------------------------------------------------------------------------- store


@dataclass(slots=True)
class _Compiled:
    template: Template
    source: str
    path: Path
    mtime_ns: int
    checked: float


class HangTagTemplates:
    """Built-in hang-tag templates plus a managed folder of the retailer's own.

    A template in ``directory`` with the name of a built-in one replaces it. Safe to
    share between threads (rendering keeps its state in a context variable).
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self._directory = Path(directory) if directory is not None else None
        loaders = [FileSystemLoader(d) for d in (self._directory, BUILTIN_DIR) if d is not None]
        loader = ChoiceLoader(loaders)
        self._envs = {
            TemplateKind.MARKUP: _make_environment(loader, mark_value),
            TemplateKind.ZPL: _make_environment(loader, _zpl_value),
        }
        self._cache: dict[str, _Compiled] = {}

    @property
    def directory(self) -> Path | None:
        """Where :meth:`put` saves templates, if anywhere."""
        return self._directory

    def names(self) -> list[str]:
        """Every template name, sorted (raw ZPL ones end in ``.zpl``)."""
        found: set[str] = set()
        for folder in (BUILTIN_DIR, self._directory):
            if folder is not None and folder.is_dir():
                for path in folder.glob(f"*{_SUFFIX}"):
                    name = path.name.removesuffix(_SUFFIX)
                    if _NAME.fullmatch(name):
                        found.add(name)
        return sorted(found)

    def kind(self, name: str) -> TemplateKind:
        """What template ``name`` renders (by its name)."""
        self._check_name(name, TEMPLATE_NOT_FOUND)
        return _kind(name)

    def source(self, name: str) -> str:
        """The source text of template ``name``."""
        return self._compiled(name).source

    def put(self, name: str, source: str) -> None:
        """Check that ``source`` compiles and save it as template ``name``.

        A name ending in ``.zpl`` makes a raw ZPL template. The file is replaced
        atomically: a render meanwhile sees the old or the new template.
        """
        self._check_name(name, TEMPLATE_NAME)
        if self._directory is None:
            raise TagTemplateError(
                TEMPLATE_READONLY, "there is no folder to save templates in", template=name
            )
        if not isinstance(source, str):
            raise TagTemplateError(TEMPLATE_SYNTAX, "the source must be text", template=name)
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > MAX_SOURCE_BYTES:
            raise TagTemplateError(
                TEMPLATE_TOO_LARGE,
                f"the template is {size} bytes; at most {MAX_SOURCE_BYTES}",
                template=name,
            )
        kind = _kind(name)
        try:
            self._envs[kind].compile(source, name=name + _SUFFIX, filename=name + _SUFFIX)
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, name) from None
        if kind is TemplateKind.ZPL and not (_XA.search(source) and _XZ.search(source)):
            raise TagTemplateError(
                TEMPLATE_SYNTAX, "a raw ZPL template needs ^XA ... ^XZ", template=name
            )
        write_atomically(self._directory, name + _SUFFIX, source)
        self._forget()

    def render_layout(self, name: str, context: Mapping[str, Any]) -> TagLayout:
        """Render markup template ``name`` for one product into its :class:`TagLayout`."""
        if _kind(name) is TemplateKind.ZPL:
            self._check_name(name, TEMPLATE_NOT_FOUND)
            raise TagTemplateError(
                TEMPLATE_ERROR, "a raw ZPL template has no layout", template=name
            )
        compiled = self._compiled(name)
        text = _run(compiled, name, context)
        return parse_tag_markup(text, template=name, source=compiled.source)

    def render(self, name: str, context: Mapping[str, Any], media: Media, copies: int = 1) -> bytes:
        """Render template ``name`` for one product: one ZPL format printing ``copies``."""
        if _kind(name) is TemplateKind.MARKUP:
            compiled = self._compiled(name)
            text = _run(compiled, name, context)
            try:
                return markup_zpl(text, media, copies, template=name, source=compiled.source)
            except TagTemplateError:
                raise
            except HangTagError as exc:
                raise TagTemplateError(exc.code, exc.message, template=name) from None
        compiled = self._compiled(name)
        if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
            raise TagTemplateError(
                INVALID_ITEM, f"copies must be 1..{MAX_COPIES}, not {copies!r}", template=name
            )
        text = _run(compiled, name, context)
        try:
            return _secure_zpl(text, copies).encode("utf-8")
        except _ZplProblem as exc:
            raise TagTemplateError(TEMPLATE_ERROR, str(exc), template=name) from None

    # ---------------------------------------------------------------- internals

    def _forget(self) -> None:
        self._cache.clear()
        for env in self._envs.values():
            if env.cache is not None:
                env.cache.clear()

    def _compiled(self, name: str) -> _Compiled:
        compiled = self._cache.get(name)
        now = time.monotonic()
        if compiled is not None:
            if now - compiled.checked < _RECHECK_S:
                return compiled
            try:
                unchanged = compiled.path.stat().st_mtime_ns == compiled.mtime_ns
            except OSError:
                unchanged = False
            if unchanged and self._path(name) == compiled.path:
                compiled.checked = now
                return compiled
            self._forget()
        compiled = self._load(name, now)
        self._cache[name] = compiled
        return compiled

    def _path(self, name: str) -> Path | None:
        for folder in (self._directory, BUILTIN_DIR):
            if folder is not None:
                path = folder / (name + _SUFFIX)
                if path.is_file():
                    return path
        return None

    def _load(self, name: str, now: float) -> _Compiled:
        self._check_name(name, TEMPLATE_NOT_FOUND)
        path = self._path(name)
        if path is None:
            raise TagTemplateError(
                TEMPLATE_NOT_FOUND, f"no hang-tag template named {name!r}", template=name
            )
        stat = path.stat()
        if stat.st_size > MAX_SOURCE_BYTES:
            raise TagTemplateError(
                TEMPLATE_TOO_LARGE,
                f"the template is {stat.st_size} bytes; at most {MAX_SOURCE_BYTES}",
                template=name,
            )
        env = self._envs[_kind(name)]
        try:
            template = env.get_template(name + _SUFFIX)
        except TemplateNotFound:
            raise TagTemplateError(
                TEMPLATE_NOT_FOUND, f"no hang-tag template named {name!r}", template=name
            ) from None
        except TemplateSyntaxError as exc:
            raise _syntax_error(exc, name) from None
        source = path.read_text(encoding="utf-8")
        # The environment's globals never change once set up. As a plain dict they are
        # merged into each tag's context in C; as Jinja's ChainMap, key by key in Python.
        template.globals = dict(template.globals)
        return _Compiled(template, source, path, stat.st_mtime_ns, now)

    @staticmethod
    def _check_name(name: str, code: str) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise TagTemplateError(
                code,
                "a template name is lowercase letters, digits, '_', '.' and '-', starting"
                " with a letter or digit, at most 64 characters",
                template=repr(name)[:70],
            )


def _run(compiled: _Compiled, name: str, context: Mapping[str, Any]) -> str:
    """Render with a fresh budget and capped output; translate every failure."""
    template = compiled.template
    # new_context copies what it gets; only a non-dict mapping needs converting.
    vars = context if type(context) is dict else dict(context)
    token = _budget.set(_Budget())
    parts: list[str] = []
    size = 0
    try:
        try:
            chunks = template.root_render_func(template.new_context(vars))
            # Taken a few dozen chunks at a time (a whole tag, usually) so the size check
            # costs no Python loop per chunk; each chunk is at most MAX_STRING_CHARS, so
            # the output can pass the limit by at most _CHUNKS_PER_CHECK of them.
            while block := list(islice(chunks, _CHUNKS_PER_CHECK)):
                size += sum(map(len, block))
                if size > MAX_OUTPUT_CHARS:
                    raise TagTemplateError(
                        TEMPLATE_TOO_LARGE,
                        f"the output is longer than {MAX_OUTPUT_CHARS} characters",
                        template=name,
                    )
                parts += block
        except TagTemplateError:
            raise
        except Exception:  # noqa: BLE001 - rewritten below, then translated
            # Jinja turns the traceback's generated-code lines into template lines.
            try:
                template.environment.handle_exception()
            except Exception as exc:  # noqa: BLE001 - translated, never swallowed
                _translate(exc, name, template.filename)
    finally:
        _budget.reset(token)
    return "".join(parts)


def _translate(exc: BaseException, name: str, filename: str | None) -> NoReturn:
    line = _template_line(exc.__traceback__, filename)
    if isinstance(exc, _OutOfTime):
        raise TagTemplateError(
            TEMPLATE_TIMEOUT,
            f"stopped after {MAX_STEPS} steps or {TIME_LIMIT_S:g} s: does a loop run forever?",
            template=name,
            line=line,
        ) from None
    if isinstance(exc, TemplateSyntaxError):  # an {% include %} of a broken template
        raise _syntax_error(exc, name) from None
    if isinstance(exc, TemplateNotFound):
        raise TagTemplateError(
            TEMPLATE_NOT_FOUND, f"no template named {exc.name!r}", template=name, line=line
        ) from None
    if isinstance(exc, RecursionError):
        message = "recursion too deep"
    elif isinstance(exc, UndefinedError | SecurityError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    raise TagTemplateError(TEMPLATE_ERROR, message, template=name, line=line) from None


def _template_line(tb: TracebackType | None, filename: str | None) -> int | None:
    """The innermost line of the template in a rewritten rendering traceback."""
    found: int | None = None
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if code_file == filename or code_file.endswith(_SUFFIX):
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


def _syntax_error(exc: TemplateSyntaxError, name: str) -> TagTemplateError:
    where = name
    if exc.filename and not exc.filename.endswith(f"{name}{_SUFFIX}"):
        where = Path(exc.filename).name.removesuffix(_SUFFIX)  # in an included template
    return TagTemplateError(
        TEMPLATE_SYNTAX, exc.message or str(exc), template=where, line=exc.lineno
    )

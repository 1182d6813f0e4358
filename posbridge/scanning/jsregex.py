"""Translate JavaScript regular expressions (as the retail platform stores them) to Python ``re``.

The platform evaluates a rule's ``regex`` in JavaScript (``new RegExp(regex).exec(scan)``),
so a rule must match here exactly what it matches there. Accepted input:

* the pattern source, ``^LOY-(\\d{8})$`` (what the platform sends), or
* a literal ``/^loy-(\\d{8})$/i``: taken as a literal only when the text starts with ``/``
  and everything after its last ``/`` is JavaScript flag letters (``dgimsuyv``);
  anything else is a source.

Flags: ``i`` ``m`` ``s`` ``u`` are honoured; ``g`` ``d`` change nothing for one match;
``y`` (sticky, ``lastIndex`` 0) anchors the match at the start. ``v`` and unknown or
repeated flags are refused.

Semantics kept from JavaScript rather than Python (the translation spells them out, so
Python's flags do not matter): ``\\d`` is ``[0-9]``, ``\\w`` ``[A-Za-z0-9_]``, ``\\b`` an
ASCII word boundary, ``\\s`` the JavaScript white-space set (Unicode spaces and U+FEFF, but
not the ``\\x1c``-``\\x1f`` separators Python's ``\\s`` includes: a GS1 ``\\x1d`` is no
space); ``.`` excludes ``\\n \\r \\u2028 \\u2029``; ``^``/``$`` are the start/end of the
input (``$`` does not match before a final newline) or, with ``m``, of any line;
``[^]`` matches anything and ``[]`` nothing; a backreference to a group that has not
matched (or is still open, or comes later) matches the empty string; ``(?<name>)`` and
``\\k<name>``; ``\\cX``, ``\\xHH``, ``\\uHHHH`` (surrogate pairs joined), ``\\u{...}``
with ``u``; Annex B leniency without ``u`` (``\\a`` is ``a``, a lone ``{`` is literal,
``\\8`` is ``8``, ``\\012`` is octal); ES2025 modifiers ``(?i:...)``.

Refused with :class:`~posbridge.scanning.result.ScanConfigError` (the message starts with
the entry's path): syntax errors, lookbehind that is not fixed-width (JavaScript allows
any), ``\\p{...}`` property escapes, group names Python cannot use (``$``) or repeated,
``v`` and unknown flags.

Known differences left alone: without ``u`` JavaScript sees text as UTF-16 code units
(``.`` matches half of an emoji; here a whole code point); captures inside a repeated
group are not reset at each repetition as in JavaScript.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posbridge.scanning.result import ScanConfigError

__all__ = ["JsRegex", "compile_js_regex", "split_js_literal"]

_KNOWN_FLAGS = frozenset("dgimsuy")
_LITERAL_FLAGS = re.compile(r"[dgimsuyv]*")

# JavaScript's \s (WhiteSpace + LineTerminator), as the inside of a Python character class.
_JS_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_LINE_END = r"\n\r\u2028\u2029"
_DIGIT = "0-9"
_WORD = "A-Za-z0-9_"
# Class escape -> (class content, negated)
_CLASS_ESCAPES: dict[str, tuple[str, bool]] = {
    "d": (_DIGIT, False),
    "D": (_DIGIT, True),
    "w": (_WORD, False),
    "W": (_WORD, True),
    "s": (_JS_SPACE, False),
    "S": (_JS_SPACE, True),
}
_CONTROL = {"t": "\t", "n": "\n", "v": "\x0b", "f": "\x0c", "r": "\r"}
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_MODIFIERS = re.compile(r"\(\?([ims]*)(?:-([ims]+))?:")
_ANY = "(?s:.)"


@dataclass(frozen=True, slots=True)
class JsRegex:
    """A JavaScript regex and its Python translation.

    ``text`` is the setting as given; ``python`` the translated pattern text; ``pattern``
    the compiled pattern, to be used with ``search`` (JavaScript's ``exec`` is unanchored).
    """

    text: str
    source: str
    flags: str
    python: str
    pattern: re.Pattern[str]


def split_js_literal(text: str) -> tuple[str, str]:
    """``(source, flags)`` of ``text``: a ``/source/flags`` literal, or a bare source."""
    if len(text) >= 2 and text[0] == "/":
        end = text.rfind("/")
        if end > 0 and _LITERAL_FLAGS.fullmatch(text, end + 1):
            return text[1:end], text[end + 1 :]
    return text, ""


def compile_js_regex(text: str, *, where: str = "regex", flags: str = "") -> JsRegex:
    """Translate and compile the JavaScript regex ``text`` (source or ``/literal/flags``).

    ``flags`` adds flags to a bare source. ``where`` names the setting in errors:
    ``customer_profile_scanner_identifiers[2].regex``. Raises ``ScanConfigError``.
    """
    source, literal_flags = split_js_literal(text)
    all_flags = literal_flags + flags
    for index, flag in enumerate(all_flags):
        if flag == "v":
            raise ScanConfigError(where, "the 'v' (unicodeSets) flag is not supported")
        if flag not in _KNOWN_FLAGS:
            raise ScanConfigError(where, f"unknown regex flag {flag!r}")
        if flag in all_flags[:index]:
            raise ScanConfigError(where, f"regex flag {flag!r} given twice")
    translator = _Translator(source, all_flags, where)
    python = translator.translate()
    try:
        pattern = re.compile(python, re.IGNORECASE if "i" in all_flags else 0)
    except re.error as exc:
        if "look-behind" in str(exc):
            raise ScanConfigError(
                where, "a lookbehind must have a fixed width here (JavaScript allows any)"
            ) from exc
        raise ScanConfigError(where, f"regex {text!r} cannot be used: {exc}") from exc
    return JsRegex(text=text, source=source, flags=all_flags, python=python, pattern=pattern)


def _lit(char: str) -> str:
    return re.escape(char)


@dataclass(slots=True)
class _Frame:
    capture: int | None  # group number when capturing
    lookaround: bool
    multiline: bool
    dotall: bool


class _Translator:
    """One pass over the source, emitting Python pattern text; state is the open groups."""

    def __init__(self, source: str, flags: str, where: str) -> None:
        self.src = source
        self.pos = 0
        self.where = where
        self.unicode = "u" in flags
        self.sticky = "y" in flags
        self.multiline = "m" in flags
        self.dotall = "s" in flags
        self.names = self._group_names()
        self.group_total = self._count_groups()
        self.groups_opened = 0
        self.open_groups: set[int] = set()
        self.open_names: set[str] = set()
        self.stack: list[_Frame] = []
        self.out: list[str] = []

    # -- errors and pre-scan ---------------------------------------------------------

    def fail(self, message: str) -> ScanConfigError:
        return ScanConfigError(self.where, f"{message} (at position {self.pos} of {self.src!r})")

    def _scan_groups(self) -> list[str | None]:
        """Capturing groups in order: their name or None, skipping escapes and classes."""
        groups: list[str | None] = []
        src, i, in_class = self.src, 0, False
        while i < len(src):
            char = src[i]
            if char == "\\":
                i += 2
                continue
            if in_class:
                in_class = char != "]"
            elif char == "[":
                in_class = True
            elif char == "(":
                if not src.startswith("?", i + 1):
                    groups.append(None)
                elif src.startswith("?<", i + 1) and src[i + 3 : i + 4] not in ("=", "!"):
                    end = src.find(">", i + 3)
                    groups.append(src[i + 3 : end] if end > 0 else "")
            i += 1
        return groups

    def _group_names(self) -> dict[str, int]:
        names: dict[str, int] = {}
        for number, name in enumerate(self._scan_groups(), start=1):
            if name is None:
                continue
            if name in names:
                raise ScanConfigError(self.where, f"group name {name!r} is used twice")
            if not name.isidentifier():
                raise ScanConfigError(
                    self.where, f"group name {name!r} is not supported (letters, digits, _)"
                )
            names[name] = number
        return names

    def _count_groups(self) -> int:
        return len(self._scan_groups())

    # -- main loop -------------------------------------------------------------------

    def translate(self) -> str:
        src = self.src
        quantifiable = False
        while self.pos < len(src):
            char = src[self.pos]
            if char == "\\":
                piece, quantifiable = self._escape()
                self.out.append(piece)
            elif char == "[":
                self.out.append(self._class())
                quantifiable = True
            elif char == "(":
                self._open_group()
                quantifiable = False
            elif char == ")":
                quantifiable = self._close_group()
            elif char == "|":
                self.out.append("|")
                self.pos += 1
                quantifiable = False
            elif char in "*+?" or (char == "{" and _QUANTIFIER.match(src, self.pos)):
                self._quantifier(quantifiable)
                quantifiable = False
            elif char in "{}]":
                if self.unicode:
                    raise self.fail(f"lone {char!r}")
                self.out.append(_lit(char))
                self.pos += 1
                quantifiable = True
            elif char == ".":
                self.out.append(_ANY if self.dotall else f"[^{_JS_LINE_END}]")
                self.pos += 1
                quantifiable = True
            elif char == "^":
                self.out.append(rf"(?:\A|(?<=[{_JS_LINE_END}]))" if self.multiline else r"\A")
                self.pos += 1
                quantifiable = False
            elif char == "$":
                self.out.append(rf"(?=[{_JS_LINE_END}]|\Z)" if self.multiline else r"\Z")
                self.pos += 1
                quantifiable = False
            else:
                self.out.append(_lit(char))
                self.pos += 1
                quantifiable = True
        if self.stack:
            raise self.fail("missing ')'")
        body = "".join(self.out)
        return rf"\A(?:{body})" if self.sticky else body

    def _quantifier(self, quantifiable: bool) -> None:
        if not quantifiable:
            raise self.fail("nothing to repeat")
        src = self.src
        match = _QUANTIFIER.match(src, self.pos)
        if match:
            low, comma, high = match.group(1), match.group(2), match.group(3)
            if comma and high and int(high) < int(low):
                raise self.fail("numbers out of order in {} quantifier")
            self.out.append(match.group(0))
            self.pos = match.end()
        else:
            self.out.append(src[self.pos])
            self.pos += 1
        if src.startswith("?", self.pos):  # lazy; Python's possessive '+' is no JS syntax
            self.out.append("?")
            self.pos += 1

    # -- groups ----------------------------------------------------------------------

    def _open_group(self) -> None:
        src, pos = self.src, self.pos
        frame = _Frame(None, False, self.multiline, self.dotall)
        if not src.startswith("?", pos + 1):
            self.groups_opened += 1
            frame.capture = self.groups_opened
            self.out.append("(")
            self.pos += 1
        elif src.startswith("(?:", pos):
            self.out.append("(?:")
            self.pos += 3
        elif src.startswith(("(?=", "(?!"), pos):
            frame.lookaround = True
            self.out.append(src[pos : pos + 3])
            self.pos += 3
        elif src.startswith(("(?<=", "(?<!"), pos):
            frame.lookaround = True
            self.out.append(src[pos : pos + 4])
            self.pos += 4
        elif src.startswith("(?<", pos):
            end = src.find(">", pos)
            if end < 0:
                raise self.fail("unterminated group name")
            name = src[pos + 3 : end]
            self.groups_opened += 1
            frame.capture = self.groups_opened
            self.open_names.add(name)
            self.out.append(f"(?P<{name}>")
            self.pos = end + 1
        else:
            match = _MODIFIERS.match(src, pos)
            if not match or (not match.group(1) and not match.group(2)):
                raise self.fail("invalid group")
            on, off = match.group(1), match.group(2) or ""
            if len(set(on + off)) != len(on + off):
                raise self.fail("repeated flag in a modifier group")
            if "m" in on + off:
                self.multiline = "m" in on
            if "s" in on + off:
                self.dotall = "s" in on
            case = "i" if "i" in on else "-i" if "i" in off else ""
            self.out.append(f"(?{case}:")
            self.pos = match.end()
        if frame.capture is not None:
            self.open_groups.add(frame.capture)
        self.stack.append(frame)

    def _close_group(self) -> bool:
        if not self.stack:
            raise self.fail("unmatched ')'")
        frame = self.stack.pop()
        self.multiline, self.dotall = frame.multiline, frame.dotall
        if frame.capture is not None:
            self.open_groups.discard(frame.capture)
        self.out.append(")")
        self.pos += 1
        # Annex B lets a lookahead be quantified; we refuse rather than guess.
        return not frame.lookaround

    def _backreference(self, number: int, python_ref: str) -> str:
        # JavaScript: a group that did not take part, is still open or comes later
        # matches the empty string; Python would fail the match (or the compile).
        if number > self.groups_opened or number in self.open_groups:
            return "(?:)"
        return f"(?({number}){python_ref}|)"

    # -- escapes ---------------------------------------------------------------------

    def _escape(self) -> tuple[str, bool]:
        """An escape outside a class: (Python text, whether a quantifier may follow)."""
        src = self.src
        if self.pos + 1 >= len(src):
            raise self.fail("\\ at end of pattern")
        char = src[self.pos + 1]
        if char in _CLASS_ESCAPES:
            self.pos += 2
            content, negated = _CLASS_ESCAPES[char]
            return f"[{'^' if negated else ''}{content}]", True
        if char == "b":
            self.pos += 2
            return r"(?a:\b)", False
        if char == "B":  # Python's \B never matches an empty input; JavaScript's does
            self.pos += 2
            return r"(?a:(?!\b))", False
        if char in "123456789":
            end = self.pos + 1
            while end < len(src) and src[end].isdigit():
                end += 1
            number = int(src[self.pos + 1 : end])
            if number <= self.group_total:
                self.pos = end
                return self._backreference(number, f"\\{number}"), True
            if self.unicode:
                raise self.fail(f"no group {number} to refer to")
            return _lit(self._legacy_octal_or_digit()), True
        if char == "k" and (self.unicode or self.names):
            end = src.find(">", self.pos)
            if not src.startswith("<", self.pos + 2) or end < 0:
                raise self.fail("invalid named reference")
            name = src[self.pos + 3 : end]
            if name not in self.names:
                raise self.fail(f"no group named {name!r}")
            self.pos = end + 1
            number = self.names[name]
            return self._backreference(number, f"(?P={name})"), True
        return _lit(self._character_escape(in_class=False)), True

    def _legacy_octal_or_digit(self) -> str:
        """Annex B: ``\\0``-``\\377`` octal, ``\\8``/``\\9`` the digit itself."""
        src = self.src
        start = self.pos + 1
        if src[start] not in _OCTAL:
            self.pos = start + 1
            return src[start]
        end = start
        while end < len(src) and end - start < 3 and src[end] in _OCTAL:
            if int(src[start : end + 1], 8) > 0o377:
                break
            end += 1
        self.pos = end
        return chr(int(src[start:end], 8))

    def _character_escape(self, *, in_class: bool) -> str:
        """An escape that stands for one character; advances past it."""
        src = self.src
        char = src[self.pos + 1]
        if char in _CONTROL:
            self.pos += 2
            return _CONTROL[char]
        if char == "0" and not (self.pos + 2 < len(src) and src[self.pos + 2].isdigit()):
            self.pos += 2
            return "\0"
        if char.isdigit():
            if self.unicode:
                raise self.fail("octal escapes are not allowed with the 'u' flag")
            return self._legacy_octal_or_digit()
        if char == "c":
            letter = src[self.pos + 2 : self.pos + 3]
            allowed = letter.isascii() and (
                letter.isalpha() or (in_class and (letter.isdigit() or letter == "_"))
            )
            if letter and allowed:
                self.pos += 3
                return chr(ord(letter) % 32)
            if self.unicode:
                raise self.fail("invalid \\c escape")
            self.pos += 1  # Annex B: the backslash is itself; 'c' is read next
            return "\\"
        if char == "x":
            digits = src[self.pos + 2 : self.pos + 4]
            if len(digits) == 2 and _HEX.issuperset(digits):
                self.pos += 4
                return chr(int(digits, 16))
            return self._identity(char)
        if char == "u":
            return self._unicode_escape()
        if char in "pP" and self.unicode:
            raise self.fail("Unicode property escapes (\\p{...}) are not supported")
        if in_class and char == "b":
            self.pos += 2
            return "\b"
        if in_class and char == "-":
            self.pos += 2
            return "-"
        return self._identity(char)

    def _identity(self, char: str) -> str:
        if self.unicode and char not in _SYNTAX:
            raise self.fail(f"invalid escape \\{char} with the 'u' flag")
        self.pos += 2
        return char

    def _unicode_escape(self) -> str:
        src, pos = self.src, self.pos
        if self.unicode and src.startswith("{", pos + 2):
            end = src.find("}", pos + 3)
            digits = src[pos + 3 : end] if end > 0 else ""
            if not digits or not _HEX.issuperset(digits) or int(digits, 16) > 0x10FFFF:
                raise self.fail("invalid \\u{...} escape")
            self.pos = end + 1
            return chr(int(digits, 16))
        digits = src[pos + 2 : pos + 6]
        if len(digits) != 4 or not _HEX.issuperset(digits):
            return self._identity("u")
        unit = int(digits, 16)
        self.pos += 6
        low = src[self.pos + 2 : self.pos + 6]
        if (
            0xD800 <= unit <= 0xDBFF
            and src.startswith("\\u", self.pos)
            and len(low) == 4
            and _HEX.issuperset(low)
            and 0xDC00 <= int(low, 16) <= 0xDFFF
        ):
            self.pos += 6
            return chr(0x10000 + ((unit - 0xD800) << 10) + (int(low, 16) - 0xDC00))
        return chr(unit)

    # -- character classes -----------------------------------------------------------

    def _class_atom(self) -> tuple[str, bool] | str:
        """One class item: a character, or (content, negated) for \\d \\w \\s and kin."""
        src = self.src
        char = src[self.pos]
        if char != "\\":
            self.pos += 1
            return char
        if self.pos + 1 >= len(src):
            raise self.fail("\\ at end of pattern")
        escaped = src[self.pos + 1]
        if escaped in _CLASS_ESCAPES:
            self.pos += 2
            return _CLASS_ESCAPES[escaped]
        if escaped == "B" and not self.unicode:
            self.pos += 2
            return "B"
        if escaped == "k" and not self.unicode:
            self.pos += 2
            return "k"
        return self._character_escape(in_class=True)

    def _class(self) -> str:
        src = self.src
        self.pos += 1
        negated = src.startswith("^", self.pos)
        if negated:
            self.pos += 1
        pieces: list[str] = []
        excluded: list[str] = []  # contents of negated shorthands (\D \W \S)
        while True:
            if self.pos >= len(src):
                raise self.fail("missing ']'")
            if src[self.pos] == "]":
                self.pos += 1
                break
            first = self._class_atom()
            is_range = (
                src.startswith("-", self.pos)
                and self.pos + 1 < len(src)
                and src[self.pos + 1] != "]"
            )
            if not is_range:
                self._add_class_item(first, pieces, excluded)
                continue
            self.pos += 1
            last = self._class_atom()
            if isinstance(first, str) and isinstance(last, str):
                if ord(first) > ord(last):
                    raise self.fail("range out of order in character class")
                pieces.append(f"{_lit(first)}-{_lit(last)}")
                continue
            if self.unicode:
                raise self.fail("a class escape cannot be a range end with the 'u' flag")
            self._add_class_item(first, pieces, excluded)
            pieces.append(r"\-")
            self._add_class_item(last, pieces, excluded)
        return _class_text(pieces, excluded, negated=negated)

    @staticmethod
    def _add_class_item(
        item: tuple[str, bool] | str, pieces: list[str], excluded: list[str]
    ) -> None:
        if isinstance(item, str):
            pieces.append(_lit(item))
        elif item[1]:
            excluded.append(item[0])
        else:
            pieces.append(item[0])


def _class_text(pieces: list[str], excluded: list[str], *, negated: bool) -> str:
    """Python text for a class; negated shorthands inside it become alternatives."""
    content = "".join(pieces)
    if not excluded:
        if not content:
            return _ANY if negated else "(?!)"  # [^] and []
        return f"[{'^' if negated else ''}{content}]"
    if not negated:  # [a\D] = [a] or [^0-9]
        options = ([f"[{content}]"] if content else []) + [f"[^{e}]" for e in excluded]
        return "(?:" + "|".join(options) + ")"
    # [^a\D] = not a, and a digit (not "not a digit")
    checks = ([f"(?![{content}])"] if content else []) + [f"(?![^{e}])" for e in excluded]
    return "(?:" + "".join(checks) + _ANY + ")"

"""Keyboard layouts for keyboard-wedge scanners: Linux key codes to characters.

A wedge scanner "types" its data as key presses for the keyboard layout it was
configured for (a German-configured scanner sends KEY_Y for ``z``). The host's own
layout is irrelevant here: the daemon reads raw evdev key codes, so the layout is part
of the scanner's configuration. Codes are those of linux/input-event-codes.h.

Supported: ``us``, ``uk``, ``de`` (QWERTZ), ``fr`` (AZERTY); both shifts, AltGr (right
Alt), caps lock, dead keys (``^ ´ ` ¨``: German ``^`` is dead, so a scanner sends ``^``
then space), the numeric keypad (num lock on), Ctrl+key for control characters (GS as
Ctrl+] is how scanners send GS1 separators) and Windows-style Alt codes (left Alt held,
keypad digits: ``0252`` is cp1252 ``ü``, ``129`` is cp437 ``ü``) that scanners use for
characters the layout lacks ("ALT mode" on Honeywell and Zebra scanners).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["LAYOUTS", "KeyDecoder", "Layout", "layout"]

# Key codes from linux/input-event-codes.h (only those a decoder needs by name).
KEY_TAB = 15
KEY_ENTER = 28
KEY_LEFTCTRL = 29
KEY_LEFTSHIFT = 42
KEY_RIGHTSHIFT = 54
KEY_LEFTALT = 56
KEY_SPACE = 57
KEY_CAPSLOCK = 58
KEY_KPENTER = 96
KEY_RIGHTCTRL = 97
KEY_RIGHTALT = 100  # AltGr on European layouts

# The character rows in evdev order: row 1 starts at KEY_1 (2), row 2 at KEY_Q (16),
# row 3 at KEY_A (30), row 4 at KEY_Z (44). KEY_GRAVE (41), KEY_BACKSLASH (43) and
# KEY_102ND (86, the extra ISO key beside left shift) sit outside the rows.
_ROW_STARTS = (2, 16, 30, 44)
_KEY_GRAVE = 41
_KEY_BACKSLASH = 43
_KEY_102ND = 86

# Keypad with num lock on: same on every layout.
_KEYPAD: dict[int, str] = {
    71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+",
    79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 55: "*", 98: "/",
}  # fmt: skip
_KEYPAD_DIGITS = {code: char for code, char in _KEYPAD.items() if char.isdigit()}

# Dead keys are stored in the tables as combining marks; this is their spacing form,
# typed when the dead key is followed by space or by a letter it cannot combine with.
_SPACING = {"\u0302": "^", "\u0301": "´", "\u0300": "`", "\u0308": "¨", "\u0303": "~"}
_CIRC, _ACUTE, _GRAVE, _DIAER = "\u0302", "\u0301", "\u0300", "\u0308"


@dataclass(frozen=True, slots=True)
class KeyChars:
    """What one key types: plain, with shift, with AltGr, with shift+AltGr ("" = nothing)."""

    plain: str
    shift: str = ""
    altgr: str = ""
    shift_altgr: str = ""


@dataclass(frozen=True, slots=True)
class Layout:
    """A keyboard layout: key code -> the characters it types."""

    name: str
    keys: Mapping[int, KeyChars] = field(repr=False)


def _rows(*rows: str) -> dict[int, KeyChars]:
    """A key table from four rows of space-separated tokens, one per key, each token the
    key's characters run together: plain, shift, then AltGr if any (``"2@"``, ``"qQ@"``)."""
    table: dict[int, KeyChars] = {}
    for start, row in zip(_ROW_STARTS, rows, strict=True):
        for offset, token in enumerate(row.split()):
            table[start + offset] = KeyChars(*token)
    return table


def _build(name: str, rows: tuple[str, str, str, str], **extra: KeyChars) -> Layout:
    keys = _rows(*rows)
    keys[KEY_SPACE] = KeyChars(" ", " ", " ", " ")
    keys[KEY_TAB] = KeyChars("\t", "\t")
    for code_name, chars in extra.items():
        keys[_NAMED[code_name]] = chars
    return Layout(name, keys)


_NAMED = {"grave": _KEY_GRAVE, "backslash": _KEY_BACKSLASH, "key102": _KEY_102ND}

# Rows: number row from KEY_1 through KEY_EQUAL; top row KEY_Q..KEY_RIGHTBRACE;
# home row KEY_A..KEY_APOSTROPHE; bottom row KEY_Z..KEY_SLASH.
US = _build(
    "us",
    (
        "1! 2@ 3# 4$ 5% 6^ 7& 8* 9( 0) -_ =+",
        "qQ wW eE rR tT yY uU iI oO pP [{ ]}",
        "aA sS dD fF gG hH jJ kK lL ;: '\"",
        "zZ xX cC vV bB nN mM ,< .> /?",
    ),
    grave=KeyChars("`", "~"),
    backslash=KeyChars("\\", "|"),
    key102=KeyChars("\\", "|"),
)

UK = _build(
    "uk",
    (
        '1! 2" 3£ 4$€ 5% 6^ 7& 8* 9( 0) -_ =+',
        "qQ wW eE€ rR tT yY uU iI oO pP [{ ]}",
        "aA sS dD fF gG hH jJ kK lL ;: '@",
        "zZ xX cC vV bB nN mM ,< .> /?",
    ),
    grave=KeyChars("`", "¬", "¦"),
    backslash=KeyChars("#", "~"),
    key102=KeyChars("\\", "|"),
)

DE = _build(
    "de",
    (
        f'1! 2"² 3§³ 4$ 5% 6& 7/{{ 8([ 9)] 0=}} ß?\\ {_ACUTE}{_GRAVE}',
        "qQ@ wW eE€ rR tT zZ uU iI oO pP üÜ +*~",
        "aA sS dD fF gG hH jJ kK lL öÖ äÄ",
        "yY xX cC vV bB nN mMµ ,; .: -_",
    ),
    grave=KeyChars(_CIRC, "°"),
    backslash=KeyChars("#", "'"),
    key102=KeyChars("<", ">", "|"),
)

FR = _build(
    "fr",
    (
        "&1 é2~ \"3# '4{ (5[ -6| è7` _8\\ ç9^ à0@ )°] =+}",
        f"aA zZ eE€ rR tT yY uU iI oO pP {_CIRC}{_DIAER} $£¤",
        "qQ sS dD fF gG hH jJ kK lL mM ù%",
        "wW xX cC vV bB nN ,? ;. :/ !§",
    ),
    grave=KeyChars("²"),
    backslash=KeyChars("*", "µ"),
    key102=KeyChars("<", ">"),
)

LAYOUTS: Mapping[str, Layout] = {"us": US, "uk": UK, "gb": UK, "de": DE, "fr": FR}
"""Layouts by name (``gb`` is the XKB name of ``uk``)."""


def layout(name: str) -> Layout:
    """The layout called ``name`` (``us``, ``uk``/``gb``, ``de``, ``fr``); ValueError
    naming the known ones otherwise."""
    try:
        return LAYOUTS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise ValueError(f"unknown keyboard layout {name!r} (known: {known})") from None


class KeyDecoder:
    """Turns a stream of evdev key events into text for one layout.

    Feed every EV_KEY event with :meth:`feed` (value 1 press, 2 auto-repeat, 0 release);
    it returns the characters that event typed (usually one, often none). Tab types
    ``"\t"``; Enter and the other non-character keys type nothing: the reader decides
    which key ends a scan.
    """

    def __init__(self, keyboard_layout: Layout) -> None:
        self.layout = keyboard_layout
        self._held: set[int] = set()
        self._caps = False
        self._dead = ""  # pending dead key (a combining mark)
        self._alt_digits = ""  # keypad digits typed while left Alt is held

    def reset(self) -> None:
        """Forget pending dead keys and Alt codes (modifiers stay as held)."""
        self._dead = ""
        self._alt_digits = ""

    def feed(self, code: int, value: int) -> str:
        """The text typed by one key event."""
        if value == 0:
            self._held.discard(code)
            if code == KEY_LEFTALT and self._alt_digits:
                return self._finish_alt_code()
            return ""
        self._held.add(code)
        if code == KEY_CAPSLOCK and value == 1:
            self._caps = not self._caps
            return ""
        if KEY_LEFTALT in self._held and code in _KEYPAD_DIGITS:
            self._alt_digits += _KEYPAD_DIGITS[code]
            return ""
        char = _KEYPAD.get(code) or self._layout_char(code)
        if not char:
            return ""
        if self._ctrl:  # a shortcut, not text, unless it names a control character
            return self._flush_dead() + _control(char)
        return self._compose(char)

    @property
    def _ctrl(self) -> bool:
        return KEY_LEFTCTRL in self._held or KEY_RIGHTCTRL in self._held

    def _layout_char(self, code: int) -> str:
        chars = self.layout.keys.get(code)
        if chars is None:
            return ""
        shift = KEY_LEFTSHIFT in self._held or KEY_RIGHTSHIFT in self._held
        if KEY_RIGHTALT in self._held:
            return chars.shift_altgr if shift and chars.shift_altgr else chars.altgr
        plain = chars.plain
        # Caps lock shifts letters only (and unshifts them when shift is held too).
        if self._caps and plain.isalpha() and chars.shift == plain.upper():
            shift = not shift
        return chars.shift if shift else plain

    def _compose(self, char: str) -> str:
        if unicodedata.combining(char):
            if self._dead:  # two dead keys: the first types its spacing form
                previous, self._dead = self._dead, char
                return _SPACING.get(previous, previous)
            self._dead = char
            return ""
        if not self._dead:
            return char
        mark, self._dead = self._dead, ""
        if char == " ":
            return _SPACING.get(mark, mark)
        composed = unicodedata.normalize("NFC", char + mark)
        return composed if len(composed) == 1 else _SPACING.get(mark, mark) + char

    def _flush_dead(self) -> str:
        mark, self._dead = self._dead, ""
        return _SPACING.get(mark, mark) if mark else ""

    def _finish_alt_code(self) -> str:
        digits, self._alt_digits = self._alt_digits, ""
        # Windows convention: a leading 0 selects the ANSI code page (cp1252), otherwise
        # the OEM one (cp437); values wrap at 256.
        byte = bytes([int(digits) % 256])
        char = byte.decode("cp1252" if digits.startswith("0") else "cp437", errors="replace")
        return self._flush_dead() + char


def _control(char: str) -> str:
    """Ctrl+``char``: ``@ A..Z [ \\ ] ^ _`` give NUL..US; other characters give ""."""
    upper = char.upper()
    if len(upper) == 1 and "@" <= upper <= "_":
        return chr(ord(upper) - 0x40)
    return ""

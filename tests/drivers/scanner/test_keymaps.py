"""Key codes to characters, per configured layout (codes from linux/input-event-codes.h,
layouts as printed on the keyboards and in XKB's us/gb/de/fr symbols)."""

from __future__ import annotations

import pytest

from drivers.scanner.keymaps import KeyDecoder, layout

SHIFT, RSHIFT, ALTGR, LALT, CTRL, CAPS = 42, 54, 100, 56, 29, 58
Q, W, Y, Z, A, M, E, U, SPACE = 16, 17, 21, 44, 30, 50, 18, 22, 57
K1, K2, K3, K4, K7, K8, K9, K0, MINUS, EQUAL = 2, 3, 4, 5, 8, 9, 10, 11, 12, 13
LBRACE, RBRACE, SEMI, APOS, GRAVE, BSLASH, DOT, SLASH, K102 = 26, 27, 39, 40, 41, 43, 52, 53, 86
KP0, KP2, KP5, KP1, KP9, KPDOT = 82, 80, 76, 79, 73, 83


def type_keys(layout_name: str, *strokes: tuple[int, ...]) -> str:
    """Each stroke is (modifiers..., key): modifiers down, key down/up, modifiers up."""
    decoder = KeyDecoder(layout(layout_name))
    out = ""
    for stroke in strokes:
        *mods, key = stroke
        for mod in mods:
            out += decoder.feed(mod, 1)
        out += decoder.feed(key, 1) + decoder.feed(key, 0)
        for mod in reversed(mods):
            out += decoder.feed(mod, 0)
    return out


@pytest.mark.parametrize(
    ("layout_name", "stroke", "expected"),
    [
        ("us", (Y,), "y"), ("us", (Z,), "z"), ("us", (SHIFT, K2), "@"), ("us", (SHIFT, K3), "#"),
        ("us", (RSHIFT, A), "A"), ("us", (SHIFT, APOS), '"'), ("us", (MINUS,), "-"),
        ("us", (BSLASH,), "\\"), ("us", (SHIFT, SLASH), "?"), ("us", (GRAVE,), "`"),
        ("de", (Y,), "z"), ("de", (Z,), "y"), ("de", (ALTGR, Q), "@"), ("de", (ALTGR, E), "€"),
        ("de", (LBRACE,), "ü"), ("de", (SEMI,), "ö"), ("de", (APOS,), "ä"),
        ("de", (SHIFT, LBRACE), "Ü"), ("de", (MINUS,), "ß"), ("de", (SHIFT, MINUS), "?"),
        ("de", (SLASH,), "-"), ("de", (SHIFT, SLASH), "_"), ("de", (SHIFT, K7), "/"),
        ("de", (ALTGR, K8), "["), ("de", (ALTGR, K9), "]"), ("de", (ALTGR, MINUS), "\\"),
        ("de", (BSLASH,), "#"), ("de", (RBRACE,), "+"), ("de", (K102,), "<"),
        ("de", (ALTGR, K102), "|"), ("de", (SHIFT, K3), "§"), ("de", (ALTGR, M), "µ"),
        ("fr", (Q,), "a"), ("fr", (A,), "q"), ("fr", (W,), "z"), ("fr", (Z,), "w"),
        ("fr", (SEMI,), "m"), ("fr", (M,), ","), ("fr", (K1,), "&"), ("fr", (SHIFT, K1), "1"),
        ("fr", (K2,), "é"), ("fr", (K0,), "à"), ("fr", (ALTGR, K0), "@"), ("fr", (K9,), "ç"),
        ("fr", (ALTGR, K3), "#"), ("fr", (APOS,), "ù"), ("fr", (SHIFT, DOT), "/"),
        ("fr", (SLASH,), "!"), ("fr", (ALTGR, E), "€"), ("fr", (ALTGR, K8), "\\"),
        ("uk", (SHIFT, K2), '"'), ("uk", (SHIFT, K3), "£"), ("uk", (SHIFT, APOS), "@"),
        ("uk", (BSLASH,), "#"), ("uk", (K102,), "\\"), ("uk", (ALTGR, K4), "€"),
        ("gb", (SHIFT, GRAVE), "¬"),
    ],
)  # fmt: skip
def test_one_key(layout_name: str, stroke: tuple[int, ...], expected: str) -> None:
    assert type_keys(layout_name, stroke) == expected


def test_keypad_types_digits_on_every_layout() -> None:
    for name in ("us", "de", "fr", "uk"):
        assert type_keys(name, (KP1,), (KP9,), (KPDOT,), (KP0,)) == "19.0"


def test_caps_lock_shifts_letters_only() -> None:
    assert type_keys("us", (CAPS,), (A,), (K1,), (SHIFT, A), (CAPS,), (A,)) == "A1aa"
    assert type_keys("de", (CAPS,), (LBRACE,), (MINUS,)) == "Üß"  # ß has no capital key


def test_german_dead_keys_compose_or_type_themselves() -> None:
    circumflex, acute = (GRAVE,), (EQUAL,)
    assert type_keys("de", circumflex, (SPACE,)) == "^"
    assert type_keys("de", circumflex, (A,)) == "â"
    assert type_keys("de", acute, (E,)) == "é"
    assert type_keys("de", (SHIFT, EQUAL), (A,)) == "à"
    assert type_keys("de", circumflex, (K1,)) == "^1"  # nothing to combine with
    assert type_keys("de", circumflex, circumflex, (SPACE,)) == "^^"
    assert type_keys("fr", (LBRACE,), (E,)) == "ê"
    assert type_keys("fr", (SHIFT, LBRACE), (U,)) == "ü"


def test_alt_codes_type_characters_the_layout_lacks() -> None:
    decoder = KeyDecoder(layout("us"))
    out = decoder.feed(LALT, 1)
    for code in (KP0, KP2, KP5, KP2):  # cp1252 0xFC
        out += decoder.feed(code, 1) + decoder.feed(code, 0)
    assert out == ""  # the digits are held back while Alt is down
    assert decoder.feed(LALT, 0) == "ü"
    out = decoder.feed(LALT, 1)
    for code in (KP1, KP2, 81):  # 123 without a leading 0: cp437 "{"
        out += decoder.feed(code, 1) + decoder.feed(code, 0)
    assert out + decoder.feed(LALT, 0) == "{"


def test_ctrl_gives_control_characters() -> None:
    # GS (Ctrl+]) separates GS1 fields; on a German keyboard "]" is AltGr+9 but scanners
    # send Ctrl with the key that types the character on that layout.
    assert type_keys("us", (CTRL, RBRACE)) == "\x1d"
    assert type_keys("us", (CTRL, M)) == "\r"
    assert type_keys("us", (CTRL, K2)) == ""  # a shortcut, not text


def test_unknown_layout_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: de, fr, gb, uk, us"):
        layout("dvorak")
    assert layout("DE").name == "de"

"""Layout to printer columns: wrapping, columns blocks, rules, widths per font and size."""

from __future__ import annotations

import random

import pytest

from drivers.escpos.encoder import Font, TextSize
from drivers.escpos.profiles import load_profile
from posbridge.receipts.layout import columns_lines, display_width, rule_line, wrap
from posbridge.receipts.render import line_columns


def test_short_text_is_one_line() -> None:
    assert wrap("Hello world", 42) == ["Hello world"]


def test_wraps_at_spaces_within_width() -> None:
    lines = wrap("the quick brown fox jumps over the lazy dog", 10)
    assert lines == ["the quick", "brown fox", "jumps over", "the lazy", "dog"]
    assert all(len(line) <= 10 for line in lines)


def test_exact_fit_is_not_wrapped() -> None:
    assert wrap("abcde fghij", 11) == ["abcde fghij"]
    assert wrap("abcde fghij", 10) == ["abcde", "fghij"]


def test_long_word_is_cut_into_pieces() -> None:
    assert wrap("https://example.com/receipt", 10) == ["https://ex", "ample.com/", "receipt"]


def test_long_word_after_short_one_fills_the_line_first() -> None:
    assert wrap("go 1234567890", 6) == ["go 123", "456789", "0"]


def test_newlines_and_blank_lines_are_kept() -> None:
    assert wrap("one\n\ntwo", 10) == ["one", "", "two"]
    assert wrap("", 10) == [""]


def test_leading_spaces_indent_the_first_row() -> None:
    assert wrap("   a b c", 5) == ["   a", "b c"]


def test_non_breaking_space_keeps_amount_together() -> None:
    lines = wrap("Total due €\u00a049,00", 12)
    assert lines == ["Total due", "€\u00a049,00"]


def test_width_counts_characters_after_nfc() -> None:
    assert display_width("Cafe\u0301") == 4
    assert display_width("Größe €") == 7
    assert wrap("Cafe\u0301 x", 6) == ["Café x"]


def test_columns_on_one_line_are_padded_to_width() -> None:
    line = columns_lines("2 x Shirt", "€ 49,00", 42)
    assert line == ["2 x Shirt" + " " * 26 + "€ 49,00"]
    assert len(line[0]) == 42


def test_columns_wrap_left_and_keep_right_on_first_line() -> None:
    lines = columns_lines("1 x Crème brûlée mit Schlagobers und Namen", "€ 6,90", 30)
    assert lines[0].endswith(" € 6,90") and len(lines[0]) == 30
    assert all(len(line) <= 30 - len("€ 6,90") - 1 for line in lines[1:])
    assert " ".join(line.strip() for line in lines).replace("€ 6,90", "").split() == (
        ["1", "x", "Crème", "brûlée", "mit", "Schlagobers", "und", "Namen"]
    )


def test_columns_stack_when_right_leaves_no_room() -> None:
    lines = columns_lines("Label", "R" * 38, 42)
    assert lines == ["Label", " " * 4 + "R" * 38]


def test_columns_with_empty_right_is_plain_wrapped_text() -> None:
    assert columns_lines("Netto", "", 42) == ["Netto"]


def test_rule_fills_the_line() -> None:
    assert rule_line("=", 42) == "=" * 42
    with pytest.raises(ValueError, match="one character"):
        rule_line("--", 42)


def test_zero_width_is_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        wrap("x", 0)


@pytest.mark.parametrize(
    ("font", "size", "expected"),
    [
        (Font.A, TextSize.NORMAL, 42),
        (Font.B, TextSize.NORMAL, 56),
        (Font.A, TextSize.DOUBLE_HEIGHT, 42),
        (Font.A, TextSize.DOUBLE_WIDTH, 21),
        (Font.A, TextSize.DOUBLE, 21),
        (Font.B, TextSize.DOUBLE, 28),
    ],
)
def test_line_columns_per_font_and_size(font: Font, size: TextSize, expected: int) -> None:
    profile = load_profile("TM-T88V")
    assert (profile.columns_a, profile.columns_b) == (42, 56)
    assert line_columns(profile, font=font, size=size) == expected


def test_lines_that_fit_take_the_short_way_with_the_same_result() -> None:
    # wrap() returns a fitting line as it is; it must be what the word wrapper makes of it.
    from posbridge.receipts.layout import _wrap_paragraph

    rng = random.Random(7)
    alphabet = "ab é€ "
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        width = rng.randint(1, 16)
        assert wrap(text, width) == _wrap_paragraph(text, width), (text, width)

"""Lay receipt text out to a printer's character columns.

Pure functions: they see only strings and widths, so they are cheap to test and to call
per block. A receipt printer prints one code-page character per column, so the width of
a string is its length once normalised to NFC (``e`` + combining acute is one column,
as ``é`` is). East-asian double-width characters are not handled.

Wrapping breaks at ASCII spaces only, so a non-breaking space (as Babel puts between a
currency sign and its amount) keeps ``€ 49,00`` together.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MIN_LEFT_COLUMN",
    "columns_lines",
    "display_width",
    "rule_line",
    "wrap",
]

#: Below this many columns left over for the left text, a ``columns`` block stops
#: sharing the line with its right text and stacks the two instead.
MIN_LEFT_COLUMN = 8

# Break opportunities: runs of ASCII spaces. Deliberately not ``\s``, which would also
# break at U+00A0 / U+202F.
_SPACES = re.compile(r" +")


def _nfc(text: str) -> str:
    # is_normalized is a quick check; most receipt text already is NFC.
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def display_width(text: str) -> int:
    """Columns ``text`` takes on the printer: one per character after NFC normalisation."""
    return len(unicodedata.normalize("NFC", text))


def _wrap_paragraph(paragraph: str, width: int) -> list[str]:
    """Greedy word wrap of one line; words longer than ``width`` are cut into pieces."""
    lines: list[str] = []
    current = ""
    words = _SPACES.split(paragraph.strip(" "))
    indent = len(paragraph) - len(paragraph.lstrip(" "))
    if words[0] and indent and indent + len(words[0]) <= width:
        # Leading spaces indent the first line (an item's detail under the item).
        words[0] = " " * indent + words[0]
    for word in words:
        while len(word) > width:
            # An over-long word (a URL, an IBAN) first fills what is left of the
            # current line, then whole lines.
            room = width - len(current) - 1 if current else width
            if room <= 0:
                lines.append(current)
                current = ""
                continue
            head, word = word[:room], word[room:]
            lines.append(f"{current} {head}" if current else head)
            current = ""
        if not word:
            continue
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    lines.append(current)
    return lines


def wrap(text: str, width: int) -> list[str]:
    """Wrap ``text`` to lines of at most ``width`` columns.

    Each ``\\n`` in ``text`` starts a new line; an empty line stays an empty line (a
    blank line on paper). Leading spaces indent a line's first row; runs of spaces
    between words collapse to one and trailing spaces are dropped.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    text = _nfc(text)
    words = text.lstrip(" ")  # after the indent, if any
    if (
        len(text) <= width
        and "\n" not in text
        and words
        and "  " not in words
        and not words.endswith(" ")
    ):
        return [text]  # the usual receipt line: fits as it is, nothing to wrap or fold
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, width))
    return lines


def columns_lines(left: str, right: str, width: int) -> list[str]:
    """Lines for a left text and a right-aligned text sharing ``width`` columns.

    When both fit, one line: ``left``, padding, ``right``. When ``left`` is too long it
    wraps within the space the right text leaves (the right text stays on the first
    line, flush right). When the right text leaves less than :data:`MIN_LEFT_COLUMN`
    columns, the two are stacked: the left text wrapped to the full width, then the
    right text flush right.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    left = _nfc(left).replace("\n", " ").rstrip(" ")
    right = _nfc(right).replace("\n", " ").strip(" ")
    if not right:
        return wrap(left, width)
    left_width = width - len(right) - 1
    if left_width < min(MIN_LEFT_COLUMN, width // 2):
        lines = wrap(left, width) if left.strip() else []
        lines.extend(line.rjust(width) for line in wrap(right, width))
        return lines
    left_lines = wrap(left, left_width)
    first = left_lines[0]
    return [first + right.rjust(width - len(first)), *left_lines[1:]]


def rule_line(char: str, width: int) -> str:
    """A horizontal rule: ``char`` repeated across the line."""
    if len(char) != 1:
        raise ValueError(f"a rule is drawn with one character, got {char!r}")
    return char * width

"""Style values shared by what is sent (the encoder) and what came out (the emulator's paper)."""

from __future__ import annotations

import enum

__all__ = ["Align", "Font"]


class Align(enum.StrEnum):
    """Horizontal position of a block on the paper."""

    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class Font(enum.StrEnum):
    """Printer font: A is the regular font, B the smaller one (more columns)."""

    A = "a"
    B = "b"

"""The scalable font behind ``^A0`` (and every other ZPL font letter) and its metrics.

Zebra's font 0 is CG Triumvirate Bold Condensed; the closest free font on a Debian box
is DejaVu Sans Condensed Bold (package fonts-dejavu-core). It is scaled so that a
character cell of ``height`` dots runs from the top of the capitals to the bottom of the
descenders, which is how a Zebra fills the ``^A`` height; accents on capitals may reach
above the cell. A ``width`` different from the height stretches the text horizontally.

:func:`measure_text` and :func:`text_mask` share one code path, so a line drawn
``measure_text(...)`` dots long (a strike-through over a price) matches the text exactly.
Glyphs are rendered in 1-bit mode: a thermal head has no grey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = ["FONT_FILE", "Face", "baseline", "face", "font_path", "measure_text", "text_mask"]

FONT_FILE = "DejaVuSansCondensed-Bold.ttf"
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu"),  # Fedora, Arch (older)
    Path("/usr/share/fonts/TTF"),  # Arch
    Path("/usr/local/share/fonts"),
    Path("/usr/share/fonts/truetype"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)
_PROBE_SIZE = 1000
INK = 255  # value of an inked pixel in the 1-bit masks

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=1)
def font_path() -> Path | None:
    """Where DejaVu Sans Condensed Bold lives on this machine, or None."""
    for folder in _FONT_DIRS:
        candidate = folder / FONT_FILE
        if candidate.is_file():
            return candidate
    return None


def _load(size: int) -> FontType:
    path = font_path()
    if path is None:
        # Pillow's own font (FreeType build: Aileron, scalable) keeps the emulator usable.
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size)


@lru_cache(maxsize=1)
def _proportions() -> tuple[float, float, float]:
    """Cap (or ascender) height, descent and ascent, as fractions of the em size."""
    probe = _load(_PROBE_SIZE)
    if isinstance(probe, ImageFont.FreeTypeFont):
        ascent, descent = probe.getmetrics()
        # Lowercase ascenders stand a little taller than capitals in DejaVu; measuring
        # both keeps plain text inside the cell.
        cap = -probe.getbbox("Hdl", anchor="ls")[1]
        return cap / _PROBE_SIZE, descent / _PROBE_SIZE, ascent / _PROBE_SIZE
    return 0.7, 0.25, 0.75  # fixed bitmap font without FreeType: rough proportions


@dataclass(frozen=True, slots=True)
class Face:
    """The font for one character height, with where its glyphs sit in the cell."""

    font: FontType
    height: int  # the ^A height: cell from cap top to descender bottom, dots
    baseline: int  # dots from the top of the cell down to the baseline
    overhang: int  # dots above the cell top that accents may use


@lru_cache(maxsize=512)
def face(height: int) -> Face:
    """The cached font face for a ZPL character height in dots."""
    height = max(height, 1)
    cap, descent, ascent = _proportions()
    size = max(round(height / (cap + descent)), 1)
    return Face(
        font=_load(size),
        height=height,
        baseline=round(cap * size),
        overhang=max(math.ceil((ascent - cap) * size), 0),
    )


def baseline(height: int) -> int:
    """Dots from the top of a ``height``-dot character cell to its baseline (for ``^FT``)."""
    return face(height).baseline


def _natural_width(text: str, font_face: Face) -> int:
    return round(font_face.font.getlength(text)) if text else 0


def measure_text(text: str, height: int, width: int | None = None) -> int:
    """Width in dots of one line of ``^A0`` text, exactly as :func:`text_mask` draws it."""
    font_face = face(height)
    natural = _natural_width(text, font_face)
    if width is None or width == font_face.height:
        return natural
    return round(natural * max(width, 1) / font_face.height)


def text_mask(text: str, height: int, width: int | None = None) -> tuple[Image.Image, int]:
    """One line of text as a 1-bit ink mask (255 = ink) and the mask's top offset.

    The mask is :func:`measure_text` dots wide. Its top lies ``overhang`` dots above
    the character cell (room for accents), so it is pasted at ``cell_top - overhang``;
    the returned offset is that negative number.
    """
    font_face = face(height)
    natural = _natural_width(text, font_face)
    rows = font_face.overhang + font_face.height
    mask = Image.new("1", (max(natural, 1), rows), 0)
    if natural:
        draw = ImageDraw.Draw(mask)
        if isinstance(font_face.font, ImageFont.FreeTypeFont):
            draw.text(
                (0, font_face.overhang + font_face.baseline),
                text,
                font=font_face.font,
                fill=INK,
                anchor="ls",
            )
        else:  # a bitmap font knows no anchors; its top sits at the cell top
            draw.text((0, font_face.overhang), text, font=font_face.font, fill=INK)
    target = measure_text(text, height, width)
    if target != natural:
        mask = mask.resize((max(target, 1), rows), Image.Resampling.NEAREST)
    return mask, -font_face.overhang

"""Label media: what is loaded in the printer and how the printer should treat it.

Sizes are kept in millimetres (how stores order labels) and turned into dots at the
printer's resolution only when ZPL is built, so one tag layout fits a 203 and a 300 dpi
printer alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["SUPPORTED_DPI", "Media", "MediaTracking"]

SUPPORTED_DPI = (203, 300)
_MM_PER_INCH = 25.4


class MediaTracking(enum.StrEnum):
    """How the printer finds the start of the next label (``^MN``)."""

    GAP = "gap"  # die-cut labels with a gap between them, ^MNY
    MARK = "mark"  # a black mark on the back, ^MNM
    CONTINUOUS = "continuous"  # endless media, ^MNN

    @property
    def zpl(self) -> str:
        return {"gap": "Y", "mark": "M", "continuous": "N"}[self.value]


@dataclass(frozen=True, slots=True)
class Media:
    width_mm: float = 50.8  # 2 in
    height_mm: float = 76.2  # 3 in
    dpi: int = 203
    tracking: MediaTracking = MediaTracking.GAP
    darkness: int | None = None  # 0..30 (~SD); None keeps the printer's setting
    speed_ips: int | None = None  # 2..12 inches per second (^PR); None keeps it
    utf8: bool = True  # ^CI28

    def __post_init__(self) -> None:
        if self.dpi not in SUPPORTED_DPI:
            raise ValueError(f"dpi must be one of {SUPPORTED_DPI}, not {self.dpi}")
        if not (5 <= self.width_mm <= 220 and 5 <= self.height_mm <= 1000):
            raise ValueError(
                f"label size {self.width_mm} x {self.height_mm} mm is outside 5..220 x 5..1000 mm"
            )
        if self.darkness is not None and not 0 <= self.darkness <= 30:
            raise ValueError(f"darkness must be 0..30, not {self.darkness}")
        if self.speed_ips is not None and not 2 <= self.speed_ips <= 12:
            raise ValueError(f"speed must be 2..12 inches per second, not {self.speed_ips}")

    def dots(self, mm: float) -> int:
        """Millimetres to printer dots, rounded to the nearest dot."""
        return round(mm * self.dpi / _MM_PER_INCH)

    @property
    def width_dots(self) -> int:
        return self.dots(self.width_mm)

    @property
    def height_dots(self) -> int:
        return self.dots(self.height_mm)

    def describe(self) -> dict[str, object]:
        """The media as plain JSON-ready values (for capabilities and diagnostics)."""
        return {
            "dpi": self.dpi,
            "width_mm": self.width_mm,
            "height_mm": self.height_mm,
            "width_dots": self.width_dots,
            "height_dots": self.height_dots,
            "tracking": self.tracking.value,
            "darkness": self.darkness,
            "speed_ips": self.speed_ips,
            "utf8": self.utf8,
        }

    def setup_zpl(self) -> bytes:
        """A format that sets the media up; printers keep these settings until changed.

        Sent once per connection before the first label. ``^CI28`` is repeated in every
        tag format as well, because a format must not depend on who printed before it.
        """
        parts = ["^XA", f"^PW{self.width_dots}", f"^LL{self.height_dots}"]
        parts.append(f"^MN{self.tracking.zpl}")
        if self.speed_ips is not None:
            parts.append(f"^PR{self.speed_ips}")
        if self.utf8:
            parts.append("^CI28")
        parts.append("^XZ")
        if self.darkness is not None:
            parts.append(f"~SD{self.darkness:02d}")
        return "".join(parts).encode("ascii")

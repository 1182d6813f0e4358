"""Printer profiles: what one ESC/POS printer model can do, as a small frozen value.

The facts come from python-escpos's capability database (columns per font, paper width
in dots, resolution, native QR, barcode function B, raster images, cutter, drawer pulse).
Two things that database does not say are added here:

* automatic status back (``GS a``): Epson TM models send it; everything else is assumed
  not to, so the driver falls back to polling ``DLE EOT``;
* a usable paper width and resolution when the database says "Unknown" (generic
  profiles): 512 dots at 180 dpi, the narrowest common 80 mm head, so nothing is ever
  rendered wider than the paper.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from drivers.errors import UnsupportedFeature
from drivers.escpos._lib import ESCPOS_CAPABILITIES

__all__ = ["ASB_MODELS", "PrinterProfile", "available_profiles", "load_profile"]

# Epson TM printers answer GS a with 4-byte status messages (TM-T88 family and the
# models documented alongside it). python-escpos profiles carry no such flag.
ASB_MODELS: frozenset[str] = frozenset(
    {
        "TM-T88II",
        "TM-T88III",
        "TM-T88IV",
        "TM-T88IV-SA",
        "TM-T88V",
        "TM-T20II",
        "TM-T20II-42col",
        "TM-L90",
        "TM-P80",
        "TM-P80-42col",
        "TM-U220",
        "TM-U220B",
    }
)

_FALLBACK_WIDTH_PX = 512
_FALLBACK_DPI = 180
# ESC p drives one of the two drawer connector pins.
_DRAWER_PINS = (2, 5)


@dataclass(frozen=True)
class PrinterProfile:
    """What a printer model can do; ``name`` is the python-escpos profile name."""

    name: str
    vendor: str
    columns_a: int
    columns_b: int
    width_px: int
    dpi: int
    qr_native: bool
    barcode_b: bool
    raster: bool
    paper_cut: bool
    """The printer has a cutter (full or partial)."""
    partial_cut: bool
    asb: bool
    drawer_pins: tuple[int, ...]
    font_b: bool = True
    """The model has a second, smaller font; when False ``columns_b`` equals ``columns_a``."""


def available_profiles() -> list[str]:
    """Every profile name ``load_profile`` accepts, sorted."""
    return sorted(_profiles_data())


@lru_cache(maxsize=128)
def load_profile(name: str) -> PrinterProfile:
    """Build the profile of printer model ``name`` (e.g. ``"TM-T88V"``; case does not matter).

    Raises ``UnsupportedFeature`` naming close matches when the model is unknown.
    """
    profiles = _profiles_data()
    if name not in profiles:
        # Config files are typed by people: "tm-t88v" means "TM-T88V".
        by_lower = {n.lower(): n for n in profiles}
        if name.lower() not in by_lower:
            raise UnsupportedFeature(_unknown_message(name))
        return load_profile(by_lower[name.lower()])
    return _build(name, profiles[name])


def _profiles_data() -> dict[str, Any]:
    profiles: dict[str, Any] = ESCPOS_CAPABILITIES["profiles"]
    return profiles


def _unknown_message(name: str) -> str:
    names = available_profiles()
    by_lower = {n.lower(): n for n in names}
    matches = difflib.get_close_matches(name.lower(), by_lower, n=4, cutoff=0.4)
    close = [by_lower[n] for n in matches]
    if not close:
        # "epson" is not close to any model name, but its models are what was meant.
        needle = name.lower()
        data = _profiles_data()
        close = [
            n for n in names if needle and needle in str(data[n].get("vendor", "")).lower()
        ][:4]
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown printer profile {name!r}{hint} (known: {len(names)} profiles)"


def _known_int(value: object) -> int | None:
    """The database writes "Unknown" (or omits the key) where a number is not known."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def _build(name: str, data: dict[str, Any]) -> PrinterProfile:
    features: dict[str, bool] = data.get("features", {})
    fonts: dict[str, dict[str, Any]] = data.get("fonts", {})
    media: dict[str, Any] = data.get("media", {})
    width: dict[str, Any] = media.get("width", {})

    columns_a = int(fonts.get("0", {}).get("columns", 42))
    has_font_b = "1" in fonts
    columns_b = int(fonts["1"]["columns"]) if has_font_b else columns_a

    width_px = _known_int(width.get("pixels")) or _FALLBACK_WIDTH_PX
    dpi = _known_int(media.get("dpi"))
    width_mm = _known_int(width.get("mm"))
    if dpi is None and width_mm is not None and width_mm > 10:
        # Same estimate python-escpos makes: the printable area is ~10 mm narrower
        # than the paper.
        dpi = int(width_px / ((width_mm - 10) / 25.4))
    full_cut = bool(features.get("paperFullCut"))
    partial_cut = bool(features.get("paperPartCut"))
    return PrinterProfile(
        name=name,
        vendor=str(data.get("vendor", "")),
        columns_a=columns_a,
        columns_b=columns_b,
        width_px=width_px,
        dpi=dpi or _FALLBACK_DPI,
        qr_native=bool(features.get("qrCode")),
        barcode_b=bool(features.get("barcodeB")),
        raster=bool(features.get("bitImageRaster")),
        paper_cut=full_cut or partial_cut,
        partial_cut=partial_cut,
        asb=name in ASB_MODELS,
        drawer_pins=_DRAWER_PINS if features.get("pulseStandard") else (),
        font_b=has_font_b,
    )

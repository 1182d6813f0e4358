"""Printer profiles built from python-escpos's capability database."""

from __future__ import annotations

import pytest

from drivers.errors import UnsupportedFeature
from drivers.escpos.profiles import PrinterProfile, available_profiles, load_profile


def test_tm_t88v_facts() -> None:
    p = load_profile("TM-T88V")
    assert p == PrinterProfile(
        name="TM-T88V",
        vendor="Epson",
        columns_a=42,
        columns_b=56,
        width_px=512,
        dpi=180,
        qr_native=True,
        barcode_b=True,
        raster=True,
        paper_cut=True,
        partial_cut=True,
        asb=True,
        drawer_pins=(2, 5),
        font_b=True,
    )


def test_non_epson_has_no_asb_and_58mm_facts() -> None:
    p = load_profile("ZJ-5870")
    assert p.asb is False
    assert (p.columns_a, p.width_px, p.dpi) == (32, 384, 203)
    assert p.qr_native is False and p.barcode_b is False
    assert p.paper_cut is False and p.partial_cut is False
    # Only one font in the database: font B falls back to font A's columns.
    assert p.font_b is False and p.columns_b == 32


def test_unknown_widths_fall_back_to_safe_values() -> None:
    p = load_profile("default")
    assert (p.width_px, p.dpi) == (512, 180)


def test_partial_cut_only_printer_still_has_a_cutter() -> None:
    p = load_profile("TM-U220B")
    assert p.paper_cut is True and p.partial_cut is True
    assert p.raster is False


def test_customer_display_has_no_drawer() -> None:
    assert load_profile("AF-240").drawer_pins == ()


def test_name_is_case_insensitive_and_cached() -> None:
    assert load_profile("tm-t88v") is load_profile("TM-T88V")


def test_unknown_name_lists_close_names() -> None:
    with pytest.raises(UnsupportedFeature) as info:
        load_profile("TM-T88X")
    message = str(info.value)
    assert "TM-T88X" in message
    assert "TM-T88V" in message and "TM-T88IV" in message
    assert info.value.code == "unsupported"


def test_unknown_vendor_name_suggests_its_models() -> None:
    with pytest.raises(UnsupportedFeature, match="TM-"):
        load_profile("epson")


def test_available_profiles() -> None:
    names = available_profiles()
    assert names == sorted(names)
    assert {"TM-T88V", "TM-T20II", "default"} <= set(names)
    for name in names:
        assert load_profile(name).name == name

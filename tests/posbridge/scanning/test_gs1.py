"""Products: GTINs by symbology, GS1 element strings and Digital Link URLs."""

from __future__ import annotations

import pytest

from drivers.scanner.symbology import Symbology
from posbridge.scanning.gs1 import is_valid_gtin, parse_product


@pytest.mark.parametrize(
    ("data", "symbology", "gtin"),
    [
        ("4006381333931", Symbology.EAN13, "4006381333931"),
        ("96385074", Symbology.EAN8, "96385074"),
        ("036000291452", Symbology.UPCA, "036000291452"),
        ("04252614", Symbology.UPCE, "042100005264"),
        ("10012345678902", Symbology.ITF, "10012345678902"),
        ("4006381333931", Symbology.UNKNOWN, "4006381333931"),
    ],
)
def test_gtins(data: str, symbology: Symbology, gtin: str) -> None:
    product = parse_product(data, symbology)
    assert product is not None
    assert (product.gtin, product.source, product.restricted) == (gtin, "gtin", False)


@pytest.mark.parametrize(
    ("data", "symbology"),
    [
        ("4006381333932", Symbology.EAN13),  # check digit
        ("400638133393", Symbology.EAN13),
        ("4006381333931", Symbology.CODE128),  # digits in Code 128 are no GTIN
        ("LOY-12345678", Symbology.CODE128),
        ("https://example.com/x", Symbology.QR),
    ],
)
def test_not_products(data: str, symbology: Symbology) -> None:
    assert parse_product(data, symbology) is None


def test_gtin_check() -> None:
    assert is_valid_gtin("09506000134352")
    assert not is_valid_gtin("09506000134353")
    assert not is_valid_gtin("１２３４５６７８")  # full-width digits


def test_element_string_with_fnc1_as_gs() -> None:
    data = "]C1010950600013435210ABC\x1d15201231"
    product = parse_product(data, Symbology.GS1_128)
    assert product is not None
    assert product.source == "element_string"
    assert product.gtin == "09506000134352"
    assert product.fields == {"01": "09506000134352", "10": "ABC", "15": "201231"}


@pytest.mark.parametrize(
    ("data", "symbology"),
    [
        ("010950600013435210ABC\x1d15201231", Symbology.GS1_128),  # no AIM id: from symbology
        ("\x1d010950600013435210ABC\x1d15201231", Symbology.DATAMATRIX),  # leading FNC1
        ("]d2010950600013435210ABC\x1d15201231", Symbology.DATAMATRIX),
        ("]Q3010950600013435210ABC\x1d15201231", Symbology.QR),
    ],
)
def test_element_string_variants(data: str, symbology: Symbology) -> None:
    product = parse_product(data, symbology)
    assert product is not None
    assert product.fields["10"] == "ABC" and product.gtin == "09506000134352"


def test_databar() -> None:
    product = parse_product("0109506000134352", Symbology.DATABAR)
    assert product is not None and product.gtin == "09506000134352"


def test_digital_link() -> None:
    product = parse_product("https://id.gs1.org/01/09506000134352/10/ABC", Symbology.QR)
    assert product is not None
    assert product.source == "digital_link"
    assert product.gtin == "09506000134352"
    assert product.fields == {"01": "09506000134352", "10": "ABC"}


def test_ai_400_reading_needs_no_symbology() -> None:
    # As EAN-13 it is a GTIN, not AI 400 "order number 6381333931".
    product = parse_product("4006381333931", Symbology.EAN13)
    assert product is not None and product.gtin == "4006381333931"
    assert product.fields == {}


def test_restricted_circulation_numbers() -> None:
    product = parse_product("2912345678906", Symbology.EAN13)
    assert product is not None and product.restricted
    weighed = parse_product("2302148210869", Symbology.EAN13, rcn_region="no")
    assert weighed is not None and not weighed.restricted
    assert weighed.fields["weight"] == "1.086"

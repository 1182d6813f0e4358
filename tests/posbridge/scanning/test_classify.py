"""classify(): the order products -> ID documents -> contacts -> rules -> unknown."""

from __future__ import annotations

import time
from datetime import date

import pytest

from drivers.scanner.symbology import Symbology
from posbridge.scanning.classify import classify
from posbridge.scanning.result import Classification, ScanKind
from posbridge.scanning.rules import CustomerProfileConfig
from tests.posbridge.scanning.test_aamva import V10

CATCH_ALL = {"scanner_code_type": 8191, "regex": "^(.+)$"}
CONFIG = CustomerProfileConfig.from_platform(
    {
        "customer_profile_scanner_identifiers": [
            {"scanner_code_type": 1024, "regex": "^MEMBER(\\d{6})$"},
            {"scanner_code_type": 1 | 1024, "regex": "^LOY-(?<number>\\d{8})$"},
            {"scanner_code_type": 16, "regex": "^(29\\d{10})\\d$"},  # EAN-13 in-store cards
            CATCH_ALL,
        ],
        "customer_profile_auto_populate_fields": [
            {"field_path": "email", "regex": "^[^@\\s]+@[^@\\s]+$"},
            {"field_path": "phone_number", "regex": "^\\+\\d{6,15}$"},
            {"field_path": "extendedAttributes.loyalty_id", "regex": "^\\d{8}$"},
        ],
    }
)
EMPTY = CustomerProfileConfig.from_platform({})


def test_loyalty_card_code128() -> None:
    result = classify("LOY-12345678", Symbology.CODE128, CONFIG)
    assert result == Classification(
        kind=ScanKind.CUSTOMER_IDENTIFIER,
        search_value="12345678",
        auto_populate={"extendedAttributes.loyalty_id": "12345678"},
        rule_index=1,
    )
    assert not result.personal


def test_member_id_first_rule() -> None:
    result = classify("MEMBER004711", Symbology.CODE128, CONFIG)
    assert (result.kind, result.search_value, result.rule_index) == (
        ScanKind.CUSTOMER_IDENTIFIER,
        "004711",
        0,
    )


@pytest.mark.parametrize("symbology", [Symbology.EAN13, Symbology.UNKNOWN])
def test_ean13_product_is_never_a_customer(symbology: Symbology) -> None:
    result = classify("4006381333931", symbology, CONFIG)
    assert result.kind is ScanKind.PRODUCT
    assert result.search_value is None and result.rule_index is None
    assert result.fields["gtin"] == "4006381333931"


def test_restricted_number_goes_to_rules_first_then_product() -> None:
    card = classify("2912345678906", Symbology.EAN13, CONFIG)
    assert (card.kind, card.search_value, card.rule_index) == (
        ScanKind.CUSTOMER_IDENTIFIER,
        "291234567890",
        2,
    )
    item = classify("2912345678906", Symbology.EAN13, EMPTY)
    assert item.kind is ScanKind.PRODUCT and item.fields["restricted"] is True


def test_gs1_and_digital_link_are_products_despite_catch_all() -> None:
    gs1 = classify("]C1010950600013435210ABC\x1d15201231", Symbology.GS1_128, CONFIG)
    assert gs1.kind is ScanKind.PRODUCT and gs1.fields["ais"]["10"] == "ABC"
    link = classify("https://id.gs1.org/01/09506000134352/10/ABC", Symbology.QR, CONFIG)
    assert link.kind is ScanKind.PRODUCT and link.fields["gtin"] == "09506000134352"


def test_aim_prefix_names_the_symbology_and_is_stripped() -> None:
    assert classify("]E04006381333931", Symbology.UNKNOWN, CONFIG).kind is ScanKind.PRODUCT
    result = classify("]C0MEMBER004711", Symbology.UNKNOWN, CONFIG)
    assert (result.search_value, result.rule_index) == ("004711", 0)


def test_id_document() -> None:
    result = classify(V10, Symbology.PDF417, CONFIG, today=date(2025, 6, 15))
    assert result.kind is ScanKind.ID_DOCUMENT and result.personal
    assert result.search_value == "T64235789"
    assert result.fields["family_name"] == "SAMPLE" and result.fields["age"] == 39
    assert result.auto_populate == {}


def test_contact_search_value_and_auto_populate() -> None:
    result = classify(
        "MECARD:N:Doe,John;TEL:0664 1234567;EMAIL:john@doe.at;;", Symbology.QR, CONFIG
    )
    assert result.kind is ScanKind.CONTACT and result.personal
    assert result.search_value == "john@doe.at"
    assert result.auto_populate == {"email": "john@doe.at", "phone_number": "+436641234567"}
    tel = classify("tel:0664 1234567", Symbology.QR, CONFIG, default_region="AT")
    assert tel.search_value == "+436641234567"
    assert tel.auto_populate == {"phone_number": "+436641234567"}


def test_email_qr_via_rule() -> None:
    config = CustomerProfileConfig.from_platform(
        {
            "customer_profile_scanner_identifiers": [
                {"scanner_code_type": 1, "regex": "^([^@\\s]+@[^@\\s]+\\.[a-z]+)$"}
            ],
            "customer_profile_auto_populate_fields": [{"field_path": "email", "regex": "@"}],
        }
    )
    result = classify("jane@example.com", Symbology.QR, config)
    assert (result.kind, result.search_value, result.auto_populate) == (
        ScanKind.CUSTOMER_IDENTIFIER,
        "jane@example.com",
        {"email": "jane@example.com"},
    )
    # Same data as Code 128: the rule is for QR only.
    other = classify("jane@example.com", Symbology.CODE128, config)
    assert other.kind is ScanKind.UNKNOWN and other.search_value is None
    assert other.auto_populate == {"email": "jane@example.com"}


def test_unknown() -> None:
    result = classify("whatever", Symbology.AZTEC, CONFIG)  # Aztec has no code-type bit
    assert result.kind is ScanKind.UNKNOWN
    assert result.to_public()["kind"] == "unknown"


@pytest.mark.parametrize("data", ["", "]", "]Q", "@", "@\n\x1e\rANSI 6", "mailto:", "\x1d", "http"])
def test_odd_input_never_raises(data: str) -> None:
    for symbology in Symbology:
        classify(data, symbology, CONFIG)


def test_loyalty_scan_is_fast() -> None:
    runs = 2000
    start = time.perf_counter()
    for _ in range(runs):
        classify("LOY-12345678", Symbology.CODE128, CONFIG)
    per_scan = (time.perf_counter() - start) / runs
    assert per_scan < 200e-6, f"{per_scan * 1e6:.0f} µs per scan"

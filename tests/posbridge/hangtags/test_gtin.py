"""GTIN normalisation and symbology selection."""

from __future__ import annotations

import random

import barcode  # type: ignore[import-untyped]
import pytest

from posbridge.hangtags.errors import HangTagError
from posbridge.hangtags.gtin import check_digit, gtin_symbology, normalize_gtin


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4006381333931", "4006381333931"),  # EAN-13
        (" 400 6381 333931 ", "4006381333931"),  # spaces are removed
        ("036000291452", "036000291452"),  # valid UPC-A stays UPC-A
        ("96385074", "96385074"),  # EAN-8
        ("9638507", "96385074"),  # 7 digits: EAN-8 completed
        ("400638133393", "4006381333931"),  # 12 digits, not a UPC-A: EAN-13 completed
        ("00012345600012", "00012345600012"),  # GTIN-14 (GS1's example)
    ],
)
def test_accepted_values(value: str, expected: str) -> None:
    assert normalize_gtin(value) == expected


def test_wrong_check_digit_names_value_and_expected_digit() -> None:
    with pytest.raises(HangTagError) as info:
        normalize_gtin("4006381333932")
    assert info.value.code == "invalid_gtin"
    assert str(info.value) == "GTIN '4006381333932': check digit should be 1, not 2"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12345", "has 5 digits"),
        ("1234567890", "has 10 digits"),
        ("123456789012345", "has 15 digits"),
        ("40063813339X1", "digits only"),
        ("4006381-333931", "digits only"),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", "digits only"),  # Arabic-Indic digits are not GTIN digits
        ("96385075", "check digit should be 4, not 5"),
        ("00012345600013", "check digit should be 2, not 3"),
    ],
)
def test_rejected_values(value: str, fragment: str) -> None:
    with pytest.raises(HangTagError) as info:
        normalize_gtin(value)
    assert info.value.code == "invalid_gtin"
    assert fragment in str(info.value)


def test_check_digit_agrees_with_python_barcode() -> None:
    rng = random.Random(7)
    for _ in range(300):
        body12 = "".join(rng.choice("0123456789") for _ in range(12))
        assert body12 + str(check_digit(body12)) == barcode.get("ean13", body12).get_fullcode()
        body7 = body12[:7]
        assert body7 + str(check_digit(body7)) == barcode.get("ean8", body7).get_fullcode()
        body11 = body12[:11]
        assert body11 + str(check_digit(body11)) == barcode.get("upca", body11).get_fullcode()


def test_twelve_digits_are_upca_only_when_the_check_digit_fits() -> None:
    upca = "036000291452"
    assert normalize_gtin(upca) == upca
    broken = upca[:-1] + "3"
    completed = normalize_gtin(broken)
    assert len(completed) == 13 and completed.startswith(broken)


@pytest.mark.parametrize(
    ("gtin", "symbology"),
    [
        ("4006381333931", "EAN13"),
        ("036000291452", "UPCA"),
        ("96385074", "EAN8"),
        ("00012345600012", "CODE128"),
    ],
)
def test_symbology(gtin: str, symbology: str) -> None:
    assert gtin_symbology(gtin) == symbology


@pytest.mark.parametrize("gtin", ["9638507", "4006381333932", "abc", ""])
def test_symbology_needs_a_normalised_gtin(gtin: str) -> None:
    with pytest.raises(HangTagError) as info:
        gtin_symbology(gtin)
    assert info.value.code == "invalid_gtin"

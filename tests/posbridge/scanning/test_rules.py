"""Customer-profile settings from the platform: validation, round trip, rule order, masks."""

from __future__ import annotations

from typing import Any

import pytest

from posbridge.scanning.result import ScanConfigError
from posbridge.scanning.rules import CustomerProfileConfig

PLATFORM: dict[str, Any] = {
    "customer_profile_scanner_identifiers": [
        {"scanner_code_type": 1024, "regex": "^MEMBER(\\d{6})$"},
        {"scanner_code_type": 1 | 1024, "regex": "^LOY-(\\d{8})$", "label": "loyalty"},
        {"scanner_code_type": 1, "regex": "/^(?<mail>[^@\\s]+@[^@\\s]+)$/i"},
        {"scanner_code_type": 1024, "regex": "^(M\\d+)$"},
    ],
    "customer_profile_auto_populate_fields": [
        {"field_path": "email", "regex": "^[^@\\s]+@[^@\\s]+$"},
        {"field_path": "phone_number", "regex": "^\\+\\d{6,15}$"},
        {"field_path": "extendedAttributes.loyalty_id", "regex": "^\\d+$"},
        {"field_path": "extendedAttributes.member", "regex": "^\\d{6}$"},
    ],
    "some_future_setting": {"x": 1},
}


def test_round_trip_keeps_unknown_keys() -> None:
    config = CustomerProfileConfig.from_platform(PLATFORM)
    assert config.to_platform() == PLATFORM
    assert CustomerProfileConfig.from_platform(config.to_platform()) == config


def test_both_keys_optional() -> None:
    config = CustomerProfileConfig.from_platform({})
    assert config.match_identifier("MEMBER123456", 1024) is None
    assert config.auto_populate("a@b.c") == {}


def test_first_matching_rule_wins_in_order() -> None:
    config = CustomerProfileConfig.from_platform(PLATFORM)
    assert config.match_identifier("MEMBER123456", 1024) == (0, "123456")
    assert config.match_identifier("M42", 1024) == (3, "M42")
    assert config.match_identifier("LOY-12345678", 1) == (1, "12345678")
    assert config.match_identifier("Jane@Example.com", 1) == (2, "Jane@Example.com")


def test_code_type_is_a_mask() -> None:
    config = CustomerProfileConfig.from_platform(PLATFORM)
    assert config.match_identifier("MEMBER123456", 1) is None  # rule 0 is Code128 only
    assert config.match_identifier("LOY-12345678", 1024) == (1, "12345678")  # 1025 has 1024
    assert config.match_identifier("LOY-12345678", 2048) is None  # PDF417 not in 1025


def test_zero_code_type_loads_and_matches_nothing() -> None:
    config = CustomerProfileConfig.from_platform(
        {"customer_profile_scanner_identifiers": [{"scanner_code_type": 0, "regex": "(.+)"}]}
    )
    assert config.match_identifier("x", 1024) is None


def test_rule_without_group_yields_whole_match_and_empty_group_skips() -> None:
    config = CustomerProfileConfig.from_platform(
        {
            "customer_profile_scanner_identifiers": [
                {"scanner_code_type": 1024, "regex": "^C(\\d*)$"},
                {"scanner_code_type": 1024, "regex": "C\\d*"},
            ]
        }
    )
    assert config.match_identifier("C", 1024) == (1, "C")
    assert config.match_identifier("C7", 1024) == (0, "7")


def test_auto_populate_fills_first_matching_field_only() -> None:
    config = CustomerProfileConfig.from_platform(PLATFORM)
    assert config.auto_populate("jane@example.com") == {"email": "jane@example.com"}
    assert config.auto_populate("123456") == {"extendedAttributes.loyalty_id": "123456"}
    assert config.auto_populate("+4312345678") == {"phone_number": "+4312345678"}
    assert config.auto_populate("hello") == {}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"customer_profile_scanner_identifiers": {}}, "customer_profile_scanner_identifiers"),
        (
            {"customer_profile_scanner_identifiers": ["x"]},
            "customer_profile_scanner_identifiers[0]",
        ),
        (
            {"customer_profile_scanner_identifiers": [{"regex": "a"}]},
            "customer_profile_scanner_identifiers[0].scanner_code_type",
        ),
        (
            {"customer_profile_scanner_identifiers": [{"scanner_code_type": "1", "regex": "a"}]},
            "customer_profile_scanner_identifiers[0].scanner_code_type",
        ),
        (
            {"customer_profile_scanner_identifiers": [{"scanner_code_type": True, "regex": "a"}]},
            "customer_profile_scanner_identifiers[0].scanner_code_type",
        ),
        (
            {
                "customer_profile_scanner_identifiers": [
                    {"scanner_code_type": 1, "regex": "a"},
                    {"scanner_code_type": 1, "regex": "b"},
                    {"scanner_code_type": 1, "regex": "(?<=a*)b"},
                ]
            },
            "customer_profile_scanner_identifiers[2].regex",
        ),
        (
            {"customer_profile_auto_populate_fields": [{"field_path": "", "regex": "a"}]},
            "customer_profile_auto_populate_fields[0].field_path",
        ),
        (
            {"customer_profile_auto_populate_fields": [{"field_path": "email", "regex": "(("}]},
            "customer_profile_auto_populate_fields[0].regex",
        ),
        (
            {"customer_profile_auto_populate_fields": [{"field_path": "email", "regex": 5}]},
            "customer_profile_auto_populate_fields[0].regex",
        ),
    ],
)
def test_errors_name_the_entry(data: dict[str, Any], where: str) -> None:
    with pytest.raises(ScanConfigError) as caught:
        CustomerProfileConfig.from_platform(data)
    assert caught.value.field == where
    assert str(caught.value).startswith(where + ": ")

"""Classification: personal kinds and the public dict."""

from __future__ import annotations

import json

from posbridge.scanning.result import Classification, ScanConfigError, ScanKind


def test_personal_only_for_id_documents_and_contacts() -> None:
    assert {kind for kind in ScanKind if Classification(kind=kind).personal} == {
        ScanKind.ID_DOCUMENT,
        ScanKind.CONTACT,
    }


def test_to_public_is_json() -> None:
    result = Classification(
        kind=ScanKind.CUSTOMER_IDENTIFIER,
        search_value="123",
        auto_populate={"email": "a@b.c"},
        rule_index=2,
    )
    public = json.loads(json.dumps(result.to_public()))
    assert public == {
        "kind": "customer_identifier",
        "search_value": "123",
        "auto_populate": {"email": "a@b.c"},
        "fields": {},
        "rule_index": 2,
        "personal": False,
    }


def test_config_error_carries_field() -> None:
    error = ScanConfigError("x[1].regex", "bad")
    assert (error.field, error.code) == ("x[1].regex", "invalid_scan_config")
    assert str(error) == "x[1].regex: bad"

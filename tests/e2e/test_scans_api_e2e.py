"""The retail platform's customer-profile rules over HTTP, and a scanner that is
unplugged and plugged back, against the running daemon."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import TOKEN, Daemon, running, wait_until

# As the retail platform serves them: JavaScript regexes, code-type bits.
IDENTIFIERS: list[dict[str, object]] = [
    # A loyalty card: a prefix, the number captured by the group.
    {"scanner_code_type": 16 | 1024, "regex": "^LOY(\\d{10})$"},
    # A QR code from the customer's phone with their email in it.
    {"scanner_code_type": 1, "regex": "^(?:EMAIL:)?([^@\\s]+@[^@\\s]+\\.[a-z]{2,})$"},
    # A Code 128 member id.
    {"scanner_code_type": 1024, "regex": "^M-([A-Z]{2}\\d{6})$"},
    # A named group (the first group is the search value).
    {"scanner_code_type": 1, "regex": "^https://shop\\.example\\.com/m/(?<member>[0-9A-F]{8})$"},
    # A catch-all that would take any 13 digits, were they not a product.
    {"scanner_code_type": 16, "regex": "^(\\d{13})$"},
]
PLATFORM = {
    "customer_profile_scanner_identifiers": IDENTIFIERS,
    "customer_profile_auto_populate_fields": [
        {"field_path": "email", "regex": "^[^@\\s]+@[^@\\s]+$"},
        {"field_path": "extendedAttributes.loyalty_id", "regex": "^\\d{10}$"},
    ],
}

CONFIG = '[[devices]]\nid = "scanner-1"\nkind = "scanner"\nurl = "emu://scanner/scanner-1"\n'


def _classify(client: httpx.Client, data: str, symbology: str) -> dict[str, Any]:
    response = client.post("/v1/scans/classify", json={"data": data, "symbology": symbology})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["classification"]
    return result


def test_platform_rules_classify_as_configured(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state", CONFIG)) as daemon, daemon.client() as client:
        put = client.put("/v1/config/customer-profile", json=PLATFORM)
        assert put.status_code == 200, put.text
        assert client.get("/v1/config/customer-profile").json() == PLATFORM

        loyalty = _classify(client, "LOY0123456789", "code128")
        assert (loyalty["kind"], loyalty["search_value"], loyalty["rule_index"]) == (
            "customer_identifier", "0123456789", 0,
        )
        assert loyalty["auto_populate"] == {"extendedAttributes.loyalty_id": "0123456789"}
        email = _classify(client, "EMAIL:anna@example.com", "qr")
        assert (email["search_value"], email["rule_index"]) == ("anna@example.com", 1)
        assert email["auto_populate"] == {"email": "anna@example.com"}
        member = _classify(client, "M-AT123456", "code128")
        assert (member["search_value"], member["rule_index"]) == ("AT123456", 2)
        named = _classify(client, "https://shop.example.com/m/00C0FFEE", "qr")
        assert (named["search_value"], named["rule_index"]) == ("00C0FFEE", 3)
        # The same member id as a QR code: rule 2 is for Code 128 only.
        assert _classify(client, "M-AT123456", "qr")["kind"] == "unknown"
        product = _classify(client, "4006381333931", "ean13")
        assert product["kind"] == "product" and product["rule_index"] is None

        bad = {
            **PLATFORM,
            "customer_profile_scanner_identifiers": [
                *IDENTIFIERS,
                {"scanner_code_type": 1, "regex": "(?<=a+)b"},  # variable-width lookbehind
            ],
        }
        refused = client.put("/v1/config/customer-profile", json=bad)
        assert refused.status_code == 422
        assert "customer_profile_scanner_identifiers[5].regex" in refused.json()["detail"]
        assert client.get("/v1/config/customer-profile").json() == PLATFORM  # unchanged

    # The rules in force survive a restart.
    with running(Daemon(tmp_path / "state", CONFIG)) as daemon, daemon.client() as client:
        assert client.get("/v1/config/customer-profile").json() == PLATFORM


def test_a_scanner_unplugged_and_plugged_back_scans_again(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state", CONFIG)) as daemon, daemon.client() as client:

        def state() -> str:
            value: str = client.get("/v1/devices/scanner-1").json()["state"]
            return value

        wait_until(lambda: state() == "ready")
        client.post("/v1/emulators/scanner-1/faults", json={"link": "down"})
        wait_until(lambda: state() == "disconnected")
        client.post("/v1/emulators/scanner-1/faults", json={"link": "up"})
        wait_until(lambda: state() == "ready", timeout=15)
        events: list[dict[str, Any]] = []

        def collect() -> None:
            with httpx.Client(base_url=daemon.base_url, timeout=30) as sse, sse.stream(
                "GET", "/v1/events?since=0&type=scan",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line[5:]))
                        if events[-1]["type"] == "scan":
                            return

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        scanned = client.post(
            "/v1/emulators/scanner-1/scan", json={"data": "4006381333931", "symbology": "ean13"}
        )
        assert scanned.status_code == 200, scanned.text
        reader.join(10)
    scans = [e for e in events if e["type"] == "scan"]
    assert [e["data"]["data"] for e in scans] == ["4006381333931"]
    assert scans[0]["data"]["classification"]["kind"] == "product"

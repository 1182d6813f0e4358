"""Shared helpers for the fiscal end-to-end tests: the official RKSV scenarios, an AT
store with an RKSV cashbox, and a scenario replayed over the daemon's HTTP API.

The mapping from the A-SIT scenario files (``TESTSUITE_TEST_SZENARIO_<n>.json``) to the
API follows the fiscal HTTP contract: START_BELEG is the activate call, STANDARD_BELEG a
sale (a return when its total is negative) paid in cash, STORNO_BELEG a void of an
earlier receipt, TRAINING_BELEG a training and NULL_BELEG a zero receipt. The device a
receipt names becomes the cashbox's active signature unit ``u<n>``; a damaged device is
an emulated fault on that unit.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from drivers.fiscal.rksv import crypto, parse_jws, verify_dep7
from drivers.fiscal.rksv.verify import VerificationResult

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "rksv"
SCENARIOS = sorted(FIXTURES.glob("TESTSUITE_TEST_SZENARIO_*.json")) if FIXTURES.is_dir() else []

STORE_ID = "store-1"
CASHBOX_ID = "kasse-1"
TIMEZONE = "Europe/Vienna"
MARKER_UNIT_FAILED = "Sicherheitseinrichtung ausgefallen"
COMPANY_ID = "U:ATU12345678"

# The scenario's tax sets and the API's AT rate keys.
TAX_SET_RATES = {
    "taxSetNormal": "20",
    "taxSetErmaessigt1": "10",
    "taxSetErmaessigt2": "13",
    "taxSetNull": "0",
    "taxSetBesonders": "19",
}
ZERO_AMOUNTS = {rate: "0.00" for rate in TAX_SET_RATES.values()}
CENT = Decimal("0.01")


def load_scenario(path: Path) -> dict[str, Any]:
    scenario: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return scenario


def vienna(date_to_use: str) -> str:
    """The scenario's local time with the Europe/Vienna offset of that date."""
    return datetime.fromisoformat(date_to_use).replace(tzinfo=ZoneInfo(TIMEZONE)).isoformat()


def money(value: object) -> Decimal:
    # Scenario amounts are JSON floats; str() gives their shortest decimal form.
    amount = Decimal(str(value)).quantize(CENT)
    return amount if amount != 0 else Decimal("0.00")  # no "-0.00"


def scenario_amounts(instruction: dict[str, Any]) -> dict[str, Decimal]:
    return {
        TAX_SET_RATES[name]: money(value)
        for name, value in instruction["simplifiedReceipt"].items()
    }


def random_aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


# --- setup -----------------------------------------------------------------------------


def setup_store(client: httpx.Client, store_id: str = STORE_ID) -> dict[str, Any]:
    """Offline mode for AT (standard signing) and an AT store in Vienna that issues no
    monthly zero receipts by itself: the official scenarios bring their own."""
    response = client.patch(
        "/v1/fiscal/config/offline-mode",
        json={"offline_countries": {"AT": {"enabled": True, "strategy": "standard-signing"}}},
    )
    assert response.status_code == 200, response.text
    response = client.patch(
        f"/v1/fiscal/stores/{store_id}",
        json={"country": "AT", "timezone": TIMEZONE, "automatic_closure_reports": []},
    )
    assert response.status_code == 200, response.text
    store: dict[str, Any] = response.json()
    assert store["id"] == store_id and store["country"] == "AT", store
    return store


def cashbox_body(
    cashbox_id: str = CASHBOX_ID,
    *,
    rksv_cashbox_id: str = "CASHBOX-DEMO-1",
    aes_key: str | None = None,
    units: int = 3,
) -> dict[str, Any]:
    """An RKSV cashbox (closed system AT0) with ``units`` emulated software units."""
    return {
        "id": cashbox_id,
        "fiscal_provider_id": "rksv-at",
        "provider_config": {
            "cashbox_id": rksv_cashbox_id,
            "provider": "AT0",
            "company_id": COMPANY_ID,
            "aes_key": aes_key or random_aes_key(),
            "signature_units": [
                {"id": f"u{n}", "type": "software", "emulated": True} for n in range(units)
            ],
        },
    }


def create_cashbox(
    client: httpx.Client, store_id: str = STORE_ID, **kwargs: Any
) -> dict[str, Any]:
    response = client.post(f"/v1/fiscal/stores/{store_id}/cashboxes", json=cashbox_body(**kwargs))
    assert response.status_code == 201, response.text
    cashbox: dict[str, Any] = response.json()
    return cashbox


def activate(
    client: httpx.Client, cashbox_id: str, reference: str, moment: str
) -> dict[str, Any]:
    response = client.post(
        f"/v1/fiscal/cashboxes/{cashbox_id}/activate",
        json={"receipt_reference": reference, "moment": moment},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def ready_cashbox(
    client: httpx.Client, cashbox_id: str = CASHBOX_ID, *, units: int = 1
) -> dict[str, Any]:
    """A store, an RKSV cashbox and its start receipt: ready for sales."""
    setup_store(client)
    create_cashbox(client, cashbox_id=cashbox_id, units=units)
    activated = activate(client, cashbox_id, f"{cashbox_id}-start", now_vienna())
    assert activated["cashbox"]["state"] == "online", activated
    return activated


def now_vienna() -> str:
    return datetime.now(ZoneInfo(TIMEZONE)).isoformat(timespec="seconds")


def sale_body(reference: str, amount: str = "12.34", moment: str | None = None) -> dict[str, Any]:
    """A cash sale at the normal rate."""
    return {
        "receipt_reference": reference,
        "type": "sale",
        "moment": moment or now_vienna(),
        "amounts": {**ZERO_AMOUNTS, "20": amount},
        "payments": [{"method": "cash", "amount": amount}],
    }


# --- exports ---------------------------------------------------------------------------


def cashbox(client: httpx.Client, cashbox_id: str = CASHBOX_ID) -> dict[str, Any]:
    response = client.get(f"/v1/fiscal/cashboxes/{cashbox_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def exports(client: httpx.Client, cashbox_id: str = CASHBOX_ID) -> tuple[Any, Any]:
    """The DEP 7 export and the cryptographic material container."""
    dep = client.get(f"/v1/fiscal/cashboxes/{cashbox_id}/exports/dep7")
    assert dep.status_code == 200, dep.text
    container = client.get(f"/v1/fiscal/cashboxes/{cashbox_id}/exports/crypto-container")
    assert container.status_code == 200, container.text
    return dep.json(), container.json()


def dep7_receipts(dep7: dict[str, Any]) -> list[str]:
    """Every receipt JWS of a DEP 7 export, in order across its groups."""
    return [jws for group in dep7["Belege-Gruppe"] for jws in group["Belege-kompakt"]]


def qr_text(jws: str) -> str:
    """What the receipt's QR code holds for this JWS: the code, ``_``, base64 signature."""
    parsed = parse_jws(jws)
    return f"{parsed.code.text}_{crypto.b64encode(parsed.signature)}"


def qr_item(answer: dict[str, Any]) -> str:
    items = [i for i in answer["signature_items"] if i["format"] == "QR_CODE"]
    assert len(items) == 1, answer
    data: str = items[0]["data"]
    return data


def verified(
    client: httpx.Client, cashbox_id: str = CASHBOX_ID, rksv_cashbox_id: str = "CASHBOX-DEMO-1"
) -> tuple[VerificationResult, list[str]]:
    """Export, round-trip through JSON (it is handed over as a file), verify."""
    dep, container = exports(client, cashbox_id)
    result = verify_dep7(dep, container, cashbox_id=rksv_cashbox_id)
    return result, dep7_receipts(dep)


# --- scenario replay -------------------------------------------------------------------


@dataclass
class Replay:
    """What the daemon answered, receipt by receipt, for one scenario."""

    scenario: dict[str, Any]
    answers: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[bool] = field(default_factory=list)


def transaction_body(instruction: dict[str, Any], previous: str | None) -> dict[str, Any]:
    """One scenario receipt (not the start receipt) as a transaction request.

    ``previous``: the receipt_reference a storno voids (the last sale, else the last
    receipt of any kind).
    """
    kind = instruction["typeOfReceipt"]
    body: dict[str, Any] = {
        "receipt_reference": instruction["receiptIdentifier"],
        "moment": vienna(instruction["dateToUse"]),
    }
    if kind == "NULL_BELEG":
        return {**body, "type": "zero"}
    amounts = scenario_amounts(instruction)
    body["amounts"] = {rate: str(amount) for rate, amount in amounts.items()}
    total = sum(amounts.values(), Decimal(0))
    if kind == "TRAINING_BELEG":
        return {**body, "type": "training"}
    if kind == "STORNO_BELEG":
        return {**body, "type": "void", "original": previous}
    assert kind == "STANDARD_BELEG", kind
    body["type"] = "return" if total < 0 else "sale"
    if total != 0:
        body["payments"] = [{"method": "cash", "amount": str(total)}]
    return body


def _set_unit(client: httpx.Client, cashbox_id: str, unit: str) -> None:
    response = client.patch(f"/v1/fiscal/cashboxes/{cashbox_id}",
                            json={"active_signature_unit": unit})
    assert response.status_code == 200, response.text
    assert response.json()["active_signature_unit"] == unit, response.text


def _set_fault(client: httpx.Client, cashbox_id: str, unit: str, damaged: bool) -> None:
    response = client.post(
        f"/v1/fiscal/cashboxes/{cashbox_id}/signature-units/{unit}/faults",
        json={"state": "damaged" if damaged else "ok"},
    )
    assert response.status_code == 200, response.text


def replay_scenario(
    client: httpx.Client, scenario: dict[str, Any], cashbox_id: str = CASHBOX_ID
) -> Replay:
    """Create the scenario's cashbox in an AT store and sign every receipt over HTTP."""
    setup_store(client)
    created = create_cashbox(
        client,
        cashbox_id=cashbox_id,
        rksv_cashbox_id=scenario["cashBoxId"],
        aes_key=scenario["base64AesKey"],
        units=scenario["numberOfSignatureDevices"],
    )
    active = created.get("active_signature_unit")
    damaged_units: set[str] = set()
    replay = Replay(scenario)
    previous_sale: str | None = None
    previous_any: str | None = None
    for position, instruction in enumerate(scenario["cashBoxInstructionList"]):
        unit = f"u{instruction['usedSignatureDevice']}"
        if unit != active:
            _set_unit(client, cashbox_id, unit)
            active = unit
        damaged = bool(instruction["signatureDeviceDamaged"])
        if damaged != (unit in damaged_units):
            _set_fault(client, cashbox_id, unit, damaged)
            (damaged_units.add if damaged else damaged_units.discard)(unit)
        reference = instruction["receiptIdentifier"]
        if instruction["typeOfReceipt"] == "START_BELEG":
            assert position == 0, "the start receipt comes first"
            activated = activate(client, cashbox_id, reference, vienna(instruction["dateToUse"]))
            answer = activated["transaction"]
        else:
            body = transaction_body(instruction, previous_sale or previous_any)
            response = client.post(f"/v1/fiscal/cashboxes/{cashbox_id}/transactions", json=body)
            assert response.status_code == 201, f"{reference}: {response.text}"
            answer = response.json()
            if body["type"] in ("sale", "return"):
                previous_sale = reference
        previous_any = reference
        replay.answers.append(answer)
        replay.damaged.append(damaged)
    for unit in sorted(damaged_units):
        _set_fault(client, cashbox_id, unit, False)
    return replay

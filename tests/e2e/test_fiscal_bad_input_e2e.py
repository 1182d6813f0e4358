"""Bad fiscal requests against the running daemon: each one a clear 4xx problem+json
with a ``code``, and the journal untouched (neither ``last_number`` nor the DEP 7 export
of the working cashbox moves)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.fiscal import (
    CASHBOX_ID,
    ZERO_AMOUNTS,
    activate,
    cashbox,
    create_cashbox,
    exports,
    now_vienna,
    ready_cashbox,
    sale_body,
)
from tests.e2e.harness import Daemon, running

IDLE_CASHBOX = "kasse-idle"
RETIRED_CASHBOX = "kasse-retired"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One daemon: an active cashbox with one sale, a provisioned one never activated, and
    one activated and then deactivated."""
    state_dir = tmp_path_factory.mktemp("fiscal-bad-input") / "state"
    with running(Daemon(state_dir, "")) as daemon, daemon.client() as http:
        ready_cashbox(http)
        response = http.post(
            f"/v1/fiscal/cashboxes/{CASHBOX_ID}/transactions", json=sale_body("first-sale")
        )
        assert response.status_code == 201, response.text
        create_cashbox(http, cashbox_id=IDLE_CASHBOX, rksv_cashbox_id="KASSE-IDLE", units=1)
        create_cashbox(http, cashbox_id=RETIRED_CASHBOX, rksv_cashbox_id="KASSE-OLD", units=1)
        activate(http, RETIRED_CASHBOX, "retired-start", now_vienna())
        response = http.post(f"/v1/fiscal/cashboxes/{RETIRED_CASHBOX}/deactivate")
        assert response.status_code == 200, response.text
        yield http


def _journal(client: httpx.Client) -> tuple[Any, ...]:
    """What must not move: both cashboxes' last numbers and the active one's DEP 7."""
    dep, _ = exports(client)
    numbers = [cashbox(client, box)["last_number"]
               for box in (CASHBOX_ID, IDLE_CASHBOX, RETIRED_CASHBOX)]
    return *numbers, dep


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response
    problem: dict[str, Any] = response.json()
    assert isinstance(problem.get("code"), str) and problem["code"], problem
    return problem


def _post(
    client: httpx.Client, body: dict[str, Any], cashbox_id: str = CASHBOX_ID
) -> httpx.Response:
    return client.post(f"/v1/fiscal/cashboxes/{cashbox_id}/transactions", json=body)


def test_unknown_cashbox_is_404(client: httpx.Client) -> None:
    before = _journal(client)
    _problem(client.get("/v1/fiscal/cashboxes/no-such-box"), 404)
    problem = _problem(_post(client, sale_body("to-nowhere"), "no-such-box"), 404)
    assert "no-such-box" in str(problem), problem
    assert _journal(client) == before


def test_provisioned_cashbox_refuses_sales_with_409(client: httpx.Client) -> None:
    before = _journal(client)
    assert cashbox(client, IDLE_CASHBOX)["state"] == "provisioned"
    _problem(_post(client, sale_body("too-early"), IDLE_CASHBOX), 409)
    assert cashbox(client, IDLE_CASHBOX)["state"] == "provisioned"
    assert _journal(client) == before


def test_deactivated_cashbox_refuses_sales_with_409(client: httpx.Client) -> None:
    before = _journal(client)
    assert cashbox(client, RETIRED_CASHBOX)["state"] == "deactivated"
    _problem(_post(client, sale_body("too-late"), RETIRED_CASHBOX), 409)
    assert _journal(client) == before


def test_payments_that_do_not_add_up_are_422(client: httpx.Client) -> None:
    before = _journal(client)
    body = sale_body("short-paid", "12.34")
    body["payments"] = [{"method": "cash", "amount": "10.00"}]
    problem = _problem(_post(client, body), 422)
    assert "payments" in str(problem), problem
    assert _journal(client) == before
    # Refused, not remembered: the same reference with a correct body is signed.
    response = _post(client, sale_body("short-paid", "12.34"))
    assert response.status_code == 201, response.text


def test_negative_amount_on_a_sale_is_422(client: httpx.Client) -> None:
    before = _journal(client)
    body = {
        **sale_body("negative-sale"),
        "amounts": {**ZERO_AMOUNTS, "20": "-5.00"},
        "payments": [{"method": "cash", "amount": "-5.00"}],
    }
    problem = _problem(_post(client, body), 422)
    assert "amounts" in str(problem), problem
    assert _journal(client) == before


def test_strategy_not_allowed_for_the_country_is_422(client: httpx.Client) -> None:
    path = "/v1/fiscal/config/offline-mode"
    before = client.get(path).json()
    journal = _journal(client)
    countries = before["offline_countries"]
    # Every strategy some country allows, minus those Austria allows.
    known = {s for view in countries.values() for s in view["allowed_strategies"]}
    refused = sorted(known - set(countries["AT"]["allowed_strategies"]))
    assert refused, countries
    for strategy in refused:
        response = client.patch(
            path, json={"offline_countries": {"AT": {"enabled": True, "strategy": strategy}}}
        )
        problem = _problem(response, 422)
        assert problem["code"] == "fiscal_strategy_not_allowed", problem
        assert strategy in str(problem), problem
    after = client.get(path).json()
    assert after == before
    assert after["offline_countries"]["AT"]["strategy"] == "standard-signing"
    assert _journal(client) == journal

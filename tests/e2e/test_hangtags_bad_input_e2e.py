"""Bad hang-tag input: each a clear 4xx naming the problem, and nothing printed or stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.hangtags import config, items, load_catalog, product_id
from tests.e2e.harness import Daemon, running

PRINT = "/v1/label-printers/label-1/hang-tags"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    state = tmp_path_factory.mktemp("bad") / "state"
    with running(Daemon(state, config("emu://zpl/label-1", missing_price="reject"))) as daemon, \
            daemon.client() as http:
        load_catalog(http, 10)
        # Product 7 has no outlet price: the reject rule must refuse its tag.
        outlet = [{"product_id": product_id(n), "amount": "9.99"} for n in range(10) if n != 7]
        assert http.put(
            "/v1/pricebooks/shop.outlet", json={"currency": "EUR", "prices": outlet}
        ).status_code == 200
        yield http
        assert http.get("/v1/emulators/label-1").json()["state"]["labels_printed"] == "0"
        assert http.get("/v1/jobs").json()["jobs"] == []


def _problem(response: httpx.Response, status: int, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    for word in words:
        assert word in body["detail"], body
    return body


def test_unknown_pricebook(tmp_path: Path) -> None:
    """A configured pricebook that was never imported (nor sent inline) is named."""
    with running(Daemon(tmp_path / "state", config("emu://zpl/label-1"))) as daemon, \
            daemon.client() as http:
        prices = [{"product_id": product_id(1), "amount": "10.00"}]
        assert http.put(
            "/v1/pricebooks/shop.regular", json={"currency": "EUR", "prices": prices}
        ).status_code == 200
        item = {"product_id": product_id(1), "product": {"name": "A", "gtin": "4006381333931"}}
        _problem(http.post(PRINT, json={"items": [item]}), 404, "unknown_pricebook",
                 "shop.outlet")
        assert http.get("/v1/jobs").json()["jobs"] == []


def test_missing_price_under_the_reject_rule(client: httpx.Client) -> None:
    response = client.post(PRINT, json={"items": items(range(5, 9))})
    _problem(response, 422, "missing_price", product_id(7), "outlet")


def test_invalid_gtin(client: httpx.Client) -> None:
    item = {"product_id": "X-1", "product": {"name": "Bad", "gtin": "4006381333932"},
            "prices": {"shop.regular": "10.00", "outlet": "8.00"}}
    _problem(client.post(PRINT, json={"items": [item]}), 422, "invalid_gtin", "4006381333932")


def test_unknown_product(client: httpx.Client) -> None:
    _problem(client.post(PRINT, json={"items": [{"product_id": "NOPE"}]}), 404,
             "unknown_product", "NOPE")


def test_template_syntax_error_names_the_line(client: httpx.Client) -> None:
    source = "@text x=1 y=1 size=3 | ok\n@text x=1 y=5 size=3 | {% for %}\n"
    body = _problem(client.put("/v1/hang-tags/templates/broken", json={"source": source}),
                    422, "template_syntax")
    assert "line 2" in body["detail"]


def test_template_reaching_python_internals(client: httpx.Client) -> None:
    source = "@text x=1 y=1 size=3 | {{ product.__class__.__mro__ }}\n"
    response = client.put("/v1/hang-tags/templates/evil", json={"source": source})
    if response.status_code == 200:  # sandbox errors show when the template runs
        response = client.post(PRINT, json={"items": items(range(1)), "template": "evil"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"].startswith("template_")


def test_template_that_loops_forever(client: httpx.Client) -> None:
    source = (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
        "@text x=1 y=1 size=3 | x\n"
    )
    response = client.put("/v1/hang-tags/templates/forever", json={"source": source})
    if response.status_code == 200:
        started = time.monotonic()
        response = client.post(PRINT, json={"items": items(range(1)), "template": "forever"})
        assert time.monotonic() - started < 10
    _problem(response, 422, "template_timeout")


def test_ten_megabyte_template(client: httpx.Client) -> None:
    source = "@text x=1 y=1 size=3 | " + "x" * (10 * 1024 * 1024) + "\n"
    response = client.put("/v1/hang-tags/templates/huge", json={"source": source})
    assert response.status_code == 413, response.text
    assert response.json()["code"] in ("body_too_large", "template_too_large")


def test_too_many_copies_and_empty_batches(client: httpx.Client) -> None:
    _problem(client.post(PRINT, json={"items": []}), 422, "invalid_request")
    response = client.post(PRINT, json={"items": [{"product_id": product_id(1), "copies": 0}]})
    assert response.status_code == 422


def test_unknown_template_and_printer(client: httpx.Client) -> None:
    response = client.post(PRINT, json={"items": items(range(1)), "template": "nope"})
    assert response.status_code in (404, 422)
    assert response.json()["code"] == "template_not_found"
    response = client.post(
        "/v1/label-printers/receipt-9/hang-tags", json={"items": items(range(1))}
    )
    _problem(response, 404, "device_not_found")

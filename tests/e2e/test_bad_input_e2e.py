"""Bad input over HTTP: a clear 4xx naming the problem, and nothing printed or stored."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import TOKEN, Daemon, running
from tests.e2e.receipts import small_receipt

pytestmark = pytest.mark.slow

RECEIPTS = "/v1/printers/receipt-1/receipts"
EVIL_TEMPLATE = "{{ ''.__class__.__mro__[1].__subclasses__() }}\n@cut\n"


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


def test_bad_input_gets_clear_4xx_and_nothing_happens(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        json_headers = {"Content-Type": "application/json"}
        _problem(client.post(RECEIPTS, content=b'{"blocks": [', headers=json_headers),
                 400, "malformed_json")
        body = _problem(client.post(RECEIPTS, json={**small_receipt("x"), "colour": "red"}),
                        422, "invalid_request")
        assert "colour" in str(body["detail"])
        body = _problem(
            client.post(RECEIPTS, json={"blocks": [{"type": "feed", "lines": "many"}]}),
            422, "invalid_request",
        )
        assert "lines" in str(body["detail"])
        body = _problem(
            client.post(RECEIPTS, json={"blocks": [
                {"type": "barcode", "symbology": "EAN13", "data": "not-digits"}]}),
            422, "invalid_request",
        )
        body = _problem(
            client.post(RECEIPTS, json={"blocks": [{"type": "feed"}] * 1001}),
            422, "invalid_request",
        )
        assert "body.blocks:" in str(body["detail"]), body
        huge = b'{"blocks": [{"type": "text", "text": "' + b"x" * (2 * 1024 * 1024 + 4096) + b'"}]}'
        _problem(client.post(RECEIPTS, content=huge, headers=json_headers), 413, "body_too_large")
        _problem(client.post("/v1/printers/nope/receipts", json=small_receipt("x")),
                 404, "device_not_found")

        put = client.put("/v1/templates/evil", json={"source": EVIL_TEMPLATE})
        if put.status_code == 200:
            _problem(client.post(RECEIPTS, json={"template": "evil", "data": {}}),
                     422, "template_security")
        else:
            _problem(put, 422, "template_security")

        _problem(client.get("/v1/devices", headers={"Host": "evil.example"}),
                 400, "host_not_allowed")
        _problem(client.get("/docs", headers={"Host": "evil.example"}), 400, "host_not_allowed")
        _problem(client.post(RECEIPTS, json=small_receipt("x"),
                             headers={"Origin": "https://evil.example"}),
                 403, "origin_not_allowed")
        _problem(client.post(RECEIPTS, json=small_receipt("x"), headers={"Origin": "null"}),
                 403, "origin_not_allowed")
        # No proxy stands in front of the daemon: a forwarded scheme is not believed, so it
        # cannot make an https page's origin pass for the daemon's own.
        _problem(client.post(RECEIPTS, json=small_receipt("x"), headers={
            "Origin": f"https://127.0.0.1:{daemon.port}", "X-Forwarded-Proto": "https"}),
                 403, "origin_not_allowed")
        with httpx.Client(base_url=daemon.base_url) as anonymous:
            _problem(anonymous.post(RECEIPTS, json=small_receipt("x")), 401, "unauthorized")
            _problem(anonymous.post(RECEIPTS, json=small_receipt("x"),
                                    headers={"Authorization": "Bearer wrong-" + TOKEN}),
                     401, "unauthorized")
            assert anonymous.get("/v1/health").status_code == 200

        assert client.get("/v1/jobs").json()["jobs"] == []
        assert client.get("/v1/emulators/receipt-1/output?format=text").text.strip() == ""


def test_idempotency_key_replays_and_conflicts(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        headers = {"Idempotency-Key": "sale-4711"}
        first = client.post(RECEIPTS, json=small_receipt("once"), headers=headers)
        again = client.post(RECEIPTS, json=small_receipt("once"), headers=headers)
        assert first.status_code == again.status_code == 202
        assert first.content == again.content
        other = client.post(RECEIPTS, json=small_receipt("twice"), headers=headers)
        _problem(other, 409, "idempotency_conflict")
        client.get(f"/v1/jobs/{first.json()['id']}?wait=10")
        assert len(client.get("/v1/jobs").json()["jobs"]) == 1
        text = client.get("/v1/emulators/receipt-1/output?format=text").text
        assert text.count("once") == 1

"""An RKSV cashbox whose signature unit is a remote service (here its emulator), through
the running daemon: while the service is down receipts carry the failure marker, and
when it is back a zero receipt comes first; the export verifies."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers.fiscal.rksv import verify_dep7
from drivers.fiscal.rksv.remote_emulator import RemoteUnitEmulator, RemoteUnitServer
from tests.e2e.harness import Daemon, running

TOKEN = "hsm-token-0123456789"


@contextmanager
def signing_service() -> Iterator[tuple[RemoteUnitEmulator, str, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = RemoteUnitEmulator(key_id="U:ATU12345678-K1", token=TOKEN, slow_delay=3.0)
    server: RemoteUnitServer = asyncio.run_coroutine_threadsafe(
        emulator.serve("127.0.0.1", 0), loop
    ).result(10)
    try:
        yield emulator, server.base_url, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _fault(loop: asyncio.AbstractEventLoop, emulator: RemoteUnitEmulator, state: str) -> None:
    async def apply() -> None:
        emulator.apply_faults({"state": state})

    asyncio.run_coroutine_threadsafe(apply(), loop).result(10)


def _sale(reference: str, minute: int) -> dict[str, Any]:
    return {
        "receipt_reference": reference,
        "type": "sale",
        "moment": f"2026-11-27T12:{minute:02d}:00+01:00",
        "amounts": {"20": "20.00"},
    }


def test_remote_unit_outage_and_recovery(tmp_path: Path) -> None:
    with signing_service() as (emulator, url, loop), running(
        Daemon(tmp_path / "state")
    ) as daemon, daemon.client() as client:
        assert client.patch(
            "/v1/fiscal/stores/wien-1",
            json={"country": "AT", "timezone": "Europe/Vienna", "automatic_closure_reports": []},
        ).status_code == 200
        cashbox = {
            "id": "k1",
            "fiscal_provider_id": "rksv-at",
            "provider_config": {
                "cashbox_id": "K1",
                "provider": "AT0",
                "aes_key": base64.b64encode(os.urandom(32)).decode(),
                "signature_unit": {"type": "remote", "url": url, "token": TOKEN},
            },
        }
        created = client.post("/v1/fiscal/stores/wien-1/cashboxes", json=cashbox)
        assert created.status_code == 201, created.text
        assert TOKEN not in created.text  # the token is a secret
        assert client.post(
            "/v1/fiscal/cashboxes/k1/activate",
            json={"receipt_reference": "start", "moment": "2026-11-27T12:00:00+01:00"},
        ).status_code == 200
        assert client.post("/v1/fiscal/cashboxes/k1/transactions", json=_sale("s1", 1)).json()[
            "markers"
        ] == []
        _fault(loop, emulator, "down")
        failed = client.post("/v1/fiscal/cashboxes/k1/transactions", json=_sale("s2", 2)).json()
        assert failed["markers"] == ["Sicherheitseinrichtung ausgefallen"], failed
        assert client.get("/v1/fiscal/cashboxes/k1").json()["state"] == "offline"
        _fault(loop, emulator, "ok")
        back = client.post("/v1/fiscal/cashboxes/k1/transactions", json=_sale("s3", 3))
        assert back.status_code == 201 and back.json()["markers"] == [], back.text
        assert client.get("/v1/fiscal/cashboxes/k1").json()["state"] == "online"
        dep = client.get("/v1/fiscal/cashboxes/k1/exports/dep7").json()
        container = client.get("/v1/fiscal/cashboxes/k1/exports/crypto-container").json()
    result = verify_dep7(dep, container, cashbox_id="K1")
    assert result.ok, result.problems
    assert result.receipts_checked == 5  # start, s1, s2 (marked), the zero receipt, s3

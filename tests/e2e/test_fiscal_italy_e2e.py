"""An Italian RT cashbox through the running daemon: the Epson fiscal printer emulator
registers a sale with an exempt item and its void; paper out and an unreachable printer
follow the store's offline strategy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from drivers.fiscal.epson_it.emulator import DEFAULT_SERIAL, FpmateEmulator, FpmateServer
from tests.e2e.harness import Daemon, free_port, running


@contextmanager
def rt_printer() -> Iterator[tuple[FpmateEmulator, int, asyncio.AbstractEventLoop]]:
    """The FPMate emulator on a real port, served from its own event loop thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = FpmateEmulator()
    port = free_port()
    server: FpmateServer = asyncio.run_coroutine_threadsafe(
        emulator.serve("127.0.0.1", port), loop
    ).result(10)
    try:
        yield emulator, port, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _fault(
    loop: asyncio.AbstractEventLoop, emulator: FpmateEmulator, fault: dict[str, str]
) -> None:
    async def apply() -> None:
        emulator.apply_faults(fault)

    asyncio.run_coroutine_threadsafe(apply(), loop).result(10)


def _sale(reference: str) -> dict[str, Any]:
    return {
        "receipt_reference": reference,
        "type": "sale",
        "moment": "2026-11-27T11:00:00+01:00",
        "items": [
            {"description": "Camicia", "quantity": "1", "unit_price": "49.00", "tax_rate": "22"},
            {
                "description": "Buono regalo",
                "quantity": "1",
                "unit_price": "10.00",
                "tax_rate": "0",
                "exemption_class": "gift-card",
            },
        ],
        "payments": [{"method": "card", "amount": "59.00"}],
    }


def _setup(client: httpx.Client, port: int, strategy: str) -> None:
    assert client.patch(
        "/v1/fiscal/config/offline-mode",
        json={"offline_countries": {"IT": {"enabled": True, "strategy": strategy}}},
    ).status_code == 200
    store = {"country": "IT", "timezone": "Europe/Rome", "exemption_codes": {"gift-card": "N2"}}
    assert client.patch("/v1/fiscal/stores/milano-1", json=store).status_code == 200
    cashbox = {
        "id": "rt-1",
        "fiscal_provider_id": "epson-it",
        "provider_config": {
            "hostname": "127.0.0.1",
            "port": port,
            "printer_model": "FP-81 II RT",
            "serial": DEFAULT_SERIAL,
        },
    }
    assert client.post("/v1/fiscal/stores/milano-1/cashboxes", json=cashbox).status_code == 201
    assert client.post("/v1/fiscal/cashboxes/rt-1/activate", json={}).status_code == 200


def test_sale_with_exempt_item_void_and_paper_out(tmp_path: Path) -> None:
    with rt_printer() as (emulator, port, loop), running(
        Daemon(tmp_path / "state")
    ) as daemon, daemon.client() as client:
        _setup(client, port, "manual-receipts")
        sale = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("V-1"))
        assert sale.status_code == 201, sale.text
        assert sale.json()["state"] == "OK" and sale.json()["number"] == 1
        (document,) = emulator.documents
        assert [line.vat_label for line in document.lines] == ["22%", "N2"]
        void = client.post(
            "/v1/fiscal/cashboxes/rt-1/transactions",
            json={"receipt_reference": "V-2", "type": "void", "original": "V-1",
                  "moment": "2026-11-27T11:05:00+01:00"},
        )
        assert void.status_code == 201, void.text
        assert [d.kind.value for d in emulator.documents] == ["sale", "void"]
        closure = client.post("/v1/fiscal/cashboxes/rt-1/closures")
        assert closure.status_code == 200, closure.text
        assert len(emulator.closures) == 1
        # The store closes each day by itself: the next day's first sale closes this one.
        today = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("V-5"))
        assert today.status_code == 201, today.text
        next_day = {**_sale("V-6"), "moment": "2026-11-28T09:00:00+01:00"}
        assert client.post(
            "/v1/fiscal/cashboxes/rt-1/transactions", json=next_day
        ).status_code == 201
        assert len(emulator.closures) == 2
        assert emulator.documents[-1].z_number == emulator.closures[-1].z_number + 1

        _fault(loop, emulator, {"paper": "out"})
        out = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("V-3"))
        assert out.status_code == 503 and out.json()["code"] == "paper_out", out.text
        assert len(emulator.documents) == 4
        _fault(loop, emulator, {"paper": "ok", "link": "down"})
        manual = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("V-4"))
        assert manual.status_code == 503
        assert manual.json()["code"] == "fiscal_manual_receipt_required"


def test_no_signing_records_the_sale_unsigned_while_the_printer_is_away(tmp_path: Path) -> None:
    with rt_printer() as (emulator, port, loop), running(
        Daemon(tmp_path / "state")
    ) as daemon, daemon.client() as client:
        _setup(client, port, "no-signing")
        _fault(loop, emulator, {"link": "down"})
        answer = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("U-1"))
        assert answer.status_code == 201, answer.text
        assert answer.json()["state"] == "FAILED"
        assert answer.json()["markers"] == ["DOCUMENTO NON FISCALE"]
        again = client.post("/v1/fiscal/cashboxes/rt-1/transactions", json=_sale("U-1"))
        assert again.status_code == 200 and again.json() == answer.json()
    assert emulator.documents == []


def test_the_open_day_is_the_stores_and_outlives_a_restart(tmp_path: Path) -> None:
    # The printer stamps documents with its own clock (here: today); the day that the
    # next sale is compared with is the store's day of the last sale, also after a restart.
    with rt_printer() as (emulator, port, _loop):
        with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
            _setup(client, port, "manual-receipts")
            first = {**_sale("D-1"), "moment": "2030-03-01T18:00:00+01:00"}
            assert client.post(
                "/v1/fiscal/cashboxes/rt-1/transactions", json=first
            ).status_code == 201
        with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
            same_day = {**_sale("D-2"), "moment": "2030-03-01T19:00:00+01:00"}
            assert client.post(
                "/v1/fiscal/cashboxes/rt-1/transactions", json=same_day
            ).status_code == 201
            assert emulator.closures == []
            next_day = {**_sale("D-3"), "moment": "2030-03-02T09:00:00+01:00"}
            assert client.post(
                "/v1/fiscal/cashboxes/rt-1/transactions", json=next_day
            ).status_code == 201
    assert len(emulator.closures) == 1
    assert [d.z_number for d in emulator.documents] == [
        emulator.closures[0].z_number,
        emulator.closures[0].z_number,
        emulator.closures[0].z_number + 1,
    ]

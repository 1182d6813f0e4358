"""Fiscal figures: RKSV signed sales over HTTP, from request to the signed, journaled
answer (the daemon commits the journal entry before it answers).

An AT store and an RKSV cashbox with one software signature unit, activated; then the
p50/p99 latency of 500 sequential sales on one keep-alive connection, and the sustained
rate of signed receipts with 8 concurrent clients (each on its own keep-alive
connection) over about 3 s. Targets: p99 <= 20 ms, >= 300 signed receipts/s.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.httpclient import HttpConnection

SALES = int(os.environ.get("BENCH_FISCAL_SALES", "500"))
WARM_UP = 20
CLIENTS = 8
SECONDS = 3.0
TOKEN = "bench-token-0123456789abcdef"
CASHBOX = "kasse-1"
TRANSACTIONS = f"/v1/fiscal/cashboxes/{CASHBOX}/transactions"
VIENNA = ZoneInfo("Europe/Vienna")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _now() -> str:
    return datetime.now(VIENNA).isoformat(timespec="seconds")


def _sale(reference: str) -> dict[str, Any]:
    return {
        "receipt_reference": reference,
        "type": "sale",
        "moment": _now(),
        "amounts": {"20": "12.34", "10": "2.50", "13": "0.00", "0": "0.00", "19": "0.00"},
        "payments": [{"method": "cash", "amount": "14.84"}],
    }


async def _expect(http: HttpConnection, status: int, method: str, path: str, body: Any) -> Any:
    got, answer = await http.request(method, path, body)
    assert got == status, (method, path, got, answer)
    return answer


async def _set_up(http: HttpConnection) -> None:
    await _expect(http, 200, "PATCH", "/v1/fiscal/config/offline-mode",
                  {"offline_countries": {"AT": {"enabled": True, "strategy": "standard-signing"}}})
    await _expect(http, 200, "PATCH", "/v1/fiscal/stores/store-1",
                  {"country": "AT", "timezone": "Europe/Vienna"})
    await _expect(http, 201, "POST", "/v1/fiscal/stores/store-1/cashboxes", {
        "id": CASHBOX,
        "fiscal_provider_id": "rksv-at",
        "provider_config": {
            "cashbox_id": "BENCH-KASSE-1",
            "provider": "AT0",
            "company_id": "U:ATU12345678",
            "aes_key": base64.b64encode(os.urandom(32)).decode("ascii"),
            "signature_units": [{"id": "u0", "type": "software"}],
        },
    })
    await _expect(http, 200, "POST", f"/v1/fiscal/cashboxes/{CASHBOX}/activate",
                  {"receipt_reference": "start", "moment": _now()})


async def _sequential(http: HttpConnection) -> list[float]:
    for n in range(WARM_UP):
        await _expect(http, 201, "POST", TRANSACTIONS, _sale(f"warm-{n}"))
    latencies = []
    for n in range(SALES):
        body = _sale(f"seq-{n}")
        started = time.perf_counter()
        answer = await _expect(http, 201, "POST", TRANSACTIONS, body)
        latencies.append(time.perf_counter() - started)
        assert answer["state"] == "OK" and answer["signature"], answer
    return latencies


async def _concurrent(port: int) -> float:
    """Signed receipts per second with ``CLIENTS`` clients posting as fast as answered."""
    deadline = time.perf_counter() + SECONDS

    async def client(name: int) -> int:
        done = 0
        async with HttpConnection("127.0.0.1", port, TOKEN) as http:
            while time.perf_counter() < deadline:
                answer = await _expect(http, 201, "POST", TRANSACTIONS, _sale(f"c{name}-{done}"))
                assert answer["state"] == "OK", answer
                done += 1
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return sum(counts) / (time.perf_counter() - started)


async def _figures(port: int) -> tuple[list[float], float]:
    async with HttpConnection("127.0.0.1", port, TOKEN) as http:
        await _set_up(http)
        latencies = await _sequential(http)
    return latencies, await _concurrent(port)


def run(report: Any) -> None:
    from bench.__main__ import serve

    with tempfile.TemporaryDirectory() as tmp:
        proc, port, _ = serve(Path(tmp) / "fiscal.toml", Path(tmp) / "state", "")
        try:
            latencies, rate = asyncio.run(_figures(port))
        finally:
            proc.terminate()
            proc.wait()
    report("fiscal_sale_p50", statistics.median(latencies) * 1000, "ms")
    report("fiscal_sale_p99", _percentile(latencies, 99) * 1000, "ms")
    report(f"fiscal_signed_receipts_{CLIENTS}_clients", rate, "receipts/s")

"""Scan figures: from the byte written into the scanner's pseudo-terminal to the
classified ``scan`` event a WebSocket client receives, p50/p99 over 2,000 scans, and
the highest sustained scan rate with no loss.

Baseline in the same run: the same scans read straight off the other end of a
pseudo-terminal by this process (what a plain script reading the port would see).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import tty
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

LATENCY_SCANS = int(os.environ.get("BENCH_SCANS", "2000"))
RATES = (1000, 2000, 4000, 8000, 16000, 32000)
RATE_SECONDS = 2.0
TOKEN = "bench-token-0123456789abcdef"


def _scan(n: int) -> bytes:
    return f"]C0MEM-{n:08d}\r".encode()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _direct_latencies() -> list[float]:
    master, slave = os.openpty()
    tty.setraw(slave)
    loop = asyncio.get_running_loop()
    os.set_blocking(slave, False)
    arrived: asyncio.Queue[bytes] = asyncio.Queue()
    buffer = bytearray()

    def readable() -> None:
        buffer.extend(os.read(slave, 65536))
        while (end := buffer.find(b"\r")) >= 0:
            arrived.put_nowait(bytes(buffer[:end]))
            del buffer[: end + 1]

    loop.add_reader(slave, readable)
    out = []
    try:
        for n in range(LATENCY_SCANS):
            started = time.perf_counter()
            os.write(master, _scan(n))
            await arrived.get()
            out.append(time.perf_counter() - started)
    finally:
        loop.remove_reader(slave)
        os.close(master)
        os.close(slave)
    return out


async def _daemon_figures(port: int, master: int) -> tuple[list[float], int]:
    url = f"ws://127.0.0.1:{port}/v1/ws?type=scan"
    async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        latencies = []
        for n in range(LATENCY_SCANS):
            started = time.perf_counter()
            os.write(master, _scan(n))
            event: dict[str, Any] = json.loads(await ws.recv())
            latencies.append(time.perf_counter() - started)
            assert event["data"]["classification"]["kind"] == "customer_identifier", event
        best = 0
        serial = LATENCY_SCANS
        for rate in RATES:
            total = int(rate * RATE_SECONDS)
            numbers = range(serial, serial + total)
            serial += total
            received: list[int] = []

            async def receive(expected: int, into: list[int] = received) -> None:
                while len(into) < expected:
                    event = json.loads(await ws.recv())
                    if event["type"] != "scan":
                        return  # events.overflow: this client fell behind, scans were lost
                    into.append(int(event["data"]["data"][4:]))

            receiver = asyncio.create_task(receive(total))
            started = time.perf_counter()
            tick = 0.01
            per_tick = max(1, int(rate * tick))
            for index in range(0, total, per_tick):
                os.write(master, b"".join(_scan(n) for n in numbers[index : index + per_tick]))
                delay = started + (index + per_tick) / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            try:
                async with asyncio.timeout(RATE_SECONDS + 2):
                    await receiver
            except TimeoutError:
                break
            elapsed = time.perf_counter() - started
            if received != list(numbers) or elapsed > RATE_SECONDS * 1.2:
                break  # lost, reordered, or fell behind: not sustained
            best = rate
    return latencies, best


def run(report: Any) -> None:
    from bench.__main__ import serve

    direct = asyncio.run(_direct_latencies())
    master, slave = os.openpty()
    path = os.ttyname(slave)
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, _ = serve(
            Path(tmp) / "scans.toml",
            Path(tmp) / "state",
            "[customer_profile]\n"
            "customer_profile_scanner_identifiers = [\n"
            "  { scanner_code_type = 1024, regex = '^MEM-(\\d{8})$' },\n"
            "]\n"
            '[[devices]]\nid = "scanner-1"\nkind = "scanner"\n'
            f'url = "serial://{path}?baudrate=115200"\n',
        )
        try:
            time.sleep(0.5)  # the scanner's port is opened right after start
            latencies, best = asyncio.run(_daemon_figures(port, master))
        finally:
            proc.terminate()
            proc.wait()
            os.close(master)
            os.close(slave)
    report("scan_direct_p50", statistics.median(direct) * 1000, "ms")
    report("scan_to_websocket_p50", statistics.median(latencies) * 1000, "ms")
    report("scan_to_websocket_p99", _percentile(latencies, 99) * 1000, "ms")
    report(
        "scan_p50_ratio_over_direct", statistics.median(latencies) / statistics.median(direct), "x"
    )
    report("scan_sustained_rate_no_loss", best, "scans/s")

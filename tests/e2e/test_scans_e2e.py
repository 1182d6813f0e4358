"""Scanners end to end: bytes written into a scanner's serial pseudo-terminal come out
of the running daemon as classified ``scan`` events on WebSocket and SSE clients."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.harness import TOKEN, Daemon, running, wait_until

SCANS = 10_000


RULES = r"""
[customer_profile]
default_region = "AT"
customer_profile_scanner_identifiers = [
  { scanner_code_type = 1024, regex = '^MEM-(\d{8})$' },
  { scanner_code_type = 1, regex = '^https://loyalty\.example\.com/c/(?<id>[A-Z0-9]+)$' },
]
customer_profile_auto_populate_fields = [
  { field_path = "email", regex = '^[^@\s]+@[^@\s]+$' },
]
"""


def config(scanner_url: str, extra: str = "") -> str:
    """Customer-profile rules in the retail platform's own keys (JavaScript regexes),
    and one scanner on lane till-1."""
    return (
        RULES
        + "[[devices]]\n"
        + 'id = "scanner-1"\nkind = "scanner"\n'
        + f'url = "{scanner_url}"\nlane = "till-1"\n'
        + '[devices.scanner]\nsuffix = "cr"\naim = true\n'
        + extra
    )


@contextlib.contextmanager
def scanner_pty() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: the test writes as the scanner into the master side, the daemon
    reads the other side like a serial port."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    try:
        yield master, path
    finally:
        os.close(master)
        os.close(slave)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:4096])
        view = view[written:]


class WsCollector(threading.Thread):
    """A WebSocket client collecting scan events (optionally resuming after ``since``)."""

    def __init__(self, daemon: Daemon, since: int | None = None, stop_after: int = SCANS) -> None:
        super().__init__(daemon=True)
        query = "type=scan&lane=till-1" + ("" if since is None else f"&since={since}")
        self.url = f"ws://127.0.0.1:{daemon.port}/v1/ws?{query}"
        self.events: list[dict[str, Any]] = []
        self.stop_after = stop_after
        self.ready = threading.Event()

    def run(self) -> None:
        with connect(
            self.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=10
        ) as ws:
            self.ready.set()
            while len(self.events) < self.stop_after:
                event = json.loads(ws.recv(timeout=60))
                if event["type"] == "scan":
                    self.events.append(event)


class SseCollector(threading.Thread):
    def __init__(self, daemon: Daemon) -> None:
        super().__init__(daemon=True)
        self.daemon_url = daemon.base_url
        self.events: list[dict[str, Any]] = []
        self.ready = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.daemon_url, timeout=60) as client, client.stream(
            "GET",
            "/v1/events?type=scan&device_id=scanner-1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            self.ready.set()
            for line in response.iter_lines():
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    if event["type"] == "scan":
                        self.events.append(event)
                        if len(self.events) >= SCANS:
                            return


def _member(n: int) -> str:
    return f"MEM-{n:08d}"


def _check_in_order(events: list[dict[str, Any]], numbers: range) -> None:
    assert [e["data"]["data"] for e in events] == [_member(n) for n in numbers]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    first = events[0]["data"]
    assert first["symbology"] == "code128" and first["code_type"] == 1024
    assert first["lane"] == "till-1"
    assert first["classification"]["kind"] == "customer_identifier"
    assert first["classification"]["search_value"] == f"{numbers[0]:08d}"


@pytest.mark.slow
def test_10000_scans_in_a_burst_reach_websocket_and_sse_in_order_and_resume(
    tmp_path: Path,
) -> None:
    with scanner_pty() as (master, path), running(
        Daemon(tmp_path / "state", config(f"serial://{path}?baudrate=115200"))
    ) as daemon, daemon.client() as client:
        wait_until(lambda: client.get("/v1/devices/scanner-1").json()["state"] == "ready")
        ws = WsCollector(daemon)
        half = WsCollector(daemon, stop_after=SCANS // 2)  # leaves halfway, then resumes
        sse = SseCollector(daemon)
        for collector in (ws, half, sse):
            collector.start()
            assert collector.ready.wait(10)
        time.sleep(0.2)  # the SSE response is streaming once its first byte came
        burst = b"".join(f"]C0{_member(n)}\r".encode() for n in range(SCANS))
        _write_all(master, burst)
        half.join(60)
        last_seen = half.events[-1]["seq"]
        resumed = WsCollector(daemon, since=last_seen, stop_after=SCANS - SCANS // 2)
        resumed.start()
        for collector in (ws, sse, resumed):
            collector.join(60)
        status = client.get("/v1/devices/scanner-1").json()["status"]
    _check_in_order(ws.events, range(SCANS))
    _check_in_order(sse.events, range(SCANS))
    _check_in_order(half.events + resumed.events, range(SCANS))
    assert status["scans"] == SCANS


def test_other_lanes_do_not_see_the_scans(tmp_path: Path) -> None:
    with scanner_pty() as (master, path), running(
        Daemon(tmp_path / "state", config(f"serial://{path}?baudrate=115200"))
    ) as daemon, daemon.client() as client:
        wait_until(lambda: client.get("/v1/devices/scanner-1").json()["state"] == "ready")
        mine = WsCollector(daemon, stop_after=1)
        mine.start()
        assert mine.ready.wait(10)
        other_url = f"ws://127.0.0.1:{daemon.port}/v1/ws?type=scan&lane=till-2"
        with connect(other_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            _write_all(master, b"]C0MEM-00000042\r")
            mine.join(10)
            assert [e["data"]["data"] for e in mine.events] == ["MEM-00000042"]
            with pytest.raises(TimeoutError):
                ws.recv(timeout=0.5)

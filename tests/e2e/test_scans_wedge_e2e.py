"""A keyboard-wedge scanner through the running daemon: umockdev stands in for
/dev/input/event7 and replays what a German- and a US-configured scanner type for the
same scans; the daemon, told each scanner's layout, publishes the same scan events."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import TOKEN, Daemon, running, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "drivers" / "scanner" / "fixtures"
NODE = "/dev/input/event7"
SCANS = 5  # what make_wedge_evemu.py types

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("umockdev-run") is None,
        reason="umockdev-run not installed (apt-get install umockdev)",
    ),
]


def _scans_through_the_daemon(tmp_path: Path, layout: str, evemu: str) -> list[dict[str, Any]]:
    config = (
        "[customer_profile]\n"
        "customer_profile_auto_populate_fields = [\n"
        "  { field_path = 'email', regex = '^[^@\\s]+@[^@\\s]+$' },\n"
        "]\n"
        "[[devices]]\n"
        'id = "wedge-1"\nkind = "scanner"\n'
        f'url = "evdev://{NODE}"\nlane = "till-1"\n'
        f'[devices.scanner]\nlayout = "{layout}"\ngap_ms = 100\n'
    )
    umockdev = [
        "umockdev-run",
        "--device", str(FIXTURES / "wedge-kbd.umockdev"),
        "--ioctl", f"{NODE}={FIXTURES / 'wedge-kbd.ioctl'}",
        "--evemu-events", f"{NODE}={FIXTURES / evemu}",
        "--",
    ]  # fmt: skip
    events: list[dict[str, Any]] = []
    with running(Daemon(tmp_path / layout, config, prefix=umockdev)) as daemon:

        def collect() -> None:
            # since=0: the scans may come before this client connects; the ring has them.
            with httpx.Client(base_url=daemon.base_url, timeout=30) as client, client.stream(
                "GET",
                "/v1/events?since=0&type=scan&lane=till-1",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        event = json.loads(line[5:])
                        if event["type"] == "scan":
                            events.append(event["data"])
                            if len(events) == SCANS:
                                return

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        wait_until(lambda: len(events) == SCANS, timeout=20)
    return events


def test_german_and_us_wedges_deliver_the_same_scans(tmp_path: Path) -> None:
    german = _scans_through_the_daemon(tmp_path, "de", "wedge-de.evemu")
    american = _scans_through_the_daemon(tmp_path, "us", "wedge-us.evemu")
    assert german == american
    texts = [scan["data"] for scan in german]
    assert texts[:2] == ["4006381333931", "Grüße@example.com"]
    assert german[0]["symbology"] == "ean13" and german[0]["source"] == "wedge"
    assert german[0]["classification"]["kind"] == "product"
    assert german[1]["classification"]["auto_populate"] == {"email": "Grüße@example.com"}

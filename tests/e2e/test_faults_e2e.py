"""Printer faults against the real daemon: jobs wait, resume by themselves, never reprint."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Daemon, running, wait_until
from tests.e2e.receipts import small_receipt

pytestmark = pytest.mark.slow

FAULTS = "/v1/emulators/receipt-1/faults"


def _job(client: httpx.Client, job_id: str) -> dict[str, object]:
    data: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
    return data


def _output(client: httpx.Client) -> str:
    return client.get("/v1/emulators/receipt-1/output?format=text").text


@pytest.mark.parametrize(
    ("fault", "clear", "reason"),
    [
        ({"paper": "out"}, {"paper": "ok"}, "paper_out"),
        ({"cover": "open"}, {"cover": "closed"}, "cover_open"),
        ({"online": "false"}, {"online": "true"}, "offline"),
    ],
)
def test_fault_holds_job_then_it_completes_once(
    tmp_path: Path, fault: dict[str, str], clear: dict[str, str], reason: str
) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        assert client.post(FAULTS, json=fault).status_code == 200
        marker = f"held-by-{reason}"
        job = client.post("/v1/printers/receipt-1/receipts", json=small_receipt(marker)).json()
        wait_until(lambda: _job(client, job["id"])["state"] == "held")
        assert _job(client, job["id"])["held_reason"] == reason
        device = client.get("/v1/devices/receipt-1").json()
        assert device["state"] == "attention"
        assert device["status"]["blocking_reason"] == reason
        assert marker not in _output(client)

        assert client.post(FAULTS, json=clear).status_code == 200
        done = client.get(f"/v1/jobs/{job['id']}?wait=10").json()
        assert done["state"] == "done"
        assert _output(client).count(marker) == 1
        assert client.get("/v1/devices/receipt-1").json()["state"] == "ready"


def test_paper_near_end_only_warns(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        client.post(FAULTS, json={"paper": "near_end"})
        job = client.post(
            "/v1/printers/receipt-1/receipts?wait=10", json=small_receipt("near end")
        ).json()
        assert job["state"] == "done"
        status = client.get("/v1/devices/receipt-1").json()["status"]
        assert status["paper"] == "near_end"
        assert "paper_near_end" in status["warnings"]


def test_printer_gone_before_job_retries_when_back(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        client.post(FAULTS, json={"link": "down"})
        job = client.post("/v1/printers/receipt-1/receipts", json=small_receipt("gone")).json()
        wait_until(lambda: _job(client, job["id"])["state"] == "held")
        assert _job(client, job["id"])["held_reason"] == "disconnected"
        client.post(FAULTS, json={"link": "up"})
        assert client.get(f"/v1/jobs/{job['id']}?wait=20").json()["state"] == "done"
        assert _output(client).count("gone") == 1


def test_printer_gone_mid_job_is_in_doubt_never_reprinted(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        # ~4 KB at 2000 bytes/s: the link drops while the bytes are on the wire.
        body = small_receipt("mid-job")
        body["blocks"].insert(1, {"type": "text", "text": "x" * 4000})
        client.post(FAULTS, json={"link_bps": "2000"})
        job = client.post("/v1/printers/receipt-1/receipts", json=body).json()
        wait_until(lambda: _job(client, job["id"])["state"] == "sending")
        client.post(FAULTS, json={"link": "down"})
        wait_until(lambda: _job(client, job["id"])["state"] == "in_doubt")
        client.post(FAULTS, json={"link": "up"})
        # Nothing reprints on its own.
        assert client.get(f"/v1/jobs/{job['id']}?wait=1").json()["state"] == "in_doubt"
        assert _output(client).count("mid-job") <= 1
        # The person at the till checks the printer and asks for it again.
        client.delete("/v1/emulators/receipt-1/output")
        retried = client.post(f"/v1/jobs/{job['id']}/retry")
        assert retried.status_code == 200, retried.text
        assert client.get(f"/v1/jobs/{job['id']}?wait=20").json()["state"] == "done"
        assert _output(client).count("mid-job") == 1


def test_drawer_kick(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        job = client.post("/v1/printers/receipt-1/drawer?wait=10", json={"pin": 5}).json()
        assert job["state"] == "done"
        assert "DRAWER" in _output(client).upper()


def test_drawer_kick_expires_rather_than_firing_late(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        client.post(FAULTS, json={"cover": "open"})
        job = client.post(
            "/v1/printers/receipt-1/drawer", json={"pin": 2, "deadline_s": 1}
        ).json()
        wait_until(lambda: _job(client, job["id"])["state"] == "expired", timeout=10)
        client.post(FAULTS, json={"cover": "closed"})
        # Give the worker a chance to (wrongly) fire it.
        client.get(f"/v1/jobs/{job['id']}?wait=1")
        assert "DRAWER" not in _output(client).upper()


def test_clean_stop_finishes_the_job_on_the_wire(tmp_path: Path) -> None:
    body = small_receipt("stopping")
    body["blocks"].insert(1, {"type": "text", "text": "x" * 3000})
    daemon = Daemon(tmp_path / "state")
    with running(daemon), daemon.client() as client:
        client.post(FAULTS, json={"link_bps": "3000"})  # about a second on the wire
        job = client.post("/v1/printers/receipt-1/receipts", json=body).json()
        wait_until(lambda: _job(client, job["id"])["state"] == "sending")
        assert daemon.stop() == 0  # SIGTERM while the bytes are going out
    restarted = Daemon(tmp_path / "state")
    with running(restarted), restarted.client() as client:
        assert _job(client, job["id"])["state"] == "done"

"""Events, listings and the API description, against the real daemon process."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import TOKEN, Daemon, running, wait_until
from tests.e2e.receipts import small_receipt

pytestmark = pytest.mark.slow


def _collect_sse(daemon: Daemon, events: list[dict[str, object]], stop: threading.Event,
                 headers: dict[str, str] | None = None, path: str = "/v1/events") -> None:
    with contextlib.suppress(httpx.HTTPError), httpx.Client(
        base_url=daemon.base_url, timeout=30
    ) as client, client.stream(
        "GET", path, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    ) as response:
        # The stream ends with an error when the daemon stops: that is the end here.
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
            if stop.is_set():
                return


def test_sse_reports_job_and_device_changes_and_resumes(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        events: list[dict[str, object]] = []
        stop = threading.Event()
        # since=0: everything still in the daemon's history, so no race with the POST.
        reader = threading.Thread(
            target=_collect_sse, args=(daemon, events, stop, None, "/v1/events?since=0"),
            daemon=True,
        )
        reader.start()
        job = client.post("/v1/printers/receipt-1/receipts?wait=10", json=small_receipt("sse"))
        job_id = job.json()["id"]
        client.post("/v1/emulators/receipt-1/faults", json={"paper": "out"})
        wait_until(lambda: any(
            e["type"] == "device.status" and isinstance(e["data"], dict)
            and e["data"]["state"] == "attention" for e in events
        ))
        assert events[0]["type"] == "events.gap"  # history before seq 0 is not kept
        events = events[1:]
        states = [e["data"]["state"] for e in events  # type: ignore[index]
                  if e["type"] == "job.state" and e["data"]["id"] == job_id]  # type: ignore[index]
        # An idle printer takes a job at once: it may start as sending rather than queued.
        assert states[0] in ("queued", "sending") and states[-1] == "done" and "sending" in states
        seqs = [int(e["seq"]) for e in events]  # type: ignore[call-overload]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        stop.set()

        # Resume: only what came after the given sequence number.
        later: list[dict[str, object]] = []
        stop2 = threading.Event()
        middle = seqs[len(seqs) // 2]
        resumed = threading.Thread(
            target=_collect_sse, args=(daemon, later, stop2, {"Last-Event-ID": str(middle)}),
            daemon=True,
        )
        resumed.start()
        wait_until(lambda: len(later) >= len([s for s in seqs if s > middle]))
        stop2.set()
        assert [e["seq"] for e in later][: len(seqs) // 2] == [s for s in seqs if s > middle][
            : len(seqs) // 2
        ]


def test_jobs_listing_filters_and_pages(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        ids = [
            client.post("/v1/printers/receipt-1/receipts?wait=10",
                        json=small_receipt(f"list-{n}")).json()["id"]
            for n in range(5)
        ]
        client.post("/v1/printers/receipt-1/drawer?wait=10", json={"pin": 2})
        first = client.get("/v1/jobs", params={"kind": "receipt", "limit": 3}).json()
        assert [j["id"] for j in first["jobs"]] == ids[::-1][:3]
        second = client.get(
            "/v1/jobs", params={"kind": "receipt", "limit": 3, "cursor": first["next_cursor"]}
        ).json()
        assert [j["id"] for j in second["jobs"]] == ids[::-1][3:]
        done = client.get("/v1/jobs", params={"state": "done", "device_id": "receipt-1"}).json()
        assert len(done["jobs"]) == 6
        assert client.get("/v1/jobs", params={"state": "queued"}).json()["jobs"] == []
        bad = client.get("/v1/jobs", params={"state": "printing"})
        assert bad.status_code == 422


def test_openapi_and_docs_are_served(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon, httpx.Client(
        base_url=daemon.base_url
    ) as anonymous:
        spec = anonymous.get("/openapi.json")
        assert spec.status_code == 200
        assert "/v1/printers/{device_id}/receipts" in spec.json()["paths"]
        assert anonymous.get("/docs").status_code == 200


def test_preview_prints_nothing_and_codes_decode(tmp_path: Path) -> None:
    import io

    import zxingcpp
    from PIL import Image

    from tests.e2e.receipts import BARCODE, QR, UNICODE_LINE, unicode_receipt

    with running(Daemon(tmp_path / "state")) as daemon, daemon.client() as client:
        text = client.post("/v1/receipts/preview?format=text", json=unicode_receipt())
        assert text.status_code == 200 and UNICODE_LINE in text.text
        png = client.post(
            "/v1/receipts/preview?format=png&device_id=receipt-1", json=unicode_receipt()
        )
        assert png.headers["content-type"] == "image/png"
        found = {r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))}
        assert {BARCODE, QR} <= found
        # A preview is not a print: no job, nothing on the paper.
        assert client.get("/v1/jobs").json()["jobs"] == []
        assert client.get("/v1/emulators/receipt-1/output?format=text").text.strip() == ""

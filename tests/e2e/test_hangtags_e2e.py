"""Hang tags end to end: the real daemon over HTTP, the ZPL emulator over TCP and in-process.

Each label the emulator printed is checked for what it shows (the product, both prices
formatted for the request's locale) and its barcode is decoded from the rendered PNG.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp

from drivers.zpl.emulator import PrintedLabel
from drivers.zpl.render import label_text, render_label
from tests.e2e.hangtags import config, ean13, items, load_catalog, money, outlet, regular
from tests.e2e.harness import Daemon, ThreadedZplEmulator, running, wait_until

NAME = re.compile(r"Shirt (\d{5})")


def _wait_done(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}?wait=10").json()
        if job["state"] in ("done", "failed", "cancelled", "expired", "in_doubt"):
            return job
    raise AssertionError(f"job {job_id} did not finish: {job}")


def _product_of(printed: PrintedLabel) -> int:
    return _product_in(label_text(printed.label))


def _product_in(text: str) -> int:
    match = NAME.search(text)
    assert match, text
    return int(match.group(1))


LOCALES = {"de-AT": range(0, 334), "en-GB": range(334, 667), "ja-JP": range(667, 1000)}


def _print_1000_tags(client: httpx.Client) -> None:
    load_catalog(client, 1000)
    jobs = {}
    for locale, numbers in LOCALES.items():
        response = client.post(
            "/v1/label-printers/label-1/hang-tags",
            json={"items": items(numbers), "locale": locale},
        )
        assert response.status_code == 202, response.text
        assert response.json()["labels_total"] == len(numbers)
        jobs[locale] = response.json()["id"]
    for job_id in jobs.values():
        job = _wait_done(client, job_id)
        assert job["state"] == "done", job
        assert job["labels_done"] == job["labels_total"] and job["labels_in_doubt"] == 0


def _check_labels(texts: list[str], image_of: Callable[[int], Any]) -> None:
    """Each label shows its product's two prices formatted for the locale it was asked
    in, and its barcode decodes to the product's GTIN; every tag printed exactly once."""
    assert len(texts) == 1000
    seen: Counter[int] = Counter()
    for index, text in enumerate(texts):
        n = _product_in(text)
        locale = next(loc for loc, numbers in LOCALES.items() if n in numbers)
        assert money(outlet(n), locale) in text, (locale, text)
        assert money(regular(n), locale) in text, (locale, text)
        found = zxingcpp.read_barcodes(image_of(index))
        assert [b.text for b in found if b.format == zxingcpp.BarcodeFormat.EAN13] == [ean13(n)]
        seen[n] += 1
    assert seen == Counter(range(1000))


@pytest.mark.slow
def test_1000_tags_two_pricebooks_three_locales_over_tcp(tmp_path: Path) -> None:
    with ThreadedZplEmulator() as emulator, running(
        Daemon(tmp_path / "state", config(emulator.url))
    ) as daemon, daemon.client() as client:
        _print_1000_tags(client)
    printed = emulator.emulator.printed  # the emulator thread has stopped
    _check_labels(
        [label_text(p.label) for p in printed], lambda i: render_label(printed[i].label)
    )


@pytest.mark.slow
def test_1000_tags_two_pricebooks_three_locales_in_process(tmp_path: Path) -> None:
    """The emulator inside the daemon (emu://): what it printed is read over HTTP."""
    with running(Daemon(tmp_path / "state", config("emu://zpl/label-1"))) as daemon, \
            daemon.client() as client:
        _print_1000_tags(client)
        output = client.get("/v1/emulators/label-1/output?format=text").text
        texts = re.split(r"^--- label \d+ .*---$", output, flags=re.MULTILINE)[1:]

        def image_of(index: int) -> Any:
            response = client.get(f"/v1/emulators/label-1/output?format=png&label={index}")
            assert response.status_code == 200
            return _image(response.content)

        _check_labels(texts, image_of)


def test_tags_print_in_process_with_copies_and_progress(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state", config("emu://zpl/label-1"))) as daemon, \
            daemon.client() as client:
        load_catalog(client, 40)
        response = client.post(
            "/v1/label-printers/label-1/hang-tags?wait=30",
            json={"items": items(range(40), copies=2), "locale": "en-GB"},
        )
        assert response.status_code == 202, response.text
        job = response.json()
        if job["state"] != "done":
            job = _wait_done(client, job["id"])
        assert job["state"] == "done"
        assert (job["labels_total"], job["labels_done"], job["tags_total"]) == (80, 80, 40)
        state = client.get("/v1/emulators/label-1").json()["state"]
        assert state["labels_printed"] == "80"
        text = client.get("/v1/emulators/label-1/output?format=text").text
        for n in range(40):
            assert text.count(f"Shirt {n:05d}") == 2
            assert money(outlet(n), "en-GB") in text
        png = client.get("/v1/emulators/label-1/output?format=png&label=79")
        assert png.headers["content-type"] == "image/png"
        found = zxingcpp.read_barcodes(_image(png.content))
        assert [b.text for b in found] == [ean13(39)]


def _image(data: bytes) -> Any:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(data))


def test_preview_shows_what_prints(tmp_path: Path) -> None:
    body = {"items": items(range(3, 4)), "locale": "de-AT"}
    with running(Daemon(tmp_path / "state", config("emu://zpl/label-1"))) as daemon, \
            daemon.client() as client:
        load_catalog(client, 5)
        preview = client.post("/v1/hang-tags/preview", json=body)
        assert preview.status_code == 200, preview.text
        assert preview.headers["content-type"] == "image/png"
        job = client.post("/v1/label-printers/label-1/hang-tags?wait=20", json=body).json()
        assert job["state"] == "done", job
        printed = client.get("/v1/emulators/label-1/output?format=png&label=0").content
        sheet = client.post(
            "/v1/hang-tags/preview", json={"items": items(range(5)), "locale": "de-AT"}
        )
        assert sheet.status_code == 200
    shown, out = _image(preview.content), _image(printed)
    assert shown.size == out.size
    assert [b.text for b in zxingcpp.read_barcodes(shown)] == [ean13(3)]
    assert [b.text for b in zxingcpp.read_barcodes(out)] == [ean13(3)]
    # Same ZPL, same renderer: the very same picture.
    assert shown.convert("L").tobytes() == out.convert("L").tobytes()
    sheet_image = _image(sheet.content)
    assert sheet_image.width > 4 * shown.width  # four tags side by side
    assert {b.text for b in zxingcpp.read_barcodes(sheet_image)} == {ean13(n) for n in range(5)}


def _slow_link(emulator: ThreadedZplEmulator, bytes_per_s: int) -> None:
    """Slow the emulator's link so a batch is still printing when the test acts."""
    emulator.call(lambda: emulator.emulator.apply_faults({"link_bps": str(bytes_per_s)}))


def _start_batch(
    client: httpx.Client, emulator: ThreadedZplEmulator, tags: int, printed_first: int
) -> str:
    """Import ``tags`` products, print them as one batch, and return its job id once the
    printer has printed ``printed_first`` labels of it."""
    load_catalog(client, tags)
    job_id: str = client.post(
        "/v1/label-printers/label-1/hang-tags", json={"items": items(range(tags))}
    ).json()["id"]
    wait_until(lambda: emulator.emulator.labels_printed >= printed_first, timeout=30)
    return job_id


@pytest.mark.slow
def test_media_out_mid_batch_holds_then_finishes_without_gaps_or_doubles(tmp_path: Path) -> None:
    with ThreadedZplEmulator() as emulator:
        _slow_link(emulator, 40000)
        with running(Daemon(tmp_path / "state", config(emulator.url))) as daemon, \
                daemon.client() as client:
            job_id = _start_batch(client, emulator, 200, printed_first=30)
            emulator.call(lambda: emulator.emulator.apply_faults({"media": "out"}))
            wait_until(
                lambda: client.get(f"/v1/jobs/{job_id}").json()["state"] == "held", timeout=10
            )
            held = client.get(f"/v1/jobs/{job_id}").json()
            assert held["held_reason"] == "media_out"
            stalled = emulator.emulator.labels_printed
            time.sleep(0.5)
            assert emulator.emulator.labels_printed == stalled < 200
            emulator.call(lambda: emulator.emulator.apply_faults({"media": "ok"}))
            done = _wait_done(client, job_id)
            assert done["state"] == "done" and done["labels_done"] == 200
    counts = Counter(_product_of(p) for p in emulator.emulator.printed)
    assert counts == Counter(range(200))


@pytest.mark.slow
def test_kill_9_mid_batch_resumes_and_only_in_doubt_tags_can_double(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with ThreadedZplEmulator() as emulator:
        _slow_link(emulator, 30000)
        daemon = Daemon(state_dir, config(emulator.url))
        daemon.start()
        with daemon.client() as client:
            job_id = _start_batch(client, emulator, 300, printed_first=60)
        daemon.kill()
        at_kill = emulator.emulator.labels_printed
        assert at_kill < 300
        _slow_link(emulator, 0)  # 0: at full speed again
        with running(Daemon(state_dir, config(emulator.url))) as again, again.client() as client:
            job = _wait_done(client, job_id)
    assert job["state"] == "done", job
    doubt = {n for start, end in job["tags_in_doubt"] for n in range(start, end)}
    assert job["labels_in_doubt"] == len(doubt) <= 16
    assert job["labels_done"] + job["labels_in_doubt"] == 300
    counts = Counter(_product_of(p) for p in emulator.emulator.printed)
    for n in range(300):
        if n in doubt:
            assert counts[n] <= 1, f"tag {n} was in doubt and printed {counts[n]} times"
        else:
            assert counts[n] == 1, f"tag {n} printed {counts[n]} times"


def test_cancel_stops_after_the_tags_in_flight(tmp_path: Path) -> None:
    with ThreadedZplEmulator() as emulator:
        _slow_link(emulator, 20000)
        with running(Daemon(tmp_path / "state", config(emulator.url))) as daemon, \
                daemon.client() as client:
            job_id = _start_batch(client, emulator, 150, printed_first=10)
            cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            time.sleep(1.0)
            job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["state"] == "cancelled"
    printed = emulator.emulator.labels_printed
    assert printed < 150
    assert printed == job["labels_done"]  # the chunk in flight finished and was counted


@pytest.mark.slow
def test_link_lost_mid_batch_puts_only_that_chunk_in_doubt_and_reprint_is_on_request(
    tmp_path: Path,
) -> None:
    with ThreadedZplEmulator() as emulator:
        _slow_link(emulator, 20000)
        with running(Daemon(tmp_path / "state", config(emulator.url))) as daemon, \
                daemon.client() as client:
            job_id = _start_batch(client, emulator, 120, printed_first=20)
            emulator.call(lambda: emulator.emulator.apply_faults({"link": "down"}))
            time.sleep(0.5)
            emulator.call(lambda: emulator.emulator.apply_faults({"link": "up"}))
            job = _wait_done(client, job_id)
            assert job["state"] == "done", job
            doubt = {n for start, end in job["tags_in_doubt"] for n in range(start, end)}
            assert 0 < len(doubt) <= 16 and job["labels_in_doubt"] == len(doubt)
            assert job["labels_done"] + len(doubt) == 120
            before = Counter(_product_of(p) for p in emulator.emulator.printed)
            for n in range(120):
                if n in doubt:
                    assert before[n] <= 1, f"tag {n} in doubt printed {before[n]} times"
                else:
                    assert before[n] == 1, f"tag {n} printed {before[n]} times"
            # Someone checked the printer: print the tags in doubt again, on request.
            again = client.post(f"/v1/jobs/{job_id}/reprint-in-doubt?wait=30").json()
            assert again["state"] == "done" and again["labels_total"] == len(doubt), again
            done_job = client.get(f"/v1/jobs/{job_id}").json()
            assert done_job["state"] == "done"
    after = Counter(_product_of(p) for p in emulator.emulator.printed)
    for n in range(120):
        assert after[n] == before[n] + (1 if n in doubt else 0)


def test_reprint_needs_tags_in_doubt(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state", config("emu://zpl/label-1"))) as daemon, \
            daemon.client() as client:
        load_catalog(client, 2)
        job = client.post(
            "/v1/label-printers/label-1/hang-tags?wait=20", json={"items": items(range(2))}
        ).json()
        assert job["state"] == "done"
        response = client.post(f"/v1/jobs/{job['id']}/reprint-in-doubt")
        assert response.status_code == 409 and response.json()["code"] == "nothing_in_doubt"
        assert client.post("/v1/jobs/job_nope/reprint-in-doubt").status_code == 404
        assert client.get("/v1/emulators/label-1").json()["state"]["labels_printed"] == "2"

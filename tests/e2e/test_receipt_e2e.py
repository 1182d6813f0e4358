"""The daemon process, over HTTP, printing on the emulator through every transport here."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.e2e.harness import Daemon, ThreadedEmulator, running
from tests.e2e.receipts import BARCODE, QR, UNICODE_LINE, unicode_receipt

pytestmark = pytest.mark.slow


def _print_and_wait(daemon: Daemon, body: dict[str, object]) -> dict[str, object]:
    with daemon.client() as client:
        response = client.post("/v1/printers/receipt-1/receipts?wait=15", json=body)
        assert response.status_code == 202, response.text
        job: dict[str, object] = response.json()
        assert job["state"] == "done", job
        return job


def _config(url: str, **extra: str) -> str:
    lines = [
        "[[devices]]",
        'id = "receipt-1"',
        'kind = "receipt_printer"',
        f'url = "{url}"',
        'profile = "TM-T88V"',
    ]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def test_demo_receipt_text_and_codes_round_trip(tmp_path: Path) -> None:
    with running(Daemon(tmp_path / "state")) as daemon:
        _print_and_wait(daemon, unicode_receipt())
        with daemon.client() as client:
            text = client.get("/v1/emulators/receipt-1/output?format=text").text
            png = client.get("/v1/emulators/receipt-1/output?format=png")
        assert UNICODE_LINE in text
        assert "Café Zentral" in text or "C a f é" in text
        assert png.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(png.content))
        texts = {result.text for result in zxingcpp.read_barcodes(image)}
        assert BARCODE in texts
        assert QR in texts


def test_tcp_transport(tmp_path: Path) -> None:
    with ThreadedEmulator() as emulator, running(
        Daemon(tmp_path / "state", _config(emulator.url))
    ) as daemon:
        _print_and_wait(daemon, unicode_receipt("via tcp"))
        text = emulator.call(emulator.emulator.output_text)
        assert "via tcp" in text and UNICODE_LINE in text


def test_pty_serial_transport(tmp_path: Path) -> None:
    emulate = subprocess.Popen(
        [sys.executable, "-m", "posbridge.cli", "emulate", "escpos", "--pty"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert emulate.stdout is not None
        line = emulate.stdout.readline()
        match = re.search(r"serial://(\S+)", line)
        assert match, line
        url = f"serial://{match.group(1)}?baudrate=115200"
        with running(Daemon(tmp_path / "state", _config(url))) as daemon:
            _print_and_wait(daemon, unicode_receipt("via pty"))
    finally:
        emulate.send_signal(2)
        out, _ = emulate.communicate(timeout=10)
    assert "via pty" in out and UNICODE_LINE in out


@pytest.mark.system
def test_usb_through_umockdev_sends_exact_bytes(tmp_path: Path, shared_fixtures: Path) -> None:
    if shutil.which("umockdev-run") is None:
        pytest.skip("umockdev-run is not installed (apt-get install umockdev)")
    from tests.e2e.usb_script import run_daemon_under_umockdev

    run_daemon_under_umockdev(tmp_path, shared_fixtures / "umockdev")


def test_readme_example_prints_through_the_sales_template(tmp_path: Path) -> None:
    import json

    example = Path(__file__).resolve().parents[2] / "examples" / "sales-receipt.json"
    with running(Daemon(tmp_path / "state")) as daemon:
        _print_and_wait(daemon, json.loads(example.read_text()))
        with daemon.client() as client:
            text = client.get("/v1/emulators/receipt-1/output?format=text").text
    assert "Café Größenwahn" in text and "€ 86,00" in text

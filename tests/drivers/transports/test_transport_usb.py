"""usb:// through umockdev: pyusb enumerates an emulated Epson printer and every bulk
transfer is checked against an ioctl script (a write not in the script fails with EIO)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import InvalidURL
from drivers.transports import transport_for

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        shutil.which("umockdev-run") is None,
        reason="umockdev-run not installed (apt-get install umockdev libusb-1.0-0)",
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[3]
DEVICE_NODE = "/dev/bus/usb/001/002"

PROBE = """
import asyncio, json, sys
from drivers.errors import DeviceError
from drivers.transports import open_transport

async def main() -> None:
    steps = json.loads(sys.argv[1])
    results = []
    transport = await open_transport(sys.argv[2])
    try:
        for kind, value in steps:
            try:
                if kind == "write":
                    await transport.write(bytes.fromhex(value))
                    results.append("ok")
                else:
                    results.append((await transport.read(value, 1.0)).hex())
            except DeviceError as exc:
                results.append(f"{type(exc).__name__}:{exc.code}")
    finally:
        await transport.aclose()
    print(json.dumps({"results": results, "endpoints": [transport.out_ep, transport.in_ep]}))

asyncio.run(main())
"""


def run_probe(
    tmp_path: Path,
    umockdev: Path,
    ioctl: Path,
    steps: list[tuple[str, Any]],
    url: str = "usb://04b8:0e15",
) -> dict[str, Any]:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    completed = subprocess.run(
        [
            "umockdev-run",
            "--device",
            str(umockdev),
            "--ioctl",
            f"{DEVICE_NODE}={ioctl}",
            "--",
            sys.executable,
            str(probe),
            json.dumps(steps),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def epson(shared_fixtures: Path) -> tuple[Path, Path]:
    folder = shared_fixtures / "umockdev"
    return folder / "epson-tm-usb.umockdev", folder / "epson-tm-usb.ioctl"


def test_status_round_trips_with_the_scripted_printer(
    tmp_path: Path, epson: tuple[Path, Path]
) -> None:
    umockdev, ioctl = epson
    result = run_probe(
        tmp_path,
        umockdev,
        ioctl,
        [("write", "100401"), ("read", 1), ("write", "100404"), ("read", 1)],
    )
    assert result == {"results": ["ok", "16", "ok", "1e"], "endpoints": [0x01, 0x82]}


def test_explicit_endpoints_are_used(tmp_path: Path, epson: tuple[Path, Path]) -> None:
    umockdev, ioctl = epson
    result = run_probe(
        tmp_path,
        umockdev,
        ioctl,
        [("write", "100401"), ("read", 1)],
        url="usb://04b8:0e15?out_ep=0x01&in_ep=0x82&interface=0",
    )
    assert result["results"] == ["ok", "16"]


def test_absent_device_is_connect_failed(tmp_path: Path, epson: tuple[Path, Path]) -> None:
    umockdev, ioctl = epson
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    completed = subprocess.run(
        ["umockdev-run", "--device", str(umockdev), "--ioctl", f"{DEVICE_NODE}={ioctl}",
         "--", sys.executable, str(probe), "[]", "usb://04b8:0202"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "ConnectFailed" in completed.stderr
    assert "04b8:0202: no such device" in completed.stderr


RECEIPT = b"\x1b@" + b"Hello\n" + b"\x1dV\x00"  # initialise, one line, full cut


def receipt_script(tmp_path: Path, expected: bytes) -> Path:
    """An ioctl script accepting exactly ``expected`` as one bulk OUT transfer on ep 1."""
    script = tmp_path / "receipt.ioctl"
    length = len(expected)
    script.write_text(
        f"@DEV {DEVICE_NODE}\n"
        "USBDEVFS_GET_CAPABILITIES 0 0F000000\n"
        f"USBDEVFS_REAPURBNDELAY 0 3 1 0 0 {length} {length} 0 {expected.hex().upper()}\n"
    )
    return script


def test_generated_script_accepts_the_exact_receipt(
    tmp_path: Path, epson: tuple[Path, Path]
) -> None:
    umockdev, _ = epson
    ioctl = receipt_script(tmp_path, RECEIPT)
    result = run_probe(tmp_path, umockdev, ioctl, [("write", RECEIPT.hex())])
    assert result["results"] == ["ok"]


def test_generated_script_rejects_any_other_bytes(tmp_path: Path, epson: tuple[Path, Path]) -> None:
    umockdev, _ = epson
    ioctl = receipt_script(tmp_path, RECEIPT)
    typo = RECEIPT.replace(b"Hello", b"Hellp")
    truncated = RECEIPT[:-1]
    result = run_probe(
        tmp_path, umockdev, ioctl, [("write", typo.hex()), ("write", truncated.hex())]
    )
    assert result["results"] == [
        "ConnectionLost:connection_lost",
        "ConnectionLost:connection_lost",
    ]


def test_usb_urls_validate_without_a_bus() -> None:
    transport = transport_for("usb://04B8:0E15?serial=X1&timeout=2.5&read_size=64")
    assert (transport.vendor_id, transport.product_id) == (0x04B8, 0x0E15)  # type: ignore[attr-defined]
    with pytest.raises(InvalidURL, match="read_size"):
        transport_for("usb://04b8:0e15?read_size=0")


def test_serial_that_matches_nothing_is_connect_failed(
    tmp_path: Path, epson: tuple[Path, Path]
) -> None:
    umockdev, ioctl = epson
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    completed = subprocess.run(
        ["umockdev-run", "--device", str(umockdev), "--ioctl", f"{DEVICE_NODE}={ioctl}",
         "--", sys.executable, str(probe), "[]", "usb://04b8:0e15?serial=NOPE"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert "no device with serial 'NOPE'" in completed.stderr


@pytest.mark.parametrize("code", [errno.EACCES, errno.EBUSY, errno.EIO, errno.ENODEV])
def test_failures_after_opening_are_never_connect_failed(code: int) -> None:
    # ConnectFailed tells the worker nothing was sent, so a job goes out again. Once the
    # link is up, bytes may already be at the printer: every failure is ConnectionLost.
    import usb.core

    from drivers.errors import ConnectFailed, ConnectionLost
    from drivers.transports.usb import UsbTransport
    from drivers.url import DeviceURL

    transport = UsbTransport(DeviceURL.parse("usb://04b8:0e15"))
    error = usb.core.USBError("failed", errno=code)
    assert isinstance(transport._translate(error, "write", opening=False), ConnectionLost)
    opening = transport._translate(error, "opening", opening=True)
    assert isinstance(opening, ConnectFailed)

"""The daemon printing to a USB printer that umockdev stands in for.

umockdev replays a script of USB transfers: any bulk OUT transfer that is not the next
one in the script fails with EIO. So the script written here *is* the byte-exact
expectation: the status polls, the receipt exactly as the renderer produces it, and the
status check after it.
"""

from __future__ import annotations

from pathlib import Path

from drivers.escpos.profiles import load_profile
from posbridge.receipts.document import ReceiptDocument
from posbridge.receipts.render import render_document
from tests.e2e.harness import Daemon, running, wait_until
from tests.e2e.receipts import unicode_receipt

DEVICE_NODE = "/dev/bus/usb/001/002"
STATUS_QUERY = bytes.fromhex("100401100402100403100404")  # DLE EOT 1, 2, 3, 4 in one write
STATUS_OK = bytes([0x16, 0x12, 0x12, 0x12])  # online (pin 3 high), no cause, no error, paper ok


def _out(data: bytes) -> str:
    return f"USBDEVFS_REAPURBNDELAY 0 3 1 0 0 {len(data)} {len(data)} 0 {data.hex().upper()}\n"


def _in(data: bytes) -> str:
    return f"USBDEVFS_REAPURBNDELAY 0 3 130 0 0 16 {len(data)} 0 {data.hex().upper()}\n"


def write_script(path: Path, receipt: bytes) -> None:
    status = _out(STATUS_QUERY) + _in(STATUS_OK)
    path.write_text(
        f"@DEV {DEVICE_NODE}\nUSBDEVFS_GET_CAPABILITIES 0 0F000000\n"
        + status  # the device monitor's first look
        + status  # the worker, before sending
        + _out(receipt)
        + status  # the worker, confirming the printer took it
    )


def run_daemon_under_umockdev(tmp_path: Path, fixtures: Path) -> None:
    body = unicode_receipt("via usb")
    receipt = render_document(ReceiptDocument.model_validate(body), load_profile("TM-T88V"))
    script = tmp_path / "receipt.ioctl"
    write_script(script, receipt)
    config = (
        "[[devices]]\n"
        'id = "receipt-1"\nkind = "receipt_printer"\nurl = "usb://04b8:0e15"\n'
        # The transfer script is a fixed sequence, so no pushed-status listening: that
        # reads at moments the script cannot know. (Pushed status is covered over TCP.)
        'profile = "TM-T88V"\nstatus_interval_s = 3600\nstatus_push = false\n'
    )
    prefix = [
        "umockdev-run",
        "--device", str(fixtures / "epson-tm-usb.umockdev"),
        "--ioctl", f"{DEVICE_NODE}={script}",
        "--",
    ]
    daemon = Daemon(tmp_path / "state", config, prefix=prefix)
    with running(daemon), daemon.client() as client:
        wait_until(
            lambda: client.get("/v1/devices/receipt-1").json()["state"] == "ready", timeout=15
        )
        job = client.post("/v1/printers/receipt-1/receipts?wait=15", json=body).json()
        # Any byte other than the scripted ones fails the transfer: the job would be
        # in_doubt (or held), never done.
        assert job["state"] == "done", (job, "".join(daemon.output))
        assert job["bytes_total"] == len(receipt)

"""HID POS through umockdev: /dev/hidraw0 replays the reports in
fixtures/hidpos-scans.script (written by make_hidpos_script.py) and the reader runs
unchanged in a child process under ``umockdev-run``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.scanner.symbology import Symbology

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        shutil.which("umockdev-run") is None,
        reason="umockdev-run not installed (apt-get install umockdev)",
    ),
]

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"

PROBE = """
import asyncio, json, sys
from drivers.errors import ConnectionLost
from drivers.scanner.hidpos import HidPosScanner

async def main() -> None:
    scans = []
    async with await HidPosScanner.open("/dev/hidraw0") as scanner:
        for _ in range(int(sys.argv[1])):
            async with asyncio.timeout(5):
                scan = await scanner.read_scan()
            scans.append([scan.data, scan.symbology, scan.aim, scan.source, len(scan.raw)])
    print(json.dumps(scans))

asyncio.run(main())
"""


def test_scans_come_through_hidraw_with_control_characters(tmp_path: Path) -> None:
    sys.path.insert(0, str(FIXTURES))
    try:
        from make_hidpos_script import AAMVA  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(FIXTURES))
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    completed = subprocess.run(
        [
            "umockdev-run",
            "--device", str(FIXTURES / "hidpos-scanner.umockdev"),
            "--script", f"/dev/hidraw0={FIXTURES / 'hidpos-scans.script'}",
            "--", sys.executable, str(probe), "4",
        ],
        capture_output=True, text=True, timeout=30, check=False,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    scans = json.loads(completed.stdout.strip().splitlines()[-1])
    assert scans == [
        ["4006381333931", Symbology.EAN13, "]E0", "hid", 64],
        [AAMVA.decode(), Symbology.PDF417, "]L2", "hid", 3 * 64],
        ["\x1d0104006381333931\x1d10ABC^123", Symbology.DATAMATRIX, "]d2", "hid", 64],
        ["96385074", Symbology.EAN8, None, "hid", 64],
    ]

"""Keyboard-wedge scanners end to end: umockdev stands in for /dev/input/event7 (a
Symbol scanner in USB keyboard mode) and replays what a US- and a German-configured
scanner type for the same scans (fixtures/wedge-*.evemu, written by make_wedge_evemu.py).

The reader under test runs in a child process under ``umockdev-run``; it prints what it
read as JSON. Without umockdev those tests skip; the pipe tests below still run.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import ConnectFailed, ConnectionLost
from drivers.scanner import wedge
from drivers.scanner.symbology import Symbology
from drivers.scanner.wedge import WedgeAssembler, WedgeScanner

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"
NODE = "/dev/input/event7"

needs_umockdev = pytest.mark.skipif(
    shutil.which("umockdev-run") is None,
    reason="umockdev-run not installed (apt-get install umockdev)",
)

PROBE = """
import asyncio, json, sys
from drivers.scanner.wedge import WedgeScanner, find_wedge_scanners

async def main() -> None:
    layout, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    found = [(d.path, d.name, f"{d.vendor_id:04x}:{d.product_id:04x}")
             for d in find_wedge_scanners(vendor_product="05e0:1200")]
    scans = []
    async with await WedgeScanner.open(found[0][0], layout=layout, gap_s=gap) as scanner:
        for _ in range(count):
            async with asyncio.timeout(5):
                scan = await scanner.read_scan()
            scans.append([scan.data, scan.symbology, scan.aim, scan.source, scan.code_type])
    print(json.dumps({"found": found, "scans": scans}))

asyncio.run(main())
"""

# What both scanners mean to type (make_wedge_evemu.py, SCANS).
EXPECTED_TEXT = [
    "4006381333931",  # sent as ]E04006381333931: the AIM id is split off
    "Grüße@example.com",
    "Zebra-Yak_2/3#",
    "4006381333931",  # no terminator: the 0.3 s pause ends it
    "96385074",  # no terminator, end of input: the gap timer ends it
]


def run_probe(tmp_path: Path, evemu: str, layout: str, count: int = 5) -> dict[str, Any]:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    completed = subprocess.run(
        [
            "umockdev-run",
            "--device", str(FIXTURES / "wedge-kbd.umockdev"),
            "--ioctl", f"{NODE}={FIXTURES / 'wedge-kbd.ioctl'}",
            "--evemu-events", f"{NODE}={FIXTURES / evemu}",
            "--",
            sys.executable, str(probe), layout, str(count), "0.1",
        ],
        capture_output=True, text=True, timeout=30, check=False,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.system
@needs_umockdev
@pytest.mark.parametrize(("evemu", "layout"), [("wedge-us.evemu", "us"), ("wedge-de.evemu", "de")])
def test_each_layout_reads_what_its_scanner_typed(tmp_path: Path, evemu: str, layout: str) -> None:
    result = run_probe(tmp_path, evemu, layout)
    assert result["found"] == [[NODE, "Symbol Bar Code Scanner", "05e0:1200"]]
    assert [scan[0] for scan in result["scans"]] == EXPECTED_TEXT
    first = result["scans"][0]
    assert first[1:] == [Symbology.EAN13, "]E0", "wedge", 16]
    assert result["scans"][4][1] == Symbology.EAN8  # inferred: no AIM id, valid check digit


@pytest.mark.system
@needs_umockdev
def test_german_and_us_scanners_deliver_the_same_characters(tmp_path: Path) -> None:
    german = run_probe(tmp_path, "wedge-de.evemu", "de")["scans"]
    american = run_probe(tmp_path, "wedge-us.evemu", "us")["scans"]
    assert german == american
    assert "Grüße@example.com" in [scan[0] for scan in german]


@pytest.mark.system
@needs_umockdev
def test_the_layout_is_what_gives_key_codes_their_meaning(tmp_path: Path) -> None:
    # The German scanner's key codes read as US: y/z swapped, AltGr+Q is no "@", ...
    scans = run_probe(tmp_path, "wedge-de.evemu", "us", count=3)["scans"]
    assert [scan[0] for scan in scans] == ["E04006381333931", "Gr[-eexample.com", "Yebra/Zak?2&3\\"]
    assert scans[0][2] is None  # AltGr+9 is not "]" on a US layout, so no AIM id


# --- the reader against a pipe standing in for the evdev node -------------------------

EVENT = struct.Struct("@llHHi")


def key_events(*codes: int, start: float = 0.0, step: float = 0.004) -> bytes:
    """Press and release each key in turn, with the SYN_REPORTs a kernel sends."""
    out = b""
    for index, code in enumerate(codes):
        t = start + index * step
        for value, when in ((1, t), (0, t + 0.001)):
            sec, usec = int(when), round((when % 1) * 1_000_000)
            out += EVENT.pack(sec, usec, 1, code, value) + EVENT.pack(sec, usec, 0, 0, 0)
    return out


KEY_1, KEY_2, KEY_3, KEY_ENTER, KEY_TAB = 2, 3, 4, 28, 15


async def pipe_scanner(**options: Any) -> tuple[WedgeScanner, int]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    assembler = WedgeAssembler(
        options.get("layout", "us"),
        gap_s=options.get("gap_s", 0.05),
        terminator=options.get("terminator", wedge.Terminator.ENTER),
    )
    return WedgeScanner(read_end, "pipe", assembler), write_end


async def test_enter_ends_a_scan_and_records_may_arrive_in_pieces() -> None:
    scanner, writer = await pipe_scanner()
    data = key_events(KEY_1, KEY_2, KEY_ENTER)
    os.write(writer, data[:30])  # a record split across reads
    reading = asyncio.ensure_future(scanner.read_scan())
    await asyncio.sleep(0.01)
    os.write(writer, data[30:])
    async with asyncio.timeout(2):
        scan = await reading
    assert (scan.data, scan.raw, scan.source) == ("12", b"12", "wedge")
    os.close(writer)
    await scanner.aclose()


async def test_a_pause_longer_than_the_gap_splits_scans_by_kernel_timestamps() -> None:
    scanner, writer = await pipe_scanner(gap_s=0.05)
    # Both arrive in one read: only the timestamps show the 0.2 s pause between them.
    os.write(writer, key_events(KEY_1, KEY_2) + key_events(KEY_3, KEY_ENTER, start=0.2))
    async with asyncio.timeout(2):
        assert [(await scanner.read_scan()).data for _ in range(2)] == ["12", "3"]
    os.close(writer)
    await scanner.aclose()


async def test_tab_is_data_unless_it_is_the_terminator() -> None:
    scanner, writer = await pipe_scanner()
    os.write(writer, key_events(KEY_1, KEY_TAB, KEY_2, KEY_ENTER))
    async with asyncio.timeout(2):
        assert (await scanner.read_scan()).data == "1\t2"
    await scanner.aclose()
    scanner, writer2 = await pipe_scanner(terminator="enter_or_tab")
    os.write(writer2, key_events(KEY_1, KEY_TAB, KEY_2, KEY_ENTER))
    async with asyncio.timeout(2):
        assert [(await scanner.read_scan()).data for _ in range(2)] == ["1", "2"]
    for fd in (writer, writer2):
        os.close(fd)
    await scanner.aclose()


async def test_unplug_is_connection_lost_after_complete_scans() -> None:
    scanner, writer = await pipe_scanner()
    os.write(writer, key_events(KEY_1, KEY_ENTER) + key_events(KEY_2, start=0.1))
    os.close(writer)  # EOF, as when the node goes away
    async with asyncio.timeout(2):
        assert (await scanner.read_scan()).data == "1"
        with pytest.raises(ConnectionLost):
            await scanner.read_scan()
    await scanner.aclose()


async def test_enodev_is_connection_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner, writer = await pipe_scanner()
    os.write(writer, b"x")  # makes the fd readable

    def unplugged(fd: int, size: int) -> bytes:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(os, "read", unplugged)
    with pytest.raises(ConnectionLost, match="No such device") as caught:
        async with asyncio.timeout(2):
            await scanner.read_scan()
    assert caught.value.code == "connection_lost"
    monkeypatch.undo()
    os.close(writer)
    await scanner.aclose()


async def test_a_missing_device_is_connect_failed(tmp_path: Path) -> None:
    with pytest.raises(ConnectFailed, match="event99"):
        await WedgeScanner.open(tmp_path / "event99")


async def test_a_device_that_cannot_be_grabbed_is_connect_failed(tmp_path: Path) -> None:
    plain = tmp_path / "not-an-input-device"
    plain.write_bytes(b"")
    with pytest.raises(ConnectFailed, match="cannot grab"):
        await WedgeScanner.open(plain)


async def test_bad_options_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown keyboard layout 'xx'"):
        await WedgeScanner.open(tmp_path / "x", layout="xx")
    with pytest.raises(ValueError):
        await WedgeScanner.open(tmp_path / "x", terminator="semicolon")

"""HID POS Scanned Data Reports, byte for byte (report ID 2, byte count, three
symbology identifier bytes, 56 data bytes, two vendor bytes, continued flag), and the
reader against a pipe standing in for /dev/hidrawN."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from drivers.errors import ConnectFailed, ConnectionLost, ProtocolError
from drivers.scanner.hidpos import HidPosAssembler, HidPosScanner, ReportPart, parse_report
from drivers.scanner.symbology import Symbology


def report(hex_head: str, data: bytes = b"", tail: str = "3f0000", rid: int = 2) -> bytes:
    """rid + count + identifier from ``hex_head`` ("0d 5d4530"), data padded to 56, tail."""
    head = bytes.fromhex(hex_head)
    return bytes([rid]) + head + data.ljust(56, b"\0") + bytes.fromhex(tail)


EAN = report("0d 5d4530", b"4006381333931")
CASES = [
    # (report, expected part)
    (EAN, ReportPart(b"]E0", "]E0", b"4006381333931", False, b"?\0")),
    (
        report("07 5d4c32", b"AB\r\n\x1e^x", tail="000001"),
        ReportPart(b"]L2", "]L2", b"AB\r\n\x1e^x", True, b"\0\0"),
    ),
    (report("00 5d5830"), ReportPart(b"]X0", "]X0", b"", False, b"?\0")),
    # No identifier (zeros) or a vendor's own code: no AIM id.
    (report("08 000000", b"96385074"), ReportPart(b"\0\0\0", None, b"96385074", False, b"?\0")),
    (report("02 644142", b"xy"), ReportPart(b"dAB", None, b"xy", False, b"?\0")),
    # The byte count, not the first NUL, ends the data: NUL is data too.
    (report("03 5d5130", b"a\0b"), ReportPart(b"]Q0", "]Q0", b"a\0b", False, b"?\0")),
    # Only bit 0 of the last byte is the continued flag.
    (report("01 5d4530", b"1", tail="3f00fe"), ReportPart(b"]E0", "]E0", b"1", False, b"?\0")),
    (
        report("38 5d4330", b"C" * 56, tail="3f00ff"),
        ReportPart(b"]C0", "]C0", b"C" * 56, True, b"?\0"),
    ),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_parse_report(raw: bytes, expected: ReportPart) -> None:
    assert len(raw) == 64
    assert parse_report(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (EAN[:63], "63 bytes"),
        (report("0d 5d4530", b"4006381333931", rid=4), "report ID 0x04"),
        (report("39 5d4530"), "byte count 57"),
    ],
)
def test_bad_reports_are_protocol_errors(raw: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_report(raw)


def test_another_report_id_can_be_configured() -> None:
    assert parse_report(report("01 5d4530", b"1", rid=5), report_id=5).data == b"1"


def test_continued_reports_join_into_one_scan_with_control_characters() -> None:
    aamva = b"@\n\x1e\rANSI 636014040002DL" + b"DAQD1234562\nDCSSAMPLE\n" * 5 + b"\r"
    chunks = [aamva[i : i + 56] for i in range(0, len(aamva), 56)]
    assert len(chunks) == 3
    parts = [
        report(f"{len(c):02x} 5d4c32", c, tail="000001" if i < 2 else "000000")
        for i, c in enumerate(chunks)
    ]
    assembler = HidPosAssembler()
    assert assembler.feed(parts[0]) is None
    assert assembler.feed(parts[1]) is None
    assert assembler.pending
    scan = assembler.feed(parts[2])
    assert scan is not None and not assembler.pending
    assert scan.data == aamva.decode()
    assert (scan.symbology, scan.aim, scan.source, scan.code_type) == (
        Symbology.PDF417, "]L2", "hid", 2048,
    )  # fmt: skip
    assert scan.raw == b"".join(parts)


def test_symbology_without_identifier_is_inferred() -> None:
    scan = HidPosAssembler().feed(report("08 000000", b"96385074"))
    assert scan is not None
    assert (scan.data, scan.aim, scan.symbology) == ("96385074", None, Symbology.EAN8)


def test_gs1_datamatrix_keeps_its_group_separators() -> None:
    data = b"\x1d0104006381333931\x1d10ABC123"
    scan = HidPosAssembler().feed(report(f"{len(data):02x} 5d6432", data))
    assert scan is not None
    assert (scan.data, scan.symbology) == (data.decode(), Symbology.DATAMATRIX)


async def pipe_scanner() -> tuple[HidPosScanner, int]:
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    return HidPosScanner(read_end, "pipe"), write_end


async def test_reader_cuts_a_byte_stream_into_reports_and_skips_other_reports() -> None:
    scanner, writer = await pipe_scanner()
    other = report("00 000000", rid=4)
    stream = other + EAN + report("02 5d4530", b"12")
    os.write(writer, stream[:100])
    reading = asyncio.ensure_future(scanner.read_scan())
    await asyncio.sleep(0.01)
    os.write(writer, stream[100:])
    async with asyncio.timeout(2):
        first = await reading
        second = await scanner.read_scan()
    assert (first.data, first.symbology) == ("4006381333931", Symbology.EAN13)
    assert second.data == "12"
    assert scanner.reports_skipped == 1
    os.close(writer)
    await scanner.aclose()


async def test_end_of_file_is_connection_lost_and_drops_the_half_scan() -> None:
    scanner, writer = await pipe_scanner()
    os.write(writer, EAN + report("02 5d4530", b"12", tail="000001"))
    os.close(writer)
    async with asyncio.timeout(2):
        assert (await scanner.read_scan()).data == "4006381333931"
        with pytest.raises(ConnectionLost, match="device closed"):
            await scanner.read_scan()
    await scanner.aclose()


async def test_enodev_is_connection_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    scanner, writer = await pipe_scanner()
    os.write(writer, b"x")

    def unplugged(fd: int, size: int) -> bytes:
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(os, "read", unplugged)
    with pytest.raises(ConnectionLost, match="No such device"):
        async with asyncio.timeout(2):
            await scanner.read_scan()
    monkeypatch.undo()
    os.close(writer)
    await scanner.aclose()


async def test_missing_node_is_connect_failed(tmp_path: Path) -> None:
    with pytest.raises(ConnectFailed, match="hidraw9"):
        await HidPosScanner.open(tmp_path / "hidraw9")

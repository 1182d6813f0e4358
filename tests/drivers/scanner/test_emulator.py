"""ScannerEmulator: options, wire bytes, scans and bursts, output, faults, registry."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from drivers.emulation import EmulatorHub, emulator_factory
from drivers.errors import ConnectFailed, ConnectionLost, InvalidURL, UnsupportedFeature
from drivers.scanner.emulator import ScannerEmulator
from drivers.scanner.framing import Framing, ScanFramer, Terminator
from drivers.scanner.symbology import Symbology
from drivers.transports.emu import EmuTransport
from drivers.url import DeviceURL


def test_registered_for_emu_urls() -> None:
    assert emulator_factory("scanner") is ScannerEmulator
    transport = EmuTransport(DeviceURL.parse("emu://scanner/s1?aim=off&suffix=lf&prefix=%02"))
    emulator = transport.emulator
    assert isinstance(emulator, ScannerEmulator)
    assert (emulator.aim, emulator.suffix, emulator.prefix) == (False, Terminator.LF, b"\x02")
    assert emulator.framing == Framing(suffix=Terminator.LF, prefix=b"\x02", aim=False)


@pytest.mark.parametrize(
    "options",
    [{"aim": "maybe"}, {"suffix": "semicolon"}, {"baudrate": "9600"}],
)
def test_bad_options(options: dict[str, str]) -> None:
    with pytest.raises(InvalidURL):
        ScannerEmulator(options)


@pytest.mark.parametrize(
    ("options", "symbology", "data", "wire"),
    [
        ({}, Symbology.EAN13, "4006381333931", b"]E04006381333931\r"),
        ({"aim": "off"}, Symbology.EAN13, "4006381333931", b"4006381333931\r"),
        ({"suffix": "crlf"}, Symbology.GS1_128, "0104012345123456", b"]C10104012345123456\r\n"),
        ({"suffix": "none"}, Symbology.QR, "Grüße", "]Q1Grüße".encode()),
        ({"suffix": "tab", "prefix": "S:"}, Symbology.CODE39, "ABC", b"S:]A0ABC\t"),
        ({}, Symbology.DATAMATRIX, b"\x00\xff", b"]d1\x00\xff\r"),
    ],
)
def test_wire_bytes(
    options: dict[str, str], symbology: Symbology, data: str | bytes, wire: bytes
) -> None:
    assert ScannerEmulator(options).scan(data, symbology) == wire


def test_per_scan_overrides() -> None:
    emulator = ScannerEmulator()
    wire = emulator.scan("X", Symbology.CODE128, aim=False, suffix=Terminator.LF)
    assert wire == b"X\n"
    assert emulator.scan("X", Symbology.CODE128) == b"]C0X\r"


def test_receive_ignores_host_bytes() -> None:
    assert ScannerEmulator().receive(b"\x16T\r") == b""


async def test_scan_reaches_every_session_and_reads_back() -> None:
    emulator = ScannerEmulator()
    first, second = emulator.connect(), emulator.connect()
    wire = emulator.scan("4006381333931", Symbology.EAN13)
    for session in (first, second):
        assert await session.read(4096, 1.0) == wire
    framer = ScanFramer(emulator.framing)
    [scan] = framer.feed(wire, 0.0)
    assert (scan.data, scan.symbology) == ("4006381333931", Symbology.EAN13)


async def test_burst_is_one_broadcast() -> None:
    emulator = ScannerEmulator()
    session = emulator.connect()
    items = [(f"ITEM-{n}", Symbology.CODE128) for n in range(100)]
    wire = emulator.burst(items)
    assert wire == b"".join(b"]C0ITEM-%d\r" % n for n in range(100))
    assert await session.read(1 << 16, 1.0) == wire  # all of it, in one piece
    assert emulator.scans_sent == 100
    assert emulator.state()["scans_sent"] == "100"
    assert emulator.state()["bytes_sent"] == str(len(wire))
    scans = ScanFramer(emulator.framing).feed(wire, 0.0)
    assert [s.data for s in scans] == [f"ITEM-{n}" for n in range(100)]


async def test_disconnect_fault_and_reconnect() -> None:
    emulator = ScannerEmulator()
    session = emulator.connect()
    emulator.apply_faults({"link": "down"})
    assert emulator.state()["link"] == "down"
    with pytest.raises(ConnectionLost):
        await session.read(10, 0.1)
    with pytest.raises(ConnectFailed):
        emulator.connect()
    emulator.scan("LOST", Symbology.CODE128)
    assert "(no host connected)" in emulator.output_text()
    emulator.reconnect()
    again = emulator.connect()
    wire = emulator.scan("BACK", Symbology.CODE128)
    assert await again.read(100, 1.0) == wire
    assert emulator.state()["connections"] == "1"


def test_unknown_device_fault_is_refused() -> None:
    emulator = ScannerEmulator()
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"paper": "out"})
    with pytest.raises(UnsupportedFeature):
        emulator.apply_faults({"link": "sideways"})


def test_state_shows_options() -> None:
    state = ScannerEmulator({"aim": "off", "suffix": "tab", "prefix": "\x02"}).state()
    assert state["aim"] == "off"
    assert state["suffix"] == "tab"
    assert state["prefix"] == repr("\x02")
    assert state["link"] == "up"
    assert state["scans_sent"] == "0"


def test_output_text_shows_control_characters_and_clears() -> None:
    emulator = ScannerEmulator()
    emulator.connect()
    emulator.scan("@\n\x1e\rANSI 636014", Symbology.PDF417)
    emulator.scan("4006381333931", Symbology.EAN13)
    text = emulator.output_text()
    assert text.splitlines() == [
        "1 pdf417 '@\\n\\x1e\\rANSI 636014'",
        "2 ean13 '4006381333931'",
    ]
    png = Image.open(io.BytesIO(emulator.output_png()))
    assert png.format == "PNG" and png.height > 20
    emulator.clear_output()
    assert emulator.output_text() == ""
    assert emulator.scans_sent == 2  # the counter is a lifetime count


def test_hub_keeps_the_named_scanner() -> None:
    hub = EmulatorHub()
    one = hub.get_or_create("scanner", "front", {})
    assert hub.get_or_create("scanner", "front", {}) is one

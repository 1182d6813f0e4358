"""URL validation, the registry, and the spy wrapper."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import pytest

from drivers.errors import InvalidURL
from drivers.transports import (
    Transport,
    open_transport,
    register_transport,
    registry,
    transport_for,
)
from drivers.transports.spy import SpyTransport, hexdump
from drivers.url import DeviceURL


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://printer?speed=fast", "unknown option"),
        ("tcp://printer:notaport", "port"),
        ("tcp://printer:0", "port"),
        ("tcp://printer?connect_timeout=soon", "not a number"),
        ("tcp://printer?write_timeout=0", "positive"),
        ("tcp://:9100", "HOST"),
        ("serial://", "serial:///PATH"),
        ("serial://ttyUSB0", "serial:///PATH"),
        ("serial:///dev/ttyUSB0?baudrate=fast", "whole number"),
        ("serial:///dev/ttyUSB0?baudrate=-9600", "positive"),
        ("serial:///dev/ttyUSB0?parity=X", "parity"),
        ("serial:///dev/ttyUSB0?stopbits=3", "stopbits"),
        ("serial:///dev/ttyUSB0?bytesize=9", "bytesize"),
        ("serial:///dev/ttyUSB0?rtscts=maybe", "true/false"),
        ("serial:///dev/ttyUSB0?flow=hw", "unknown option"),
        ("usb://epson", "VID:PID"),
        ("usb://04b8:zz15", "VID:PID"),
        ("usb://04b8:0e15?out_ep=0x82", "OUT"),
        ("usb://04b8:0e15?in_ep=0x01", "IN"),
        ("usb://04b8:0e15?in_ep=bulk", "endpoint"),
        ("usb://04b8:0e15?serial=", "empty"),
        ("usb://04b8:0e15?colour=red", "unknown option"),
        ("file://", "file:///PATH"),
        ("file:///dev/usb/lp0?baud=9600", "unknown option"),
        ("gopher://printer", "unknown scheme"),
        ("sniff+tcp://printer", "unknown wrapper"),
        ("emu://", "emu://KIND"),
        ("emu://nosuchkind/x", "no emulator"),
        ("spy+serial://", "serial:///PATH"),
    ],
)
def test_bad_urls_are_rejected_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        transport_for(url)


@pytest.mark.parametrize(
    "url",
    [
        "tcp://192.168.1.50",
        "tcp://printer.local:9101?connect_timeout=1.5&write_timeout=30",
        "serial:///dev/ttyUSB0?baudrate=38400&bytesize=7&parity=e&stopbits=1.5"
        "&rtscts=1&dsrdtr=0&xonxoff=0",
        "usb://04b8:0e15?serial=X1234&interface=0&out_ep=0x01&in_ep=0x82&timeout=5",
        "usb://0483:5740",
        "file:///dev/usb/lp0",
        "spy+usb://04b8:0e15",
    ],
)
def test_good_urls_build_without_touching_hardware(url: str) -> None:
    transport = transport_for(url)
    assert isinstance(transport, Transport)
    assert transport.url.raw == url


def test_tcp_port_defaults_to_9100() -> None:
    transport = transport_for(DeviceURL.parse("tcp://printer"))
    assert transport.port == 9100  # type: ignore[attr-defined]


def test_importing_transports_loads_no_device_library() -> None:
    code = (
        "import sys, drivers.transports\n"
        "heavy = [m for m in ('usb', 'serial', 'escpos') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.fixture
def loop_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registers ``loop://`` for one test only."""
    monkeypatch.setattr(registry, "_registered", {})
    register_transport("loop", _LoopbackTransport)


class _LoopbackTransport(Transport):
    """Whatever is written can be read back."""

    def __init__(self, url: DeviceURL) -> None:
        super().__init__(url)
        url.check_options({"greeting"})
        self.buffer = bytearray(url.str_option("greeting", "") or "", "ascii")
        self.opened = False

    async def open(self) -> None:
        self.opened = True

    async def write(self, data: bytes) -> None:
        self.buffer += data

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109
        if not self.buffer:
            await asyncio.sleep(timeout)
            return b""
        chunk = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        return chunk

    async def aclose(self) -> None:
        self.opened = False


@pytest.mark.usefixtures("loop_scheme")
async def test_registered_scheme_is_opened() -> None:
    transport = await open_transport("loop://x?greeting=hi")
    assert isinstance(transport, _LoopbackTransport)
    assert transport.opened
    assert await transport.read(10, 0.1) == b"hi"
    with pytest.raises(InvalidURL, match="unknown option"):
        transport_for("loop://x?farewell=bye")


@pytest.mark.usefixtures("loop_scheme")
def test_register_rejects_bad_scheme_names() -> None:
    with pytest.raises(ValueError, match="scheme"):
        register_transport("spy+loop", _LoopbackTransport)
    with pytest.raises(ValueError, match="wrapper"):
        register_transport("spy", _LoopbackTransport)


def test_hexdump_shows_hex_and_printable_text() -> None:
    assert hexdump(b"\x1b@Hello\n") == (
        "00000000  1b 40 48 65 6c 6c 6f 0a" + " " * 24 + "  |.@Hello.|"
    )
    assert hexdump(bytes(range(17))).count("\n") == 1


@pytest.mark.usefixtures("loop_scheme")
async def test_spy_logs_every_write_and_read(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="drivers.transports.spy")
    transport = await open_transport("spy+loop://x")
    assert isinstance(transport, SpyTransport)
    await transport.write(b"\x10\x04\x01")
    assert await transport.read(3, 0.1) == b"\x10\x04\x01"
    await transport.aclose()
    dumps = [r.getMessage() for r in caplog.records if "10 04 01" in r.getMessage()]
    assert len(dumps) == 2
    assert "loop://x ->" in dumps[0]
    assert "loop://x <-" in dumps[1]


@pytest.mark.usefixtures("loop_scheme")
async def test_spy_is_silent_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.transports.spy")
    transport = await open_transport("spy+loop://x")
    await transport.write(b"\x10\x04\x01")
    assert not [r for r in caplog.records if r.name == "drivers.transports.spy"]

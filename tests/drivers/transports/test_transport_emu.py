"""emu:// against a small echo emulator registered as an emulator kind."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from drivers import emulation
from drivers.emulation import Emulator, EmulatorHub
from drivers.errors import ConnectFailed, ConnectionLost, InvalidURL
from drivers.transports import open_transport, transport_for


class EchoEmulator(Emulator):
    """Answers every chunk with the same bytes; ``prefix`` option is prepended."""

    kind = "echo"

    def __init__(self, options: Mapping[str, str]) -> None:
        super().__init__()
        unknown = set(options) - {"prefix"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        self.prefix = options.get("prefix", "").encode()
        self.received = bytearray()

    def receive(self, data: bytes) -> bytes:
        self.received += data
        return self.prefix + data

    def check_device_fault(self, key: str, value: str) -> None:
        raise NotImplementedError

    def apply_device_fault(self, key: str, value: str) -> None:
        raise NotImplementedError

    def output_text(self) -> str:
        return self.received.decode("latin-1")

    def output_png(self) -> bytes:
        return b""

    def clear_output(self) -> None:
        self.received.clear()


@pytest.fixture(autouse=True)
def echo_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(emulation._BUILTIN_EMULATORS, "echo", f"{__name__}:EchoEmulator")


async def test_bytes_reach_the_named_emulator_in_the_hub() -> None:
    hub = EmulatorHub()
    async with await open_transport("emu://echo/till-1?prefix=>", emulators=hub) as transport:
        await transport.write(b"ping")
        assert await transport.read(10, timeout=1.0) == b">ping"
    emulator = hub.get("till-1")
    assert isinstance(emulator, EchoEmulator)
    assert emulator.output_text() == "ping"


async def test_name_defaults_to_kind_and_is_shared() -> None:
    hub = EmulatorHub()
    first = await open_transport("emu://echo", emulators=hub)
    second = await open_transport("emu://echo/echo", emulators=hub)
    await first.write(b"a")
    await second.write(b"b")
    assert hub.names() == ["echo"]
    emulator = hub.get("echo")
    assert emulator is not None
    assert emulator.output_text() == "ab"


async def test_read_timeout_returns_empty() -> None:
    async with await open_transport("emu://echo") as transport:
        assert await transport.read(1, timeout=0.05) == b""


async def test_link_down_refuses_open_and_drops_sessions() -> None:
    hub = EmulatorHub()
    transport = await open_transport("emu://echo/e", emulators=hub)
    emulator = hub.get("e")
    assert emulator is not None
    emulator.apply_faults({"link": "down"})
    with pytest.raises(ConnectionLost):
        await transport.write(b"x")
    with pytest.raises(ConnectFailed):
        await open_transport("emu://echo/e", emulators=hub)
    emulator.apply_faults({"link": "up"})
    await transport.aclose()
    await transport.open()
    await transport.write(b"y")
    assert await transport.read(1, timeout=1.0) == b"y"


def test_bad_emulator_option_is_invalid_url() -> None:
    with pytest.raises(InvalidURL, match="colour"):
        transport_for("emu://echo/x?colour=red")


def test_kind_mismatch_in_hub_is_invalid_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(emulation._BUILTIN_EMULATORS, "echo2", f"{__name__}:EchoEmulator")
    hub = EmulatorHub()
    transport_for("emu://echo/shared", emulators=hub)
    with pytest.raises(InvalidURL, match="not echo2"):
        transport_for("emu://echo2/shared", emulators=hub)

"""SerialScanner over a real pseudo-terminal (``serial://``), the emulator's PtyServer, a
TCP listener and ``emu://scanner/NAME``."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Iterator

import pytest

from drivers.emulation import EmulatorHub
from drivers.emulation_servers import PtyServer, serve_tcp
from drivers.errors import ConnectionLost
from drivers.scanner.emulator import ScannerEmulator
from drivers.scanner.framing import Framing, Terminator
from drivers.scanner.serial_scanner import SerialScanner
from drivers.scanner.symbology import Symbology
from drivers.transports.registry import open_transport
from tests.drivers.scanner.test_framing import aamva_document

GAP = 0.05


class Pty:
    """A raw pty pair; the test writes on the master like the scanner would."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


async def test_serial_port_scans_split_and_aamva(pty: Pty) -> None:
    transport = await open_transport(f"serial://{pty.path}?baudrate=115200")
    async with SerialScanner(transport, Framing(suffix=Terminator.CR, gap_s=GAP)) as scanner:
        doc = aamva_document()
        os.write(pty.master, b"]E0400638")
        await asyncio.sleep(0.01)  # the rest comes in a later read
        os.write(pty.master, b"1333931\r]L2" + doc[:40])
        os.write(pty.master, doc[40:] + b"\r")
        async with asyncio.timeout(2):
            first = await scanner.read_scan()
            second = await scanner.read_scan()
        assert (first.data, first.symbology, first.source) == (
            "4006381333931",
            Symbology.EAN13,
            "serial",
        )
        assert second.data == doc.decode()
        assert second.symbology is Symbology.PDF417
        assert scanner.scans_read == 2


async def test_serial_port_without_suffix_uses_the_gap(pty: Pty) -> None:
    transport = await open_transport(f"serial://{pty.path}")
    scanner = SerialScanner(transport, Framing(suffix=Terminator.NONE, aim=False, gap_s=GAP))
    try:
        loop = asyncio.get_running_loop()
        os.write(pty.master, b"96385074")
        began = loop.time()
        async with asyncio.timeout(2):
            scan = await scanner.read_scan()
        waited = loop.time() - began
        assert (scan.data, scan.symbology) == ("96385074", Symbology.EAN8)
        assert GAP * 0.8 <= waited < 1.0  # ended by the gap, not by the idle read
    finally:
        await scanner.aclose()


async def test_read_scan_does_not_block_the_loop(pty: Pty) -> None:
    transport = await open_transport(f"serial://{pty.path}")
    async with SerialScanner(transport) as scanner:
        reader = asyncio.create_task(scanner.read_scan())
        ticks = 0
        for _ in range(10):
            await asyncio.sleep(0.005)
            ticks += 1
        assert ticks == 10 and not reader.done()
        os.write(pty.master, b"A\r")
        async with asyncio.timeout(2):
            assert (await reader).data == "A"


async def test_over_emulator_pty_server() -> None:
    emulator = ScannerEmulator({"suffix": "crlf", "prefix": "\x02"})
    async with PtyServer(emulator) as server:
        transport = await open_transport(f"serial://{server.path}?baudrate=115200")
        async with SerialScanner(transport, emulator.framing) as scanner:
            emulator.scan("https://example.com/r/1", Symbology.QR)
            emulator.burst(
                [("4006381333931", Symbology.EAN13), (aamva_document(), Symbology.PDF417)]
            )
            async with asyncio.timeout(2):
                scans = [await scanner.read_scan() for _ in range(3)]
    assert [(s.data, s.symbology, s.aim) for s in scans] == [
        ("https://example.com/r/1", Symbology.QR, "]Q1"),
        ("4006381333931", Symbology.EAN13, "]E0"),
        (aamva_document().decode(), Symbology.PDF417, "]L2"),
    ]
    assert scans[0].raw == b"\x02]Q1https://example.com/r/1\r\n"


async def test_over_tcp_and_link_down_is_connection_lost() -> None:
    emulator = ScannerEmulator()
    server = await serve_tcp(emulator, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport = await open_transport(f"tcp://127.0.0.1:{port}")
        async with SerialScanner(transport, emulator.framing) as scanner:
            for _ in range(50):  # the server registers the client's session asynchronously
                if emulator.state()["connections"] == "1":
                    break
                await asyncio.sleep(0.01)
            emulator.scan("ORDER-1", Symbology.CODE128)
            async with asyncio.timeout(2):
                assert (await scanner.read_scan()).data == "ORDER-1"
            emulator.disconnect()
            with pytest.raises(ConnectionLost):
                async with asyncio.timeout(2):
                    await scanner.read_scan()
    finally:
        server.close()
        await server.wait_closed()


async def test_over_emu_url_disconnect_and_reconnect() -> None:
    hub = EmulatorHub()
    url = "emu://scanner/front?suffix=tab"
    transport = await open_transport(url, emulators=hub)
    emulator = hub.get("front")
    assert isinstance(emulator, ScannerEmulator)
    scanner = SerialScanner(transport, emulator.framing, source="serial")
    emulator.scan("4006381333931", Symbology.EAN13)
    emulator.scan("0104012345123456", Symbology.DATABAR)
    emulator.disconnect()
    # Scans that arrived before the cable was pulled are still delivered, then the loss.
    async with asyncio.timeout(2):
        assert (await scanner.read_scan()).symbology is Symbology.EAN13
        assert (await scanner.read_scan()).symbology is Symbology.DATABAR
        with pytest.raises(ConnectionLost):
            await scanner.read_scan()
    await scanner.aclose()

    emulator.reconnect()
    async with SerialScanner(await open_transport(url, emulators=hub), emulator.framing) as again:
        emulator.scan("96385074", Symbology.EAN8)
        async with asyncio.timeout(2):
            scan = await again.read_scan()
    assert (scan.data, scan.symbology, scan.raw) == ("96385074", Symbology.EAN8, b"]E496385074\t")


async def test_half_a_scan_is_dropped_when_the_link_goes() -> None:
    hub = EmulatorHub()
    transport = await open_transport("emu://scanner/x", emulators=hub)
    emulator = hub.get("x")
    assert isinstance(emulator, ScannerEmulator)
    scanner = SerialScanner(transport, emulator.framing)
    emulator.broadcast(b"]C0HALF")
    reader = asyncio.create_task(scanner.read_scan())
    await asyncio.sleep(0.01)
    emulator.disconnect()
    with pytest.raises(ConnectionLost):
        async with asyncio.timeout(2):
            await reader


async def test_pty_server_delivers_scans_after_reconnect() -> None:
    emulator = ScannerEmulator()
    async with PtyServer(emulator) as server:
        transport = await open_transport(f"serial://{server.path}")
        async with SerialScanner(transport, emulator.framing) as scanner:
            emulator.scan("BEFORE", Symbology.CODE128)
            async with asyncio.timeout(2):
                assert (await scanner.read_scan()).data == "BEFORE"
            emulator.disconnect()
            emulator.reconnect()
            await asyncio.sleep(0.05)
            emulator.scan("AFTER", Symbology.CODE128)
            async with asyncio.timeout(1):
                assert (await scanner.read_scan()).data == "AFTER"

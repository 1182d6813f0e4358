"""Emulators behind a real TCP socket and a real pseudo-terminal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import serial

from drivers.emulation_servers import PtyServer, serve_tcp
from drivers.errors import ConnectFailed
from drivers.escpos.emulator import EscposEmulator

DLE_EOT = b"\x10\x04"


@pytest.fixture
async def tcp_printer() -> AsyncIterator[tuple[EscposEmulator, int]]:
    emulator = EscposEmulator()
    server = await serve_tcp(emulator, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield emulator, port
    finally:
        server.close()
        await server.wait_closed()


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(2):
        return await reader.readexactly(1)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def test_tcp_client_gets_status_and_prints(tcp_printer: tuple[EscposEmulator, int]) -> None:
    emulator, port = tcp_printer
    assert port != 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert await ask(reader, writer, DLE_EOT + b"\x04") == b"\x12"
        emulator.apply_faults({"paper": "out"})
        assert await ask(reader, writer, DLE_EOT + b"\x04") == b"\x72"
        emulator.apply_faults({"paper": "ok"})
        # Print data then a status query on the same connection: the query is answered
        # after the data was taken, so the text is on the paper by then.
        assert await ask(reader, writer, b"over TCP\n" + DLE_EOT + b"\x01") == b"\x12"
        assert emulator.output_text() == "over TCP\n"
    finally:
        await close(writer)


async def test_tcp_client_receives_asb_broadcasts(
    tcp_printer: tuple[EscposEmulator, int],
) -> None:
    emulator, port = tcp_printer
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"\x1da\xff")
        async with asyncio.timeout(2):
            assert await reader.readexactly(4) == b"\x10\x00\x00\x00"
            emulator.apply_faults({"cover": "open"})
            assert await reader.readexactly(4) == b"\x38\x00\x00\x00"
    finally:
        await close(writer)


async def test_link_down_closes_the_socket_and_refuses_new_clients(
    tcp_printer: tuple[EscposEmulator, int],
) -> None:
    emulator, port = tcp_printer
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await ask(reader, writer, DLE_EOT + b"\x01") == b"\x12"

    emulator.apply_faults({"link": "down"})
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    await close(writer)

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    async with asyncio.timeout(2):
        assert await reader.read() == b""
    await close(writer)

    emulator.apply_faults({"link": "up"})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert await ask(reader, writer, DLE_EOT + b"\x01") == b"\x12"
    finally:
        await close(writer)


def serial_exchange(path: str, data: bytes, reply_size: int) -> bytes:
    with serial.Serial(path, baudrate=38400, timeout=1) as port:
        port.write(data)
        port.flush()
        return bytes(port.read(reply_size))


async def test_pty_answers_pyserial() -> None:
    emulator = EscposEmulator()
    async with PtyServer(emulator) as server:
        assert server.path.startswith("/dev/")
        reply = await asyncio.to_thread(serial_exchange, server.path, DLE_EOT + b"\x01", 1)
        assert reply == b"\x12"

        emulator.apply_faults({"cover": "open"})
        reply = await asyncio.to_thread(
            serial_exchange, server.path, b"held\n" + DLE_EOT + b"\x02", 1
        )
        assert reply == b"\x16"
        assert emulator.output_text() == ""
        emulator.apply_faults({"cover": "closed"})
        assert emulator.output_text() == "held\n"


async def test_pty_is_raw_so_every_byte_value_passes() -> None:
    emulator = EscposEmulator()
    payload = bytes(range(0x20, 0x100)) + b"\n"
    async with PtyServer(emulator) as server:
        # CR, ^C, ^S and friends would be eaten or translated by a cooked terminal.
        data = b"\x1bt\x10" + payload + b"\r\n" + DLE_EOT + b"\x04"
        assert await asyncio.to_thread(serial_exchange, server.path, data, 1) == b"\x12"
    assert bytes(emulator.printed_bytes) == b"\x1bt\x10" + payload + b"\r\n"


async def test_pty_survives_link_down_and_up() -> None:
    emulator = EscposEmulator()
    async with PtyServer(emulator) as server:
        emulator.apply_faults({"link": "down"})
        lost = await asyncio.to_thread(serial_exchange, server.path, DLE_EOT + b"\x01", 1)
        assert lost == b""  # like an unplugged cable: nothing answers
        emulator.apply_faults({"link": "up"})
        back = await asyncio.to_thread(serial_exchange, server.path, DLE_EOT + b"\x01", 1)
        assert back == b"\x12"


async def test_pty_refuses_to_start_while_link_is_down() -> None:
    emulator = EscposEmulator()
    emulator.apply_faults({"link": "down"})
    server = PtyServer(emulator)
    with pytest.raises(ConnectFailed):
        await server.start()
    await server.aclose()

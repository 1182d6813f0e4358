"""tcp:// against a real asyncio server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest

from drivers.errors import ConnectFailed, ConnectionLost
from drivers.transports import open_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    return server, port


@pytest.fixture
async def status_server() -> AsyncIterator[int]:
    """Answers DLE EOT 1 with 0x16 like an online Epson printer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(3):
            if data == b"\x10\x04\x01":
                writer.write(b"\x16")
                await writer.drain()
        writer.close()

    server, port = await _serve(handle)
    async with server:
        yield port


async def test_write_then_read_reply(status_server: int) -> None:
    async with await open_transport(f"tcp://127.0.0.1:{status_server}") as transport:
        await transport.write(b"\x10\x04\x01")
        assert await transport.read(1, timeout=2.0) == b"\x16"


async def test_nodelay_is_set(status_server: int) -> None:
    transport = await open_transport(f"tcp://127.0.0.1:{status_server}")
    try:
        sock = transport._writer.get_extra_info("socket")  # type: ignore[attr-defined]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        await transport.aclose()


async def test_read_timeout_returns_empty(status_server: int) -> None:
    async with await open_transport(f"tcp://127.0.0.1:{status_server}") as transport:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await transport.read(1, timeout=0.2) == b""
        assert 0.15 <= loop.time() - started < 1.0


async def test_server_closing_is_connection_lost() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server, port = await _serve(hang_up)
    async with server:
        transport = await open_transport(f"tcp://127.0.0.1:{port}")
        try:
            with pytest.raises(ConnectionLost):
                await transport.read(1, timeout=2.0)
            with pytest.raises(ConnectionLost):
                await transport.write(b"\x1b@")
        finally:
            await transport.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_refused_port_is_connect_failed_naming_address() -> None:
    port = _free_port()
    with pytest.raises(ConnectFailed, match=f"127.0.0.1:{port}"):
        await open_transport(f"tcp://127.0.0.1:{port}?connect_timeout=2")


async def test_aclose_is_idempotent(status_server: int) -> None:
    transport = await open_transport(f"tcp://127.0.0.1:{status_server}")
    await transport.aclose()
    await transport.aclose()
    with pytest.raises(ConnectionLost):
        await transport.write(b"x")

"""file:// on a regular file, a FIFO and a character device (a pty slave)."""

from __future__ import annotations

import asyncio
import os
import select
import tty
from pathlib import Path

import pytest

from drivers.errors import ConnectFailed
from drivers.transports import open_transport
from drivers.transports.file import FileKind, FileTransport


async def test_regular_file_collects_every_write(tmp_path: Path) -> None:
    target = tmp_path / "receipt.bin"
    target.write_bytes(b"")
    async with await open_transport(f"file://{target}") as transport:
        await transport.write(b"\x1b@")
        await transport.write(b"Hello\n")
        assert await transport.read(1, timeout=0.05) == b""
    assert target.read_bytes() == b"\x1b@Hello\n"


async def test_fifo_delivers_bytes_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        transport = await open_transport(f"file://{fifo}")
        assert isinstance(transport, FileTransport)
        assert transport.kind is FileKind.FIFO
        await transport.write(b"\x10\x04\x01")
        # Our own bytes must not come back: the FIFO is write-only for us.
        assert await transport.read(3, timeout=0.05) == b""
        assert os.read(reader, 10) == b"\x10\x04\x01"
        await transport.aclose()
    finally:
        os.close(reader)


async def test_fifo_without_reader_is_connect_failed(tmp_path: Path) -> None:
    fifo = tmp_path / "lp0"
    os.mkfifo(fifo)
    with pytest.raises(ConnectFailed, match="nobody is reading"):
        await open_transport(f"file://{fifo}")


async def test_character_device_reads_and_writes(tmp_path: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        transport = await open_transport(f"file://{os.ttyname(slave)}")
        assert isinstance(transport, FileTransport)
        assert transport.kind is FileKind.DEVICE
        assert transport.readable
        await transport.write(b"\x10\x04\x04")
        ready, _, _ = await asyncio.to_thread(select.select, [master], [], [], 2.0)
        assert ready
        assert os.read(master, 10) == b"\x10\x04\x04"
        asyncio.get_running_loop().call_later(0.05, os.write, master, b"\x1e")
        assert await transport.read(1, timeout=2.0) == b"\x1e"
        await transport.aclose()
    finally:
        os.close(master)
        os.close(slave)


async def test_missing_device_is_connect_failed() -> None:
    with pytest.raises(ConnectFailed, match="/dev/usb/lp97"):
        await open_transport("file:///dev/usb/lp97")

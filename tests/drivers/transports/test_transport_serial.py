"""serial:// through a real pseudo-terminal pair: the slave is the "port", the test
talks from the master side like the printer would."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import Iterator

import pytest

from drivers.errors import ConnectFailed, ConnectionLost, TransportTimeout
from drivers.transports import open_transport


class Pty:
    """A raw pty pair; ``path`` is the slave's device path."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def read_master(self, n: int, timeout: float = 2.0) -> bytes:
        import select

        buf = b""
        while len(buf) < n:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                break
            buf += os.read(self.master, n - len(buf))
        return buf

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


async def test_round_trip(pty: Pty) -> None:
    url = f"serial://{pty.path}?baudrate=38400&bytesize=8&parity=N&stopbits=1&rtscts=0"
    async with await open_transport(url) as transport:
        await transport.write(b"\x10\x04\x01")
        assert await asyncio.to_thread(pty.read_master, 3) == b"\x10\x04\x01"
        os.write(pty.master, b"\x16")
        assert await transport.read(4, timeout=2.0) == b"\x16"


async def test_read_timeout_returns_empty_and_loop_stays_free(pty: Pty) -> None:
    async with await open_transport(f"serial://{pty.path}") as transport:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            assert await transport.read(1, timeout=0.3) == b""
        finally:
            task.cancel()
        # The loop kept running while the read waited.
        assert ticks >= 10


async def test_bytes_arriving_during_read_are_returned(pty: Pty) -> None:
    async with await open_transport(f"serial://{pty.path}") as transport:
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, os.write, pty.master, b"\x1e")
        assert await transport.read(1, timeout=2.0) == b"\x1e"


async def test_vanished_port_is_connection_lost(pty: Pty) -> None:
    transport = await open_transport(f"serial://{pty.path}")
    try:
        os.close(pty.master)
        with pytest.raises(ConnectionLost):
            await transport.read(1, timeout=2.0)
    finally:
        await transport.aclose()


async def test_device_that_stops_reading_times_out_the_write(pty: Pty) -> None:
    # 3 Mbaud keeps the allowed transmission time short; the master never reads, so
    # the pty buffer fills and the write cannot finish.
    url = f"serial://{pty.path}?baudrate=3000000&write_timeout=0.2"
    async with await open_transport(url) as transport:
        with pytest.raises(TransportTimeout):
            await transport.write(b"x" * 200_000)


async def test_missing_port_is_connect_failed(tmp_path: object) -> None:
    with pytest.raises(ConnectFailed, match="/dev/ttyNOPE0"):
        await open_transport("serial:///dev/ttyNOPE0")


async def test_second_opener_is_refused_while_exclusive(pty: Pty) -> None:
    async with await open_transport(f"serial://{pty.path}"):
        with pytest.raises(ConnectFailed, match="lock"):
            await open_transport(f"serial://{pty.path}")

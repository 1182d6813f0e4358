"""Expose any ``drivers.emulation.Emulator`` on a real link: a TCP port or a pseudo-terminal.

``serve_tcp`` makes an emulated printer reachable like a network printer on port 9100;
``PtyServer`` makes it reachable like a serial device (``/dev/pts/N``) that pyserial opens.
Both pump bytes through one ``EmulatorSession`` per host connection, so link faults
(``link=down``) act on them exactly as on the in-process ``emu://`` transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tty
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from drivers.emulation import Emulator, EmulatorSession
from drivers.errors import ConnectFailed, ConnectionLost

__all__ = ["PtyServer", "serve_tcp"]

_CHUNK = 4096
_POLL_SECONDS = 3600.0  # session reads wake on data or close; the timeout only re-arms


async def _replies(session: EmulatorSession) -> AsyncIterator[bytes]:
    """Device→host bytes, as they come, until the session closes (e.g. link down)."""
    while True:
        try:
            chunk = await session.read(_CHUNK, _POLL_SECONDS)
        except ConnectionLost:
            return
        if chunk:
            yield chunk


async def _session_to_sink(session: EmulatorSession, sink: asyncio.StreamWriter) -> None:
    async for chunk in _replies(session):
        sink.write(chunk)
        await sink.drain()


async def _source_to_session(
    source: asyncio.StreamReader, session: EmulatorSession, sink: asyncio.StreamWriter
) -> None:
    """Host→device: feed the emulator until the client hangs up or the session closes.
    The answers to what was fed go out at once (a status reply is awaited by the host);
    what the device says by itself goes through ``_session_to_sink``."""
    while True:
        data = await source.read(_CHUNK)
        if not data:
            return
        try:
            await session.write(data)
        except ConnectionLost:
            return
        replies = session.take()
        if replies:
            sink.write(replies)
            await sink.drain()


async def _serve_client(
    emulator: Emulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        session = emulator.connect()
    except ConnectFailed:
        # A disconnected device: the connection is accepted by the OS, then dropped at once.
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    pumps = [
        asyncio.create_task(_source_to_session(reader, session, writer)),
        asyncio.create_task(_session_to_sink(session, writer)),
    ]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        session.close()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def serve_tcp(emulator: Emulator, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` (0 = any free port; read it from ``server.sockets``).

    Each client gets its own session; when the emulator's link goes down the client's
    socket is closed, and while it is down new clients are closed on arrival.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_client(emulator, reader, writer)

    return await asyncio.start_server(handle, host, port)


_RELINK_POLL_S = 0.05


class PtyServer:
    """The emulator behind a pseudo-terminal: open ``.path`` with pyserial like a real port.

    The pty is raw (no echo, no line editing). The server keeps the slave side open so the
    device node stays valid between clients. While the emulator's link is down, bytes sent
    to the port are lost, as on an unplugged cable; once it is up again a fresh session
    carries both ways.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.path = ""
        self._master = -1
        self._slave = -1
        self._session: EmulatorSession | None = None
        self._inbound: asyncio.Queue[bytes] = asyncio.Queue()
        self._outbound = bytearray()
        self._writer_armed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Create the pty and start pumping. Raises ``ConnectFailed`` if the link is down."""
        if self._loop is not None:
            return
        self._session = self.emulator.connect()
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._loop.add_reader(self._master, self._on_readable)
        self._spawn(self._feed_emulator())
        self._spawn(self._forward_replies(self._session))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, _CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:  # no process has the slave open: nothing to read
                return
            raise
        if data:
            self._inbound.put_nowait(data)

    def _live_session(self) -> EmulatorSession | None:
        """The current session, reconnecting after a link fault once the link is up."""
        if self._session is not None and not self._session.closed:
            return self._session
        try:
            self._session = self.emulator.connect()
        except ConnectFailed:
            self._session = None
            return None
        self._spawn(self._forward_replies(self._session))
        return self._session

    async def _feed_emulator(self) -> None:
        while True:
            data = await self._inbound.get()
            session = self._live_session()
            if session is None:
                continue  # link down: the bytes go nowhere
            with contextlib.suppress(ConnectionLost):
                await session.write(data)

    async def _forward_replies(self, session: EmulatorSession) -> None:
        async for chunk in _replies(session):
            self._outbound += chunk
            self._flush()
        # The link went down. A device that talks by itself (a scanner) must be heard
        # again once it is back up, without waiting for the host to write first.
        while self._master >= 0 and self._session is session:
            if not self.emulator.link_down:
                self._live_session()
                return
            await asyncio.sleep(_RELINK_POLL_S)

    def _flush(self) -> None:
        """Write queued replies to the master; wait for writability if the pty is full."""
        while self._outbound and self._master >= 0:
            try:
                written = os.write(self._master, self._outbound)
            except BlockingIOError:
                break
            del self._outbound[:written]
        want_writer = bool(self._outbound) and self._master >= 0
        if self._loop is not None and want_writer != self._writer_armed:
            if want_writer:
                self._loop.add_writer(self._master, self._flush)
            else:
                self._loop.remove_writer(self._master)
            self._writer_armed = want_writer

    async def aclose(self) -> None:
        """Stop pumping and remove the pty; idempotent."""
        if self._loop is None:
            return
        if self._master >= 0:
            self._loop.remove_reader(self._master)
            if self._writer_armed:
                self._loop.remove_writer(self._master)
                self._writer_armed = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            self._session.close()
            self._session = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        self._loop = None

    async def __aenter__(self) -> PtyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

"""``tcp://host:port``: raw TCP (port 9100 "JetDirect" printers, emulator listeners).

Options: ``connect_timeout`` (seconds, default 3) and ``write_timeout`` (seconds,
default 10: a printer that is out of paper stops reading and the write blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from drivers.errors import ConnectFailed, ConnectionLost, InvalidURL, TransportTimeout
from drivers.transports.base import Transport
from drivers.transports.registry import seconds_option
from drivers.url import DeviceURL

__all__ = ["DEFAULT_PORT", "TcpTransport"]

DEFAULT_PORT = 9100

_OPTIONS = {"connect_timeout", "write_timeout"}


class TcpTransport(Transport):
    """asyncio streams with TCP_NODELAY (status queries are tiny round trips)."""

    def __init__(self, url: DeviceURL) -> None:
        super().__init__(url)
        url.check_options(_OPTIONS)
        if not url.host:
            raise InvalidURL(f"{url.raw!r}: expected tcp://HOST[:PORT]")
        if url.port == 0 or (url.port is None and ":" in url.netloc.rpartition("]")[2]):
            raise InvalidURL(f"{url.raw!r}: the port must be a number from 1 to 65535")
        if url.path not in ("", "/"):
            raise InvalidURL(f"{url.raw!r}: tcp URLs take no path")
        self.host = url.host
        self.port = url.port or DEFAULT_PORT
        self.connect_timeout = seconds_option(url, "connect_timeout", 3.0)
        self.write_timeout = seconds_option(url, "write_timeout", 10.0)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def address(self) -> str:
        """``host:port`` for messages (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def open(self) -> None:
        if self._writer is not None:
            return
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as exc:
            raise ConnectFailed(
                f"{self.address}: no answer within {self.connect_timeout:g} s"
            ) from exc
        except OSError as exc:
            raise ConnectFailed(f"{self.address}: {exc.strerror or exc}") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader, self._writer = reader, writer

    def _streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            raise ConnectionLost(f"{self.address}: not connected")
        return self._reader, self._writer

    async def write(self, data: bytes) -> None:
        reader, writer = self._streams()
        if writer.is_closing() or reader.at_eof():
            raise ConnectionLost(f"{self.address}: connection closed by the device")
        try:
            writer.write(data)
            async with asyncio.timeout(self.write_timeout):
                await writer.drain()
        except TimeoutError as exc:
            raise TransportTimeout(
                f"{self.address}: device did not accept data within {self.write_timeout:g} s"
            ) from exc
        except OSError as exc:  # ConnectionResetError, BrokenPipeError, ...
            raise ConnectionLost(f"{self.address}: {exc.strerror or exc}") from exc

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        reader, _ = self._streams()
        try:
            async with asyncio.timeout(timeout):
                data = await reader.read(max_bytes)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise ConnectionLost(f"{self.address}: {exc.strerror or exc}") from exc
        if not data:
            raise ConnectionLost(f"{self.address}: connection closed by the device")
        return data

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is None:
            return
        writer.close()
        # A peer that already vanished makes wait_closed raise; closing is still done.
        with contextlib.suppress(OSError):
            await writer.wait_closed()

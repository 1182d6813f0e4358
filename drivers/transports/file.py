"""``file:///dev/usb/lp0``: a printer through its character device (or a FIFO or file).

The kernel's ``usblp`` driver exposes USB printers as ``/dev/usb/lpN``; writes go to the
printer and, when the device supports it, reads return its status bytes. The same
transport writes into a FIFO (another program reads it) or appends to a regular file,
which is handy for capturing exactly what would be printed.

Character devices are opened read-write if the driver allows, else write-only; FIFOs
write-only (a read-write FIFO would read back our own bytes); regular files append.
Everything is non-blocking: pollable descriptors wait on the event loop, regular files
are written from a worker thread. Reads that the device cannot answer return b"" after
the timeout, as a silent printer would.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from enum import Enum
from pathlib import Path

from drivers.errors import ConnectFailed, ConnectionLost, TransportTimeout
from drivers.transports._fd import read_fd, write_fd
from drivers.transports.base import Transport
from drivers.transports.registry import local_path, seconds_option
from drivers.url import DeviceURL

__all__ = ["FileKind", "FileTransport"]

_OPTIONS = {"write_timeout"}
# errno values meaning the device behind the descriptor is gone (printer unplugged).
_GONE = {errno.ENODEV, errno.EIO, errno.ENXIO, errno.EPIPE}


class FileKind(Enum):
    """What the path turned out to be; decides how it is opened and waited on."""

    DEVICE = "device"
    FIFO = "fifo"
    REGULAR = "regular"


class FileTransport(Transport):
    """Bytes to (and, for devices that answer, from) a path on the local filesystem."""

    def __init__(self, url: DeviceURL) -> None:
        super().__init__(url)
        url.check_options(_OPTIONS)
        self.path = local_path(url, "file:///dev/usb/lp0")
        self.write_timeout = seconds_option(url, "write_timeout", 10.0)
        self._fd: int | None = None
        self.kind: FileKind | None = None
        self.readable = False

    async def open(self) -> None:
        if self._fd is not None:
            return
        self._fd, self.kind, self.readable = await asyncio.to_thread(self._open_path)

    def _open_path(self) -> tuple[int, FileKind, bool]:
        try:
            mode = Path(self.path).stat().st_mode
        except OSError as exc:
            raise ConnectFailed(f"{self.path}: {exc.strerror}") from exc
        if stat.S_ISCHR(mode):
            kind = FileKind.DEVICE
        elif stat.S_ISFIFO(mode):
            kind = FileKind.FIFO
        elif stat.S_ISREG(mode):
            kind = FileKind.REGULAR
        else:
            raise ConnectFailed(f"{self.path}: not a device, FIFO or regular file")
        base = os.O_NOCTTY | os.O_CLOEXEC
        try:
            if kind is FileKind.DEVICE:
                try:
                    return os.open(self.path, base | os.O_RDWR | os.O_NONBLOCK), kind, True
                except OSError as exc:
                    # Write-only printer drivers and read-only permissions refuse O_RDWR.
                    if exc.errno not in (errno.EACCES, errno.EPERM, errno.EINVAL, errno.EROFS):
                        raise
                return os.open(self.path, base | os.O_WRONLY | os.O_NONBLOCK), kind, False
            if kind is FileKind.FIFO:
                return os.open(self.path, base | os.O_WRONLY | os.O_NONBLOCK), kind, False
            return os.open(self.path, base | os.O_WRONLY | os.O_APPEND), kind, False
        except OSError as exc:
            hint = " (nobody is reading the FIFO)" if exc.errno == errno.ENXIO else ""
            raise ConnectFailed(f"{self.path}: {exc.strerror}{hint}") from exc

    def _open_fd(self) -> int:
        if self._fd is None:
            raise ConnectionLost(f"{self.path}: not open")
        return self._fd

    def _lost(self, exc: OSError) -> ConnectionLost:
        return ConnectionLost(f"{self.path}: {exc.strerror or exc}")

    async def write(self, data: bytes) -> None:
        fd = self._open_fd()
        try:
            async with asyncio.timeout(self.write_timeout):
                if self.kind is FileKind.REGULAR:
                    # Disk files cannot be polled; a thread keeps a slow disk off the loop.
                    await asyncio.to_thread(_write_all, fd, data)
                    return
                await write_fd(fd, data)
        except TimeoutError as exc:
            raise TransportTimeout(
                f"{self.path}: device did not take the data within {self.write_timeout:g} s"
            ) from exc
        except OSError as exc:
            if exc.errno in _GONE:
                raise self._lost(exc) from exc
            raise ConnectionLost(f"{self.path}: write failed: {exc.strerror}") from exc

    async def read(self, max_bytes: int, timeout: float) -> bytes:  # noqa: ASYNC109 - the Transport interface
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        fd = self._open_fd()
        if not self.readable:
            await asyncio.sleep(timeout)
            return b""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    data = await read_fd(fd, max_bytes)
                    if data:
                        return data
                    # usblp reports "nothing to say" as a zero-length read; wait and retry
                    # rather than spin, since the device has no readiness to poll for.
                    await asyncio.sleep(min(0.05, timeout))
        except TimeoutError:
            return b""
        except OSError as exc:
            raise self._lost(exc) from exc

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

"""Reading and writing a non-blocking file descriptor from the event loop (serial ports,
devices): the loop waits for readiness, never for the I/O itself. Callers bound the time."""

from __future__ import annotations

import asyncio
import os

__all__ = ["read_fd", "wait_fd", "write_fd"]


async def wait_fd(fd: int, *, writable: bool) -> None:
    """Return once ``fd`` is writable (or readable); the caller bounds it with a timeout."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    add, remove = (
        (loop.add_writer, loop.remove_writer) if writable else (loop.add_reader, loop.remove_reader)
    )
    add(fd, wake)
    try:
        await ready
    finally:
        remove(fd)


async def write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data``, waiting for room whenever the device is full."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await wait_fd(fd, writable=True)


async def read_fd(fd: int, max_bytes: int) -> bytes:
    """Read once something is there; b"" is what the device said (end or nothing)."""
    while True:
        try:
            return os.read(fd, max_bytes)
        except BlockingIOError:
            await wait_fd(fd, writable=False)

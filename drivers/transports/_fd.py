"""Waiting on a non-blocking file descriptor from the event loop (serial ports, devices)."""

from __future__ import annotations

import asyncio

__all__ = ["wait_fd"]


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

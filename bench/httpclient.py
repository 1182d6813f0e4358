"""A minimal keep-alive HTTP/1.1 client on asyncio streams.

The load generator shares two cores with the daemon; a full-featured client would spend
more CPU per request than the daemon and measure itself. This one only frames requests.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class HttpConnection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> HttpConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    async def request(
        self, method: str, path: str, body: Any = None, *, raw: bool = False
    ) -> tuple[int, Any]:
        """Send one request; the answer parsed as JSON, or its bytes with ``raw``."""
        assert self._reader is not None and self._writer is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self._writer.write(head + payload)
        status_line = await self._reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self._reader.readexactly(length)
        if raw:
            return status, data
        return status, json.loads(data) if data else None

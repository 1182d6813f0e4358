"""Just enough HTTP/1.1 for fpmate.cgi: one POST per connection (client) and an
incremental request parser (emulator).

A hand-rolled client rather than httpx: httpx is only a dev dependency, and the driver
needs exactly one request shape. Every failure is translated to a ``drivers.errors``
type, and the distinction matters for fiscal documents: a failed connect means nothing
was sent (``ConnectFailed``), while a timeout or a dropped connection after sending
leaves the document's fate unknown (``TransportTimeout`` / ``ConnectionLost``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from drivers.errors import ConnectFailed, ConnectionLost, ProtocolError, TransportTimeout

__all__ = ["HttpRequest", "HttpRequestParser", "http_response", "post"]

_MAX_HEADER_BYTES = 16 * 1024
_MAX_BODY_BYTES = 1024 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def _split_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers on this wire
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > _MAX_BODY_BYTES:
                raise ValueError("response body too large")
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read(_MAX_BODY_BYTES)  # HTTP/1.0 style: the body ends at close


# One deadline bounds connect and answer, hence a timeout argument.
async def post(host: str, port: int, path: str, body: bytes, *, timeout: float) -> bytes:  # noqa: ASYNC109
    """POST ``body`` as ``text/xml`` and return the response body (status 200 only).

    ``timeout`` bounds the whole exchange, connect included.
    """
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError as exc:
        raise ConnectFailed(f"{address}: no answer within {timeout:g} s") from exc
    except OSError as exc:
        raise ConnectFailed(f"{address}: {exc.strerror or exc}") from exc
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {address}\r\n"
        "Content-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("ascii") + body
    try:
        async with asyncio.timeout_at(deadline):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, headers = _split_head(head[:-4])
            answer = await _read_body(reader, headers)
    except TimeoutError as exc:
        raise TransportTimeout(f"{address}: no complete answer within {timeout:g} s") from exc
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError) as exc:
        raise ConnectionLost(f"{address}: the connection dropped before the answer") from exc
    except ValueError as exc:
        raise ProtocolError(f"{address}: malformed HTTP answer: {exc}") from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"{address}: not an HTTP answer: {status_line!r}")
    if parts[1] != "200":
        raise ProtocolError(f"{address}{path}: HTTP {status_line.partition(' ')[2]}")
    return answer


@dataclass
class HttpRequest:
    """One parsed request."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def wants_close(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


@dataclass
class HttpRequestParser:
    """Feed bytes as they come (any split); complete requests come out in order.

    Bodies need ``Content-Length`` (what every fpmate client sends); a request without
    one has an empty body. Malformed input raises ValueError.
    """

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[HttpRequest]:
        self._buffer += data
        requests: list[HttpRequest] = []
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEADER_BYTES:
                    raise ValueError("request head too large")
                return requests
            request_line, headers = _split_head(bytes(self._buffer[:end]))
            method, target, version = (request_line.split(" ") + ["", ""])[:3]
            if not version.startswith("HTTP/1."):
                raise ValueError(f"bad request line {request_line!r}")
            length = int(headers.get("content-length", "0"))
            if length < 0 or length > _MAX_BODY_BYTES:
                raise ValueError("bad Content-Length")
            if len(self._buffer) < end + 4 + length:
                return requests
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            requests.append(HttpRequest(method, target, headers, body))


def http_response(
    status: int, body: bytes, *, close: bool, content_type: str = "text/xml; charset=utf-8"
) -> bytes:
    """A complete response with ``Content-Length``."""
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode("ascii") + body

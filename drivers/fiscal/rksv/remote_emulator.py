"""An emulated remote signature service (cloud HSM / card server) for ``RemoteSignatureUnit``.

It speaks the protocol documented in ``drivers.fiscal.rksv.remote`` over HTTP/1.1 on a
real TCP port, with a P-256 key held by a ``SoftwareSignatureUnit``.

Faults (``apply_faults``):

* ``state``: ``ok`` | ``failing`` (every request gets 503, like a pulled card) |
  ``down`` (the port stops listening: connection refused; back to another state listens
  again on the same port) | ``slow`` (answers come after ``slow_delay`` seconds, longer
  than a client's usual timeout).
* ``signature``: ``ok`` | ``corrupt`` (200 answers whose signature does not verify, a
  confused service the client must not trust).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
from collections.abc import Mapping
from typing import Any

from drivers.errors import UnsupportedFeature
from drivers.fiscal.epson_it._http import HttpRequest, HttpRequestParser
from drivers.fiscal.rksv import crypto
from drivers.fiscal.rksv.units import SignatureUnitUnavailable, SoftwareSignatureUnit

__all__ = ["RemoteUnitEmulator", "RemoteUnitServer"]

_CHUNK = 64 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
_FAULTS = {
    "state": ("ok", "failing", "down", "slow"),
    "signature": ("ok", "corrupt"),
}


def _json_response(status: int, payload: Mapping[str, Any], *, close: bool) -> bytes:
    body = json.dumps(payload).encode()
    extra = "WWW-Authenticate: Bearer\r\n" if status == 401 else ""
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode("ascii") + body


class RemoteUnitEmulator:
    """The service's state: its key, its token, its faults and a signature counter."""

    def __init__(
        self,
        *,
        key_id: str | None = None,
        token: str,
        slow_delay: float = 5.0,
        unit_id: str = "emulated-hsm",
    ) -> None:
        """``key_id`` (``U:ATU12345678-K1``) makes a bare key as closed systems use;
        without it the key comes with a self-signed certificate named by its serial."""
        self.unit = SoftwareSignatureUnit.generate(key_id=key_id, unit_id=unit_id)
        self.token = token
        self.slow_delay = slow_delay
        self.state = "ok"
        self.corrupt_signatures = False
        self.signatures = 0
        """Signatures handed out (corrupt ones included)."""
        self._servers: set[RemoteUnitServer] = set()

    async def serve(self, host: str, port: int) -> RemoteUnitServer:
        """Listen on ``host:port`` (0 = a free port, read ``.port``)."""
        server = RemoteUnitServer(self, host, port)
        await server.start()
        return server

    def apply_faults(self, faults: Mapping[str, str]) -> None:
        """Apply ``{"state": ..., "signature": ...}``; unknown keys or values raise
        ``UnsupportedFeature`` before anything changes."""
        for key, value in faults.items():
            if key not in _FAULTS:
                raise UnsupportedFeature(
                    f"unknown signature service fault {key!r} (state, signature)"
                )
            if value not in _FAULTS[key]:
                raise UnsupportedFeature(f"{key}={value!r}: expected {' or '.join(_FAULTS[key])}")
        if "signature" in faults:
            self.corrupt_signatures = faults["signature"] == "corrupt"
        if "state" in faults:
            self.state = faults["state"]
            for server in list(self._servers):
                if self.state == "down":
                    server.suspend()
                else:
                    server.resume()

    def identity(self) -> dict[str, Any]:
        """The ``GET /v1/unit`` answer."""
        return {
            "unit_id": self.unit.unit_id,
            "certificate_serial": self.unit.certificate_serial(),
            "certificate": self.unit.certificate_pem(),
            "public_key": self.unit.public_key_pem(),
        }

    async def handle(self, request: HttpRequest) -> bytes:
        """One request in, one complete HTTP answer out (faults applied)."""
        close = request.wants_close
        if self.state == "slow":
            await asyncio.sleep(self.slow_delay)
        if not self._authorized(request):
            return _json_response(401, {"error": "missing or wrong bearer token"}, close=close)
        if self.state == "failing":
            return _json_response(503, {"error": "signature card out of order"}, close=close)
        if request.path == "/v1/unit":
            if request.method != "GET":
                return _json_response(405, {"error": "GET only"}, close=close)
            return _json_response(200, self.identity(), close=close)
        if request.path == "/v1/sign":
            if request.method != "POST":
                return _json_response(405, {"error": "POST only"}, close=close)
            return await self._sign(request, close=close)
        return _json_response(404, {"error": f"no such resource {request.path}"}, close=close)

    def _authorized(self, request: HttpRequest) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.token.encode()
        )

    async def _sign(self, request: HttpRequest, *, close: bool) -> bytes:
        try:
            body = json.loads(request.body)
            signing_input = crypto.b64url_decode(body["input"])
        except (ValueError, KeyError, TypeError) as exc:
            return _json_response(400, {"error": f"bad sign request: {exc}"}, close=close)
        try:
            signature = await self.unit.sign(signing_input)
        except SignatureUnitUnavailable as exc:
            return _json_response(503, {"error": str(exc)}, close=close)
        if self.corrupt_signatures:
            signature = bytes([signature[0] ^ 0xFF]) + signature[1:]
        self.signatures += 1
        return _json_response(200, {"signature": crypto.b64url_encode(signature)}, close=close)


class RemoteUnitServer:
    """The emulator's HTTP listener. While the state is ``down`` it does not listen at
    all, so clients get "connection refused" like an unreachable service."""

    def __init__(self, emulator: RemoteUnitEmulator, host: str, port: int) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._sock: socket.socket | None = None
        """The listening socket while the state is not ``down``."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def base_url(self) -> str:
        """``http://host:port`` for ``RemoteSignatureUnit``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening (and follow the emulator's state from now on)."""
        self.emulator._servers.add(self)
        if self.emulator.state != "down":
            self._listen()
            await asyncio.sleep(0)

    def _listen(self) -> None:
        # Bind synchronously, so a client connecting right after "back up" waits in the
        # backlog instead of being refused.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sock = sock
        task = asyncio.get_running_loop().create_task(self._serve_on(sock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_on(self, sock: socket.socket) -> None:
        try:
            server = await asyncio.start_server(self._handle, sock=sock)
        except BaseException:  # cancelled by "down" right after "up"
            sock.close()
            raise
        if self._sock is not sock:  # suspended meanwhile
            server.close()
            return
        self._server = server

    def suspend(self) -> None:
        """Stop listening and drop every open connection."""
        # Close the socket now, not in a task, so the port is free for ``resume``.
        if self._server is not None:
            self._server.close()
            self._server = None
        elif self._sock is not None:
            self._sock.close()
        self._sock = None
        # Python 3.11's Server.close leaves accepted connections running: cancel them.
        for task in list(self._tasks | self._handlers):
            task.cancel()

    def resume(self) -> None:
        """Listen again on the same port."""
        if not self._closed and self._sock is None:
            self._listen()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        parser = HttpRequestParser()
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                try:
                    requests = parser.feed(data)
                except ValueError as exc:
                    writer.write(_json_response(400, {"error": str(exc)}, close=True))
                    return
                for request in requests:
                    writer.write(await self.emulator.handle(request))
                    await writer.drain()
                    if request.wants_close:
                        return
        except (ConnectionError, OSError):
            return
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def aclose(self) -> None:
        """Stop for good; idempotent."""
        self._closed = True
        self.emulator._servers.discard(self)
        self.suspend()
        await asyncio.gather(*self._tasks, *self._handlers, return_exceptions=True)

    async def __aenter__(self) -> RemoteUnitServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

"""Who may talk to the daemon: Host, Origin/CORS, body size and the bearer token.

:class:`SecurityMiddleware` is a plain ASGI middleware (so it also guards WebSocket
handshakes and costs one dictionary walk per request).  In order it checks:

1. ``Host`` must be in ``allowed_hosts`` (port stripped, IPv6 literals understood),
   on every path including ``/docs``, ``/openapi.json`` and ``/v1/ws``: a page on
   a DNS-rebound name must not reach the daemon.  Otherwise 400 ``host_not_allowed``.
2. ``Origin``: absent is fine (curl, native apps); ``null`` or an origin not in
   ``allowed_origins`` is 403 ``origin_not_allowed`` (WebSocket handshakes too).
   The daemon's own origin (``scheme://`` + the allowed ``Host``) counts as allowed,
   so the bundled ``/docs`` page can send requests.  Allowed cross-origin requests
   get ``Access-Control-Allow-Origin`` with that exact origin (never ``*``) and
   ``Vary: Origin``; preflights are answered here with 204, including
   ``Access-Control-Allow-Private-Network: true`` when asked (Chrome's Private
   Network Access: a public https page calling a box on the store LAN).
3. Body size: a ``Content-Length`` above ``max_body_bytes`` is refused with 413
   ``body_too_large`` before anything is read; bodies without a length are counted
   while they stream and cut off with 413 once they pass the limit.

The bearer token is a route dependency, not middleware, so that routes show their
security in the OpenAPI document: :data:`require_token` (reads ``app.state.token``,
else ``app.state.runtime.token``) or :func:`make_token_dependency` with an explicit
source.  Add it to every router except health; :data:`PUBLIC_PATHS` are let through
even when it is applied app-wide.  WebSocket routes call :func:`accept_websocket`.

Route authors: a GET must never change state.  Browsers send cross-site GETs
without a preflight, so the Origin check is the only guard such a GET would have.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Annotated, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from posbridge.api.errors import Problem, ProblemCode
from posbridge.auth import token_matches

__all__ = [
    "ALLOW_HEADERS",
    "ALLOW_METHODS",
    "EXPOSE_HEADERS",
    "PUBLIC_PATHS",
    "RequireToken",
    "SecurityMiddleware",
    "TokenSource",
    "accept_websocket",
    "bearer_token",
    "make_token_dependency",
    "normalize_host",
    "normalize_origin",
    "require_token",
    "token_from_app_state",
]

log = logging.getLogger(__name__)

PUBLIC_PATHS: Final = frozenset({"/v1/health", "/docs", "/docs/oauth2-redirect", "/openapi.json"})
"""Paths served without a token (Host and Origin checks still apply)."""

ALLOW_METHODS: Final = ("GET", "POST", "PUT", "DELETE")
ALLOW_HEADERS: Final = ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID")
EXPOSE_HEADERS: Final = ("Location", "Retry-After", "Idempotent-Replayed", "WWW-Authenticate")
PREFLIGHT_MAX_AGE: Final = 600

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_MAX_SHOWN = 200  # longest header value echoed in a problem detail

TokenSource = Callable[[], str]


# ---------------------------------------------------------------- normalising


def _strip_port(value: str) -> str | None:
    """``host[:port]`` or ``[v6][:port]`` → lower-case host without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        rest = value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        host = value[1:end]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
        if not port.isdigit():
            return None
    elif ":" in value:
        host = value  # a bare IPv6 address, as written in a config file
    else:
        host = value
    host = host.rstrip(".")  # "localhost." is the same name as "localhost"
    return host or None


def normalize_host(value: str) -> str | None:
    """Normalise a ``Host`` header or an ``allowed_hosts`` entry; ``None`` if malformed."""
    return _strip_port(value)


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]``, lower-case, default port dropped; ``None`` if malformed."""
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep or scheme not in _DEFAULT_PORTS or not rest or "/" in rest or "@" in rest:
        return None
    port: int | None = None
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        host_part, tail = rest[: end + 1], rest[end + 1 :]
    elif ":" in rest:
        host_part, _, port_text = rest.partition(":")
        tail = ":" + port_text
    else:
        host_part, tail = rest, ""
    if tail:
        if not (tail.startswith(":") and tail[1:].isdigit()):
            return None
        port = int(tail[1:])
    if not host_part or host_part == "[]":
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host_part}"
    return f"{scheme}://{host_part}:{port}"


def _header(scope: Scope, name: bytes) -> list[str]:
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


# ---------------------------------------------------------------- middleware


class _BodyTooLarge(Exception):
    """Raised into the app from ``receive`` once the body passes the limit."""


class SecurityMiddleware:
    """Host allow-list, Origin allow-list with CORS, and a request body limit.

    ``allowed_hosts`` are host names or IP addresses (ports ignored);
    ``allowed_origins`` are ``scheme://host[:port]`` strings.  Set
    ``allow_same_origin=False`` to refuse the daemon's own origin unless listed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Collection[str],
        allowed_origins: Collection[str],
        max_body_bytes: int,
        allow_same_origin: bool = True,
        expose_headers: Iterable[str] = EXPOSE_HEADERS,
    ) -> None:
        self.app = app
        hosts = {normalize_host(host) for host in allowed_hosts}
        self.allowed_hosts = frozenset(host for host in hosts if host)
        origins: set[str] = set()
        for origin in allowed_origins:
            normal = normalize_origin(origin)
            if normal is None:
                raise ValueError(f"allowed origin {origin!r} is not scheme://host[:port]")
            origins.add(normal)
        self.allowed_origins = frozenset(origins)
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        self.max_body_bytes = max_body_bytes
        self.allow_same_origin = allow_same_origin
        self.expose_headers = ", ".join(expose_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        problem = self._check_host(scope)
        host = "" if problem else _header(scope, b"host")[0]
        origin: str | None = None
        if problem is None:
            origin, problem = self._check_origin(scope, host)
        if problem is not None:
            await _reject(scope, receive, send, problem)
            return

        if kind == "websocket":
            await self.app(scope, receive, send)
            return

        cross_origin = origin is not None and not self._same_origin(scope, origin, host)
        if cross_origin and origin is not None:
            if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
                await self._preflight(scope, receive, send, origin)
                return
            send = self._cors_send(send, origin)
        await self._with_body_limit(scope, receive, send)

    # -- Host

    def _check_host(self, scope: Scope) -> Problem | None:
        values = _header(scope, b"host")
        if len(values) != 1:
            return Problem(
                400,
                ProblemCode.HOST_NOT_ALLOWED,
                "Host not allowed",
                "the request must carry exactly one Host header",
            )
        host = normalize_host(values[0])
        if host is not None and host in self.allowed_hosts:
            return None
        shown = values[0][:_MAX_SHOWN]
        log.info("refused request for Host %r (not in allowed_hosts)", shown)
        return Problem(
            400,
            ProblemCode.HOST_NOT_ALLOWED,
            "Host not allowed",
            f"Host {shown!r} is not served here; add it to server.allowed_hosts",
            {"host": shown},
        )

    # -- Origin

    def _same_origin(self, scope: Scope, origin: str, host: str) -> bool:
        if not self.allow_same_origin:
            return False
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        return origin == normalize_origin(f"{scheme}://{host.strip()}")

    def _check_origin(self, scope: Scope, host: str) -> tuple[str | None, Problem | None]:
        values = _header(scope, b"origin")
        if not values:
            return None, None
        raw = values[0]
        normal = normalize_origin(raw) if len(values) == 1 else None
        if normal is not None and (
            normal in self.allowed_origins or self._same_origin(scope, normal, host)
        ):
            return normal, None
        shown = raw[:_MAX_SHOWN]
        log.info("refused request from Origin %r (not in allowed_origins)", shown)
        return None, Problem(
            403,
            ProblemCode.ORIGIN_NOT_ALLOWED,
            "Origin not allowed",
            f"Origin {shown!r} may not use this daemon; add it to server.allowed_origins",
            {"origin": shown},
        )

    # -- CORS

    def _cors_headers(self, origin: str) -> dict[str, str]:
        return {
            "access-control-allow-origin": origin,
            "access-control-expose-headers": self.expose_headers,
        }

    def _cors_send(self, send: Send, origin: str) -> Send:
        extra = self._cors_headers(origin)

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(extra)
                headers.add_vary_header("Origin")
            await send(message)

        return cors_send

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        headers = {
            "access-control-allow-origin": origin,
            "access-control-allow-methods": ", ".join(ALLOW_METHODS),
            "access-control-allow-headers": ", ".join(ALLOW_HEADERS),
            "access-control-max-age": str(PREFLIGHT_MAX_AGE),
            "vary": "Origin",
        }
        pna = _header(scope, b"access-control-request-private-network")
        if pna and pna[0].strip().lower() == "true":
            headers["access-control-allow-private-network"] = "true"
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    # -- body size

    def _too_large(self) -> Problem:
        return Problem(
            413,
            ProblemCode.BODY_TOO_LARGE,
            "Body too large",
            f"the request body exceeds the limit of {self.max_body_bytes} bytes",
            {"max_body_bytes": self.max_body_bytes},
        )

    async def _with_body_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        lengths = _header(scope, b"content-length")
        if lengths:
            try:
                declared = int(lengths[0])
            except ValueError:
                declared = -1
            if declared < 0 or len(set(lengths)) > 1:
                await _reject(
                    scope,
                    receive,
                    send,
                    Problem(400, ProblemCode.BAD_REQUEST, None, "invalid Content-Length"),
                )
                return
            if declared > self.max_body_bytes:
                await _reject(scope, receive, send, self._too_large())
                return

        limit = self.max_body_bytes
        received = 0
        exceeded = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if exceeded:
                # Whatever the app makes of the interrupted body (often a 400 or
                # 500 from its own handlers), the client gets the 413.
                if not answered:
                    answered = True
                    await self._too_large().to_response()(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not answered:
            answered = True
            await self._too_large().to_response()(scope, receive, send)


async def _reject(scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
    response = problem.to_response()
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    # WebSocket: answer the handshake with an HTTP status when the server can,
    # else close before accepting (servers turn that into a 403).
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await response(scope, receive, send)
    else:
        await send({"type": "websocket.close", "code": 1008})


# ---------------------------------------------------------------- bearer token


def token_from_app_state(conn: HTTPConnection) -> str:
    """The expected token: ``app.state.token``, else ``app.state.runtime.token``."""
    state = conn.app.state
    token = getattr(state, "token", None)
    if token is None:
        runtime = getattr(state, "runtime", None)
        token = getattr(runtime, "token", None)
    if not isinstance(token, str) or not token:
        # Fail closed: a daemon without a token must not serve protected routes.
        raise RuntimeError("no API token configured on app.state")
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token from an ``Authorization: Bearer <token>`` value, else ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        ProblemCode.UNAUTHORIZED,
        "Unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="posbridge"'},
    )


def make_token_dependency(
    get_token: TokenSource | None = None,
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that demands ``Authorization: Bearer <token>``.

    ``get_token`` returns the expected token; without it the token comes from the
    app state (:func:`token_from_app_state`).  Missing or wrong tokens raise 401
    ``unauthorized`` with ``WWW-Authenticate: Bearer``.  Paths in
    :data:`PUBLIC_PATHS` pass, so the dependency may be applied app-wide.
    """

    # async although it never awaits: FastAPI runs plain ``def`` dependencies in a
    # thread pool, a thread hop on every request for a few string compares.
    async def check_token(request: Request) -> None:
        if request.scope["path"] in PUBLIC_PATHS:
            return
        expected = get_token() if get_token is not None else token_from_app_state(request)
        given = bearer_token(request.headers.get("authorization"))
        if given is None:
            raise _unauthorized("send the API token as 'Authorization: Bearer <token>'")
        if not token_matches(expected, given):
            raise _unauthorized("the API token is not valid")

    return check_token


require_token = make_token_dependency()
"""Token dependency reading the token from the app state; ``Depends(require_token)``."""

RequireToken = Annotated[None, Depends(require_token)]
"""Annotated form of :data:`require_token` for route signatures."""

_WS_SUBPROTOCOL = "bearer"


def _redact_query_token(scope: Scope) -> None:
    # Servers log the handshake with the scope's query string ("WebSocket
    # /v1/ws?token=..." [accepted]); keep the token out of the journal.  Starlette
    # has already parsed and cached the parameters, so nothing else is affected.
    raw: bytes = scope.get("query_string", b"")
    if b"token=" not in raw:
        return
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    redacted = [(key, "redacted" if key == "token" else value) for key, value in pairs]
    scope["query_string"] = urlencode(redacted).encode("latin-1")


async def accept_websocket(websocket: WebSocket, get_token: TokenSource | None = None) -> bool:
    """Check the token of a WebSocket handshake; accept it and return True if valid.

    Browsers cannot set headers on a WebSocket, so besides ``Authorization`` the
    token may come as the subprotocol pair ``Sec-WebSocket-Protocol: bearer,
    <token>`` (preferred: ``bearer`` is echoed back) or as a ``?token=`` query
    parameter (redacted from the scope before the server logs the handshake).  A
    bad token is refused with 401 problem+json when the server supports handshake
    responses, else closed with 1008.  Returns False after refusing.
    """
    expected = get_token() if get_token is not None else token_from_app_state(websocket)
    subprotocol: str | None = None
    given = bearer_token(websocket.headers.get("authorization"))
    offered = [item.strip() for item in websocket.scope.get("subprotocols", [])]
    if given is None and _WS_SUBPROTOCOL in offered:
        index = offered.index(_WS_SUBPROTOCOL)
        if index + 1 < len(offered):
            given = offered[index + 1]
            subprotocol = _WS_SUBPROTOCOL
    if given is None:
        given = websocket.query_params.get("token") or None
    _redact_query_token(websocket.scope)
    if given is not None and token_matches(expected, given):
        await websocket.accept(subprotocol=subprotocol)
        return True
    problem = _unauthorized(
        "send the API token as 'Sec-WebSocket-Protocol: bearer, <token>'"
        if given is None
        else "the API token is not valid"
    )
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(problem.to_response())
    else:
        await websocket.close(code=1008, reason="unauthorized")
    return False

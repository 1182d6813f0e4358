"""Event stream routes: ``GET /v1/events`` (Server-Sent Events) and ``WS /v1/ws``.

Both send the bus's events as ``{"seq", "type", "device_id", "time", "data"}``.

SSE frames are ``id: <seq>``, ``event: <type>``, ``data: <json>``; the stream
starts with ``retry: 2000`` and sends a ``: keep-alive`` comment after 15 s of
silence, so proxies and NAT boxes keep the connection.  Resume with the
``Last-Event-ID`` header (browsers send it on reconnect) or ``?since=<seq>``; the
header wins because a reconnecting browser repeats the original URL.  Without
either, the stream carries live events only.

Both take filters, repeatable and combined: ``?device_id=scanner-1`` (events of those
devices only), ``?type=scan`` (those event types only), ``?lane=till-1`` (scan events
of the scanners bound to that lane only; other events pass). System events always pass.

The WebSocket takes ``?since=`` the same way and authenticates with
:func:`posbridge.api.security.accept_websocket`.  A subscriber that falls behind
gets ``events.overflow`` and the stream ends (WebSocket close code 1013); it can
reconnect with that event's ``seq``.

Wire it with ``app.include_router(events_router())``: by default the bus is
``app.state.event_bus`` (else ``app.state.runtime.events``) and the token comes
from :func:`posbridge.api.security.token_from_app_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from posbridge.api.errors import Problem, ProblemCode
from posbridge.api.security import TokenSource, accept_websocket, make_token_dependency
from posbridge.events import Event, EventBus, EventFilter, Subscription, SystemEvent

__all__ = [
    "KEEPALIVE_S",
    "RETRY_MS",
    "BusSource",
    "EventStreamResponse",
    "bus_from_app_state",
    "events_router",
    "format_sse",
]

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
RETRY_MS = 2000
WS_CLOSE_OVERFLOW = 1013  # "try again later": reconnect and resume from the ring

BusSource = Callable[[HTTPConnection], EventBus]


def bus_from_app_state(conn: HTTPConnection) -> EventBus:
    """The bus at ``app.state.event_bus``, else ``app.state.runtime.events``."""
    state = conn.app.state
    bus = getattr(state, "event_bus", None)
    if bus is None:
        bus = getattr(getattr(state, "runtime", None), "events", None)
    if not isinstance(bus, EventBus):
        raise RuntimeError("no EventBus configured on app.state")
    return bus


def _event_json(event: Event) -> str:
    # default=str: payloads come from many modules; a stray datetime or Path must
    # not kill every subscriber's stream.
    return json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False, default=str)


def format_sse(event: Event) -> bytes:
    """One SSE frame; JSON escapes newlines, so ``data`` is always a single line."""
    return f"id: {event.seq}\nevent: {event.type}\ndata: {_event_json(event)}\n\n".encode()


class EventStreamResponse(Response):
    """A ``text/event-stream`` response fed by a :class:`Subscription`.

    It watches for the client's disconnect alongside the stream, so a closed
    connection ends the subscription at once rather than at the next write.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        subscription: Subscription,
        *,
        keepalive_s: float = KEEPALIVE_S,
        retry_ms: int = RETRY_MS,
    ) -> None:
        # Not Response.__init__: that would add "Content-Length: 0".
        self.subscription = subscription
        self.keepalive_s = keepalive_s
        self.retry_ms = retry_ms
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.subscription:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            stream = asyncio.create_task(self._stream(send))
            watcher = asyncio.create_task(_wait_for_disconnect(receive))
            try:
                await asyncio.wait({stream, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stream.cancel()
                watcher.cancel()
                results = await asyncio.gather(stream, watcher, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result

    async def _stream(self, send: Send) -> None:
        try:
            await _send_chunk(send, f"retry: {self.retry_ms}\n\n".encode())
            while True:
                try:
                    async with asyncio.timeout(self.keepalive_s):
                        event = await anext(self.subscription)
                except TimeoutError:
                    await _send_chunk(send, b": keep-alive\n\n")
                    continue
                except StopAsyncIteration:
                    break
                await _send_chunk(send, format_sse(event))
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            # The client went away mid-write (ASGI 2.4 servers raise OSError).
            return


async def _send_chunk(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def event_filter(
    device_ids: list[str] | None, types: list[str] | None, lane: str | None
) -> EventFilter | None:
    """The filter for a subscription's query parameters (None: everything)."""
    if not device_ids and not types and lane is None:
        return None
    devices = frozenset(device_ids or ())
    kinds = frozenset(types or ())

    def accept(event: Event) -> bool:
        if devices and event.device_id not in devices:
            return False
        if kinds and event.type not in kinds:
            return False
        return lane is None or event.type != "scan" or event.data.get("lane") == lane

    return accept


def _resume_point(last_event_id: str | None, since: int | None) -> int | None:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit():
            raise Problem(
                422,
                ProblemCode.INVALID_REQUEST,
                "Invalid request",
                "header.Last-Event-ID: must be a non-negative integer event seq",
                {"errors": [{"loc": "header.Last-Event-ID", "msg": "must be an integer"}]},
            )
        return int(text)
    return since


async def _send_events(websocket: WebSocket, subscription: Subscription) -> bool:
    """Forward events; True if the stream ended by overflow, False if the client left."""
    try:
        async for event in subscription:
            await websocket.send_text(_event_json(event))
            if event.type == SystemEvent.OVERFLOW:
                return True
    except (WebSocketDisconnect, OSError, RuntimeError):
        return False
    return True


async def _receive_until_disconnect(websocket: WebSocket) -> None:
    # Clients have nothing to say yet; reading is how a disconnect is noticed.
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def events_router(
    get_bus: BusSource = bus_from_app_state,
    *,
    get_token: TokenSource | None = None,
    keepalive_s: float = KEEPALIVE_S,
) -> APIRouter:
    """Build the router with ``GET /v1/events`` and ``WS /v1/ws``.

    ``get_bus`` finds the bus for a connection; ``get_token`` returns the expected
    API token (default: from the app state, see
    :func:`posbridge.api.security.token_from_app_state`).
    """
    router = APIRouter(tags=["events"])
    token_dependency = make_token_dependency(get_token)

    @router.get(
        "/v1/events",
        dependencies=[Depends(token_dependency)],
        # Explicit: FastAPI reads the default status from the response class's
        # __init__ otherwise, and this one has none.
        status_code=200,
        response_class=EventStreamResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
        summary="Stream events (Server-Sent Events)",
    )
    async def stream_events(
        request: Request,
        since: Annotated[int | None, Query(ge=0, description="resume after this seq")] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        device_id: Annotated[list[str] | None, Query(description="only these devices")] = None,
        type: Annotated[list[str] | None, Query(description="only these event types")] = None,
        lane: Annotated[str | None, Query(description="scan events of this lane only")] = None,
    ) -> EventStreamResponse:
        start = _resume_point(last_event_id, since)
        # Subscribe before the response starts so nothing published meanwhile is lost.
        subscription = get_bus(request).subscribe(start, event_filter(device_id, type, lane))
        return EventStreamResponse(subscription, keepalive_s=keepalive_s)

    @router.websocket("/v1/ws")
    async def websocket_events(websocket: WebSocket) -> None:
        raw_since = websocket.query_params.get("since")
        if raw_since is not None and not raw_since.isdigit():
            await websocket.close(code=1008, reason="since must be a non-negative integer")
            return
        since = int(raw_since) if raw_since is not None else None
        # The token first: a stranger gets no subscription, not even for a moment.
        if not await accept_websocket(websocket, get_token):
            return
        params = websocket.query_params
        accept = event_filter(
            params.getlist("device_id"), params.getlist("type"), params.get("lane")
        )
        with get_bus(websocket).subscribe(since, accept) as subscription:
            sender = asyncio.create_task(_send_events(websocket, subscription))
            receiver = asyncio.create_task(_receive_until_disconnect(websocket))
            try:
                await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sender.cancel()
                receiver.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
            if sender.done() and not sender.cancelled() and sender.result():
                with contextlib.suppress(RuntimeError, OSError):
                    await websocket.close(code=WS_CLOSE_OVERFLOW, reason="events overflow")

    return router

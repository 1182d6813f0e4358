"""SSE and WebSocket event streams over a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from posbridge.api.errors import install_error_handlers
from posbridge.api.events import events_router
from posbridge.api.security import SecurityMiddleware
from posbridge.events import EventBus

TOKEN = "events-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POS_ORIGIN = "https://pos.example.com"


@dataclass
class Server:
    bus: EventBus
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"


def build_app(bus: EventBus) -> FastAPI:
    app = FastAPI()
    app.state.token = TOKEN
    app.state.event_bus = bus
    install_error_handlers(app)
    app.include_router(events_router(keepalive_s=0.3))
    app.add_middleware(
        SecurityMiddleware,
        allowed_hosts=["127.0.0.1", "localhost"],
        allowed_origins=[POS_ORIGIN],
        max_body_bytes=4096,
    )
    return app


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    bus = EventBus(queue_size=50)
    config = uvicorn.Config(
        build_app(bus),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    async with asyncio.timeout(10):
        while not uv.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    try:
        yield Server(bus, port)
    finally:
        uv.should_exit = True
        async with asyncio.timeout(10):
            await task


async def _until(condition: Any, within: float = 3.0) -> None:
    """Poll a server-side condition (there is nothing to await for it)."""
    async with asyncio.timeout(within):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: str | None
    comment: str | None
    retry: str | None


async def _frames(response: httpx.Response) -> AsyncIterator[Frame]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if fields:
                yield Frame(
                    fields.get("id"),
                    fields.get("event"),
                    fields.get("data"),
                    fields.get(""),
                    fields.get("retry"),
                )
            fields = {}
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")


async def _next_event(frames: AsyncIterator[Frame]) -> Frame:
    async with asyncio.timeout(3):
        while True:
            frame = await anext(frames)
            if frame.event is not None:
                return frame


# ------------------------------------------------------------------ SSE


async def test_sse_headers_and_resume_with_last_event_id(server: Server) -> None:
    for n in range(3):
        server.bus.publish("job.state", "receipt-1", {"n": n})
    async with (
        httpx.AsyncClient(base_url=server.http, timeout=5) as client,
        client.stream("GET", "/v1/events?since=0", headers={**AUTH, "Last-Event-ID": "2"}) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-accel-buffering"] == "no"
        assert "content-length" not in r.headers
        frames = _frames(r)
        first = await anext(frames)
        assert first.retry == "2000"
        replayed = await _next_event(frames)
        # Last-Event-ID wins over ?since=: only event 3 is replayed, not 1 and 2.
        assert replayed.id == "3"
        assert replayed.event == "job.state"
        assert replayed.data is not None
        assert json.loads(replayed.data) == {
            "seq": 3,
            "type": "job.state",
            "device_id": "receipt-1",
            "time": json.loads(replayed.data)["time"],
            "data": {"n": 2},
        }
        server.bus.publish("device.status", "receipt-1", {"paper": "near_end"})
        live = await _next_event(frames)
        assert (live.id, live.event) == ("4", "device.status")


async def test_sse_without_resume_point_is_live_only(server: Server) -> None:
    server.bus.publish("old")
    async with (
        httpx.AsyncClient(base_url=server.http, timeout=5) as client,
        client.stream("GET", "/v1/events", headers=AUTH) as r,
    ):
        frames = _frames(r)
        await anext(frames)  # retry
        await _until(lambda: server.bus.subscriber_count == 1)
        server.bus.publish("new")
        assert (await _next_event(frames)).event == "new"


async def test_sse_sends_keepalive_comments(server: Server) -> None:
    async with (
        httpx.AsyncClient(base_url=server.http, timeout=5) as client,
        client.stream("GET", "/v1/events", headers=AUTH) as r,
    ):
        frames = _frames(r)
        await anext(frames)  # retry
        async with asyncio.timeout(3):
            frame = await anext(frames)
        assert frame.comment == "keep-alive"


async def test_sse_disconnect_ends_the_subscription(server: Server) -> None:
    async with (
        httpx.AsyncClient(base_url=server.http, timeout=5) as client,
        client.stream("GET", "/v1/events", headers=AUTH) as r,
    ):
        await anext(_frames(r))
        assert server.bus.subscriber_count == 1
    # No event is published: the server must notice the closed socket by itself.
    await _until(lambda: server.bus.subscriber_count == 0, within=2)


async def test_sse_needs_token(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=5) as client:
        response = await client.get("/v1/events")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"
        response = await client.get("/v1/events", headers={**AUTH, "Last-Event-ID": "abc"})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"
    assert server.bus.subscriber_count == 0


async def test_sse_gap_event_when_history_is_gone(server: Server) -> None:
    server.bus.publish("only")
    async with (
        httpx.AsyncClient(base_url=server.http, timeout=5) as client,
        client.stream("GET", "/v1/events", headers={**AUTH, "Last-Event-ID": "99"}) as r,
    ):
        frames = _frames(r)
        gap = await _next_event(frames)
        assert gap.event == "events.gap"
        assert gap.data is not None
        assert json.loads(gap.data)["data"]["oldest_available"] == 1


async def test_openapi_documents_the_stream(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=5) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    operation = response.json()["paths"]["/v1/events"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} == {
        "since", "Last-Event-ID", "device_id", "type", "lane"
    }


# ------------------------------------------------------------------ WebSocket


async def _recv_json(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(3):
        message = await ws.recv()
    result: dict[str, Any] = json.loads(message)
    return result


async def test_ws_bearer_subprotocol_replay_and_live(server: Server) -> None:
    server.bus.publish("job.state", "receipt-1", {"n": 1})
    server.bus.publish("job.state", "receipt-1", {"n": 2})
    async with connect(
        f"{server.ws}?since=1", subprotocols=[Subprotocol("bearer"), Subprotocol(TOKEN)]
    ) as ws:
        assert ws.subprotocol == "bearer"
        replayed = await _recv_json(ws)
        assert (replayed["seq"], replayed["data"]) == (2, {"n": 2})
        server.bus.publish("device.status", "receipt-1", {"paper": "out"})
        live = await _recv_json(ws)
        assert set(live) == {"seq", "type", "device_id", "time", "data"}
        assert (live["seq"], live["type"]) == (3, "device.status")


async def test_ws_token_in_header_or_query(server: Server) -> None:
    async with connect(f"{server.ws}?since=0", additional_headers=AUTH) as ws:
        server.bus.publish("a")
        assert (await _recv_json(ws))["type"] == "a"
    async with connect(f"{server.ws}?token={TOKEN}") as ws:
        await _until(lambda: server.bus.subscriber_count == 1)
        server.bus.publish("b")
        assert (await _recv_json(ws))["type"] == "b"


async def test_ws_query_token_stays_out_of_the_server_log(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="uvicorn.error"):
        async with connect(f"{server.ws}?since=0&token={TOKEN}"):
            await _until(lambda: server.bus.subscriber_count == 1)
        with pytest.raises(InvalidStatus):
            async with connect(f"{server.ws}?token=wrong-token-0123456789"):
                pass
    assert "[accepted]" in caplog.text  # the handshake is logged...
    assert TOKEN not in caplog.text  # ...without the token
    assert "wrong-token" not in caplog.text


@pytest.mark.parametrize("query", ["", "?token=wrong-token-0123456789"])
async def test_ws_without_valid_token_is_refused_with_401(server: Server, query: str) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(f"{server.ws}{query}"):
            pass
    response = caught.value.response
    assert response.status_code == 401
    assert json.loads(response.body or b"{}")["code"] == "unauthorized"
    await _until(lambda: server.bus.subscriber_count == 0)


async def test_ws_foreign_origin_is_refused_with_403(server: Server) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(
            f"{server.ws}?token={TOKEN}",
            origin=Origin("https://evil.example"),
        ):
            pass
    assert caught.value.response.status_code == 403
    assert json.loads(caught.value.response.body or b"{}")["code"] == "origin_not_allowed"


async def test_ws_allowed_origin_is_accepted(server: Server) -> None:
    async with connect(f"{server.ws}?token={TOKEN}", origin=Origin(POS_ORIGIN)) as ws:
        await _until(lambda: server.bus.subscriber_count == 1)
        server.bus.publish("hello")
        assert (await _recv_json(ws))["type"] == "hello"


async def test_ws_foreign_host_is_refused_with_400(server: Server) -> None:
    # websockets always sends the URI's host, so this handshake is written by hand.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"GET /v1/ws?token=" + TOKEN.encode() + b" HTTP/1.1\r\n"
            b"Host: evil.example\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(3):
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.read(4096)
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["code"] == "host_not_allowed"
    assert server.bus.subscriber_count == 0


async def test_ws_disconnect_ends_the_subscription(server: Server) -> None:
    async with connect(f"{server.ws}?token={TOKEN}"):
        await _until(lambda: server.bus.subscriber_count == 1)
    await _until(lambda: server.bus.subscriber_count == 0, within=2)


async def test_ws_slow_client_gets_overflow_and_close(server: Server) -> None:
    async with connect(f"{server.ws}?token={TOKEN}", max_queue=1) as ws:
        await _until(lambda: server.bus.subscriber_count == 1)
        seen: list[dict[str, Any]] = []
        # queue_size is 50; a burst far beyond it overflows however fast the socket is.
        for _ in range(5000):
            server.bus.publish("burst")
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                seen.append(await _recv_json(ws))
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
    overflow = seen[-1]
    assert overflow["type"] == "events.overflow"
    assert overflow["seq"] == seen[-2]["seq"] == overflow["data"]["last_delivered"]
    assert server.bus.subscriber_count == 0

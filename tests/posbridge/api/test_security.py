"""SecurityMiddleware and the token dependency on a small app, driven over ASGI.

WebSocket handshakes (Host/Origin/token on /v1/ws) run against a real server in
test_events_api.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict

from posbridge.api.errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from posbridge.api.security import (
    SecurityMiddleware,
    make_token_dependency,
    normalize_host,
    normalize_origin,
    require_token,
)

TOKEN = "test-token-0123456789abcdef"
POS_ORIGIN = "https://pos.example.com"
MAX_BODY = 1024


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def build_app() -> tuple[FastAPI, dict[str, int]]:
    """An app wired like the daemon's: middleware, problem handlers, token on /v1."""
    app = FastAPI()
    app.state.token = TOKEN
    install_error_handlers(app)
    calls = {"echo": 0, "raw": 0}

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    protected = APIRouter(dependencies=[Depends(require_token)])

    @protected.post("/v1/echo")
    async def echo(body: Echo) -> dict[str, str]:
        calls["echo"] += 1
        return {"text": body.text}

    @protected.post("/v1/raw")
    async def raw(request: Request) -> dict[str, int]:
        data = await request.body()
        calls["raw"] += 1
        return {"length": len(data)}

    @protected.get("/v1/secret")
    async def secret() -> dict[str, str]:
        return {"secret": "yes"}

    app.include_router(protected)
    app.add_middleware(
        SecurityMiddleware,
        allowed_hosts=["localhost", "127.0.0.1", "::1", "posbox.local"],
        allowed_origins=[POS_ORIGIN, "http://localhost:3000"],
        max_body_bytes=MAX_BODY,
    )
    return app, calls


@pytest.fixture
def app_and_calls() -> tuple[FastAPI, dict[str, int]]:
    return build_app()


@pytest.fixture
async def client(app_and_calls: tuple[FastAPI, dict[str, int]]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_and_calls[0])
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8765") as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"https://posbridge.dev/problems/{code}"
    return body


# ------------------------------------------------------------------ Host


@pytest.mark.parametrize("path", ["/v1/health", "/docs", "/openapi.json", "/v1/secret"])
async def test_foreign_host_is_refused_everywhere(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={**AUTH, "Host": "evil.example"})
    body = problem(response, 400, "host_not_allowed")
    assert "evil.example" in body["detail"]


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8765", "LOCALHOST:1", "127.0.0.1:8765", "[::1]:8765", "posbox.local."],
)
async def test_allowed_hosts_with_ports_and_ipv6(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/v1/health", headers={"Host": host})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "host", ["localhost.evil.example", "evil.example:8765", "[::2]:8765", "127.0.0.1:x", ""]
)
async def test_lookalike_hosts_are_refused(client: httpx.AsyncClient, host: str) -> None:
    response = await client.get("/v1/health", headers={"Host": host})
    problem(response, 400, "host_not_allowed")


def test_normalize_host() -> None:
    assert normalize_host("LocalHost:8765") == "localhost"
    assert normalize_host("[::1]:8765") == "::1"
    assert normalize_host("[::1]") == "::1"
    assert normalize_host("::1") == "::1"
    assert normalize_host("[::1") is None
    assert normalize_host("host:port") is None


def test_normalize_origin() -> None:
    assert normalize_origin("HTTPS://POS.Example.com:443") == "https://pos.example.com"
    assert normalize_origin("http://localhost:80") == "http://localhost"
    assert normalize_origin("http://localhost:3000") == "http://localhost:3000"
    assert normalize_origin("http://[::1]:8765") == "http://[::1]:8765"
    assert normalize_origin("null") is None
    assert normalize_origin("https://pos.example.com/path") is None
    assert normalize_origin("https://user@pos.example.com") is None
    assert normalize_origin("ftp://pos.example.com") is None


# ------------------------------------------------------------------ Origin / CORS


async def test_foreign_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/secret", headers={**AUTH, "Origin": "https://evil.example"})
    body = problem(response, 403, "origin_not_allowed")
    assert "evil.example" in body["detail"]
    assert "access-control-allow-origin" not in response.headers


async def test_null_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/health", headers={"Origin": "null"})
    problem(response, 403, "origin_not_allowed")


async def test_origin_must_match_exactly(client: httpx.AsyncClient) -> None:
    # Same host, other scheme or port: a different origin.
    for origin in ("http://pos.example.com", "https://pos.example.com:8443"):
        response = await client.get("/v1/health", headers={"Origin": origin})
        problem(response, 403, "origin_not_allowed")


async def test_allowed_origin_gets_its_own_origin_never_a_wildcard(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/secret", headers={**AUTH, "Origin": POS_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == POS_ORIGIN
    assert "Origin" in response.headers["vary"]
    assert "Location" in response.headers["access-control-expose-headers"]
    # Errors carry CORS headers too, so the page can read the problem.
    response = await client.get("/v1/secret", headers={"Origin": POS_ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == POS_ORIGIN


async def test_no_origin_is_fine_and_gets_no_cors_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/secret", headers=AUTH)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_own_origin_is_allowed_for_the_docs_page(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/echo", json={"text": "hi"}, headers={**AUTH, "Origin": "http://localhost:8765"}
    )
    assert response.status_code == 200
    # A rebound name is refused by Host before its "own origin" could count.
    response = await client.post(
        "/v1/echo",
        json={"text": "hi"},
        headers={**AUTH, "Host": "evil.example", "Origin": "http://evil.example"},
    )
    problem(response, 400, "host_not_allowed")


async def test_preflight_with_private_network_access(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/v1/echo",
        headers={
            "Origin": POS_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 204
    headers = response.headers
    assert headers["access-control-allow-origin"] == POS_ORIGIN
    assert headers["access-control-allow-private-network"] == "true"
    assert headers["access-control-max-age"] == "600"
    for method in ("GET", "POST", "PUT", "DELETE"):
        assert method in headers["access-control-allow-methods"]
    for name in ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"):
        assert name in headers["access-control-allow-headers"]


async def test_preflight_without_pna_request_gets_no_pna_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options(
        "/v1/echo", headers={"Origin": POS_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    assert "access-control-allow-private-network" not in response.headers


async def test_preflight_from_foreign_origin_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/v1/echo",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    problem(response, 403, "origin_not_allowed")
    assert "access-control-allow-private-network" not in response.headers
    assert "access-control-allow-origin" not in response.headers


# ------------------------------------------------------------------ body size


async def test_oversized_content_length_is_refused_before_the_route(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, dict[str, int]]
) -> None:
    response = await client.post("/v1/raw", content=b"x" * (MAX_BODY + 1), headers=AUTH)
    body = problem(response, 413, "body_too_large")
    assert body["max_body_bytes"] == MAX_BODY
    assert app_and_calls[1]["raw"] == 0


async def test_body_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/raw", content=b"x" * MAX_BODY, headers=AUTH)
    assert response.json() == {"length": MAX_BODY}


async def _chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize("path", ["/v1/raw", "/v1/echo"])
async def test_chunked_oversize_is_cut_off(
    client: httpx.AsyncClient, app_and_calls: tuple[FastAPI, dict[str, int]], path: str
) -> None:
    response = await client.post(
        path,
        content=_chunks(MAX_BODY * 4),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    problem(response, 413, "body_too_large")
    assert app_and_calls[1] == {"echo": 0, "raw": 0}


async def test_chunked_body_within_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/raw", content=_chunks(MAX_BODY), headers=AUTH)
    assert response.json() == {"length": MAX_BODY}


async def test_oversize_check_still_needs_allowed_host(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/raw", content=b"x" * (MAX_BODY + 1), headers={"Host": "evil.example"}
    )
    problem(response, 400, "host_not_allowed")


# ------------------------------------------------------------------ token


async def test_missing_token_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/secret")
    problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "value",
    [f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ", f"Bearer {TOKEN[:-1]}"],
)
async def test_wrong_token_is_401(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/v1/secret", headers={"Authorization": value})
    problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_right_token_passes_and_scheme_is_case_insensitive(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/secret", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.json() == {"secret": "yes"}


@pytest.mark.parametrize("path", ["/v1/health", "/docs", "/openapi.json"])
async def test_public_paths_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200


async def test_app_wide_dependency_exempts_public_paths() -> None:
    app = FastAPI(dependencies=[Depends(make_token_dependency(lambda: TOKEN))])
    install_error_handlers(app)

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/devices")
    async def devices() -> list[str]:
        return []

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        assert (await c.get("/v1/health")).status_code == 200
        problem(await c.get("/v1/devices"), 401, "unauthorized")
        assert (await c.get("/v1/devices", headers=AUTH)).status_code == 200


async def test_missing_token_configuration_fails_closed() -> None:
    app = FastAPI()

    @app.get("/v1/secret", dependencies=[Depends(require_token)])
    async def secret() -> dict[str, str]:
        return {"secret": "yes"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        response = await c.get("/v1/secret", headers=AUTH)
    assert response.status_code == 500


def test_invalid_allowed_origin_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="allowed origin"):
        SecurityMiddleware(FastAPI(), allowed_hosts=[], allowed_origins=["*"], max_body_bytes=1)

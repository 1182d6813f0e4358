"""Direct routes answer exactly what FastAPI's own parameter handling answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from posbridge.api.direct import DirectRoute, DirectRoutes, json_body, query_value
from posbridge.api.errors import install_error_handlers
from posbridge.api.security import require_token

TOKEN = "direct-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "feed"]
    lines: Annotated[int, Field(ge=1, le=10)] = 1


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: Annotated[list[Block], Field(min_length=1)]


Wait = Annotated[float, Query(ge=0, le=300)]
_WAIT: TypeAdapter[float] = TypeAdapter(Wait)


async def documents(name: str, body: Document, wait: Wait = 0) -> Response:
    return JSONResponse({"name": name, "blocks": len(body.blocks), "wait": wait})


async def direct_documents(request: Request) -> Response:
    await require_token(request)
    wait = query_value(request, "wait", _WAIT, 0.0)
    body = await json_body(request, Document)
    return await documents(request.path_params["name"], body, wait)


DIRECT = DirectRoute("POST", "/direct/{name}", direct_documents)


def build_app(*, middleware: bool = True) -> FastAPI:
    # As the daemon does: routes on a router, the token a dependency of the whole router.
    router = APIRouter()
    router.add_api_route("/fastapi/{name}", documents, methods=["POST"])
    DIRECT.add_to(router, documents)
    app = FastAPI()
    app.state.token = TOKEN
    install_error_handlers(app)
    app.include_router(router, dependencies=[Depends(require_token)])
    if middleware:
        app.add_middleware(DirectRoutes, routes=[DIRECT])
    return app


@pytest.fixture(params=["middleware", "router"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    # Served by the middleware, or (without it) by the route in the router: the same.
    transport = httpx.ASGITransport(app=build_app(middleware=request.param == "middleware"))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


JSON = {"Content-Type": "application/json"}
CASES: dict[str, tuple[str, dict[str, str], bytes]] = {
    "good": ("?wait=2.5", {**AUTH, **JSON}, b'{"blocks": [{"type": "text"}]}'),
    "no token": ("", JSON, b'{"blocks": [{"type": "text"}]}'),
    "wrong token": ("", {"Authorization": "Bearer nope", **JSON}, b'{"blocks": []}'),
    "malformed": ("", {**AUTH, **JSON}, b'{"blocks": ['),
    "empty": ("", {**AUTH, **JSON}, b""),
    "not an object": ("", {**AUTH, **JSON}, b"[1, 2]"),
    "unknown field": ("", {**AUTH, **JSON}, b'{"blocks": [{"type": "text", "x": 1}]}'),
    "wrong type": ("", {**AUTH, **JSON}, b'{"blocks": [{"type": "feed", "lines": "a"}]}'),
    "out of range": ("", {**AUTH, **JSON}, b'{"blocks": [{"type": "feed", "lines": 99}]}'),
    "too few": ("", {**AUTH, **JSON}, b'{"blocks": []}'),
    "bad wait": ("?wait=soon", {**AUTH, **JSON}, b'{"blocks": [{"type": "text"}]}'),
    "wait too long": ("?wait=301", {**AUTH, **JSON}, b'{"blocks": [{"type": "text"}]}'),
    "not JSON": ("", {**AUTH, "Content-Type": "text/plain"}, b'{"blocks": []}'),
    "no content type": ("", AUTH, b'{"blocks": [{"type": "text"}]}'),
}


def _summary(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if response.status_code < 400:
        return response.status_code, body
    return response.status_code, (body["code"], [e["loc"] for e in body.get("errors", [])])


@pytest.mark.parametrize("case", list(CASES))
async def test_a_direct_route_answers_like_fastapi(client: httpx.AsyncClient, case: str) -> None:
    query, headers, content = CASES[case]
    via_fastapi = await client.post(f"/fastapi/doc{query}", headers=headers, content=content)
    direct = await client.post(f"/direct/doc{query}", headers=headers, content=content)

    assert _summary(direct) == _summary(via_fastapi)
    assert direct.headers["content-type"] == via_fastapi.headers["content-type"]


async def test_answers_name_the_problem(client: httpx.AsyncClient) -> None:
    malformed = await client.post("/direct/doc", headers={**AUTH, **JSON}, content=b"{")
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_json"
    assert "not valid JSON" in malformed.json()["detail"]
    plain = await client.post(
        "/direct/doc", headers={**AUTH, "Content-Type": "text/plain"}, content=b"{}"
    )
    assert "Content-Type: application/json" in plain.json()["detail"]
    good = await client.post(
        "/direct/doc?wait=2.5", headers={**AUTH, **JSON}, content=b'{"blocks": [{"type": "text"}]}'
    )
    assert good.json() == {"name": "doc", "blocks": 1, "wait": 2.5}


async def test_the_direct_route_is_documented_like_the_other(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    fastapi_doc, direct_doc = paths["/fastapi/{name}"]["post"], paths["/direct/{name}"]["post"]
    for doc in (fastapi_doc, direct_doc):
        doc.pop("operationId")
    assert direct_doc == fastapi_doc
    assert direct_doc["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Document"
    }
    assert [p["name"] for p in direct_doc["parameters"]] == ["name", "wait"]


async def test_the_middleware_serves_only_its_method_and_path() -> None:
    served: list[str] = []

    async def handler(request: Request) -> Response:
        served.append(request.path_params["name"])
        return JSONResponse({"served": True})

    async def fallback(scope: Any, receive: Any, send: Any) -> None:
        served.append("fallback " + scope["method"] + " " + scope["path"])
        await JSONResponse({"served": False})(scope, receive, send)

    app = DirectRoutes(fallback, routes=[DirectRoute("POST", "/direct/{name}", handler)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        assert (await c.post("/direct/a%20b")).json() == {"served": True}
        assert (await c.get("/direct/x")).json() == {"served": False}
        assert (await c.post("/direct/x/more")).json() == {"served": False}
        assert (await c.post("/elsewhere")).json() == {"served": False}
    assert served == [
        "a b", "fallback GET /direct/x", "fallback POST /direct/x/more", "fallback POST /elsewhere"
    ]

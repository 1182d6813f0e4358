"""problem+json rendering: validation, malformed JSON, routing errors, device errors, bugs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from drivers.errors import (
    ConnectFailed,
    ConnectionLost,
    DeviceError,
    DeviceNotReady,
    EncodingError,
    InvalidURL,
    ProtocolError,
    TransportError,
    TransportTimeout,
    UnsupportedFeature,
)
from posbridge.api.errors import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    install_error_handlers,
    problem_from_device_error,
)


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "rule"]
    data: str = ""


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: list[Block]


def build_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/v1/documents")
    async def documents(body: Document) -> dict[str, int]:
        return {"blocks": len(body.blocks)}

    @app.get("/v1/problem")
    async def raise_problem() -> None:
        raise Problem(409, "conflict", "Already done", "job 7 is done", {"job_id": "7"})

    @app.get("/v1/device-error")
    async def device_error() -> None:
        raise DeviceNotReady("paper out on receipt-1")

    @app.get("/v1/bug")
    async def bug() -> None:
        raise RuntimeError("secret-internal /var/lib/posbridge/jobs.sqlite3 locked")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # The unhandled-error path is Starlette's: it re-raises after answering.
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] == f"https://posbridge.dev/problems/{code}"
    assert body["title"]
    assert body["detail"]
    return body


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/documents",
        content=b'{"blocks": [',
        headers={"Content-Type": "application/json"},
    )
    body = problem(response, 400, "malformed_json")
    assert "JSON" in body["detail"]


async def test_unknown_field_is_422_naming_it(client: httpx.AsyncClient) -> None:
    document = {"blocks": [{"type": "text"}, {"type": "rule"}, {"type": "text", "colour": "red"}]}
    response = await client.post("/v1/documents", json=document)
    body = problem(response, 422, "invalid_request")
    assert body["detail"].startswith("body.blocks.2.colour:")
    assert body["errors"] == [
        {
            "loc": "body.blocks.2.colour",
            "msg": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]


async def test_every_bad_field_is_listed_and_inputs_are_not_echoed(
    client: httpx.AsyncClient,
) -> None:
    document = {"blocks": [{"type": "barcode", "data": "ID-DOC-SECRET"}, {"data": 5}]}
    response = await client.post("/v1/documents", json=document)
    body = problem(response, 422, "invalid_request")
    locs = [error["loc"] for error in body["errors"]]
    assert locs[0] == "body.blocks.0.type"
    assert "body.blocks.1.type" in locs
    assert "body.blocks.1.data" in locs
    assert "more" in body["detail"]
    assert "ID-DOC-SECRET" not in response.text


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    problem(await client.get("/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/documents")
    problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


async def test_problem_renders_extra_members(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/v1/problem"), 409, "conflict")
    assert body["title"] == "Already done"
    assert body["detail"] == "job 7 is done"
    assert body["job_id"] == "7"


async def test_device_error_is_mapped(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/v1/device-error"), 409, "device_not_ready")
    assert body["detail"] == "paper out on receipt-1"


async def test_unexpected_error_is_500_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="posbridge.api.errors"):
        response = await client.get("/v1/bug")
    problem(response, 500, "internal_error")
    assert "secret-internal" not in response.text
    assert "sqlite3" not in response.text
    # The traceback is in the log for the technician.
    assert "secret-internal" in caplog.text


class _LaterTransportError(TransportError):
    """A subclass added later inherits its parent's status."""

    code = "link_reset"


class _UnknownDeviceError(DeviceError):
    code = "strange"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnsupportedFeature("no cutter"), 422),
        (EncodingError("cannot encode"), 422),
        (ConnectFailed("refused"), 503),
        (ConnectionLost("reset"), 503),
        (TransportTimeout("no answer"), 503),
        (TransportError("link"), 503),
        (DeviceNotReady("cover open"), 409),
        (ProtocolError("garbage"), 502),
        (InvalidURL("bad url"), 500),
        (DeviceError("other"), 502),
        (_LaterTransportError("reset"), 503),
        (_UnknownDeviceError("?"), 502),
    ],
)
def test_problem_from_device_error(error: DeviceError, status: int) -> None:
    problem = problem_from_device_error(error)
    assert problem.status == status
    assert problem.code == error.code
    assert problem.detail == str(error)
    assert problem.to_json()["type"] == f"https://posbridge.dev/problems/{error.code}"


def test_problem_defaults_title_and_detail() -> None:
    body = Problem(404, "device_not_found").to_json()
    assert body["title"] == "Not Found"
    assert body["detail"] == "Not Found"
    # extra never overrides the standard members
    body = Problem(400, "x", None, "d", {"status": 200, "field": "f"}).to_json()
    assert body["status"] == 400
    assert body["field"] == "f"

"""Routes served without FastAPI's per-request parameter machinery.

For every request FastAPI sniffs the content type, decodes the JSON body into Python
objects, walks the route's dependency graph and only then validates. For the receipt a
till posts with every sale, that costs more than validating and rendering the receipt.
A route made with :func:`direct_route` is declared like any other (its endpoint's
signature is what ``/docs`` shows), but its requests go to a handler that does the same
checks by hand: the token (``require_token``, called directly), query values through a pydantic
``TypeAdapter`` (:func:`query_value`), and the body validated by pydantic straight from
its bytes (:func:`json_body`). Errors are the same ``RequestValidationError`` (with the
same ``body.…``/``query.…`` locations) that FastAPI raises, so clients see the same
problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

__all__ = ["direct_route", "json_body", "query_value"]

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def direct_route(handler: Handler) -> type[APIRoute]:
    """A route class whose requests ``handler`` serves; the endpoint only documents.

    The handler must check everything the endpoint's signature declares, the token first.
    """

    class DirectRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            return handler

    return DirectRoute


def query_value(request: Request, name: str, adapter: TypeAdapter[T], default: T) -> T:
    """Query parameter ``name`` validated by ``adapter``; ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, ("query", name))) from exc


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request body as ``model``, parsed and validated in one pass by pydantic."""
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        given = "none" if content_type is None else repr(content_type[:100])
        raise RequestValidationError(
            [
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": f"the body must be JSON (Content-Type: application/json); "
                    f"the Content-Type was {given}",
                    "input": None,
                }
            ]
        )
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, ("body",))) from exc


def _is_json(content_type: str) -> bool:
    # What FastAPI accepts as a JSON body: application/json or application/*+json.
    media = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _located(exc: ValidationError, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {**error, "loc": (*prefix, *error["loc"])}
        for error in exc.errors(include_url=False)
    ]

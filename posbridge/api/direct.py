"""Routes served without FastAPI's per-request machinery.

For every request FastAPI walks its middleware and its route table, sniffs the content
type, decodes the JSON body into Python objects, walks the route's dependency graph and
only then validates. For the receipt a till posts with every sale, that costs more than
validating and rendering the receipt. A :class:`DirectRoute` is declared in its router
like any other (``add_to`` gives it its endpoint, whose signature is what ``/docs``
shows), but its requests are served by :class:`DirectRoutes`, a middleware inside
``SecurityMiddleware``, straight from its handler. The handler does the endpoint's checks
by hand: the token (``require_token``, called directly), query values through a pydantic
``TypeAdapter`` (:func:`query_value`), and the body validated by pydantic straight from
its bytes (:func:`json_body`). Errors are the same ``RequestValidationError`` (with the
same ``body.…``/``query.…`` locations) that FastAPI raises, rendered by the app's own
exception handlers, so clients see the same problem+json.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from re import Pattern
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoute", "DirectRoutes", "json_body", "query_value"]

ModelT = TypeVar("ModelT", bound=BaseModel)
T = TypeVar("T")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True)
class DirectRoute:
    """``method path`` served by ``handler``, which must check everything its documenting
    endpoint declares, the token first."""

    method: str
    path: str
    handler: Handler
    _regex: Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex, _, _ = compile_path(self.path)
        object.__setattr__(self, "_regex", regex)

    def match(self, scope: Scope) -> dict[str, str] | None:
        """The path parameters if ``scope`` is a request for this route, else None."""
        if scope["method"] != self.method:
            return None
        found = self._regex.match(scope["path"])
        return None if found is None else found.groupdict()

    def add_to(self, router: APIRouter, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Declare the route in ``router`` with ``endpoint`` (for ``/docs``); should a
        request reach the router after all, the handler serves it there too."""
        handler = self.handler

        class _Served(APIRoute):
            def get_route_handler(self) -> Handler:
                return handler

        router.add_api_route(
            self.path, endpoint, methods=[self.method], route_class_override=_Served, **kwargs
        )


class DirectRoutes:
    """ASGI middleware: requests for ``routes`` go straight to their handlers, past
    FastAPI's routing; their errors are rendered by the app's exception handlers. Put it
    inside ``SecurityMiddleware``: it checks nothing itself."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[DirectRoute]) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.routes:
                params = route.match(scope)
                if params is not None:
                    scope["path_params"] = params
                    await self._serve(route, scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _serve(route: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await route.handler(request)
        except Exception as exc:
            render = _exception_handler(scope["app"], exc)
            if render is None:
                raise
            response = await render(request, exc)
        await response(scope, receive, send)


def _exception_handler(
    app: FastAPI, exc: Exception
) -> Callable[[Request, Exception], Coroutine[Any, Any, Response]] | None:
    """The handler the app registered for ``exc``'s class or its nearest base."""
    for cls in type(exc).__mro__:
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler  # type: ignore[return-value]
    return None


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

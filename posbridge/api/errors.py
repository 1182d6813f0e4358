"""RFC 9457 problem details (``application/problem+json``) for every error.

Each problem carries a stable ``code``; ``type`` is
``https://posbridge.dev/problems/<code>``.  Clients branch on ``code``; ``title``
and ``detail`` are for people and may change.

=======================  ======  ==================================================
code                     status  meaning
=======================  ======  ==================================================
malformed_json           400     the body is not valid JSON
bad_request              400     the request is malformed in another way
host_not_allowed         400     ``Host`` is not in ``server.allowed_hosts``
unauthorized             401     missing or wrong bearer token
origin_not_allowed       403     ``Origin`` is ``null`` or not in ``allowed_origins``
not_found                404     no such route or resource
method_not_allowed       405     the route exists, the method does not
device_not_ready         409     paper out, cover open, offline, ...
conflict                 409     the request conflicts with current state
body_too_large           413     the body exceeds the configured limit
invalid_request          422     the body or parameters fail validation (``errors``)
unsupported              422     the device or its profile cannot do this
encoding_error           422     content that cannot be turned into device bytes
internal_error           500     a bug; details are in the daemon's log only
invalid_url              500     a configured device URL cannot be used
protocol_error           502     the device answered something unparseable
device_error             502     another device failure
connect_failed           503     the device cannot be reached
connection_lost          503     the link dropped while in use
timeout                  503     the device did not answer in time
transport_error          503     another link failure
=======================  ======  ==================================================

``invalid_request`` problems list every failure as ``errors: [{"loc", "msg",
"type"}]`` with ``loc`` dotted (``body.blocks.2.data``); the submitted values are
never echoed back, since they may hold personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from drivers.errors import DeviceError

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "ProblemCode",
    "install_error_handlers",
    "problem_from_device_error",
    "problem_from_validation_errors",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://posbridge.dev/problems/"

log = logging.getLogger(__name__)


class ProblemCode(StrEnum):
    """Stable problem codes (see the module docstring for their statuses)."""

    MALFORMED_JSON = "malformed_json"
    BAD_REQUEST = "bad_request"
    HOST_NOT_ALLOWED = "host_not_allowed"
    UNAUTHORIZED = "unauthorized"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    DEVICE_NOT_READY = "device_not_ready"
    CONFLICT = "conflict"
    BODY_TOO_LARGE = "body_too_large"
    INVALID_REQUEST = "invalid_request"
    UNSUPPORTED = "unsupported"
    ENCODING_ERROR = "encoding_error"
    INTERNAL_ERROR = "internal_error"
    INVALID_URL = "invalid_url"
    PROTOCOL_ERROR = "protocol_error"
    DEVICE_ERROR = "device_error"
    CONNECT_FAILED = "connect_failed"
    CONNECTION_LOST = "connection_lost"
    TIMEOUT = "timeout"
    TRANSPORT_ERROR = "transport_error"


class Problem(Exception):
    """An error with an HTTP status and a stable code, rendered as problem+json.

    Raise it from routes and dependencies; :func:`install_error_handlers` renders
    it.  ``title`` defaults to the status phrase and ``detail`` to the title.
    ``extra`` members are merged into the body; ``headers`` go on the response.
    """

    def __init__(
        self,
        status: int,
        code: str,
        title: str | None = None,
        detail: str = "",
        extra: Mapping[str, object] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = str(code)
        self.title = title if title is not None else _phrase(status)
        self.detail = detail or self.title
        self.extra: dict[str, object] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(f"{status} {self.code}: {self.detail}")

    def to_json(self) -> dict[str, object]:
        """The problem+json body."""
        body: dict[str, object] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        for key, value in self.extra.items():
            body.setdefault(key, value)
        return body

    def to_response(self) -> JSONResponse:
        """A ready ``application/problem+json`` response."""
        return JSONResponse(
            self.to_json(),
            status_code=self.status,
            headers=self.headers,
            media_type=PROBLEM_MEDIA_TYPE,
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Nearest class in the DeviceError tree wins, so subclasses added later inherit
# their parent's status.
_DEVICE_STATUS: dict[str, int] = {
    "invalid_url": 500,  # URLs come from the config, not from the request
    "unsupported": 422,
    "encoding_error": 422,
    "connect_failed": 503,
    "connection_lost": 503,
    "timeout": 503,
    "transport_error": 503,
    "protocol_error": 502,
    "device_not_ready": 409,
    "device_error": 502,
}


def problem_from_device_error(exc: DeviceError) -> Problem:
    """Map a drivers-library error to a problem with the error's own ``code``."""
    status = 502
    for cls in type(exc).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in _DEVICE_STATUS:
            status = _DEVICE_STATUS[code]
            break
    # Driver messages are written for people (no tracebacks), so they are safe to show.
    detail = str(exc) or _phrase(status)
    return Problem(status, exc.code, None, detail)


def _dotted(loc: Sequence[object]) -> str:
    return ".".join(str(part) for part in loc)


def problem_from_validation_errors(errors: Sequence[Any]) -> Problem:
    """Turn FastAPI/pydantic validation errors into ``malformed_json`` or ``invalid_request``."""
    items = [error for error in errors if isinstance(error, Mapping)]
    for error in items:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "") if error.get("ctx") else ""
            detail = "the request body is not valid JSON"
            if reason:
                detail = f"{detail}: {reason}"
            return Problem(400, ProblemCode.MALFORMED_JSON, "Malformed JSON", detail)
    listed = [
        {
            "loc": _dotted(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in items
    ]
    if listed:
        first = listed[0]
        detail = f"{first['loc']}: {first['msg']}"
        if len(listed) > 1:
            detail += f" (and {len(listed) - 1} more)"
    else:
        detail = "the request is not valid"
    return Problem(422, ProblemCode.INVALID_REQUEST, "Invalid request", detail, {"errors": listed})


_HTTP_CODES: dict[int, ProblemCode] = {
    400: ProblemCode.BAD_REQUEST,
    401: ProblemCode.UNAUTHORIZED,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    409: ProblemCode.CONFLICT,
    413: ProblemCode.BODY_TOO_LARGE,
    422: ProblemCode.INVALID_REQUEST,
}


def _problem_from_http_exception(exc: StarletteHTTPException) -> Problem:
    status = exc.status_code
    code = _HTTP_CODES.get(status)
    if code is None:
        code_text = _phrase(status).lower().replace(" ", "_").replace("-", "_")
    else:
        code_text = str(code)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if status == 404 and detail == _phrase(404):
        detail = "no such resource"
    return Problem(status, code_text, None, detail, headers=exc.headers)


async def _handle_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return exc.to_response()


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_from_validation_errors(exc.errors()).to_response()


async def _handle_http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _problem_from_http_exception(exc).to_response()


async def _handle_device(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DeviceError)
    problem = problem_from_device_error(exc)
    if problem.status >= 500:
        log.warning("device error answered with %s: %s", problem.status, exc)
    return problem.to_response()


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log only: internals (paths, SQL, config) must not
    # reach clients.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(
        500,
        ProblemCode.INTERNAL_ERROR,
        "Internal error",
        "the daemon hit an internal error; the details are in its log",
    ).to_response()


def install_error_handlers(app: FastAPI) -> None:
    """Render every error raised under ``app`` as problem+json.

    Handles :class:`Problem`, request validation (422 ``invalid_request`` or 400
    ``malformed_json``), Starlette HTTP exceptions (404 ``not_found``, 405
    ``method_not_allowed``, ...), :class:`drivers.errors.DeviceError` via
    :func:`problem_from_device_error`, and anything else as 500 ``internal_error``.
    Note that Starlette re-raises unhandled exceptions after sending the 500, so
    test clients should not raise app exceptions when testing that path.
    """
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(DeviceError, _handle_device)
    app.add_exception_handler(Exception, _handle_unexpected)

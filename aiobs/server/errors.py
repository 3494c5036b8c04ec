"""How refusals are answered: always JSON ``{"success": false, "error": "..."}``.

Refusals that end when time passes carry ``Retry-After``: 429 (the quota renews when its period
ends) and 503 (busy with other uploads). A body that arrived too slowly is answered 408 and its
connection closed, since the rest of it is not read.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .auth import UnauthorizedError
from .bodies import BadBodyError, BodyTimeoutError, BodyTooLargeError
from .budget import ServerBusyError, UploadTooLargeForBudgetError
from .deps import server_state
from .jsonscan import TooDeepError, TooManyValuesError
from .limits import TooManyEventsError
from .params import BadParameterError
from .protocol import retry_after
from .storage import IdempotencyKeyReused, InvalidDocument, QuotaExceeded


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON refusal every route answers with."""
    return JSONResponse({"success": False, "error": message, **extra}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every known refusal of ``app`` with the one JSON shape."""
    app.add_exception_handler(UnauthorizedError, _unauthorized)
    for too_large in (
        BodyTooLargeError,
        TooManyValuesError,
        TooManyEventsError,
        UploadTooLargeForBudgetError,
    ):
        app.add_exception_handler(too_large, _too_large)
    app.add_exception_handler(BadBodyError, _bad_body)
    app.add_exception_handler(BodyTimeoutError, _too_slow)
    app.add_exception_handler(ServerBusyError, _busy)
    app.add_exception_handler(QuotaExceeded, _quota_exceeded)
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    app.add_exception_handler(BadParameterError, _bad_value)
    app.add_exception_handler(InvalidDocument, _bad_value)
    app.add_exception_handler(TooDeepError, _bad_value)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)


async def _unauthorized(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    return error_response(401, str(exc), {"WWW-Authenticate": "Bearer"})


async def _too_large(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    return error_response(413, str(exc))


async def _bad_body(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    assert isinstance(exc, BadBodyError)
    return error_response(exc.status, str(exc))


async def _too_slow(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    return error_response(408, str(exc), {"Connection": "close"})


async def _busy(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    assert isinstance(exc, ServerBusyError)
    return error_response(503, str(exc), {"Retry-After": str(exc.retry_after)})


async def _quota_exceeded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    headers = retry_after(exc.quota, server_state(request).storage.quotas)
    return error_response(429, str(exc), headers, usage=exc.quota.as_protocol())


async def _key_reused(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    return error_response(422, str(exc))


async def _bad_value(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    """Parameters the storage refused (cursor, limit, group_by) or a bad document: HTTP 400."""
    return error_response(400, str(exc))


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in detail
    )
    return error_response(422, f"invalid request: {summary}", detail=jsonable_encoder(detail))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    """The client went away mid-upload: nothing was stored, and nobody reads the answer."""
    return error_response(400, "the request body was cut short")

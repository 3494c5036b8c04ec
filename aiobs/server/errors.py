"""How refusals are answered: always JSON ``{"success": false, "error": "..."}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from .auth import UnauthorizedError
from .bodies import BadBodyError, BodyTooLargeError
from .params import BadParameterError
from .storage import InvalidDocument, QuotaExceeded


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The JSON refusal every route answers with."""
    return JSONResponse({"success": False, "error": message, **extra}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every known refusal of ``app`` with the one JSON shape."""
    app.add_exception_handler(UnauthorizedError, _unauthorized)
    app.add_exception_handler(BodyTooLargeError, _too_large)
    app.add_exception_handler(BadBodyError, _bad_body)
    app.add_exception_handler(QuotaExceeded, _quota_exceeded)
    app.add_exception_handler(BadParameterError, _bad_value)
    app.add_exception_handler(InvalidDocument, _bad_value)
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


async def _quota_exceeded(request: Request, exc: Exception) -> JSONResponse:  # noqa: ARG001
    assert isinstance(exc, QuotaExceeded)
    return error_response(429, str(exc), usage=exc.quota.as_protocol())


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

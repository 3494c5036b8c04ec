"""The routes the SDK talks to: ``POST /v1/traces`` (ingest) and ``/v1/usage``.

These are the shapes of aiobs 0.2's flush server, which :mod:`aiobs.exporters.remote` speaks.
The upload path is kept lean: the body is read within the size limit, then decoded, parsed with
``json.loads`` and stored in one trip to the thread pool; the storage checks the document's
shape, so no model validates the whole document here.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .._format import (
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    DOC_VERSION,
)
from .bodies import check_content_length, decode, parse_json, read_limited
from .deps import ServerState, current_key, server_state
from .models import ErrorResponse, IngestResponse, QuotaResponse, UsageReport, UsageResponse
from .storage import IngestResult, KeyRecord, QuotaStatus

router = APIRouter(prefix="/v1", tags=["protocol"])

MAX_IDEMPOTENCY_KEY = 256
"""Longest ``Idempotency-Key`` accepted, in characters."""

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key."}
}

_DOCUMENT_BODY = {
    "required": True,
    "description": (
        "An aiobs export document (JSON), optionally sent with 'Content-Encoding: gzip'."
    ),
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": [DOC_SESSIONS, DOC_EVENTS, DOC_FUNCTION_EVENTS],
                "properties": {
                    DOC_SESSIONS: {"type": "array", "items": {"type": "object"}},
                    DOC_EVENTS: {"type": "array", "items": {"type": "object"}},
                    DOC_FUNCTION_EVENTS: {"type": "array", "items": {"type": "object"}},
                    DOC_TRACE_TREE: {"type": ["array", "null"]},
                    DOC_GENERATED_AT: {"type": ["number", "null"]},
                    DOC_VERSION: {"type": ["integer", "null"]},
                },
            }
        }
    },
}

KeyDep = Annotated[KeyRecord, Depends(current_key)]


def quota_answer(quota: QuotaStatus) -> JSONResponse:
    """200 with the quota, or 429 (same body, ``success: false``) once the quota is used up."""
    body: dict[str, Any] = {"success": not quota.is_rate_limited, "usage": quota.as_protocol()}
    if quota.is_rate_limited:
        body["error"] = f"trace quota of the {quota.tier} tier used up"
        return JSONResponse(body, 429)
    return JSONResponse(body, 200)


@router.get(
    "/usage",
    response_model=UsageResponse,
    responses={**_UNAUTHORIZED, 429: {"model": UsageResponse, "description": "Quota used up."}},
)
def get_usage(request: Request, key: KeyDep) -> JSONResponse:
    """The key's tier and trace quota in the current period."""
    return quota_answer(server_state(request).storage.quota_status(key))


@router.post("/usage", response_model=UsageResponse, responses=_UNAUTHORIZED)
def post_usage(request: Request, key: KeyDep, report: UsageReport) -> JSONResponse:  # noqa: ARG001
    """Acknowledge the SDK's usage report and answer with the usage.

    The server already counted the sessions it stored when it stored them, so the reported
    ``trace_count`` is not added: a report sent twice, or retried, never counts twice.
    """
    quota = server_state(request).storage.quota_status(key)
    return JSONResponse({"success": True, "usage": quota.as_protocol()}, 200)


@router.post(
    "/traces",
    status_code=201,
    response_model=IngestResponse,
    openapi_extra={"requestBody": _DOCUMENT_BODY},
    responses={
        200: {"model": IngestResponse, "description": "A replay: already stored, not counted."},
        400: {"model": ErrorResponse, "description": "Not JSON, bad gzip, or not a document."},
        **_UNAUTHORIZED,
        413: {"model": ErrorResponse, "description": "Body or decoded document too large."},
        415: {"model": ErrorResponse, "description": "Unsupported Content-Encoding."},
        429: {"model": QuotaResponse, "description": "Quota used up; nothing stored."},
    },
)
async def post_traces(
    request: Request,
    key: KeyDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=MAX_IDEMPOTENCY_KEY,
            description=(
                "Uploads with the same key are stored and counted once. Without it, the "
                "SHA-256 of the decoded body is used, so identical retries still count once."
            ),
        ),
    ] = None,
) -> JSONResponse:
    """Store an export document for the key's project."""
    state = server_state(request)
    check_content_length(request.headers.get("content-length"), state.max_body_bytes)
    body = await read_limited(request.stream(), state.max_body_bytes)
    result = await run_in_threadpool(
        _ingest, state, key, body, request.headers.get("content-encoding"), idempotency_key
    )
    answer = {
        "success": True,
        "stored": {"sessions": result.sessions_stored, "events": result.events_stored},
        "usage": result.quota.as_protocol(),
    }
    return JSONResponse(answer, 201 if result.created else 200)


def _ingest(
    state: ServerState,
    key: KeyRecord,
    body: bytes,
    encoding: str | None,
    idempotency_key: str | None,
) -> IngestResult:
    """Decode, parse and store one upload (runs in the thread pool)."""
    document_bytes = decode(body, encoding, state.max_document_bytes)
    document = parse_json(document_bytes)
    if not idempotency_key:
        idempotency_key = "sha256:" + hashlib.sha256(document_bytes).hexdigest()
    return state.storage.ingest(key, document, idempotency_key)

"""The routes the SDK talks to: ``POST /v1/traces`` (ingest) and ``/v1/usage``.

These are the shapes of aiobs 0.2's flush server, which :mod:`aiobs.exporters.remote` speaks.
The upload path is kept lean: the body is read within the size limit and the body timeout, then
decoded (scanned for its number of values and nesting as it is decompressed), parsed strictly and
stored in one trip to the thread pool, all of it held against the memory budget until the answer;
a large document takes a second trip, in its turn (:mod:`.turns`). The storage checks the
document's shape, so no model validates the whole document here.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
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
from .budget import Holding, parse_estimate
from .deps import ServerState, current_key, server_state
from .jsonscan import JSONScan
from .limits import check_event_count
from .models import ErrorResponse, IngestResponse, QuotaResponse, UsageReport, UsageResponse
from .storage import IngestResult, KeyRecord, Quotas, QuotaStatus
from .storage.periods import period_end
from .turns import LARGE_DOCUMENT_BYTES

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


def retry_after(quota: QuotaStatus, quotas: Quotas) -> dict[str, str]:
    """The ``Retry-After`` header of a used-up quota: whole seconds until its period ends."""
    seconds = period_end(quota.period_start, quotas.period) - time.time()
    return {"Retry-After": str(max(math.ceil(seconds), 1))}


def quota_answer(quota: QuotaStatus, quotas: Quotas) -> JSONResponse:
    """200 with the quota, or 429 (same body, ``success: false``) once the quota is used up."""
    body: dict[str, Any] = {"success": not quota.is_rate_limited, "usage": quota.as_protocol()}
    if quota.is_rate_limited:
        body["error"] = f"trace quota of the {quota.tier} tier used up"
        return JSONResponse(body, 429, headers=retry_after(quota, quotas))
    return JSONResponse(body, 200)


@router.get(
    "/usage",
    response_model=UsageResponse,
    responses={**_UNAUTHORIZED, 429: {"model": UsageResponse, "description": "Quota used up."}},
)
def get_usage(request: Request, key: KeyDep) -> JSONResponse:
    """The key's tier and trace quota in the current period."""
    storage = server_state(request).storage
    return quota_answer(storage.quota_status(key), storage.quotas)


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
        400: {
            "model": ErrorResponse,
            "description": "Not JSON, bad gzip, nested too deeply, or not a valid document.",
        },
        **_UNAUTHORIZED,
        408: {"model": ErrorResponse, "description": "The body did not arrive in time."},
        413: {
            "model": ErrorResponse,
            "description": "Body, decoded document, values or events beyond the limits.",
        },
        415: {"model": ErrorResponse, "description": "Unsupported Content-Encoding."},
        422: {
            "model": ErrorResponse,
            "description": "The Idempotency-Key was used before for a different document.",
        },
        429: {"model": QuotaResponse, "description": "Quota used up; nothing stored."},
        503: {
            "model": ErrorResponse,
            "description": "Busy with other uploads; send again after Retry-After seconds.",
        },
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
                "Uploads with the same key are stored and counted once; the key used again for "
                "a different document is refused (422). Without it, the SHA-256 of the decoded "
                "body is used, so identical retries still count once."
            ),
        ),
    ] = None,
) -> JSONResponse:
    """Store an export document for the key's project."""
    state = server_state(request)
    limits = state.limits
    check_content_length(request.headers.get("content-length"), limits.max_body_bytes)
    with state.budget.hold() as holding:
        body = await read_limited(
            request.stream(), limits.max_body_bytes, holding, limits.body_timeout
        )
        upload = _Upload(state, key, idempotency_key, holding)
        encoding = request.headers.get("content-encoding")
        result = await run_in_threadpool(_decode_and_store, upload, body, encoding)
        if result is None:  # a large document: parsed and written in its turn
            async with state.turns.turn():
                result = await run_in_threadpool(_store, upload)
    answer = {
        "success": True,
        "stored": {"sessions": result.sessions_stored, "events": result.events_stored},
        "usage": result.quota.as_protocol(),
    }
    return JSONResponse(answer, 201 if result.created else 200)


@dataclass
class _Upload:
    """One upload on its way from the body to the database."""

    state: ServerState
    key: KeyRecord
    idempotency_key: str | None
    holding: Holding
    document_bytes: bytes | bytearray = b""
    values: int = 0


def _decode_and_store(upload: _Upload, body: bytes, encoding: str | None) -> IngestResult | None:
    """Decode the body, then store it, unless it is large: ``None`` then (it waits for its turn).

    Runs in the thread pool; small documents, nearly all of them, take one trip there.
    """
    limits = upload.state.limits
    scan = JSONScan(limits.max_values, limits.max_depth)
    upload.document_bytes = decode(body, encoding, limits.max_document_bytes, scan, upload.holding)
    upload.values = scan.values
    if len(upload.document_bytes) > LARGE_DOCUMENT_BYTES:
        return None
    return _store(upload)


def _store(upload: _Upload) -> IngestResult:
    """Parse and store the decoded document (runs in the thread pool).

    What the parse will make is held against the memory budget before it is made; the decoded
    bytes are let go before the upload waits for the writer.
    """
    document_bytes, upload.document_bytes = upload.document_bytes, b""
    upload.holding.take(parse_estimate(len(document_bytes), upload.values))
    document = parse_json(document_bytes)
    check_event_count(document, upload.state.limits.max_events)
    digest = hashlib.sha256(document_bytes).hexdigest()
    del document_bytes
    key = upload.idempotency_key or f"sha256:{digest}"
    return upload.state.storage.ingest(upload.key, document, key, digest=digest)

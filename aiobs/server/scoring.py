"""``POST /v1/scores``: evaluation scores added to stored sessions and spans.

The body is one score object or a list of them; each names its ``session_id`` and optionally a
``span_id`` of that session. Names, values and comments follow ``observer.score``'s rules (one
function checks both: :mod:`aiobs._score_rules`). A score's ``id`` (the client's) makes a retry
safe: the same id with the same score answers the stored one; with another score, 409. A session
or span of another project is answered exactly as one that does not exist (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .._score_rules import MAX_SCORE_CATEGORY, MAX_SCORE_COMMENT
from .bodies import check_content_length, decode, parse_json, read_limited
from .deps import current_key, server_state
from .jsonscan import JSONScan
from .models import ErrorResponse, ScoresResponse
from .storage import (
    InvalidDocument,
    KeyRecord,
    NewScore,
    ScoreIdReused,
    ScoreTargetNotFound,
    StoredScores,
)
from .storage.values import ID_RULE, shown

router = APIRouter(prefix="/v1", tags=["scores"])

KeyDep = Annotated[KeyRecord, Depends(current_key)]

MAX_SCORE_BODY_BYTES = 1024 * 1024
"""The largest body ``POST /v1/scores`` reads (or the server's upload limit, if smaller)."""

MAX_SCORES_PER_REQUEST = 1000
"""The most scores one request may add."""

FIELDS = ("id", "session_id", "span_id", "name", "value", "comment", "source", "evaluator")
"""The fields a score sent may have."""

_REQUIRED = ("session_id", "name", "value")

_SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_REQUIRED),
    "additionalProperties": False,
    "properties": {
        "id": {
            "type": "string",
            "description": f"Your id for the score ({ID_RULE}): sent again, stored once.",
        },
        "session_id": {"type": "string", "description": "The stored session scored."},
        "span_id": {"type": "string", "description": "A span of that session; omit: the session."},
        "name": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9_.\\-]{0,62}$",
            "description": "What is measured, such as accuracy or pii_detection.",
        },
        "value": {
            "oneOf": [
                {"type": "number"},
                {"type": "boolean"},
                {"type": "string", "minLength": 1, "maxLength": MAX_SCORE_CATEGORY},
            ],
            "description": "A finite number, a bool, or a category.",
        },
        "comment": {"type": "string", "description": f"Cut at {MAX_SCORE_COMMENT} characters."},
        "source": {"type": "string", "enum": ["api", "eval"], "default": "api"},
        "evaluator": {"type": "string", "description": "The evaluator that gave it."},
    },
}

_SCORES_BODY = {
    "required": True,
    "description": f"One score, or a list of at most {MAX_SCORES_PER_REQUEST}.",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    _SCORE_SCHEMA,
                    {"type": "array", "items": _SCORE_SCHEMA, "maxItems": MAX_SCORES_PER_REQUEST},
                ]
            }
        }
    },
}


@router.post(
    "/scores",
    status_code=201,
    response_model=ScoresResponse,
    openapi_extra={"requestBody": _SCORES_BODY},
    responses={
        200: {"model": ScoresResponse, "description": "Every score was stored before (a retry)."},
        400: {"model": ErrorResponse, "description": "Not JSON, or bad gzip."},
        401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key."},
        404: {"model": ErrorResponse, "description": "No such session or span in the project."},
        409: {"model": ErrorResponse, "description": "An id used before for another score."},
        413: {"model": ErrorResponse, "description": "The body is larger than the limit."},
        415: {"model": ErrorResponse, "description": "Unsupported Content-Encoding."},
        422: {"model": ErrorResponse, "description": "A score that is not valid (says why)."},
    },
)
async def post_scores(request: Request, key: KeyDep) -> JSONResponse:
    """Add scores to stored sessions or spans of the key's project; nothing is stored on error."""
    state = server_state(request)
    limits = state.limits
    limit = min(limits.max_body_bytes, MAX_SCORE_BODY_BYTES)
    check_content_length(request.headers.get("content-length"), limit)
    with state.budget.hold() as holding:
        body = await read_limited(request.stream(), limit, holding, limits.body_timeout)
        scan = JSONScan(limits.max_values, limits.max_depth)
        encoding = request.headers.get("content-encoding")
        document = parse_json(decode(body, encoding, limit, scan, holding))
    new = read_scores(document)
    try:
        stored: StoredScores = await run_in_threadpool(
            state.storage.add_scores, key.project_id, new
        )
    except InvalidDocument as exc:
        raise HTTPException(422, str(exc)) from None
    except ScoreTargetNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ScoreIdReused as exc:
        raise HTTPException(409, str(exc)) from None
    answer = {"success": True, "created": stored.created, "scores": stored.scores}
    return JSONResponse(answer, 201 if stored.created else 200)


def read_scores(document: object) -> list[NewScore]:
    """The scores of a request body (one object or a list), their fields not checked yet.

    Raises:
        HTTPException: 422, the body is not a score or a list of them (the message says why).
    """
    items = document if isinstance(document, list) else [document]
    if not items:
        raise HTTPException(422, "the body is an empty list: send a score or a list of scores")
    if len(items) > MAX_SCORES_PER_REQUEST:
        raise HTTPException(
            422,
            f"the body has {len(items)} scores, more than {MAX_SCORES_PER_REQUEST} per request:"
            " send them in several requests",
        )
    new: list[NewScore] = []
    for index, item in enumerate(items):
        path = f"scores[{index}]"
        if not isinstance(item, dict):
            raise HTTPException(
                422, f"{path} must be an object with session_id, name and value, got {shown(item)}"
            )
        unknown = [name for name in item if name not in FIELDS]
        if unknown:
            raise HTTPException(
                422,
                f"{path} has the unknown field {shown(unknown[0], 60)}: a score has the fields"
                f" {', '.join(FIELDS)}",
            )
        missing = [name for name in _REQUIRED if item.get(name) is None]
        if missing:
            raise HTTPException(422, f"{path}.{missing[0]} is required")
        new.append(NewScore(**item))
    return new

"""The query API: sessions, one session with its events and trace tree, and call statistics.

Every query is limited to the caller's project; a session of another project is answered
exactly as a session that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from .deps import current_key, server_state
from .models import ErrorResponse, SessionDetailResponse, SessionPageResponse, StatsResponse
from .params import (
    BUCKETS,
    BadParameterError,
    check_group_by,
    check_score_name_parameter,
    parse_labels,
    parse_score_filters,
    parse_time,
    text,
)
from .storage import KeyRecord, SessionQuery, StatsQuery

router = APIRouter(
    prefix="/v1",
    tags=["query"],
    responses={
        400: {"model": ErrorResponse, "description": "A parameter the server cannot use."},
        401: {"model": ErrorResponse, "description": "Missing, invalid or revoked API key."},
        422: {"model": ErrorResponse, "description": "A parameter of the wrong type."},
    },
)

KeyDep = Annotated[KeyRecord, Depends(current_key)]
TIME_HELP = "Epoch seconds or ISO 8601 (UTC when no zone is given)."
_T = TypeVar("_T")


def _refusing_values(call: Callable[[], _T]) -> _T:
    """``call()``, with the storage's ValueError (bad cursor, limit, group) made a 400."""
    try:
        return call()
    except ValueError as exc:
        raise BadParameterError(str(exc)) from exc


@router.get("/sessions", response_model=SessionPageResponse)
def list_sessions(
    *,
    request: Request,
    key: KeyDep,
    label: Annotated[
        list[str] | None, Query(description="key:value; repeat to require several labels.")
    ] = None,
    name: Annotated[str | None, Query(description="Part of the session name.")] = None,
    since: Annotated[str | None, Query(description=f"Started at or after. {TIME_HELP}")] = None,
    until: Annotated[str | None, Query(description=f"Started before. {TIME_HELP}")] = None,
    model: str | None = None,
    provider: str | None = None,
    has_errors: bool | None = None,
    q: Annotated[
        str | None,
        Query(
            description="Words an event's inputs or outputs hold, all of them (whole words,"
            " any case, at most 1000 characters).",
            examples=["refund policy"],
        ),
    ] = None,
    score: Annotated[
        list[str] | None,
        Query(
            description="A score the session (or one of its spans) has: NAME, NAME:<0.5 (also"
            " <=, >, >=), NAME:true, NAME:false or NAME:=category; repeat to require several.",
            examples=["helpful:>=0.8"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> dict[str, Any]:
    """Session summaries, newest first, one page at a time."""
    query = SessionQuery(
        labels=parse_labels(label or []),
        name=text("name", name),
        since=parse_time("since", since),
        until=parse_time("until", until),
        model=text("model", model),
        provider=text("provider", provider),
        has_errors=has_errors,
        search=text("q", q),
        scores=parse_score_filters(score or []),
        limit=limit,
        cursor=cursor or None,
    )
    storage = server_state(request).storage
    page = _refusing_values(lambda: storage.sessions(key.project_id, query))
    return {"sessions": page.sessions, "next_cursor": page.next_cursor}


@router.get(
    "/sessions/{session_id}",
    response_model=SessionDetailResponse,
    responses={404: {"model": ErrorResponse, "description": "No such session in the project."}},
)
def get_session(request: Request, key: KeyDep, session_id: str) -> dict[str, Any]:
    """One session with its events, function events and trace tree."""
    text("session_id", session_id)
    storage = server_state(request).storage
    found = _refusing_values(lambda: storage.session(key.project_id, session_id))
    if found is None:
        raise HTTPException(404, "session not found")
    return found


@router.get("/stats", response_model=StatsResponse)
def get_stats(
    *,
    request: Request,
    key: KeyDep,
    group_by: Annotated[str, Query(description="model, provider, label:<key> or none.")] = "model",
    bucket: Literal["minute", "hour", "day", "none"] = "none",
    since: Annotated[str | None, Query(description=f"Calls from this time. {TIME_HELP}")] = None,
    until: Annotated[str | None, Query(description=f"Calls before this time. {TIME_HELP}")] = None,
    score: Annotated[
        str | None,
        Query(
            description="A score name: its count, mean and pass rate by group and bucket instead"
            " of the calls' totals (times are the scores' created_at; model and provider are the"
            " scored call's).",
            examples=["helpful"],
        ),
    ] = None,
) -> dict[str, Any]:
    """LLM call totals and latency percentiles by group and time bucket, or a score's."""
    query = StatsQuery(
        group_by=check_group_by(group_by),
        bucket_seconds=BUCKETS[bucket],
        since=parse_time("since", since),
        until=parse_time("until", until),
        score=check_score_name_parameter(score),
    )
    storage = server_state(request).storage
    groups = _refusing_values(lambda: storage.stats(key.project_id, query))
    answer = {"group_by": group_by, "bucket": bucket, "groups": groups}
    if query.score is not None:
        answer["score"] = query.score
    return answer

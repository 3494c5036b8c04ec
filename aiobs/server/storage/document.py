"""An uploaded export document checked and turned into rows, before any database work.

:func:`parse_document` accepts documents of this SDK and of aiobs 0.2 (fewer fields, events
without ``session_id`` when there is one session, numbers that may be null) and raises
:class:`~aiobs.server.storage.base.InvalidDocument` naming the first field that is wrong, such
as ``events[3].started_at must be a number``. The document's ``trace_tree`` is ignored: the tree is
rebuilt from the events when a session is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from ..._format import (
    COST_TOTAL,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_SESSIONS,
    EVENT_API,
    EVENT_DURATION_MS,
    EVENT_ENDED_AT,
    EVENT_ERROR,
    EVENT_PARENT_SPAN_ID,
    EVENT_PROVIDER,
    EVENT_SESSION_ID,
    EVENT_SPAN_ID,
    EVENT_STARTED_AT,
    EVENT_STATUS,
    EVENT_TRACE_ID,
    FUNCTION_NAME,
    LLM_COST,
    LLM_REQUEST,
    LLM_REQUEST_MODEL,
    LLM_RESPONSE,
    LLM_RESPONSE_MODEL,
    LLM_USAGE,
    RESPONSE_MODEL,
    RESPONSE_USAGE,
    SESSION_ENDED_AT,
    SESSION_ID,
    SESSION_LABELS,
    SESSION_META,
    SESSION_NAME,
    SESSION_STARTED_AT,
    STATUS_ERROR,
    USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
    USAGE_TOTAL_TOKENS,
)
from .base import InvalidDocument

SessionRow = tuple[Any, ...]
"""``(id, name, name_lower, started_at, ended_at, labels_json, meta_json)``."""

EventRow = tuple[Any, ...]
"""The columns of :data:`EVENT_COLUMNS`, in order, without ``project_id``."""

EVENT_COLUMNS = (
    "session_id",
    "kind",
    "event_key",
    "span_id",
    "parent_span_id",
    "trace_id",
    "provider",
    "api",
    "model",
    "request_model",
    "started_at",
    "ended_at",
    "duration_ms",
    "error",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost",
    "body",
)
"""The indexed columns kept beside each event's JSON ``body``."""

_STRING_FIELDS = (
    EVENT_SPAN_ID,
    EVENT_PARENT_SPAN_ID,
    EVENT_TRACE_ID,
    EVENT_PROVIDER,
    EVENT_API,
    FUNCTION_NAME,
    LLM_REQUEST_MODEL,
    LLM_RESPONSE_MODEL,
    EVENT_STATUS,
)
_NUMBER_FIELDS = (EVENT_STARTED_AT, EVENT_ENDED_AT, EVENT_DURATION_MS)
_TOKEN_FIELDS = (USAGE_INPUT_TOKENS, USAGE_OUTPUT_TOKENS, USAGE_TOTAL_TOKENS)


@dataclass
class ParsedDocument:
    """What an upload stores: sessions, their labels and events, as rows."""

    sessions: list[SessionRow] = field(default_factory=list)
    labels: list[tuple[str, str, str]] = field(default_factory=list)
    """``(session_id, key, value)``."""
    events: list[EventRow] = field(default_factory=list)
    event_sessions: dict[str, str] = field(default_factory=dict)
    """Session ids the events name that are not in the document, with the first event's path."""


def parse_document(document: object) -> ParsedDocument:
    """Check an export document and turn it into rows.

    Raises:
        InvalidDocument: the shape is wrong; the message names the field.
    """
    if not isinstance(document, Mapping):
        raise InvalidDocument("the document must be a JSON object")
    sessions = _list_of_objects(document, DOC_SESSIONS, required=True)
    events = _list_of_objects(document, DOC_EVENTS, required=True)
    function_events = _list_of_objects(document, DOC_FUNCTION_EVENTS, required=False)
    parsed = ParsedDocument()
    session_ids: list[str] = []
    for index, session in enumerate(sessions):
        session_ids.append(_session_row(parsed, session, f"{DOC_SESSIONS}[{index}]"))
    known = set(session_ids)
    only_session = session_ids[0] if len(known) == 1 else None
    for kind, key, items in (
        ("llm", DOC_EVENTS, events),
        ("function", DOC_FUNCTION_EVENTS, function_events),
    ):
        for index, event in enumerate(items):
            path = f"{key}[{index}]"
            row = _event_row(event, kind, path, only_session)
            if row[0] not in known:
                parsed.event_sessions.setdefault(row[0], path)
            parsed.events.append(row)
    return parsed


def _list_of_objects(document: Mapping[str, Any], key: str, *, required: bool) -> list[Any]:
    value = document.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidDocument(f"{key} must be a list")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidDocument(f"{key}[{index}] must be an object")
    return value


def _session_row(parsed: ParsedDocument, session: dict[str, Any], path: str) -> str:
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str) or not session_id:
        raise InvalidDocument(f"{path}.{SESSION_ID} must be a non-empty string")
    name = _optional_string(session, SESSION_NAME, path)
    started_at = _optional_number(session, SESSION_STARTED_AT, path)
    ended_at = _optional_number(session, SESSION_ENDED_AT, path)
    labels = session.get(SESSION_LABELS)
    if labels is None:
        labels = {}
    elif not isinstance(labels, dict):
        raise InvalidDocument(f"{path}.{SESSION_LABELS} must be an object")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise InvalidDocument(f"{path}.{SESSION_LABELS}.{key} must be a string")
        parsed.labels.append((session_id, key, value))
    parsed.sessions.append(
        (
            session_id,
            name,
            None if name is None else name.lower(),
            0.0 if started_at is None else started_at,
            ended_at,
            _dumps(labels),
            _dumps(session.get(SESSION_META)),
        )
    )
    return session_id


def _event_row(event: dict[str, Any], kind: str, path: str, only_session: str | None) -> EventRow:
    session_id = event.get(EVENT_SESSION_ID)
    body = event
    if session_id is None:
        if only_session is None:
            raise InvalidDocument(
                f"{path}.{EVENT_SESSION_ID} is required when the document has other than one"
                " session"
            )
        session_id = only_session
        body = {**event, EVENT_SESSION_ID: session_id}  # aiobs 0.2: the document's one session
    elif not isinstance(session_id, str) or not session_id:
        raise InvalidDocument(f"{path}.{EVENT_SESSION_ID} must be a non-empty string")
    get = event.get
    for key in _STRING_FIELDS:
        value = get(key)
        if value is not None and type(value) is not str:
            _optional_string(event, key, path)  # raises unless a subclass of str
    started_at, ended_at, duration_ms = (
        get(EVENT_STARTED_AT),
        get(EVENT_ENDED_AT),
        get(EVENT_DURATION_MS),
    )
    if (
        type(started_at) is not float
        or type(ended_at) is not float
        or type(duration_ms) is not float
    ):
        started_at, ended_at, duration_ms = (
            _optional_number(event, k, path) for k in _NUMBER_FIELDS
        )
    tokens = _tokens(event, path)
    # aiobs 0.2 events name the models only inside the request and the response.
    request_model = get(LLM_REQUEST_MODEL) or _model_in(get(LLM_REQUEST))
    model = get(LLM_RESPONSE_MODEL) or get(LLM_REQUEST_MODEL)
    if model is None and kind == "llm":
        model = _model_in(get(LLM_RESPONSE)) or request_model
    text = pydantic_core.to_json(body).decode("utf-8")
    span_id = get(EVENT_SPAN_ID)
    # Events without a span id (possible in aiobs 0.2) are told apart by their content.
    event_key = span_id or "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return (
        session_id,
        kind,
        event_key,
        span_id,
        get(EVENT_PARENT_SPAN_ID),
        get(EVENT_TRACE_ID),
        get(EVENT_PROVIDER),
        get(FUNCTION_NAME) if kind == "function" else get(EVENT_API),
        model,
        request_model,
        started_at,
        ended_at,
        duration_ms,
        1 if get(EVENT_ERROR) is not None or get(EVENT_STATUS) == STATUS_ERROR else 0,
        *tokens,
        _cost(event, path),
        text,
    )


def _model_in(payload: object) -> str | None:
    """The response's ``model``, or the request's: every SDK names its model argument so too."""
    model = payload.get(RESPONSE_MODEL) if isinstance(payload, dict) else None
    return model if isinstance(model, str) else None


def _tokens(event: dict[str, Any], path: str) -> tuple[int | None, int | None, int | None]:
    usage = event.get(LLM_USAGE)
    if usage is None:
        response = event.get(LLM_RESPONSE)
        legacy = response.get(RESPONSE_USAGE) if isinstance(response, dict) else None
        if not isinstance(legacy, dict):
            return (None, None, None)
        # The provider's own usage object, in its own words (OpenAI's, else Anthropic's).
        prompt = _int_or_none(legacy.get("prompt_tokens", legacy.get("input_tokens")))
        completion = _int_or_none(legacy.get("completion_tokens", legacy.get("output_tokens")))
        total = _int_or_none(legacy.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return (prompt, completion, total)
    if not isinstance(usage, dict):
        raise InvalidDocument(f"{path}.{LLM_USAGE} must be an object")
    values = []
    for key in _TOKEN_FIELDS:
        value = usage.get(key)
        if value is not None and not _is_number(value):
            raise InvalidDocument(f"{path}.{LLM_USAGE}.{key} must be a number")
        values.append(None if value is None else int(value))
    return (values[0], values[1], values[2])


def _cost(event: dict[str, Any], path: str) -> float | None:
    cost = event.get(LLM_COST)
    if cost is None:
        return None
    if not isinstance(cost, dict):
        raise InvalidDocument(f"{path}.{LLM_COST} must be an object")
    total = cost.get(COST_TOTAL)
    if total is not None and not _is_number(total):
        raise InvalidDocument(f"{path}.{LLM_COST}.{COST_TOTAL} must be a number")
    return None if total is None else float(total)


def _optional_string(item: dict[str, Any], key: str, path: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidDocument(f"{path}.{key} must be a string")
    return value


def _optional_number(item: dict[str, Any], key: str, path: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise InvalidDocument(f"{path}.{key} must be a number")
    return float(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_or_none(value: object) -> int | None:
    return int(value) if _is_number(value) else None  # type: ignore[call-overload]


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

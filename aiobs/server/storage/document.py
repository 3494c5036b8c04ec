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
    "span_id",
    "parent_span_id",
    "trace_id",
    "provider",
    "api",
    "name",
    "request_model",
    "response_model",
    "status",
)
_NUMBER_FIELDS = ("started_at", "ended_at", "duration_ms")
_TOKEN_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


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
    sessions = _list_of_objects(document, "sessions", required=True)
    events = _list_of_objects(document, "events", required=True)
    function_events = _list_of_objects(document, "function_events", required=False)
    parsed = ParsedDocument()
    session_ids: list[str] = []
    for index, session in enumerate(sessions):
        session_ids.append(_session_row(parsed, session, f"sessions[{index}]"))
    known = set(session_ids)
    only_session = session_ids[0] if len(known) == 1 else None
    for kind, key, items in (
        ("llm", "events", events),
        ("function", "function_events", function_events),
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
    session_id = session.get("id")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidDocument(f"{path}.id must be a non-empty string")
    name = _optional_string(session, "name", path)
    started_at = _optional_number(session, "started_at", path)
    ended_at = _optional_number(session, "ended_at", path)
    labels = session.get("labels")
    if labels is None:
        labels = {}
    elif not isinstance(labels, dict):
        raise InvalidDocument(f"{path}.labels must be an object")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise InvalidDocument(f"{path}.labels.{key} must be a string")
        parsed.labels.append((session_id, key, value))
    parsed.sessions.append(
        (
            session_id,
            name,
            None if name is None else name.lower(),
            0.0 if started_at is None else started_at,
            ended_at,
            _dumps(labels),
            _dumps(session.get("meta")),
        )
    )
    return session_id


def _event_row(event: dict[str, Any], kind: str, path: str, only_session: str | None) -> EventRow:
    session_id = event.get("session_id")
    body = event
    if session_id is None:
        if only_session is None:
            raise InvalidDocument(
                f"{path}.session_id is required when the document has other than one session"
            )
        session_id = only_session
        body = {**event, "session_id": session_id}  # aiobs 0.2: the document's one session
    elif not isinstance(session_id, str) or not session_id:
        raise InvalidDocument(f"{path}.session_id must be a non-empty string")
    get = event.get
    for key in _STRING_FIELDS:
        value = get(key)
        if value is not None and type(value) is not str:
            _optional_string(event, key, path)  # raises unless a subclass of str
    started_at, ended_at, duration_ms = get("started_at"), get("ended_at"), get("duration_ms")
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
    request_model = event.get("request_model") or _model_in(event.get("request"))
    model = event.get("response_model") or event.get("request_model")
    if model is None and kind == "llm":
        model = _model_in(event.get("response")) or request_model
    text = pydantic_core.to_json(body).decode("utf-8")
    span_id = event.get("span_id")
    # Events without a span id (possible in aiobs 0.2) are told apart by their content.
    event_key = span_id or "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return (
        session_id,
        kind,
        event_key,
        span_id,
        event.get("parent_span_id"),
        event.get("trace_id"),
        event.get("provider"),
        event.get("name") if kind == "function" else event.get("api"),
        model,
        request_model,
        started_at,
        ended_at,
        duration_ms,
        1 if event.get("error") is not None or event.get("status") == "error" else 0,
        *tokens,
        _cost(event, path),
        text,
    )


def _model_in(payload: object) -> str | None:
    model = payload.get("model") if isinstance(payload, dict) else None
    return model if isinstance(model, str) else None


def _tokens(event: dict[str, Any], path: str) -> tuple[int | None, int | None, int | None]:
    usage = event.get("usage")
    if usage is None:
        response = event.get("response")
        legacy = response.get("usage") if isinstance(response, dict) else None
        if not isinstance(legacy, dict):
            return (None, None, None)
        prompt = _int_or_none(legacy.get("prompt_tokens", legacy.get("input_tokens")))
        completion = _int_or_none(legacy.get("completion_tokens", legacy.get("output_tokens")))
        total = _int_or_none(legacy.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return (prompt, completion, total)
    if not isinstance(usage, dict):
        raise InvalidDocument(f"{path}.usage must be an object")
    values = []
    for key in _TOKEN_FIELDS:
        value = usage.get(key)
        if value is not None and not _is_number(value):
            raise InvalidDocument(f"{path}.usage.{key} must be a number")
        values.append(None if value is None else int(value))
    return (values[0], values[1], values[2])


def _cost(event: dict[str, Any], path: str) -> float | None:
    cost = event.get("cost")
    if cost is None:
        return None
    if not isinstance(cost, dict):
        raise InvalidDocument(f"{path}.cost must be an object")
    total = cost.get("total")
    if total is not None and not _is_number(total):
        raise InvalidDocument(f"{path}.cost.total must be a number")
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

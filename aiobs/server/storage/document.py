"""An uploaded export document checked and turned into rows, before any database work.

:func:`parse_document` accepts documents of this SDK and of aiobs 0.2 (fewer fields, events
without ``session_id`` when there is one session, numbers that may be null) and raises
:class:`~aiobs.server.storage.base.InvalidDocument` naming the first field that is wrong, such
as ``events[3].started_at must be a number``. The document's ``trace_tree`` is ignored: the tree is
rebuilt from the events when a session is read. Values that become columns are checked by
:mod:`.values` (ids of a URL-safe form, text without NUL, finite numbers, 64-bit integers); the
rest of an event is kept as its JSON text, which may hold no ``NaN`` or infinity either. Top-level
fields the server does not know are ignored, up to :data:`MAX_UNKNOWN_FIELDS` of them holding
:data:`MAX_UNKNOWN_BYTES` together; beyond that the document is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pydantic_core

from ..._format import (
    COST_TOTAL,
    DOC_ENH_PROMPT_TRACES,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    DOC_VERSION,
    EVENT_API,
    EVENT_DURATION_MS,
    EVENT_ENDED_AT,
    EVENT_ERROR,
    EVENT_PARENT_SPAN_ID,
    EVENT_PROVIDER,
    EVENT_SCORES,
    EVENT_SESSION_ID,
    EVENT_SPAN_ID,
    EVENT_STARTED_AT,
    EVENT_STATUS,
    EVENT_TRACE_ID,
    FUNCTION_ARGS,
    FUNCTION_KWARGS,
    FUNCTION_NAME,
    FUNCTION_RESULT,
    FUNCTION_YIELDED,
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
from .scores import ScoreRow, document_rows
from .values import (
    MAX_ID_LENGTH,
    MAX_INTEGER,
    MIN_INTEGER,
    check_id,
    check_optional_id,
    check_text,
    finite_number,
    integer,
    is_number,
    shown,
)

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
    "search_text",
)
"""The indexed columns kept beside each event's JSON ``body``, and the text searched for it."""

MAX_SEARCH_CHARS = 8192
"""Characters of an event's recorded text that full-text search sees (the first ones)."""

_SEARCHED_FIELDS = {
    "llm": (LLM_REQUEST, LLM_RESPONSE),
    "function": (FUNCTION_ARGS, FUNCTION_KWARGS, FUNCTION_RESULT, FUNCTION_YIELDED),
}
"""Where an event's recorded inputs and outputs are, by kind."""

_UNSEARCHED_KEYS = frozenset({"model", "role", "type", "id", "finish_reasons", "usage"})
"""Keys of a request or response whose values are names of things, not what was said."""

_BODY = EVENT_COLUMNS.index("body")

_ID_FIELDS = (EVENT_SPAN_ID, EVENT_PARENT_SPAN_ID, EVENT_TRACE_ID)
_TEXT_FIELDS = (
    EVENT_PROVIDER,
    EVENT_API,
    FUNCTION_NAME,
    LLM_REQUEST_MODEL,
    LLM_RESPONSE_MODEL,
    EVENT_STATUS,
)
_NUMBER_FIELDS = (EVENT_STARTED_AT, EVENT_ENDED_AT, EVENT_DURATION_MS)
_TOKEN_FIELDS = (USAGE_INPUT_TOKENS, USAGE_OUTPUT_TOKENS, USAGE_TOTAL_TOKENS)

KNOWN_FIELDS = frozenset(
    {
        DOC_SESSIONS,
        DOC_EVENTS,
        DOC_FUNCTION_EVENTS,
        DOC_TRACE_TREE,
        DOC_ENH_PROMPT_TRACES,
        DOC_GENERATED_AT,
        DOC_VERSION,
    }
)
"""The document's top-level fields."""

MAX_UNKNOWN_FIELDS = 8
"""Top-level fields the server does not know (a newer SDK's, say) that a document may have."""

MAX_UNKNOWN_BYTES = 64 * 1024
"""JSON bytes those fields may hold together; they are ignored, so they need not be large."""


@dataclass
class ParsedDocument:
    """What an upload stores: sessions, their labels and events, as rows."""

    sessions: list[SessionRow] = field(default_factory=list)
    labels: list[tuple[str, str, str]] = field(default_factory=list)
    """``(session_id, key, value)``."""
    events: list[EventRow] = field(default_factory=list)
    event_sessions: dict[str, str] = field(default_factory=dict)
    """Session ids the events name that are not in the document, with the first event's path."""
    scores: list[ScoreRow] = field(default_factory=list)
    """The scores of the sessions and events (:mod:`.scores`)."""


def parse_document(document: object) -> ParsedDocument:
    """Check an export document and turn it into rows.

    Raises:
        InvalidDocument: the shape is wrong; the message names the field.
    """
    if not isinstance(document, Mapping):
        raise InvalidDocument("the document must be a JSON object")
    unknown = [name for name in document if name not in KNOWN_FIELDS]
    if unknown:
        _check_unknown_fields(document, unknown)
    sessions = _list_of_objects(document, DOC_SESSIONS, required=True)
    events = _list_of_objects(document, DOC_EVENTS, required=True)
    function_events = _list_of_objects(document, DOC_FUNCTION_EVENTS, required=False)
    parsed = ParsedDocument()
    session_ids: list[str] = []
    for index, session in enumerate(sessions):
        session_ids.append(_session_row(parsed, session, f"{DOC_SESSIONS}[{index}]"))
    known = set(session_ids)
    only_session = session_ids[0] if len(known) == 1 else None
    scored: list[tuple[str, dict[str, Any], str]] = []
    for kind, key, items in (
        ("llm", DOC_EVENTS, events),
        ("function", DOC_FUNCTION_EVENTS, function_events),
    ):
        for index, event in enumerate(items):
            path = f"{key}[{index}]"
            row = _event_row(event, kind, path, only_session, known)
            if row[0] not in known:
                parsed.event_sessions.setdefault(row[0], path)
            if EVENT_SCORES in event:
                scored.append((path, event, row[0]))
            parsed.events.append(row)
    _check_event_texts(parsed.events, events, function_events)
    parsed.scores = document_rows(sessions, scored)
    return parsed


def _check_event_texts(
    rows: list[EventRow], events: list[dict[str, Any]], function_events: list[dict[str, Any]]
) -> None:
    r"""Refuse events holding a number that is not finite, or NUL in a column.

    Both show in the events' JSON text (``Infinity``, ``NaN``, ``\u0000``), which is searched
    once for the whole document; only when one of them is there (a recorded argument may hold
    NUL, a text may say NaN) is each event looked at.
    """
    texts = "".join([row[_BODY] for row in rows])
    if "\\u0000" not in texts and "Infinity" not in texts and "NaN" not in texts:
        return
    paths = [f"{DOC_EVENTS}[{index}]" for index in range(len(events))]
    paths += [f"{DOC_FUNCTION_EVENTS}[{index}]" for index in range(len(function_events))]
    for row, path in zip(rows, paths, strict=True):
        text = row[_BODY]
        if ("Infinity" in text or "NaN" in text) and not _all_finite(text):
            raise InvalidDocument(f"{path} holds a number that is not finite (NaN or infinity)")
        if "\\u0000" in text:
            api = FUNCTION_NAME if row[1] == "function" else EVENT_API
            columns = zip((EVENT_PROVIDER, api, "model", LLM_REQUEST_MODEL), row[6:10], strict=True)
            for name, value in columns:
                check_text(value, f"{path}.{name}")


def _check_unknown_fields(document: Mapping[str, Any], unknown: list[str]) -> None:
    """Refuse more unknown top-level fields, or larger ones, than a document may carry."""
    names = ", ".join(shown(name, 30) for name in unknown[: MAX_UNKNOWN_FIELDS + 1])
    if len(unknown) > MAX_UNKNOWN_FIELDS:
        raise InvalidDocument(
            f"the document has {len(unknown)} unknown top-level fields ({names}, ...); at most "
            f"{MAX_UNKNOWN_FIELDS} are accepted (and ignored)"
        )
    size = sum(len(pydantic_core.to_json(document[name])) for name in unknown)
    if size > MAX_UNKNOWN_BYTES:
        raise InvalidDocument(
            f"the unknown top-level fields {names} hold {size} bytes of JSON; they are ignored,"
            f" and at most {MAX_UNKNOWN_BYTES} bytes are accepted"
        )


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
    session_id = check_id(session.get(SESSION_ID), f"{path}.{SESSION_ID}")
    name = check_text(session.get(SESSION_NAME), f"{path}.{SESSION_NAME}")
    started_at = finite_number(session.get(SESSION_STARTED_AT), f"{path}.{SESSION_STARTED_AT}")
    ended_at = finite_number(session.get(SESSION_ENDED_AT), f"{path}.{SESSION_ENDED_AT}")
    labels = session.get(SESSION_LABELS)
    if labels is None:
        labels = {}
    elif not isinstance(labels, dict):
        raise InvalidDocument(f"{path}.{SESSION_LABELS} must be an object")
    for key, value in labels.items():
        if not isinstance(value, str) or "\x00" in value or "\x00" in key:
            _refuse_label(f"{path}.{SESSION_LABELS}", key, value)
        parsed.labels.append((session_id, key, value))
    parsed.sessions.append(
        (
            session_id,
            name,
            None if name is None else name.lower(),
            0.0 if started_at is None else started_at,
            ended_at,
            _dumps(labels, f"{path}.{SESSION_LABELS}"),
            _dumps(session.get(SESSION_META), f"{path}.{SESSION_META}"),
        )
    )
    return session_id


def _refuse_label(path: str, key: str, value: object) -> NoReturn:
    where = f"{path}.{shown(key, 60)[1:-1]}"
    if "\x00" in key:
        raise InvalidDocument(f"{where}: a label key must not contain NUL (\\u0000)")
    check_text(value, where)
    raise AssertionError("unreachable: the label was refused above")  # pragma: no cover


def _event_row(
    event: dict[str, Any], kind: str, path: str, only_session: str | None, known: set[str]
) -> EventRow:
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
    elif type(session_id) is not str or session_id not in known:  # known ones are checked
        check_id(session_id, f"{path}.{EVENT_SESSION_ID}")
    get = event.get
    for key in _ID_FIELDS:
        value = get(key)
        if value is not None and not (
            type(value) is str
            and len(value) <= MAX_ID_LENGTH
            and value.isascii()
            and value.isalnum()  # hexadecimal span and trace ids: no need of a pattern
        ):
            check_optional_id(value, f"{path}.{key}")  # other forms of ids, or refused
    for key in _TEXT_FIELDS:
        value = get(key)
        if value is not None and type(value) is not str:
            check_text(value, f"{path}.{key}")  # NUL: see _check_event_texts
    started_at, ended_at, duration_ms = (
        get(EVENT_STARTED_AT),
        get(EVENT_ENDED_AT),
        get(EVENT_DURATION_MS),
    )
    if not (
        type(started_at) is float
        and type(ended_at) is float
        and type(duration_ms) is float
        and math.isfinite(started_at + ended_at + duration_ms)
    ):
        started_at, ended_at, duration_ms = (
            finite_number(get(key), f"{path}.{key}") for key in _NUMBER_FIELDS
        )
    tokens = _tokens(event, path)
    # aiobs 0.2 events name the models only inside the request and the response.
    request_model = get(LLM_REQUEST_MODEL) or _model_in(get(LLM_REQUEST), path, LLM_REQUEST)
    model = get(LLM_RESPONSE_MODEL) or get(LLM_REQUEST_MODEL)
    if model is None and kind == "llm":
        model = _model_in(get(LLM_RESPONSE), path, LLM_RESPONSE) or request_model
    text = _event_text(body, path)
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
        search_text(body, kind),
    )


def search_text(event: Mapping[str, Any], kind: str) -> str:
    """The text full-text search finds ``event`` by: the strings of its inputs and outputs.

    The request's messages or prompt and the response's text for an LLM call, the arguments and
    result of a function, one string per line, in the order recorded, cut at
    :data:`MAX_SEARCH_CHARS`. Names of things (``model``, ``role``, ids) are left out, and NUL
    (which a recorded argument may hold) becomes a space, since PostgreSQL text cannot hold it.

    Every event of an upload goes through here, in the request's thread: values nested at most
    :data:`_WALKED_DEPTH` levels (all the SDK writes) are walked by a recursive function, about
    twice as fast as the explicit stack that deeper values take.
    """
    parts: list[str] = []
    get = event.get
    try:
        for name in _SEARCHED_FIELDS[kind]:
            _strings_of(get(name), parts, _WALKED_DEPTH)
    except _TooDeepError:
        parts = _strings_deep(event, kind)
    text = "\n".join(parts)
    if len(text) > MAX_SEARCH_CHARS:
        text = text[:MAX_SEARCH_CHARS]
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return text


_WALKED_DEPTH = 48
"""Levels of nesting :func:`search_text` walks recursively before it takes the explicit stack."""


class _TooDeepError(Exception):
    """A value nested deeper than :data:`_WALKED_DEPTH` levels."""


def _strings_of(value: object, parts: list[str], depth: int) -> None:
    """Append the strings in ``value`` to ``parts``, in order, leaving out names of things."""
    kind = type(value)
    if kind is str:
        parts.append(value)  # type: ignore[arg-type]
    elif kind is dict:
        if not depth:
            raise _TooDeepError
        for key, item in value.items():  # type: ignore[attr-defined]
            if key not in _UNSEARCHED_KEYS:
                _strings_of(item, parts, depth - 1)
    elif kind is list:
        if not depth:
            raise _TooDeepError
        for item in value:  # type: ignore[attr-defined]
            _strings_of(item, parts, depth - 1)
    elif kind not in _SCALARS and isinstance(value, (str, dict, list)):
        _strings_of(_plain(value), parts, depth)  # a subclass: a value built in Python


_SCALARS = frozenset({int, float, bool, type(None)})
"""Types of the JSON values that hold no text."""


def _plain(value: str | dict[Any, Any] | list[Any]) -> object:
    if isinstance(value, str):
        return str(value)
    return dict(value) if isinstance(value, dict) else list(value)


def _strings_deep(event: Mapping[str, Any], kind: str) -> list[str]:
    """:func:`_strings_of` for values of any depth, stopping after :data:`MAX_SEARCH_CHARS`."""
    parts: list[str] = []
    size = 0
    stack: list[object] = [event.get(name) for name in reversed(_SEARCHED_FIELDS[kind])]
    while stack and size < MAX_SEARCH_CHARS:
        value = stack.pop()
        if isinstance(value, str):
            parts.append(value)
            size += len(value) + 1
        elif isinstance(value, dict):
            stack.extend(
                item for key, item in reversed(value.items()) if key not in _UNSEARCHED_KEYS
            )
        elif isinstance(value, list):
            stack.extend(reversed(value))
    return parts


def _model_in(payload: object, path: str, where: str) -> str | None:
    """The response's ``model``, or the request's: every SDK names its model argument so too."""
    model = payload.get(RESPONSE_MODEL) if isinstance(payload, dict) else None
    if not isinstance(model, str):
        return None
    return check_text(model, f"{path}.{where}.{RESPONSE_MODEL}")


def _event_text(body: dict[str, Any], path: str) -> str:
    """The event as JSON text, numbers that are not finite written ``Infinity`` and ``NaN``."""
    try:
        return pydantic_core.to_json(body, inf_nan_mode="constants").decode("utf-8")
    except (pydantic_core.PydanticSerializationError, ValueError) as exc:
        raise InvalidDocument(f"{path} cannot be stored as JSON: {exc}") from None


def _all_finite(text: str) -> bool:
    """Whether the JSON ``text`` has no ``NaN`` or ``Infinity`` outside its strings."""

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError:
        return False
    return True


def _tokens(event: dict[str, Any], path: str) -> tuple[int | None, int | None, int | None]:
    usage = event.get(LLM_USAGE)
    if usage is None:
        response = event.get(LLM_RESPONSE)
        legacy = response.get(RESPONSE_USAGE) if isinstance(response, dict) else None
        if not isinstance(legacy, dict):
            return (None, None, None)
        # The provider's own usage object, in its own words (OpenAI's, else Anthropic's).
        where = f"{path}.{LLM_RESPONSE}.{RESPONSE_USAGE}"
        prompt = _int_or_none(legacy.get("prompt_tokens", legacy.get("input_tokens")), where)
        completion = _int_or_none(
            legacy.get("completion_tokens", legacy.get("output_tokens")), where
        )
        total = _int_or_none(legacy.get("total_tokens"), where)
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return (prompt, completion, total)
    if not isinstance(usage, dict):
        raise InvalidDocument(f"{path}.{LLM_USAGE} must be an object")
    values: list[int | None] = []
    for key in _TOKEN_FIELDS:
        value = usage.get(key)
        if value is None or (type(value) is int and MIN_INTEGER <= value <= MAX_INTEGER):
            values.append(value)
        else:
            values.append(integer(value, f"{path}.{LLM_USAGE}.{key}"))
    return (values[0], values[1], values[2])


def _cost(event: dict[str, Any], path: str) -> float | None:
    cost = event.get(LLM_COST)
    if cost is None:
        return None
    if not isinstance(cost, dict):
        raise InvalidDocument(f"{path}.{LLM_COST} must be an object")
    return finite_number(cost.get(COST_TOTAL), f"{path}.{LLM_COST}.{COST_TOTAL}")


def _int_or_none(value: object, where: str) -> int | None:
    """A count of aiobs 0.2's usage object: anything but a number is no count."""
    return integer(value, where) if is_number(value) else None


def _dumps(value: object, where: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise InvalidDocument(
            f"{where} holds a number that is not finite (NaN or infinity)"
        ) from None

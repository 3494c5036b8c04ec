"""Events handed over in the aiobs 0.2 shape, through ``observer._record_event``.

Code written for aiobs 0.2 (custom providers, tests) records events as ``Event`` or
``FunctionEvent`` models or as plain dicts. They are validated into those models (or, when that
fails, kept as best as can be), bounded and redacted like everything else, and given the current
span as parent when they name none.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

from . import _ids
from ._capture import Capturer
from ._context import span_var
from ._format import (
    EVENT_API,
    EVENT_DURATION_MS,
    EVENT_ENDED_AT,
    EVENT_ERROR,
    EVENT_PARENT_SPAN_ID,
    EVENT_PROVIDER,
    EVENT_SESSION_ID,
    EVENT_STARTED_AT,
    EVENT_TRACE_ID,
    FUNCTION_ARGS,
    FUNCTION_ATTRIBUTES,
    FUNCTION_KWARGS,
    FUNCTION_NAME,
    FUNCTION_RESULT,
    LLM_REQUEST,
    LLM_RESPONSE,
    PROVIDER_FUNCTION,
)
from ._records import ModelRecord
from .models import Event, FunctionEvent

legacy_span_id: ContextVar[str | None] = ContextVar("aiobs_legacy_span_id", default=None)
"""The span id set by aiobs 0.2's ``observer.set_current_span_id()``: the parent of events
recorded through ``_record_event`` (and what ``get_current_span_id()`` returns) while no aiobs
span is open."""


def model_record(payload: object, capturer: Capturer) -> ModelRecord:
    """Normalize an aiobs 0.2 event (model or dict) into a bounded, redacted record."""
    if isinstance(payload, FunctionEvent):
        data, is_function = payload.model_dump(), True
    elif isinstance(payload, Event):
        data, is_function = payload.model_dump(), False
    elif isinstance(payload, Mapping):
        raw = dict(payload)
        is_function = raw.get(EVENT_PROVIDER) == PROVIDER_FUNCTION and FUNCTION_NAME in raw
        model = FunctionEvent if is_function else Event
        try:
            data = model.model_validate(raw).model_dump()
        except ValueError:
            now = _ids.wall_clock()
            data = Event.model_construct(
                provider=str(raw.get(EVENT_PROVIDER)),
                api=str(raw.get(EVENT_API)),
                request=raw.get(LLM_REQUEST),
                response=raw.get(LLM_RESPONSE),
                error=None if raw.get(EVENT_ERROR) is None else str(raw.get(EVENT_ERROR)),
                started_at=_as_float(raw.get(EVENT_STARTED_AT), now),
                ended_at=_as_float(raw.get(EVENT_ENDED_AT), now),
                duration_ms=_as_float(raw.get(EVENT_DURATION_MS), 0.0),
                callsite=None,
                span_id=None,
                parent_span_id=None,
                trace_id=None,
            ).model_dump()
            is_function = False
    else:
        raise TypeError(
            f"_record_event takes an Event, FunctionEvent or dict, got {type(payload).__name__}"
        )
    data.pop(EVENT_SESSION_ID, None)
    for field in _CAPTURED_FIELDS:
        if data.get(field) is not None:
            data[field] = capturer.snapshot(data[field])
    if isinstance(data.get(EVENT_ERROR), str):
        data[EVENT_ERROR] = capturer.redaction.redact_text(data[EVENT_ERROR])
    if data.get(EVENT_PARENT_SPAN_ID) is None:
        current = span_var.get()
        if current is not None:
            data[EVENT_PARENT_SPAN_ID] = f"{current[0]:016x}"
            if data.get(EVENT_TRACE_ID) is None:
                data[EVENT_TRACE_ID] = f"{current[1]:032x}"
        else:
            data[EVENT_PARENT_SPAN_ID] = legacy_span_id.get()
    return ModelRecord(data, is_function=is_function)


_CAPTURED_FIELDS = (
    LLM_REQUEST,
    LLM_RESPONSE,
    FUNCTION_ARGS,
    FUNCTION_KWARGS,
    FUNCTION_RESULT,
    FUNCTION_ATTRIBUTES,
)
"""Fields holding the program's values: bounded and redacted like every captured value."""


def _as_float(value: object, fallback: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fallback

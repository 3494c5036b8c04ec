"""Events handed over in the aiobs 0.2 shape, through ``observer._record_event``.

Code written for aiobs 0.2 (custom providers, tests) records events as ``Event`` or
``FunctionEvent`` models or as plain dicts. They are validated into those models (or, when that
fails, kept as best as can be), bounded and redacted like everything else, and given the current
span as parent when they name none.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import _ids
from ._capture import Capturer
from ._context import span_var
from ._records import ModelRecord
from .models import Event, FunctionEvent


def model_record(payload: object, capturer: Capturer) -> ModelRecord:
    """Normalize an aiobs 0.2 event (model or dict) into a bounded, redacted record."""
    if isinstance(payload, FunctionEvent):
        data, is_function = payload.model_dump(), True
    elif isinstance(payload, Event):
        data, is_function = payload.model_dump(), False
    elif isinstance(payload, Mapping):
        raw = dict(payload)
        is_function = raw.get("provider") == "function" and "name" in raw
        model = FunctionEvent if is_function else Event
        try:
            data = model.model_validate(raw).model_dump()
        except ValueError:
            now = _ids.wall_clock()
            data = Event.model_construct(
                provider=str(raw.get("provider")),
                api=str(raw.get("api")),
                request=raw.get("request"),
                response=raw.get("response"),
                error=None if raw.get("error") is None else str(raw.get("error")),
                started_at=_as_float(raw.get("started_at"), now),
                ended_at=_as_float(raw.get("ended_at"), now),
                duration_ms=_as_float(raw.get("duration_ms"), 0.0),
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
    data.pop("session_id", None)
    for field in ("request", "response", "args", "kwargs", "result", "attributes"):
        if data.get(field) is not None:
            data[field] = capturer.snapshot(data[field])
    if isinstance(data.get("error"), str):
        data["error"] = capturer.redaction.redact_text(data["error"])
    current = span_var.get()
    if current is not None and data.get("parent_span_id") is None:
        data["parent_span_id"] = f"{current[0]:016x}"
        if data.get("trace_id") is None:
            data["trace_id"] = f"{current[1]:032x}"
    return ModelRecord(data, is_function=is_function)


def _as_float(value: object, fallback: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return fallback

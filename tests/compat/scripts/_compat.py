"""Helpers for compatibility scripts: they run under aiobs 0.2.0 and under this package alike.

Use only what both packages offer. A script ends with ``report(**findings)``, which prints one
JSON object on stdout (the last line is what the harness reads).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from collections.abc import Callable
from typing import Any

SIDE = os.environ.get("AIOBS_COMPAT_SIDE", "unknown")
"""``reference`` or ``ours``: for naming resources the two runs must not share."""

SAMPLE: dict[str, Any] = {
    "sessions": [
        {
            "id": "session-1",
            "name": "compat",
            "started_at": 1700000000.0,
            "ended_at": 1700000001.5,
            "meta": {"pid": 4242, "cwd": "/srv/app"},
            "labels": {"env": "test", "team": "search"},
        }
    ],
    "events": [
        {
            "session_id": "session-1",
            "provider": "openai",
            "api": "chat.completions.create",
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hé"}]},
            "response": {"text": "hello"},
            "error": None,
            "started_at": 1700000000.1,
            "ended_at": 1700000000.4,
            "duration_ms": 300.0,
            "callsite": {"file": "app.py", "line": 12, "function": "answer"},
            "span_id": "span-llm",
            "parent_span_id": "span-fn",
            "trace_id": "trace-1",
        }
    ],
    "function_events": [
        {
            "session_id": "session-1",
            "provider": "function",
            "api": "app.answer",
            "name": "answer",
            "module": "app",
            "args": ["question"],
            "kwargs": {"k": 3},
            "result": "hello",
            "error": None,
            "started_at": 1700000000.0,
            "ended_at": 1700000000.5,
            "duration_ms": 500.0,
            "callsite": {"file": "app.py", "line": 20, "function": "<module>"},
            "span_id": "span-fn",
            "parent_span_id": None,
            "trace_id": "trace-1",
        }
    ],
    "trace_tree": [],
    "enh_prompt_traces": None,
    "generated_at": 1700000002.0,
    "version": 1,
}
"""An export document valid under both packages' models, with fixed ids and times."""


def sample(**changes: Any) -> Any:
    """:data:`SAMPLE` (with top-level ``changes``) as an ``ObservabilityExport``."""
    from aiobs.models import ObservabilityExport

    return ObservabilityExport.model_validate({**SAMPLE, **changes})


def exception(exc: BaseException) -> dict[str, Any]:
    """An exception as its type (and the names of its bases), message and cause."""
    cause = getattr(exc, "cause", None)
    return {
        "type": type(exc).__name__,
        "types": [cls.__name__ for cls in type(exc).__mro__],
        "message": str(exc),
        "cause": None if cause is None else type(cause).__name__,
        "cause_message": None if cause is None else str(cause),
    }


def result(value: Any) -> dict[str, Any]:
    """An ``ExportResult`` as plain data (other values through :func:`plain`)."""
    from aiobs.exporters import ExportResult

    if not isinstance(value, ExportResult):
        return {"not_a_result": plain(value)}
    return {
        "class": type(value).__name__,
        "success": plain(value.success),
        "destination": value.destination,
        "bytes_written": value.bytes_written,
        "metadata": plain(value.metadata),
        "error": value.error,
        "repr": repr(value),
    }


def plain(value: Any) -> Any:
    """``value`` as JSON data; what JSON cannot hold becomes ``{"repr": ..., "type": ...}``."""
    from aiobs.exporters import ExportResult

    if isinstance(value, ExportResult):
        return result(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return {"repr": repr(value), "type": type(value).__name__}


def outcome(call: Callable[[], Any]) -> dict[str, Any]:
    """What ``call()`` did: ``{"returned": ...}`` or ``{"raised": exception(...)}``."""
    try:
        value = call()
    except Exception as exc:
        return {"raised": exception(exc)}
    return {"returned": plain(value)}


def report(**findings: Any) -> None:
    """Print ``findings`` (and which aiobs ran them) as the script's one JSON line."""
    import aiobs

    findings["_aiobs"] = {"version": importlib.metadata.version("aiobs"), "file": aiobs.__file__}
    print(json.dumps(findings, sort_keys=True, default=repr))

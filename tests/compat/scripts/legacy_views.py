"""What ``observer._sessions`` and ``observer._events`` hold before a flush (0.2's store)."""

from __future__ import annotations

import time
from typing import Any

import _compat

from aiobs import observe, observer
from aiobs.collector import Collector
from aiobs.models import Event, FunctionEvent, Session

Collector._validate_api_key = lambda self: None  # type: ignore[method-assign]
Collector._record_usage = lambda self, trace_count: None  # type: ignore[method-assign]
Collector._flush_to_server = lambda self, export: None  # type: ignore[method-assign]


@observe
def inner(x: int) -> int:
    started = time.time()
    observer._record_event(
        {
            "provider": "custom",
            "api": "chat",
            "request": {"x": x},
            "response": {"text": "ok"},
            "started_at": started,
            "ended_at": time.time(),
            "duration_ms": 0.0,
            "parent_span_id": observer.get_current_span_id(),
        }
    )
    return x * 2


@observe(name="outer_step")
def outer(x: int) -> int:
    return inner(x) + 1


def describe(event: Any, names: dict[Any, str]) -> dict[str, Any]:
    described = {
        "type": type(event).__name__,
        "is_event": isinstance(event, Event),
        "is_function_event": isinstance(event, FunctionEvent),
        "provider": event.provider,
        "api": event.api,
        "parent": names.get(event.parent_span_id, event.parent_span_id),
    }
    if isinstance(event, FunctionEvent):
        described |= {"name": event.name, "args": event.args, "result": event.result}
    else:
        described |= {"request": event.request, "response": event.response}
    return described


def main() -> None:
    before = (dict(observer._sessions), dict(observer._events))
    session_id = observer.observe(session_name="views", api_key="k", labels={"team": "search"})
    outer(1)
    outer(2)
    sessions, events = observer._sessions, observer._events
    session = sessions[session_id]
    names = {e.span_id: e.name for e in events[session_id] if isinstance(e, FunctionEvent)}
    report: dict[str, Any] = {
        "before": [len(before[0]), len(before[1])],
        "session_ids": [list(sessions) == [session_id], list(events) == [session_id]],
        "session": {
            "type": type(session).__name__,
            "is_session": isinstance(session, Session),
            "name": session.name,
            "team": (session.labels or {}).get("team"),
            "ended": session.ended_at is not None,
        },
        "events": [describe(e, names) for e in events[session_id]],
    }
    observer.end()
    report["ended"] = observer._sessions[session_id].ended_at is not None
    observer.flush("out.json")
    report["after_flush"] = [
        len(observer._events.get(session_id, [])),
        session_id in observer._sessions,
    ]
    _compat.report(**report)


main()

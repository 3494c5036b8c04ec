"""A stored session turned into what the session page draws: tree nodes and their details.

Each node of the trace tree becomes ``{"id", "parent", "children", "name", "kind", "start",
"duration_ms", "error", "detail"}``, in depth-first order; ``start`` is milliseconds from the
session's first event, for the waterfall. ``detail`` holds what the detail pane shows: for an
LLM call the conversation (:mod:`.conversation`), response, usage, cost, model and error; for a
function its arguments, result, callsite and exception.

A node also has ``scores``: its span's evaluation scores (value, comment, source, evaluator).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .conversation import conversation, response_message

LLM_FIELDS = ("provider", "api", "request_model", "response_model", "usage", "cost", "stream")


def session_view(found: Mapping[str, Any]) -> dict[str, Any]:
    """The nodes of a session from the query API's ``GET /v1/sessions/{id}`` answer."""
    events: dict[str, Mapping[str, Any]] = {}
    for event in [*found.get("events", []), *found.get("function_events", [])]:
        span_id = event.get("span_id")
        if isinstance(span_id, str):
            events[span_id] = event
    flat = list(_walk(found.get("trace_tree") or [], None, events))
    seen = {node["id"] for node in flat}
    for span_id, event in events.items():  # events the tree left out still show, at the top
        if span_id not in seen:
            flat.append(_node(event, span_id, None, []))
    starts = [node["started_at"] for node in flat if isinstance(node["started_at"], (int, float))]
    origin = min(starts, default=0.0)
    for node in flat:
        started = node.pop("started_at")
        node["start"] = (started - origin) * 1000 if isinstance(started, (int, float)) else 0.0
    total = max((node["start"] + (node["duration_ms"] or 0) for node in flat), default=0.0)
    return {"nodes": flat, "total_ms": total}


def _walk(
    nodes: list[Any], parent: str | None, events: Mapping[str, Mapping[str, Any]]
) -> Iterator[dict[str, Any]]:
    for index, tree_node in enumerate(nodes):
        if not isinstance(tree_node, Mapping):
            continue
        span_id = tree_node.get("span_id")
        node_id = span_id if isinstance(span_id, str) else f"{parent or 'root'}.{index}"
        children = [child for child in tree_node.get("children") or [] if isinstance(child, dict)]
        event = events.get(node_id, tree_node)
        child_ids = [
            child["span_id"] if isinstance(child.get("span_id"), str) else f"{node_id}.{position}"
            for position, child in enumerate(children)
        ]
        yield _node(event, node_id, parent, child_ids)
        yield from _walk(children, node_id, events)


def _node(
    event: Mapping[str, Any], node_id: str, parent: str | None, children: list[str]
) -> dict[str, Any]:
    is_function = event.get("provider") == "function" or "args" in event
    duration = event.get("duration_ms")
    return {
        "id": node_id,
        "parent": parent,
        "children": children,
        "name": _name(event, is_function),
        "kind": "function" if is_function else "llm",
        "started_at": event.get("started_at"),
        "duration_ms": duration if isinstance(duration, (int, float)) else None,
        "error": bool(event.get("error") or event.get("exception")),
        "detail": _function_detail(event) if is_function else _llm_detail(event),
        "scores": event.get("scores") or [],
    }


def _name(event: Mapping[str, Any], is_function: bool) -> str:
    if is_function:
        return str(event.get("name") or event.get("api") or "function")
    model = event.get("response_model") or event.get("request_model")
    api = event.get("api") or "call"
    return f"{event.get('provider') or 'llm'} {api}" + (f" · {model}" if model else "")


def _llm_detail(event: Mapping[str, Any]) -> dict[str, Any]:
    request = event.get("request")
    parameters = {}
    if isinstance(request, Mapping):
        parameters = {
            key: value
            for key, value in request.items()
            if key not in ("messages", "contents", "input", "system", "instructions", "prompt")
        }
    detail: dict[str, Any] = {field: event.get(field) for field in LLM_FIELDS}
    detail.update(
        messages=conversation(request),
        response=response_message(event.get("response")),
        raw_response=event.get("response"),
        parameters=parameters,
        error=event.get("error"),
        exception=event.get("exception"),
        duration_ms=event.get("duration_ms"),
    )
    return detail


def _function_detail(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": event.get("name"),
        "module": event.get("module"),
        "args": event.get("args"),
        "kwargs": event.get("kwargs"),
        "result": event.get("result"),
        "callsite": event.get("callsite"),
        "error": event.get("error"),
        "exception": event.get("exception"),
        "duration_ms": event.get("duration_ms"),
    }

"""A stored session turned into what the session page draws: tree nodes and their details.

Each node of the trace tree becomes ``{"id", "parent", "children", "name", "kind", "start",
"duration_ms", "error", "tokens", "detail"}``, in depth-first order; ``start`` is milliseconds
from the session's first event, for the waterfall. ``detail`` holds what the detail pane shows:
for an LLM call the conversation (:mod:`.conversation`), response, usage, cost, model and error;
for a function its arguments, result, callsite, attributes and exception; for both the values
the SDK cut or redacted (:mod:`.markers`). The server's session page sends the tree without the
details (:func:`outline_view`, from the event table's columns) and the page fetches a node's
detail when it is shown (:func:`event_detail`); the one-file report keeps them in the page.

A node also has ``scores``: its span's evaluation scores (value, comment, source, evaluator).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..tree import link
from .conversation import conversation, response_message
from .markers import markers

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
    summary = found.get("session")
    labels = summary.get("labels") if isinstance(summary, Mapping) else None
    return {"nodes": flat, "total_ms": total, "labels": labels or {}}


def outline_view(outline: Mapping[str, Any]) -> dict[str, Any]:
    """The tree of a session page from :meth:`~aiobs.server.storage.Storage.session_outline`.

    The same nodes as :func:`session_view` without their ``detail`` (ids are the events' stored
    keys, by which the page fetches a node's :func:`event_detail`), built from the event
    table's columns without reading the stored documents.
    """
    events: list[Mapping[str, Any]] = outline["events"]
    shape = link(
        [event["started_at"] or 0.0 for event in events],
        [event["span_id"] for event in events],
        [event["parent_span_id"] for event in events],
    )
    parents: dict[int, int] = {}
    for index, kids in enumerate(shape.children):
        for kid in kids:
            parents[kid] = index
    starts = [event["started_at"] for event in events if event["started_at"] is not None]
    origin = min(starts, default=0.0)
    nodes: list[dict[str, Any]] = []
    stack = list(reversed(shape.roots))
    while stack:  # depth first, as session_view orders them
        index = stack.pop()
        event = events[index]
        kids = shape.children[index]
        function = event["kind"] == "function"
        if function:
            name = str(event["api"] or "function")
        else:
            model = event["model"]
            name = f"{event['provider'] or 'llm'} {event['api'] or 'call'}"
            name += f" · {model}" if model else ""
        started = event["started_at"]
        node = {
            "id": event["key"],
            "parent": events[parents[index]]["key"] if index in parents else None,
            "children": [events[kid]["key"] for kid in kids],
            "name": name,
            "kind": "function" if function else "llm",
            "start": (started - origin) * 1000 if started is not None else 0.0,
            "duration_ms": event["duration_ms"],
            "error": bool(event["error"]),
            "tokens": event["total_tokens"],
            "scores": event.get("scores") or [],
        }
        if index in shape.truncated:
            node["depth_truncated"] = True
        nodes.append(node)
        stack.extend(reversed(kids))
    total = max((node["start"] + (node["duration_ms"] or 0) for node in nodes), default=0.0)
    labels = outline["session"].get("labels")
    return {"nodes": nodes, "total_ms": total, "labels": labels or {}}


def event_detail(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``name``, ``kind`` and ``detail`` of one stored event, as its tree node has them."""
    node = _node(event, "", None, [])
    return {"name": node["name"], "kind": node["kind"], "detail": node["detail"]}


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
        node = _node(event, node_id, parent, child_ids)
        if tree_node.get("depth_truncated") is True:
            node["depth_truncated"] = True  # placed beside its parent: the tree is too deep
        yield node
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
        "tokens": _tokens(event),
        "detail": _function_detail(event) if is_function else _llm_detail(event),
        "scores": event.get("scores") or [],
    }


def _tokens(event: Mapping[str, Any]) -> int | None:
    usage = event.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


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
        markers=markers(event),
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
        "attributes": event.get("attributes"),
        "error": event.get("error"),
        "exception": event.get("exception"),
        "duration_ms": event.get("duration_ms"),
        "markers": markers(event),
    }

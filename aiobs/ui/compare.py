"""Two sessions' trace trees aligned node by node, with what differs between them.

Nodes are matched by their name path from the root: a node's key is its name (a function's
name, or ``provider api · model`` for an LLM call, as :mod:`.trace` names them) and its index
among the siblings of the same name, so the second ``search`` under ``answer`` in session A is
compared with the second ``search`` under ``answer`` in session B whatever else was called in
between. A node that has no partner is shown as only in A or only in B, with its subtree.

For matched nodes the output (an LLM call's response, a function's result), the tokens, the
latency, the cost and the failure are compared. Latency is noisy, so a change smaller than
``LATENCY_TOLERANCE`` of A's latency (or under a millisecond) is not marked. More tokens, more
cost, a longer latency and a new failure are "worse"; the reverse is "better"; a different
output is "changed".

Example::

    compared = compare(session_view(found_a), session_view(found_b))
    [row["side"] for row in compared["rows"]]  # ["both", "both", "a", ...]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

LATENCY_TOLERANCE = 0.10
"""Relative latency change below which two matched nodes count as equally fast."""

OUTPUT_EXCERPT = 300
"""Characters of an output shown in a row; the rest is cut with an ellipsis."""

Node = Mapping[str, Any]
Key = tuple[str, int]


def compare(view_a: Mapping[str, Any], view_b: Mapping[str, Any]) -> dict[str, Any]:
    """Aligned rows of two session views (:func:`.trace.session_view`), depth first.

    Each row is ``{"id", "parent", "depth", "name", "side", "a", "b", "changes", "differs",
    "has_children"}``: ``side`` is ``both``, ``a`` or ``b``; ``a`` and ``b`` are the node's
    figures in each session (``None`` where it is missing); ``changes`` lists what differs;
    ``differs`` is true when the row or a row below it differs.
    """
    children_a, roots_a = _tree(view_a["nodes"])
    children_b, roots_b = _tree(view_b["nodes"])
    rows: list[dict[str, Any]] = []
    _Aligner(rows, children_a, children_b).align(roots_a, roots_b, None, 0)
    counts = {"both": 0, "a": 0, "b": 0, "changed": 0}
    for row in rows:
        counts[row["side"]] += 1
        counts["changed"] += bool(row["changes"]) and row["side"] == "both"
    return {"rows": rows, "counts": counts}


def totals(session_a: Mapping[str, Any], session_b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The two sessions' summaries side by side: duration, calls, tokens, cost, errors.

    Each is ``{"field", "name", "a", "b", "delta", "ratio", "verdict", "text"}``; a change in
    the number of LLM calls is "changed", neither worse nor better.
    """
    facts = []
    for field, name in (
        ("duration_ms", "Duration"),
        ("llm_calls", "LLM calls"),
        ("total_tokens", "Tokens"),
        ("cost", "Cost"),
        ("errors", "Errors"),
    ):
        a, b = session_a.get(field), session_b.get(field)
        change = _delta(field, a, b)
        if field == "llm_calls" and change["verdict"] is not None:
            change["verdict"] = "changed"  # more calls is neither better nor worse by itself
        facts.append({"field": field, "name": name, "a": a, "b": b, **change})
    return facts


def _tree(nodes: Sequence[Node]) -> tuple[dict[str, list[Node]], list[Node]]:
    by_id = {node["id"]: node for node in nodes}
    children = {
        node["id"]: [by_id[child] for child in node["children"] if child in by_id] for node in nodes
    }
    roots = [node for node in nodes if node["parent"] is None or node["parent"] not in by_id]
    return children, roots


def _keyed(nodes: Sequence[Node]) -> Iterator[tuple[Key, Node]]:
    seen: dict[str, int] = {}
    for node in nodes:
        name = str(node["name"])
        index = seen.get(name, 0)
        seen[name] = index + 1
        yield (name, index), node


def _pairs(
    nodes_a: Sequence[Node], nodes_b: Sequence[Node]
) -> list[tuple[Key, Node | None, Node | None]]:
    """Siblings paired by key, in A's order; a node only in B follows its predecessor in B."""
    keyed_a = list(_keyed(nodes_a))
    keyed_b = list(_keyed(nodes_b))
    in_a = {key for key, _ in keyed_a}
    in_b = dict(keyed_b)
    following: dict[Key | None, list[tuple[Key, Node | None, Node | None]]] = {}
    anchor: Key | None = None
    for key, node in keyed_b:
        if key in in_a:
            anchor = key
        else:
            following.setdefault(anchor, []).append((key, None, node))
    pairs = list(following.get(None, []))
    for key, node in keyed_a:
        pairs.append((key, node, in_b.get(key)))
        pairs.extend(following.get(key, []))
    return pairs


class _Aligner:
    """Appends the rows of aligned siblings and their subtrees to ``rows``."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        children_a: Mapping[str, list[Node]],
        children_b: Mapping[str, list[Node]],
    ) -> None:
        self.rows = rows
        self.children_a = children_a
        self.children_b = children_b

    def align(
        self, nodes_a: Sequence[Node], nodes_b: Sequence[Node], parent: str | None, depth: int
    ) -> bool:
        """Append the rows of these siblings and their subtrees; whether any of them differs."""
        any_differs = False
        for (name, _), a, b in _pairs(nodes_a, nodes_b):
            row_id = f"c{len(self.rows)}"
            below_a = self.children_a.get(a["id"], []) if a is not None else []
            below_b = self.children_b.get(b["id"], []) if b is not None else []
            figures_a, figures_b = _figures(a), _figures(b)
            changes = _changes(figures_a, figures_b) if figures_a and figures_b else []
            side = "both" if a is not None and b is not None else ("a" if a is not None else "b")
            row: dict[str, Any] = {
                "id": row_id,
                "parent": parent,
                "depth": depth,
                "name": name,
                "side": side,
                "a": figures_a,
                "b": figures_b,
                "changes": changes,
                "differs": False,
                "has_children": bool(below_a or below_b),
            }
            self.rows.append(row)
            below = self.align(below_a, below_b, row_id, depth + 1)
            row["differs"] = bool(changes) or side != "both" or below
            any_differs = any_differs or row["differs"]
        return any_differs


def _figures(node: Node | None) -> dict[str, Any] | None:
    if node is None:
        return None
    detail = node.get("detail") or {}
    usage = detail.get("usage")
    cost = detail.get("cost")
    tokens = usage.get("total_tokens") if isinstance(usage, Mapping) else None
    total = cost.get("total") if isinstance(cost, Mapping) else None
    output = _output(node)
    return {
        "node": node["id"],
        "kind": node["kind"],
        "duration_ms": node.get("duration_ms"),
        "tokens": tokens if isinstance(tokens, int) else None,
        "cost": total if isinstance(total, (int, float)) else None,
        "error": bool(node.get("error")),
        "output": output,
        "excerpt": output
        if len(output) <= OUTPUT_EXCERPT
        else output[: OUTPUT_EXCERPT - 1].rstrip() + "…",
    }


def _output(node: Node) -> str:
    """What the node produced, as text: the response's text and tool calls, or the result."""
    detail = node.get("detail") or {}
    if node["kind"] == "function":
        value = detail.get("result")
    else:
        response = detail.get("response")
        if (
            isinstance(response, Mapping)
            and response.get("text")
            and not response.get("tool_calls")
        ):
            return str(response["text"])
        value = response if response is not None else detail.get("raw_response")
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _changes(figures_a: Mapping[str, Any], figures_b: Mapping[str, Any]) -> list[dict[str, Any]]:
    changes = []
    if figures_a["error"] != figures_b["error"]:
        verdict = "worse" if figures_b["error"] else "better"
        text = "fails in B" if figures_b["error"] else "fails only in A"
        changes.append({"what": "error", "verdict": verdict, "text": text, "delta": None})
    if figures_a["output"] != figures_b["output"]:
        changes.append(
            {"what": "output", "verdict": "changed", "text": "output differs", "delta": None}
        )
    for field, what in (("tokens", "tokens"), ("duration_ms", "latency"), ("cost", "cost")):
        change = _delta(field, figures_a[field], figures_b[field])
        if change["verdict"] is not None:
            changes.append({"what": what, **change})
    return changes


def _delta(field: str, a: Any, b: Any) -> dict[str, Any]:
    """``{"delta", "ratio", "verdict", "text"}`` from A to B; verdict ``None`` when the same."""
    numbers = isinstance(a, (int, float)) and isinstance(b, (int, float))
    if not numbers:
        same = (a is None and b is None) or a == b
        return {
            "delta": None,
            "ratio": None,
            "verdict": None if same else "changed",
            "text": "" if same else f"{_show(field, a)} → {_show(field, b)}",
        }
    delta = b - a
    ratio = delta / a if a else None
    if field in ("duration_ms",):
        unchanged = abs(delta) < max(1.0, LATENCY_TOLERANCE * abs(a))
    else:
        unchanged = abs(delta) < 1e-12
    if unchanged:
        return {"delta": delta, "ratio": ratio, "verdict": None, "text": ""}
    sign = "+" if delta > 0 else "-"
    text = f"{sign}{_show(field, abs(delta))}"
    if ratio is not None:
        text += f" ({sign}{abs(ratio) * 100:.0f} %)"
    return {
        "delta": delta,
        "ratio": ratio,
        "verdict": "worse" if delta > 0 else "better",
        "text": text,
    }


def _show(field: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "none"
    if field == "cost":
        return f"${value:.4f}" if value < 1 else f"${value:,.2f}"
    if field == "duration_ms":
        return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}"

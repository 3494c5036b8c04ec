"""Aligning two sessions' trace trees (aiobs.ui.compare), on views built by hand."""

from __future__ import annotations

from typing import Any

import pytest

from aiobs.ui.compare import compare, totals


def node(
    node_id: str,
    name: str,
    parent: str | None = None,
    children: tuple[str, ...] = (),
    *,
    ms: float = 100.0,
    output: str = "ok",
    tokens: int | None = None,
    cost: float | None = None,
    error: bool = False,
) -> dict[str, Any]:
    """A node as ``session_view`` makes it: a function, or an LLM call when it has tokens."""
    if tokens is None:
        detail: dict[str, Any] = {"result": output}
        kind = "function"
    else:
        detail = {
            "response": {"role": "assistant", "text": output, "tool_calls": []},
            "usage": {"total_tokens": tokens},
            "cost": {"total": cost},
        }
        kind = "llm"
    return {
        "id": node_id,
        "parent": parent,
        "children": list(children),
        "name": name,
        "kind": kind,
        "start": 0.0,
        "duration_ms": ms,
        "error": error,
        "detail": detail,
    }


def view(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes), "total_ms": 0.0}


def outline(compared: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(depth, name, side) of each row."""
    return [(row["depth"], row["name"], row["side"]) for row in compared["rows"]]


def agent(**changed: Any) -> dict[str, Any]:
    """answer -> (plan -> llm), search; the LLM call's figures overridable."""
    call = {"ms": 800.0, "output": "Paris", "tokens": 1290, "cost": 0.0003, **changed}
    return view(
        node("r", "answer", children=("p", "s"), ms=1500.0),
        node("p", "plan", "r", ("l",), ms=900.0),
        node("l", "openai chat · gpt-4o-mini", "p", **call),
        node("s", "search", "r", ms=50.0),
    )


class TestAlignment:
    """Nodes meet by name path and index among same-named siblings."""

    def test_identical_sessions_match_everywhere_with_no_change(self) -> None:
        compared = compare(agent(), agent())
        assert outline(compared) == [
            (0, "answer", "both"),
            (1, "plan", "both"),
            (2, "openai chat · gpt-4o-mini", "both"),
            (1, "search", "both"),
        ]
        assert [row["changes"] for row in compared["rows"]] == [[], [], [], []]
        assert not any(row["differs"] for row in compared["rows"])
        assert compared["counts"] == {"both": 4, "a": 0, "b": 0, "changed": 0}
        assert [row["parent"] for row in compared["rows"]] == [None, "c0", "c1", "c0"]

    def test_added_and_removed_nodes_are_shown_on_their_side_with_their_subtree(self) -> None:
        a = view(
            node("r", "answer", children=("p", "x", "s")),
            node("p", "plan", "r"),
            node("x", "retry", "r", ("x1",)),
            node("x1", "backoff", "x"),
            node("s", "search", "r"),
        )
        b = view(
            node("r", "answer", children=("p", "v", "s")),
            node("p", "plan", "r"),
            node("v", "verify", "r"),
            node("s", "search", "r"),
        )
        compared = compare(a, b)
        assert outline(compared) == [
            (0, "answer", "both"),
            (1, "plan", "both"),
            (1, "verify", "b"),
            (1, "retry", "a"),
            (2, "backoff", "a"),
            (1, "search", "both"),
        ]
        verify = compared["rows"][2]
        assert (verify["a"], verify["b"]["node"]) == (None, "v")
        assert [row["differs"] for row in compared["rows"]] == [
            True,
            False,
            True,
            True,
            True,
            False,
        ]
        assert compared["counts"] == {"both": 3, "a": 2, "b": 1, "changed": 0}

    def test_a_node_only_in_b_before_everything_comes_first(self) -> None:
        compared = compare(
            view(node("s", "search")), view(node("w", "warmup"), node("s", "search"))
        )
        assert outline(compared) == [(0, "warmup", "b"), (0, "search", "both")]

    def test_reordered_siblings_still_match(self) -> None:
        a = view(
            node("r", "answer", children=("x", "y")),
            node("x", "plan", "r"),
            node("y", "search", "r"),
        )
        b = view(
            node("r", "answer", children=("y", "x")),
            node("y", "search", "r"),
            node("x", "plan", "r"),
        )
        assert outline(compare(a, b)) == [
            (0, "answer", "both"),
            (1, "plan", "both"),
            (1, "search", "both"),
        ]

    def test_repeated_names_match_by_their_index(self) -> None:
        a = view(
            node("1", "call", ms=100.0, output="one"),
            node("2", "call", ms=100.0, output="two"),
            node("3", "call", ms=100.0, output="three"),
        )
        b = view(node("4", "call", ms=100.0, output="one"), node("5", "call", ms=100.0, output="2"))
        compared = compare(a, b)
        assert outline(compared) == [(0, "call", "both"), (0, "call", "both"), (0, "call", "a")]
        assert [(row["a"]["node"], (row["b"] or {}).get("node")) for row in compared["rows"]] == [
            ("1", "4"),
            ("2", "5"),
            ("3", None),
        ]
        assert [[c["what"] for c in row["changes"]] for row in compared["rows"]] == [
            [],
            ["output"],
            [],
        ]

    def test_names_are_matched_within_their_parent_only(self) -> None:
        a = view(node("r", "answer", children=("p",)), node("p", "plan", "r"))
        b = view(node("r", "answer"), node("p", "plan"))  # plan moved to the top
        assert outline(compare(a, b)) == [(0, "answer", "both"), (1, "plan", "a"), (0, "plan", "b")]


class TestDifferences:
    """Outputs, tokens, latency, cost and failures of matched nodes, with deltas and verdicts."""

    def changes(self, **changed: Any) -> dict[str, dict[str, Any]]:
        row = compare(agent(), agent(**changed))["rows"][2]
        return {change["what"]: change for change in row["changes"]}

    def test_more_tokens_and_cost_are_worse(self) -> None:
        found = self.changes(tokens=1500, cost=0.0006)
        assert set(found) == {"tokens", "cost"}
        assert (found["tokens"]["delta"], found["tokens"]["verdict"]) == (210, "worse")
        assert found["tokens"]["text"] == "+210 (+16 %)"
        assert found["cost"]["verdict"] == "worse"
        assert found["cost"]["delta"] == pytest.approx(0.0003)
        assert found["cost"]["text"] == "+$0.0003 (+100 %)"

    def test_a_faster_cheaper_call_is_better(self) -> None:
        found = self.changes(ms=400.0, cost=0.0001)
        assert (found["latency"]["verdict"], found["latency"]["text"]) == (
            "better",
            "-400 ms (-50 %)",
        )
        assert found["cost"]["verdict"] == "better"

    def test_latency_within_ten_percent_is_not_marked(self) -> None:
        assert self.changes(ms=870.0) == {}
        assert self.changes(ms=900.0)["latency"]["verdict"] == "worse"

    def test_a_different_output_is_marked_and_both_are_kept(self) -> None:
        compared = compare(agent(), agent(output="Lyon"))
        row = compared["rows"][2]
        assert [change["what"] for change in row["changes"]] == ["output"]
        assert (row["a"]["output"], row["b"]["output"]) == ("Paris", "Lyon")
        assert [r["differs"] for r in compared["rows"]] == [True, True, True, False]
        assert compared["counts"]["changed"] == 1

    def test_a_new_failure_is_worse_and_a_fixed_one_better(self) -> None:
        assert self.changes(error=True)["error"]["verdict"] == "worse"
        row = compare(agent(error=True), agent())["rows"][2]
        assert [(c["what"], c["verdict"]) for c in row["changes"]] == [("error", "better")]

    def test_a_long_output_is_cut_in_the_excerpt_only(self) -> None:
        row = compare(agent(output="x" * 1000), agent())["rows"][2]
        assert len(row["a"]["output"]) == 1000
        assert len(row["a"]["excerpt"]) == 300
        assert row["a"]["excerpt"].endswith("…")

    def test_session_totals_side_by_side(self) -> None:
        a = {
            "duration_ms": 2000.0,
            "llm_calls": 2,
            "total_tokens": 2580,
            "cost": 0.0006,
            "errors": 0,
        }
        b = {"duration_ms": 2100.0, "llm_calls": 3, "total_tokens": 2000, "cost": None, "errors": 1}
        found = {fact["field"]: fact for fact in totals(a, b)}
        assert found["duration_ms"]["verdict"] is None  # within 10 %
        assert (found["llm_calls"]["verdict"], found["llm_calls"]["text"]) == (
            "changed",
            "+1 (+50 %)",
        )
        assert (found["total_tokens"]["verdict"], found["total_tokens"]["text"]) == (
            "better",
            "-580 (-22 %)",
        )
        assert (found["cost"]["verdict"], found["cost"]["text"]) == ("changed", "$0.0006 → none")
        assert found["errors"]["verdict"] == "worse"

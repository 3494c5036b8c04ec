"""Trace tree linking: order, odd parent links and the depth limit."""

from __future__ import annotations

from typing import Any

from aiobs.tree import build_trace_tree, enh_prompt_ids, link, preorder


def shape_of(events: list[tuple[float, str | None, str | None]], max_depth: int = 64) -> Any:
    shape = link([e[0] for e in events], [e[1] for e in events], [e[2] for e in events], max_depth)

    def nest(indices: list[int]) -> list[Any]:
        return [[events[i][1] or f"#{i}", nest(shape.children[i])] for i in indices]

    return nest(shape.roots), sorted(events[i][1] or f"#{i}" for i in shape.truncated)


class TestLink:
    """link() places every event exactly once, siblings in start order."""

    def test_children_are_ordered_by_start_whatever_the_input_order(self) -> None:
        events = [(3.0, "c2", "p"), (1.0, "p", None), (2.0, "c1", "p"), (4.0, "r2", None)]
        assert shape_of(events) == ([["p", [["c1", []], ["c2", []]]], ["r2", []]], [])

    def test_missing_parent_makes_a_root(self) -> None:
        assert shape_of([(1.0, "a", "gone")]) == ([["a", []]], [])

    def test_parent_starting_after_its_child(self) -> None:
        events = [(1.0, "child", "parent"), (2.0, "parent", None), (0.5, "early", "child")]
        assert shape_of(events) == ([["parent", [["child", [["early", []]]]]]], [])

    def test_cycles_are_broken_at_the_earliest_member(self) -> None:
        events = [(2.0, "b", "a"), (1.0, "a", "b"), (3.0, "c", "c")]
        assert shape_of(events) == ([["a", [["b", []]]], ["c", []]], [])

    def test_duplicate_span_ids_keep_every_event(self) -> None:
        events = [(1.0, "x", None), (2.0, "x", None), (3.0, "y", "x")]
        roots, _ = shape_of(events)
        assert roots == [["x", [["y", []]]], ["x", []]]

    def test_events_without_span_id(self) -> None:
        events = [(1.0, "p", None), (2.0, None, "p"), (3.0, None, None)]
        assert shape_of(events) == ([["p", [["#1", []]]], ["#2", []]], [])

    def test_depth_limit_puts_deeper_events_beside_their_parent(self) -> None:
        chain = [(float(i), f"s{i}", f"s{i - 1}" if i else None) for i in range(6)]
        roots, truncated = shape_of(chain, max_depth=3)
        assert roots == [["s0", [["s1", [["s2", []], ["s3", []], ["s4", []], ["s5", []]]]]]]
        assert truncated == ["s3", "s4", "s5"]

    def test_preorder(self) -> None:
        events = [(1.0, "a", None), (2.0, "b", "a"), (3.0, "c", None), (2.5, "d", "b")]
        shape = link([e[0] for e in events], [e[1] for e in events], [e[2] for e in events])
        assert [events[i][1] for i in preorder(shape)] == ["a", "b", "d", "c"]


class TestBuildTraceTree:
    """build_trace_tree() makes aiobs 0.2-shaped nested dicts."""

    def test_nodes_copy_events_and_add_type_and_children(self) -> None:
        parent = {"span_id": "p", "parent_span_id": None, "started_at": 1.0, "name": "p"}
        child = {"span_id": "c", "parent_span_id": "p", "started_at": 2.0, "name": "c"}
        roots = build_trace_tree([(child, "provider"), (parent, "function")])
        assert roots == [
            {
                **parent,
                "event_type": "function",
                "children": [{**child, "event_type": "provider", "children": []}],
            }
        ]
        assert "children" not in parent  # the events themselves are not modified

    def test_enh_prompt_ids_in_preorder(self) -> None:
        nodes = [
            {"enh_prompt": True, "enh_prompt_id": "1", "children": [
                {"enh_prompt": True, "enh_prompt_id": "2", "children": []},
                {"enh_prompt": False, "enh_prompt_id": None, "children": []},
            ]},
            {"enh_prompt": True, "enh_prompt_id": "3", "children": []},
        ]  # fmt: skip
        assert enh_prompt_ids(nodes) == ["1", "2", "3"]

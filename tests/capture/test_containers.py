"""Collections and mappings: the item and depth limits, cycles and dict keys."""

from __future__ import annotations

import datetime
import json
from collections import Counter, OrderedDict, deque
from types import MappingProxyType
from typing import Any

import pytest

from aiobs._capture import Capturer
from aiobs.redaction import REDACTED, Redaction
from tests.capture.values import (
    HERE,
    OPENAI_KEY,
    TRUNCATED_KEY,
    Color,
    LoudKey,
    Node,
    Pair,
    Plain,
    Point,
    QuotaError,
    Unprintable,
    Wide,
    capturer,
    nesting,
)


class TestCollections:
    """Lists, tuples, sets, frozensets and deques become lists; mappings become dicts."""

    def test_sequences(self) -> None:
        value = [(1, "a"), deque([2.5, None]), [], ()]
        assert Capturer().snapshot(value) == [[1, "a"], [2.5, None], [], []]

    def test_sets(self) -> None:
        assert sorted(Capturer().snapshot({3, 1, 2})) == [1, 2, 3]
        assert Capturer().snapshot(frozenset({"only"})) == ["only"]
        assert Capturer().snapshot(set()) == []

    def test_snapshot_is_a_copy(self) -> None:
        inner = [1]
        value = {"inner": inner}
        result = Capturer().snapshot(value)
        inner.append(2)
        assert result == {"inner": [1]}
        assert result is not value

    def test_shared_references_are_repeated_not_cycles(self) -> None:
        shared = [1]
        assert Capturer().snapshot([shared, shared, {"again": shared}]) == [
            [1],
            [1],
            {"again": [1]},
        ]

    @pytest.mark.parametrize(
        "value",
        [
            OrderedDict([("a", 1), ("b", 2)]),
            MappingProxyType({"a": 1, "b": 2}),
            Counter({"a": 1, "b": 2}),
        ],
    )
    def test_mappings(self, value: Any) -> None:
        assert Capturer().snapshot(value) == {"a": 1, "b": 2}

    def test_list_subclass(self) -> None:
        class Row(list[int]):
            pass

        assert Capturer().snapshot(Row([1, 2])) == [1, 2]


class TestItemLimit:
    """Containers keep max_items entries and say how many were left out."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (list(range(3)), [0, 1, 2]),
            (list(range(5)), [0, 1, 2, "[aiobs: 2 more items]"]),
            (tuple(range(4)), [0, 1, 2, "[aiobs: 1 more items]"]),
            (deque(range(10)), [0, 1, 2, "[aiobs: 7 more items]"]),
        ],
    )
    def test_sequences(self, value: Any, expected: list[Any]) -> None:
        assert capturer(max_items=3).snapshot(value) == expected

    def test_sets(self) -> None:
        result = capturer(max_items=3).snapshot(set(range(5)))
        assert len(result) == 4
        assert set(result[:3]) <= set(range(5))
        assert result[3] == "[aiobs: 2 more items]"

    def test_dicts(self) -> None:
        value = dict(zip("abcde", range(5), strict=True))
        assert capturer(max_items=3).snapshot(value) == {
            "a": 0,
            "b": 1,
            "c": 2,
            TRUNCATED_KEY: "2 more keys",
        }

    def test_fields_of_records(self) -> None:
        limited = capturer(max_items=3)
        assert limited.snapshot(Wide()) == {"a": 1, "b": 2, "c": 3, TRUNCATED_KEY: "1 more keys"}
        assert capturer(max_items=1).snapshot(Pair(1, 2)) == {
            "left": 1,
            TRUNCATED_KEY: "1 more keys",
        }

    def test_object_attributes_come_with_the_type_as_an_extra_entry(self) -> None:
        # Doubtful: "__type__" is not counted, so such a dict holds max_items + 2 entries.
        assert capturer(max_items=1).snapshot(Plain()) == {
            "__type__": f"{HERE}.Plain",
            "name": "plain",
            TRUNCATED_KEY: "2 more keys",
        }

    def test_limit_applies_at_every_level(self) -> None:
        value = [list(range(4)), {"a": 1, "b": 2, "c": 3}]
        assert capturer(max_items=2).snapshot(value) == [
            [0, 1, "[aiobs: 2 more items]"],
            {"a": 1, "b": 2, TRUNCATED_KEY: "1 more keys"},
        ]


class TestDepthLimit:
    """Containers nested deeper than max_depth become a marker naming their type."""

    def test_lists(self) -> None:
        assert capturer(max_depth=2).snapshot([[1, [2]], "s"]) == [
            [1, "[aiobs: max depth 2 reached: list]"],
            "s",
        ]

    def test_dicts(self) -> None:
        assert capturer(max_depth=2).snapshot({"a": {"b": {"c": 1}, "n": 5}}) == {
            "a": {"b": "[aiobs: max depth 2 reached: dict]", "n": 5}
        }

    def test_depth_one_keeps_only_the_top_container(self) -> None:
        shallow = capturer(max_depth=1)
        assert shallow.snapshot([1, "a", None]) == [1, "a", None]
        assert shallow.snapshot([[1], (2,), {3}]) == [
            "[aiobs: max depth 1 reached: list]",
            "[aiobs: max depth 1 reached: tuple]",
            "[aiobs: max depth 1 reached: set]",
        ]

    def test_marker_names_the_qualified_type(self) -> None:
        assert capturer(max_depth=1).snapshot([Point(1, 2), QuotaError("x")]) == [
            f"[aiobs: max depth 1 reached: {HERE}.Point]",
            f"[aiobs: max depth 1 reached: {HERE}.QuotaError]",
        ]

    def test_scalars_past_the_depth_are_still_kept(self) -> None:
        value = [[b"ab", "text", 3, datetime.date(2024, 1, 2), Color.RED]]
        assert capturer(max_depth=1).snapshot(value) == ["[aiobs: max depth 1 reached: list]"]
        assert capturer(max_depth=2).snapshot(value) == [
            ["<bytes len=2>", "text", 3, "2024-01-02", "red"]
        ]

    def test_default_depth_is_eight(self) -> None:
        value: Any = 0
        for _ in range(12):
            value = [value]
        result = Capturer().snapshot(value)
        assert nesting(result) == 8
        innermost = result
        for _ in range(7):
            innermost = innermost[0]
        assert innermost == ["[aiobs: max depth 8 reached: list]"]


class TestCycles:
    """A container met again inside itself becomes a cycle marker."""

    def test_list_containing_itself(self) -> None:
        loop: list[Any] = [1]
        loop.append(loop)
        assert Capturer().snapshot(loop) == [1, "[aiobs: cycle: list]"]

    def test_dict_containing_itself(self) -> None:
        loop: dict[str, Any] = {"n": 1}
        loop["me"] = loop
        assert Capturer().snapshot(loop) == {"n": 1, "me": "[aiobs: cycle: dict]"}

    def test_indirect_cycle(self) -> None:
        first: list[Any] = []
        second = {"back": first}
        first.append(second)
        assert Capturer().snapshot(first) == [{"back": "[aiobs: cycle: list]"}]

    def test_object_referring_to_itself(self) -> None:
        node = Node()
        node.child = node
        assert Capturer().snapshot(node) == {
            "__type__": f"{HERE}.Node",
            "child": f"[aiobs: cycle: {HERE}.Node]",
        }


class TestDictKeys:
    """Keys become strings; a key that names a secret hides its value at any depth."""

    def test_scalar_keys_become_their_str(self) -> None:
        value = {1: "int", None: "none", 2.5: "float", Color.RED: "enum", (1, "a"): "tuple"}
        assert Capturer().snapshot(value) == {
            "1": "int",
            "None": "none",
            "2.5": "float",
            "Color.RED": "enum",
            "(1, 'a')": "tuple",
        }

    def test_key_with_raising_repr(self) -> None:
        assert Capturer().snapshot({Unprintable(): 1}) == {f"<{HERE}.Unprintable (repr failed)>": 1}

    def test_long_non_string_key_is_cut(self) -> None:
        key = tuple(range(10))
        assert capturer(max_string_length=6).snapshot({key: 1}) == {
            "(0, 1,...[aiobs: truncated 24 chars]": 1
        }

    def test_secret_keys_are_redacted_at_any_depth(self) -> None:
        value = {
            "api_key": "k1",
            "max_tokens": 10,
            "nested": [{"password": {"deep": "x"}, "Authorization": "Basic abc", "id": 7}],
        }
        assert Capturer().snapshot(value) == {
            "api_key": REDACTED,
            "max_tokens": 10,
            "nested": [{"password": REDACTED, "Authorization": REDACTED, "id": 7}],
        }

    def test_extra_keys_of_the_capturer(self) -> None:
        custom = Capturer(redaction=Redaction(extra_keys=["customer_email"]))
        value = {"customerEmail": "a@b.c", "name": "Ada"}
        assert custom.snapshot(value) == {"customerEmail": REDACTED, "name": "Ada"}

    def test_disabled_redaction_keeps_secret_keys(self) -> None:
        quiet = Capturer(redaction=Redaction(enabled=False))
        assert quiet.snapshot({"password": "hunter2"}) == {"password": "hunter2"}

    def test_key_whose_str_raises_gets_a_marker_and_the_rest_is_kept(self) -> None:
        assert Capturer().snapshot({LoudKey.ONE: 1, "kept": 2}) == {
            f"<{HERE}.LoudKey (str failed)>": 1,
            "kept": 2,
        }

    def test_str_subclass_key_is_its_text(self) -> None:
        class Tag(str):
            pass

        assert Capturer().snapshot({Tag("abc"): 1}) == {"abc": 1}

    def test_colliding_keys_keep_the_last_value(self) -> None:
        # Doubtful: 1 and "1" collapse into one entry without a marker.
        assert Capturer().snapshot({1: "int", "1": "str"}) == {"1": "str"}

    def test_long_string_key_is_bounded(self) -> None:
        result = capturer(max_string_length=10, max_event_bytes=200).snapshot({"k" * 5000: 1})
        assert all(len(key) <= 100 for key in result)

    def test_credential_used_as_a_key_is_redacted(self) -> None:
        result = Capturer().snapshot({OPENAI_KEY: 3})
        assert OPENAI_KEY not in json.dumps(result)

"""Hypothesis properties: any nested value snapshots bounded, JSON-compatible and redacted."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.vendor.pretty import pretty

from aiobs._capture import CaptureLimits, Capturer
from aiobs.redaction import BUILTIN_PATTERNS, REDACTED
from tests.capture.values import BUDGET_SUFFIX, HERE, TRUNCATED_KEY, Unprintable, nesting


def assert_json_compatible(value: Any) -> None:
    """Only None, bool, int (|n| < 2**64), finite float, str, list and dict with str keys."""
    kind = type(value)
    if value is None or kind in (bool, str):
        return
    if kind is int:
        assert -(2**64) < value < 2**64, value
    elif kind is float:
        assert math.isfinite(value), value
    elif kind is list:
        for item in value:
            assert_json_compatible(item)
    elif kind is dict:
        for key, item in value.items():
            assert type(key) is str, key
            assert_json_compatible(item)
    else:
        raise AssertionError(f"not JSON-compatible: {kind.__name__} {value!r}")


MARKER = re.compile(r"\[aiobs: .*\]")
TRUNCATION = re.compile(r"\.\.\.\[aiobs: truncated \d+ chars\]")
REPRESENTATION = re.compile(
    r"<(?:bytes|bytearray|memoryview) len=\d+>|<-?int of \d+ bits>|NaN|-?Infinity"
    r"|event size limit reached|\d+ more keys"  # the value under "[aiobs: truncated]"
)
MARKER_ALLOWANCE = 80
"""Most characters a marker adds to a string, or the length of a standalone marker."""

hashables = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=10),
)
leaves = st.one_of(
    hashables,
    st.integers(min_value=-(2**300), max_value=2**300),
    st.text(max_size=120),
    st.builds(Unprintable),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=12),
        st.lists(children, max_size=12).map(tuple),
        st.sets(hashables, max_size=12),
        st.frozensets(hashables, max_size=12),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), children, max_size=12),
    ),
    max_leaves=60,
)
limits_strategy = st.one_of(
    st.just(CaptureLimits()),
    st.builds(
        CaptureLimits,
        max_string_length=st.integers(1, 64),
        max_items=st.integers(1, 12),
        max_depth=st.integers(1, 6),
        max_event_bytes=st.integers(1, 4096),
    ),
)


def walk(value: Any) -> Iterator[Any]:
    """Every node of a snapshot, containers included (dict keys are not nodes)."""
    yield value
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, (list, dict)):
        for child in children:
            yield from walk(child)


def plain_size(value: Any) -> int:
    """len(json.dumps(value)) if no character needed escaping: strings count their length."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, list):
        return 2 + sum(map(plain_size, value)) + 2 * max(0, len(value) - 1)
    if isinstance(value, dict):
        entries = sum(len(key) + 4 + plain_size(item) for key, item in value.items())
        return 2 + entries + 2 * max(0, len(value) - 1)
    return len(json.dumps(value))


def uncharged_size(value: Any) -> int:
    """Serialized characters of the parts the budget never charges: markers and [REDACTED]."""
    if isinstance(value, str):
        if value == REDACTED or MARKER.fullmatch(value):
            return len(value) + 4  # quotes and the separator after it
        return len(BUDGET_SUFFIX) if value.endswith(BUDGET_SUFFIX) else 0
    if isinstance(value, list):
        return sum(map(uncharged_size, value))
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            if key == TRUNCATED_KEY:
                total += len(key) + 4 + len(item) + 4
            else:
                total += uncharged_size(item)
        return total
    return 0


def longest_key(value: Any) -> int:
    """Length of the longest dict key anywhere in a snapshot."""
    keys = [len(key) for node in walk(value) if isinstance(node, dict) for key in node]
    return max(keys, default=0)


class TestSnapshotProperties:
    """For any nested value, a snapshot never raises and stays JSON-compatible and bounded."""

    @settings(max_examples=200, deadline=None)
    @given(value=values, limits=limits_strategy)
    def test_bounded_and_json_compatible(self, value: Any, limits: CaptureLimits) -> None:
        result = Capturer(limits).snapshot(value)

        assert_json_compatible(result)
        json.dumps(result, allow_nan=False)
        assert nesting(result) <= limits.max_depth
        for node in walk(result):
            if isinstance(node, str):
                assert len(node) <= limits.max_string_length + MARKER_ALLOWANCE, node
                if not ("[aiobs: " in node or node == REDACTED or REPRESENTATION.fullmatch(node)):
                    assert len(node) <= limits.max_string_length, node
            elif isinstance(node, list):
                assert len(node) <= limits.max_items + 1
                if len(node) == limits.max_items + 1:
                    assert MARKER.fullmatch(node[-1]), node[-1]
            elif isinstance(node, dict):
                assert len(node) <= limits.max_items + 1
                if len(node) == limits.max_items + 1:
                    assert TRUNCATED_KEY in node

    @settings(max_examples=200, deadline=None)
    @given(value=values, limits=limits_strategy)
    def test_serialized_size_is_bounded(self, value: Any, limits: CaptureLimits) -> None:
        """The documented bound on the JSON size of one snapshot.

        Each snapshot has a budget of B = max_event_bytes // 2 characters. Every kept element is
        charged at least half of what it takes in JSON with its ", " separator (a string its
        length + 2, an empty container 2, a number 20-24, a key its length + 4), and the charge
        that exhausts the budget overdraws it by at most max(40, longest key + 4). Markers and
        [REDACTED] values are not charged, but a budget marker is added at most twice per open
        container. Hence, counting each character once (no JSON escaping):

            size ≤ 2 * (B + overdraft) + markers + 8

        which is about max_event_bytes for ASCII data. JSON escaping multiplies the size of a
        string by up to 6 (``\\u0000``) with ensure_ascii=False, so the budget is not a bound in
        bytes: see TestEventBudget.test_budget_holds_for_non_ascii_text.
        """
        result = Capturer(limits).snapshot(value)

        half = max(1, limits.max_event_bytes // 2)
        overdraft = max(40, longest_key(result) + 4)
        size = plain_size(result)
        assert size <= 2 * (half + overdraft) + uncharged_size(result) + 8
        budget_markers = sum(
            1 for node in walk(result) if isinstance(node, str) and "size limit reached" in node
        )
        assert budget_markers <= 2 * limits.max_depth + 2
        assert len(json.dumps(result, ensure_ascii=False, allow_nan=False)) <= 6 * size

    @settings(max_examples=100, deadline=None)
    @given(
        args=st.lists(values, max_size=6),
        kwargs=st.dictionaries(st.text(max_size=8), values, max_size=6),
        limits=limits_strategy,
    )
    def test_inputs_are_json_compatible(
        self, args: list[Any], kwargs: dict[str, Any], limits: CaptureLimits
    ) -> None:
        out_args, out_kwargs = Capturer(limits).inputs(tuple(args), kwargs)
        assert_json_compatible([out_args, out_kwargs or {}])
        assert len(out_args) <= limits.max_items + 1
        assert out_kwargs is None or len(out_kwargs) <= limits.max_items + 1
        assert nesting(out_args) <= limits.max_depth
        assert out_kwargs is None or nesting(out_kwargs) <= limits.max_depth

    @settings(max_examples=100, deadline=None)
    @given(value=values)
    def test_no_builtin_credential_pattern_survives(self, value: Any) -> None:
        result = Capturer().snapshot(value)
        for node in walk(result):
            if isinstance(node, str):
                for pattern in BUILTIN_PATTERNS:
                    assert re.search(pattern, node) is None, (pattern, node)

    @settings(max_examples=100, deadline=None)
    @given(value=values, limits=limits_strategy)
    def test_finalize_is_idempotent_on_snapshots(self, value: Any, limits: CaptureLimits) -> None:
        limited = Capturer(limits)
        snapshot = limited.snapshot(value)
        assert limited.finalize(snapshot) == snapshot


class TestUnprintableInFailureReports:
    """Hypothesis can print an Unprintable in a failure report; capture still meets its repr()."""

    def test_failing_example_holding_one_is_reported(self) -> None:
        @settings(max_examples=10, database=None)
        @given(value=st.lists(st.builds(Unprintable), min_size=1))
        def never_passes(value: list[Unprintable]) -> None:
            raise AssertionError("the real failure")

        with pytest.raises(AssertionError, match="the real failure"):
            never_passes()
        assert pretty([Unprintable()]) == "[Unprintable()]"

    def test_capture_still_gets_the_failure_marker(self) -> None:
        with pytest.raises(RuntimeError, match="repr exploded"):
            repr(Unprintable())
        marker = f"<{HERE}.Unprintable (repr failed)>"
        value = [Unprintable(), {Unprintable(): Unprintable()}]
        assert Capturer().snapshot(value) == [marker, {marker: marker}]

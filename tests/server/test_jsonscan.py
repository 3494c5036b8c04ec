"""The pre-parse scan of a JSON document: values and nesting counted exactly, in any pieces."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs.server.jsonscan import JSONScan, TooDeepError, TooManyValuesError

# Strings full of what the scan looks for: quotes, backslashes, commas and brackets.
TRICKY_TEXT = st.text(alphabet=st.sampled_from([*'ab,[]{}"\\:', "é", "\n", "\u2028"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY_TEXT,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(TRICKY_TEXT, children, max_size=5)
    ),
    max_leaves=40,
)


def counted(value: Any) -> int:
    """What the scan counts: one per container, plus one per further element or member."""
    if isinstance(value, (list, dict)):
        items = list(value.values()) if isinstance(value, dict) else value
        return 1 + max(len(items) - 1, 0) + sum(counted(item) for item in items)
    return 0


def depth(value: Any) -> int:
    """Levels of nested arrays and objects."""
    if isinstance(value, (list, dict)):
        items = list(value.values()) if isinstance(value, dict) else value
        return 1 + max((depth(item) for item in items), default=0)
    return 0


def scan(text: bytes, cuts: list[int], max_values: int = 10**9, max_depth: int = 10**6) -> int:
    scanner = JSONScan(max_values, max_depth)
    edges = [0, *sorted(cuts), len(text)]
    for start, end in itertools.pairwise(edges):
        scanner.feed(text[start:end])
    return scanner.values


class TestExactness:
    """Whatever the text and wherever the pieces break, the counts are those of the structure."""

    @settings(max_examples=400, deadline=None)
    @given(value=JSON_VALUES, ascii_only=st.booleans(), data=st.data())
    def test_values_and_depth_in_any_pieces(self, value: Any, ascii_only: bool, data: Any) -> None:
        text = json.dumps(value, ensure_ascii=ascii_only).encode()
        cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=6))
        assert scan(text, cuts) == counted(value)
        deepest = depth(value)
        scan(text, cuts, max_depth=max(deepest, 1))  # exactly the limit passes
        if deepest > 1:
            with pytest.raises(TooDeepError):
                scan(text, cuts, max_depth=deepest - 1)

    @pytest.mark.parametrize(
        "text",
        [
            b'["\\\\", "]]]]"]',  # an escaped backslash, then the string ends; brackets in it
            b'["\\"[[[", 1]',  # an escaped quote does not end it
            b'{"a\\\\\\"b": [1, 2]}',
        ],
    )
    def test_escapes_split_at_every_byte(self, text: bytes) -> None:
        expected = counted(json.loads(text))
        for cut in range(len(text) + 1):
            assert scan(text, [cut]) == expected


class TestRefusal:
    """Too many values or too deep a nesting is refused as soon as the scan sees it."""

    def test_a_hundred_megabytes_of_empty_objects_is_refused_early_and_fast(self) -> None:
        piece = b"{}," * 350_000  # about 1 MB, as the decompressor hands it over
        scanner = JSONScan(max_values=2_000_000, max_depth=64)
        scanner.feed(b'{"junk": [')
        started = time.perf_counter()
        fed = 0

        def feed_100_mb() -> None:
            nonlocal fed
            for _ in range(100):
                fed += len(piece)
                scanner.feed(piece)

        with pytest.raises(TooManyValuesError, match="2000000 JSON values"):
            feed_100_mb()
        assert fed < 8_000_000  # stopped after a few pieces, not after 100 MB
        assert time.perf_counter() - started < 1.0

    def test_deep_nesting_is_refused_whatever_the_kinds(self) -> None:
        with pytest.raises(TooDeepError, match="64 levels"):
            JSONScan(10**6, 64).feed(b'[{"a":' * 40 + b"1" + b"}]" * 40)

    def test_nesting_opened_in_one_piece_and_deepened_in_the_next(self) -> None:
        scanner = JSONScan(10**6, 64)
        scanner.feed(b"[" * 60)
        with pytest.raises(TooDeepError):
            scanner.feed(b"[[[[[1")

    def test_unbalanced_closing_brackets_do_not_hide_depth(self) -> None:
        with pytest.raises(TooDeepError):
            JSONScan(10**6, 64).feed(b"]]]]" + b"[" * 100)

    def test_a_long_run_of_backslashes_costs_nothing_extra(self) -> None:
        scanner = JSONScan(10**6, 64)
        scanner.feed(b'["')
        started = time.perf_counter()
        for _ in range(20):
            scanner.feed(b"\\" * 1_000_001)  # odd runs: each piece ends escaping the next byte
        scanner.feed(b'x"]')
        assert time.perf_counter() - started < 1.0
        assert scanner.values == 1

"""Capture limits: their defaults and validation, and the fast-path thresholds derived from them."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from aiobs._capture import DEFAULT_CAPTURER, MAX_DEPTH_ALLOWED, CaptureLimits, Capturer
from tests.capture.values import capturer, nesting


class TestCaptureLimits:
    """Limits default to documented values and refuse anything but positive ints, depth ≤ 32."""

    def test_defaults(self) -> None:
        limits = CaptureLimits()
        assert (
            limits.max_string_length,
            limits.max_items,
            limits.max_depth,
            limits.max_event_bytes,
        ) == (8192, 100, 8, 65536)
        assert DEFAULT_CAPTURER.limits == limits

    def test_is_frozen(self) -> None:
        limits = CaptureLimits()
        with pytest.raises(dataclasses.FrozenInstanceError):
            limits.max_items = 5  # type: ignore[misc]

    @pytest.mark.parametrize(
        "field", ["max_string_length", "max_items", "max_depth", "max_event_bytes"]
    )
    @pytest.mark.parametrize("value", [0, -3, 2.0, "10", True, None])
    def test_rejects_what_is_not_a_positive_int(self, field: str, value: object) -> None:
        message = f"CaptureLimits.{field} must be a positive integer, got {value!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            CaptureLimits(**{field: value})  # type: ignore[arg-type]

    def test_max_depth_is_capped_at_32(self) -> None:
        assert MAX_DEPTH_ALLOWED == 32
        assert CaptureLimits(max_depth=32).max_depth == 32
        with pytest.raises(
            ValueError, match=r"^CaptureLimits\.max_depth must be at most 32, got 33: "
        ):
            CaptureLimits(max_depth=33)

    def test_deepest_allowed_snapshot_round_trips_through_json(self) -> None:
        value: Any = "leaf"
        for _ in range(40):
            value = [value]
        result = capturer(max_depth=32).snapshot(value)
        assert nesting(result) == 32
        assert json.loads(json.dumps(result)) == result


class TestFastPathThresholds:
    """fast_items/fast_string bound the scalars kept by reference so they fit every limit."""

    @pytest.mark.parametrize(
        ("limits", "items", "string"),
        [
            (CaptureLimits(), 16, 256),
            (CaptureLimits(max_items=4, max_string_length=10), 4, 10),
            (CaptureLimits(max_event_bytes=2000), 10, 0),
            (CaptureLimits(max_event_bytes=100), -1, 0),
            (CaptureLimits(max_event_bytes=1), -1, 0),
        ],
    )
    def test_thresholds(self, limits: CaptureLimits, items: int, string: int) -> None:
        fast = Capturer(limits)
        assert (fast.fast_items, fast.fast_string) == (items, string)

    @pytest.mark.parametrize(
        "limits",
        [CaptureLimits(), CaptureLimits(max_event_bytes=4000), CaptureLimits(max_items=3)],
    )
    def test_fast_values_snapshot_exactly_as_finalized(self, limits: CaptureLimits) -> None:
        fast = Capturer(limits)
        text = "x" * fast.fast_string
        args = tuple(text if i % 2 else -1.2345678901234567e-300 for i in range(fast.fast_items))
        kwargs = {f"k{i}": text for i in range(fast.fast_items)}
        assert fast.inputs(args, kwargs) == (
            fast.finalize_args(args, frozenset()),
            fast.finalize_kwargs(kwargs, ()),
        )

    def test_fast_numbers_fit_a_small_budget(self) -> None:
        fast = capturer(max_event_bytes=200)
        args = tuple(i + 0.1 for i in range(fast.fast_items))
        assert fast.inputs(args, {}) == (fast.finalize_args(args, frozenset()), None)

"""inputs() and mapping(): a call's arguments and keyword data as snapshots."""

from __future__ import annotations

import collections.abc
import datetime
from collections.abc import Iterator

from aiobs._capture import Capturer
from aiobs.redaction import REDACTED
from tests.capture.values import BEARER, OPENAI_KEY, TRUNCATED_KEY, capturer


class TestInputs:
    """inputs() snapshots arguments as (args list, kwargs dict or None) and hides secrets."""

    def test_args_and_kwargs(self) -> None:
        assert Capturer().inputs((1, "two", (3,)), {"four": 4.0, "five": {5}}) == (
            [1, "two", [3]],
            {"four": 4.0, "five": [5]},
        )

    def test_empty(self) -> None:
        assert Capturer().inputs((), {}) == ([], None)

    def test_secret_keyword_names(self) -> None:
        assert Capturer().inputs((), {"api_key": "k", "max_tokens": 5, "token": "t"}) == (
            [],
            {"api_key": REDACTED, "max_tokens": 5, "token": REDACTED},
        )

    def test_secret_positions(self) -> None:
        result = Capturer().inputs(("ada", "hunter2", 3), {}, secret_positions=frozenset({1}))
        assert result == (["ada", REDACTED, 3], None)

    def test_secret_names(self) -> None:
        result = Capturer().inputs(
            (), {"ssn": "123-45-6789", "name": "Ada"}, secret_names=frozenset({"ssn"})
        )
        assert result == ([], {"ssn": REDACTED, "name": "Ada"})

    def test_values_are_redacted(self) -> None:
        assert Capturer().inputs((f"key {OPENAI_KEY}",), {"header": BEARER}) == (
            [f"key {REDACTED}"],
            {"header": REDACTED},
        )

    def test_item_limit(self) -> None:
        limited = capturer(max_items=2)
        assert limited.inputs((1, 2, 3, 4), {"a": 1, "b": 2, "c": 3}) == (
            [1, 2, "[aiobs: 2 more items]"],
            {"a": 1, "b": 2, TRUNCATED_KEY: "1 more keys"},
        )

    def test_arguments_count_as_one_level(self) -> None:
        assert capturer(max_depth=1).inputs(([1], "s"), {"k": {"a": 1}}) == (
            ["[aiobs: max depth 1 reached: list]", "s"],
            {"k": "[aiobs: max depth 1 reached: dict]"},
        )

    def test_arguments_are_never_consumed(self) -> None:
        items = iter([1, 2])
        assert Capturer().inputs((items,), {}) == (["<list_iterator>"], None)
        assert next(items) == 1


class TestMapping:
    """mapping() snapshots keyword data (attributes, event data) into a dict."""

    def test_redacts_and_converts(self) -> None:
        data = {"model": "gpt", "api_key": "k", "when": datetime.date(2024, 1, 2), "n": 1}
        assert Capturer().mapping(data) == {
            "model": "gpt",
            "api_key": REDACTED,
            "when": "2024-01-02",
            "n": 1,
        }

    def test_empty(self) -> None:
        assert Capturer().mapping({}) == {}

    def test_a_mapping_that_fails_is_wrapped(self) -> None:
        class Broken(collections.abc.Mapping[str, int]):
            def __getitem__(self, key: str) -> int:
                raise KeyError(key)

            def __iter__(self) -> Iterator[str]:
                raise RuntimeError("cannot iterate")

            def __len__(self) -> int:
                return 1

        [(key, marker)] = Capturer().mapping(Broken()).items()
        assert key == "value"
        assert marker.startswith(f"<{__name__}.")  # Broken is defined here, not in values
        assert marker.endswith(".Broken (capture failed)>")

"""The event size budget: past it strings are cut and further items become markers."""

from __future__ import annotations

import json
import re
from typing import Any

from aiobs._capture import Capturer
from aiobs.redaction import BUILTIN_PATTERNS
from tests.capture.values import BUDGET, BUDGET_SUFFIX, TRUNCATED_KEY, capturer


class TestEventBudget:
    """Past max_event_bytes // 2 characters, strings are cut and further items become markers."""

    def test_string_cut_to_the_budget(self) -> None:
        # max_event_bytes=100 → 50 per snapshot; a string costs len + 2.
        assert capturer(max_event_bytes=100).snapshot("x" * 100) == "x" * 48 + BUDGET_SUFFIX

    def test_list_of_strings(self) -> None:
        result = capturer(max_event_bytes=100).snapshot(["a" * 20] * 5)
        assert result == ["a" * 20, "a" * 20, "aa" + BUDGET_SUFFIX, BUDGET]

    def test_list_of_ints(self) -> None:
        assert capturer(max_event_bytes=100).snapshot([1] * 20) == [1, 1, BUDGET]

    def test_dict(self) -> None:
        value = {"k1": "a" * 20, "k2": "b" * 20, "k3": "c" * 20}
        assert capturer(max_event_bytes=100).snapshot(value) == {
            "k1": "a" * 20,
            "k2": "b" * 12 + BUDGET_SUFFIX,
            TRUNCATED_KEY: "event size limit reached",
        }

    def test_smallest_budget(self) -> None:
        tiny = capturer(max_event_bytes=1)
        assert tiny.snapshot("abc") == BUDGET_SUFFIX
        assert tiny.snapshot(5) == 5
        assert tiny.snapshot([1, 2]) == [BUDGET]

    def test_each_snapshot_has_its_own_budget(self) -> None:
        limited = capturer(max_event_bytes=100)
        assert limited.inputs(("a" * 40,), {}) == (["a" * 40], None)
        assert limited.output("b" * 40) == "b" * 40
        assert limited.snapshot("c" * 40) == "c" * 40

    def test_inputs_share_one_budget_across_arguments(self) -> None:
        limited = capturer(max_event_bytes=100)
        assert limited.inputs(("a" * 30, "b" * 30, "c"), {"d": "e"}) == (
            ["a" * 30, "b" * 16 + BUDGET_SUFFIX, BUDGET],
            {"d": BUDGET},
        )

    def test_every_argument_past_the_budget_gets_a_marker(self) -> None:
        limited = capturer(max_event_bytes=100)
        assert limited.inputs(("x" * 60, 1, 2), {}) == (
            ["x" * 48 + BUDGET_SUFFIX, BUDGET, BUDGET],
            None,
        )

    def test_budget_holds_for_non_ascii_text(self) -> None:
        result = capturer(max_event_bytes=1000).snapshot("数据" * 1000)
        assert len(json.dumps(result, ensure_ascii=False).encode()) <= 1000


AWS_LOOKALIKE = "AKIA" + "Z3Q7XK2M9PLV4TRB" + "X"
"""Not an AWS access key id (the pattern needs a word boundary after 16 characters), so it is
kept as it is; cut after "AKIA" and 16 characters, it matches the pattern."""


def credential_patterns_in(value: Any) -> list[str]:
    """The built-in patterns that match a string anywhere in a snapshot."""
    if isinstance(value, str):
        return [pattern for pattern in BUILTIN_PATTERNS if re.search(pattern, value)]
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, (list, dict)):
        return [pattern for child in children for pattern in credential_patterns_in(child)]
    return []


class TestBudgetCutsAndCredentials:
    """A budget cut never leaves text that a built-in credential pattern matches.

    The kept part of a string cut by the event budget is searched for credentials again, as the
    kept part of a string cut at max_string_length is: a cut after AKIA and 16 characters makes
    a string that matches the AWS key pattern.
    """

    def test_lookalike_is_kept_whole_when_it_fits(self) -> None:
        assert capturer(max_event_bytes=100).snapshot(AWS_LOOKALIKE) == AWS_LOOKALIKE

    def test_cut_string(self) -> None:
        limited = capturer(max_event_bytes=44)  # 22 per snapshot: 20 characters are kept
        result = limited.snapshot(AWS_LOOKALIKE)
        assert result.endswith(BUDGET_SUFFIX)
        assert credential_patterns_in(result) == []
        assert limited.finalize(result) == result

    def test_cut_item_under_the_default_limits(self) -> None:
        # Four strings of 8000 characters and one of 734 leave 22 of the 32768 per snapshot.
        value = [*["x" * 8000] * 4, "x" * 734, AWS_LOOKALIKE]
        result = Capturer().snapshot(value)
        assert result[-1].endswith(BUDGET_SUFFIX)
        assert credential_patterns_in(result) == []

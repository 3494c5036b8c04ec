"""finalize*(): values kept by reference made safe at export, idempotent on snapshots."""

from __future__ import annotations

import pytest

from aiobs._capture import Capturer
from aiobs.redaction import REDACTED, Redaction
from tests.capture.values import BEARER, OPENAI_KEY, Point, capturer


class TestFinalize:
    """finalize*() makes values kept by reference safe at export and is idempotent on snapshots."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (f"key {OPENAI_KEY}", f"key {REDACTED}"),
            ("short", "short"),
            (float("nan"), "NaN"),
            (float("inf"), "Infinity"),
            (float("-inf"), "-Infinity"),
            (1.25, 1.25),
            (2**64, "<int of 65 bits>"),
            (-(2**64), "<-int of 65 bits>"),
            (2**64 - 1, 2**64 - 1),
            (True, True),
            (None, None),
        ],
    )
    def test_kept_scalars(self, value: object, expected: object) -> None:
        result = Capturer().finalize(value)
        assert result == expected
        assert type(result) is type(expected)

    def test_uses_the_capturer_redaction(self) -> None:
        quiet = Capturer(redaction=Redaction(enabled=False))
        assert quiet.finalize(OPENAI_KEY) == OPENAI_KEY

    @pytest.mark.parametrize(
        "value",
        [
            [1, "a", {"b": [None]}],
            {"password": "x", "nested": {"deep": 1}},
            "x" * 100,
            f"prefix {OPENAI_KEY} suffix " * 3,
            float("nan"),
            2**80,
            Point(1, 2),
            ValueError("boom"),
        ],
    )
    def test_idempotent_on_snapshots(self, value: object) -> None:
        limited = capturer(max_string_length=30)
        snapshot = limited.snapshot(value)
        assert limited.finalize(snapshot) == snapshot
        assert limited.finalize(limited.finalize(snapshot)) == snapshot

    def test_containers_pass_through_untouched(self) -> None:
        snapshot = [float("nan")]
        assert Capturer().finalize(snapshot) is snapshot

    def test_idempotent_on_a_cut_that_completes_a_pattern(self) -> None:
        limited = capturer(max_string_length=20)
        snapshot = limited.snapshot("AKIA" + "B" * 16 + "CDEF")
        assert limited.finalize(snapshot) == snapshot

    def test_args_tuple_is_finalized(self) -> None:
        args = (1, OPENAI_KEY, float("nan"), 2**70)
        assert Capturer().finalize_args(args, frozenset()) == [
            1,
            REDACTED,
            "NaN",
            "<int of 71 bits>",
        ]
        assert Capturer().finalize_args(args, frozenset({0, 3})) == [
            REDACTED,
            REDACTED,
            "NaN",
            REDACTED,
        ]

    def test_args_snapshot_list_passes_through(self) -> None:
        snapshot = [OPENAI_KEY]
        assert Capturer().finalize_args(snapshot, frozenset({0})) is snapshot

    def test_kwargs(self) -> None:
        kwargs = {"password": "x", "note": BEARER, "n": float("inf"), "ssn": "1", "k": 2}
        assert Capturer().finalize_kwargs(kwargs, {"ssn"}) == {
            "password": REDACTED,
            "note": REDACTED,
            "n": "Infinity",
            "ssn": REDACTED,
            "k": 2,
        }

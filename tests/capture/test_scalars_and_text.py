"""Scalars, text-like values, strings and bytes: kept, converted, cut, redacted or summarised."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from pathlib import PurePosixPath

import pytest

from aiobs._capture import CaptureLimits, Capturer
from aiobs.redaction import REDACTED, Redaction
from tests.capture.values import BEARER, OPENAI_KEY, Blob, Count, Name, Real, capturer


class TestScalars:
    """None, booleans, ints below 2**64 and finite floats are kept as they are."""

    @pytest.mark.parametrize(
        "value", [None, True, False, 0, -7, 2**53 + 1, 2**64 - 1, -(2**64) + 1, 0.1, -2.5e-300]
    )
    def test_kept_with_their_type(self, value: object) -> None:
        result = Capturer().snapshot(value)
        assert result == value
        assert type(result) is type(value)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (2**64, "<int of 65 bits>"),
            (-(2**64), "<-int of 65 bits>"),
            (2**200 + 5, "<int of 201 bits>"),
            (10**5000, "<int of 16610 bits>"),
        ],
        ids=["2**64", "-2**64", "2**200+5", "10**5000"],
    )
    def test_huge_ints_become_a_size(self, value: int, expected: str) -> None:
        assert Capturer().snapshot(value) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity")],
    )
    def test_non_finite_floats_become_strings(self, value: float, expected: str) -> None:
        assert Capturer().snapshot(value) == expected
        assert Capturer().snapshot([value, {"v": value}]) == [expected, {"v": expected}]

    def test_number_subclasses_become_plain_numbers(self) -> None:
        result = Capturer().snapshot([Count(4), Real(0.5), Real("nan"), Count(2**70)])
        assert result == [4, 0.5, "NaN", "<int of 71 bits>"]
        assert [type(item) for item in result] == [int, float, str, str]

    def test_output_is_snapshot(self) -> None:
        assert Capturer.output is Capturer.snapshot


class TestTextLikeValues:
    """Dates are ISO strings, timedeltas seconds, UUID/Decimal/Path/complex their str()."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (
                datetime.datetime(2024, 5, 17, 13, 45, 30, 250, tzinfo=datetime.timezone.utc),
                "2024-05-17T13:45:30.000250+00:00",
            ),
            (datetime.datetime(2024, 5, 17, 13, 45), "2024-05-17T13:45:00"),
            (datetime.date(2024, 2, 29), "2024-02-29"),
            (datetime.time(8, 5), "08:05:00"),
            (datetime.timedelta(minutes=1, milliseconds=500), 60.5),
            (datetime.timedelta(days=-1), -86400.0),
            (
                uuid.UUID("12345678-1234-5678-1234-567812345678"),
                "12345678-1234-5678-1234-567812345678",
            ),
            (Decimal("1.10"), "1.10"),
            (Decimal("NaN"), "NaN"),
            (PurePosixPath("/tmp/report.txt"), "/tmp/report.txt"),
            (complex(1, -2), "(1-2j)"),
        ],
    )
    def test_converted(self, value: object, expected: object) -> None:
        assert Capturer().snapshot(value) == expected

    def test_long_decimal_is_cut_like_a_string(self) -> None:
        assert capturer(max_string_length=5).snapshot(Decimal("3.14159265")) == (
            "3.141...[aiobs: truncated 5 chars]"
        )


class TestStrings:
    """Long strings are cut at the limit with a marker that says how much."""

    def test_string_at_the_limit_is_kept(self) -> None:
        assert capturer(max_string_length=10).snapshot("abcdefghij") == "abcdefghij"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("abcdefghijk", "abcdefghij...[aiobs: truncated 1 chars]"),
            ("x" * 1000, "x" * 10 + "...[aiobs: truncated 990 chars]"),
        ],
    )
    def test_longer_string_is_cut_with_the_count(self, text: str, expected: str) -> None:
        assert capturer(max_string_length=10).snapshot(text) == expected

    def test_empty_string(self) -> None:
        assert Capturer().snapshot("") == ""

    def test_str_subclass_becomes_plain_str(self) -> None:
        result = Capturer().snapshot(Name("alice"))
        assert result == "alice"
        assert type(result) is str

    def test_credentials_in_text_are_redacted(self) -> None:
        text = f"calling with {OPENAI_KEY} and {BEARER} done"
        expected = f"calling with {REDACTED} and {REDACTED} done"
        assert Capturer().snapshot(text) == expected

    def test_credential_straddling_the_cut_is_redacted_before_cutting(self) -> None:
        text = "hello " + OPENAI_KEY
        result = capturer(max_string_length=10).snapshot(text)
        assert result == f"hello [RED...[aiobs: truncated {len(text) - 10} chars]"

    def test_redaction_rules_of_the_capturer_apply(self) -> None:
        quiet = Capturer(redaction=Redaction(enabled=False))
        assert quiet.snapshot(OPENAI_KEY) == OPENAI_KEY
        custom = Capturer(redaction=Redaction(extra_patterns=[r"\d{3}-\d{2}-\d{4}"]))
        assert custom.snapshot("ssn 123-45-6789 ok") == f"ssn {REDACTED} ok"

    def test_redaction_never_makes_a_string_exceed_the_limit(self) -> None:
        digits = Capturer(CaptureLimits(max_string_length=10), Redaction(extra_patterns=[r"\d"]))
        assert digits.snapshot("1234567890") == "[REDACTED]...[aiobs: truncated 90 chars]"


class TestBytes:
    """bytes, bytearray and memoryview are summarised by type and length, never decoded."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (b"", "<bytes len=0>"),
            (b"sk-proj-secret-bytes-here", "<bytes len=25>"),
            (bytearray(5), "<bytearray len=5>"),
            (memoryview(b"abcd"), "<memoryview len=4>"),
            (Blob(b"xy"), "<Blob len=2>"),
        ],
    )
    def test_summary(self, value: object, expected: str) -> None:
        assert Capturer().snapshot(value) == expected

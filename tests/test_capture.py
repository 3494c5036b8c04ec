"""Snapshots of arbitrary values: bounded, JSON-compatible, redacted, and never raising."""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import enum
import json
import math
import re
import uuid
from collections import Counter, OrderedDict, deque, namedtuple
from collections.abc import Iterator
from decimal import Decimal
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from aiobs._capture import (
    DEFAULT_CAPTURER,
    MAX_DEPTH_ALLOWED,
    CaptureLimits,
    Capturer,
    type_name,
)
from aiobs.redaction import BUILTIN_PATTERNS, REDACTED, Redaction

HERE = __name__
BUDGET = "[aiobs: event size limit reached]"
BUDGET_SUFFIX = "...[aiobs: event size limit reached]"
TRUNCATED_KEY = "[aiobs: truncated]"
OPENAI_KEY = "sk-proj-" + "Q7wE9rT2yU4iO6pA8sD0fG1h"
BEARER = "Bearer " + "k3y.T0ken-value_~+/xyz=="


def capturer(**limits: int) -> Capturer:
    """A capturer with the default redaction and these limits."""
    return Capturer(CaptureLimits(**limits))


def nesting(value: Any) -> int:
    """Levels of list/dict nesting: 0 for a scalar, 1 for a flat list, and so on."""
    if isinstance(value, list):
        return 1 + max((nesting(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(item) for item in value.values()), default=0)
    return 0


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


# -- value types used by several tests ------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Account:
    user: str
    password: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Lazy:
    ready: bool
    cache: list[int] = dataclasses.field(init=False)


@dataclasses.dataclass
class Wide:
    a: int = 1
    b: int = 2
    c: int = 3
    d: int = 4


class User(BaseModel):
    name: str
    password: str
    tags: list[str] = []


class Team(BaseModel):
    lead: User
    size: int


Pair = namedtuple("Pair", "left right")


class Credentials(NamedTuple):
    login: str
    token: str


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Ratio(enum.Enum):
    HALF = 0.5
    INFINITE = float("inf")


class Shape(enum.Enum):
    SQUARE = (1, 1)


class Nothing(enum.Enum):
    NONE = None


class Huge(enum.Enum):
    BIG = 2**70


class Perm(enum.Flag):
    READ = 1
    WRITE = 2


class Kind(str, enum.Enum):
    CHAT = "chat"


class Blob(bytes):
    pass


class Name(str):
    pass


class Count(int):
    pass


class Real(float):
    pass


class QuotaError(Exception):
    pass


class MuteError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


class Money:
    def __init__(self, amount: str) -> None:
        self.amount = amount

    def __repr__(self) -> str:
        return f"Money({self.amount} EUR)"


class LongRepr:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class Plain:
    def __init__(self) -> None:
        self.name = "plain"
        self.api_key = "k-123"
        self.items = [1, 2]


class Empty:
    pass


class Slotted:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 1


class Node:
    def __init__(self) -> None:
        self.child: Node | None = None


class Hostile:
    """Every attribute access raises, even ``__class__`` and ``__dict__``."""

    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(f"no {name}")


class _NamelessMeta(type):
    @property
    def __module__(cls) -> str:  # type: ignore[override]
        raise RuntimeError("no module")


class Nameless(metaclass=_NamelessMeta):
    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class BrokenList(list[int]):
    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("cannot iterate")


class LoudKey(enum.Enum):
    ONE = 1

    def __str__(self) -> str:
        raise RuntimeError("no str")


class Countdown:
    """An iterable that records whether anybody iterated it."""

    def __init__(self) -> None:
        self.started = False

    def __iter__(self) -> Iterator[int]:
        self.started = True
        yield 3


# -- configuration ---------------------------------------------------------------------------------


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


# -- scalars ---------------------------------------------------------------------------------------


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


class TestEnums:
    """Enum members become their value when it is a plain scalar, otherwise Class.NAME."""

    @pytest.mark.parametrize(
        ("member", "expected"),
        [
            (Color.RED, "red"),
            (Level.HIGH, 3),
            (Ratio.HALF, 0.5),
            (Ratio.INFINITE, "Infinity"),
            (Nothing.NONE, None),
            (Huge.BIG, "<int of 71 bits>"),
            (Perm.READ | Perm.WRITE, 3),
            (Kind.CHAT, "chat"),
            (Shape.SQUARE, "Shape.SQUARE"),
        ],
    )
    def test_member(self, member: enum.Enum, expected: object) -> None:
        result = Capturer().snapshot(member)
        assert result == expected
        assert type(result) is type(expected)


class TestRecords:
    """Dataclasses, pydantic models and namedtuples become dicts of their fields."""

    def test_dataclass(self) -> None:
        assert Capturer().snapshot(Point(1, 2)) == {"x": 1, "y": 2}

    def test_dataclass_secret_field_and_nesting(self) -> None:
        value = Account("ada", "hunter2", {"token": "t", "points": [Point(0, 1)]})
        assert Capturer().snapshot(value) == {
            "user": "ada",
            "password": REDACTED,
            "extra": {"token": REDACTED, "points": [{"x": 0, "y": 1}]},
        }

    def test_dataclass_field_never_set(self) -> None:
        assert Capturer().snapshot(Lazy(ready=False)) == {"ready": False, "cache": None}

    def test_dataclass_class_is_not_an_instance(self) -> None:
        assert Capturer().snapshot(Point) == f"<class '{HERE}.Point'>"

    def test_pydantic_model(self) -> None:
        value = Team(lead=User(name="ada", password="pw", tags=["x"]), size=3)
        assert Capturer().snapshot(value) == {
            "lead": {"name": "ada", "password": REDACTED, "tags": ["x"]},
            "size": 3,
        }

    def test_namedtuples(self) -> None:
        assert Capturer().snapshot(Pair(1, [2])) == {"left": 1, "right": [2]}
        assert Capturer().snapshot(Credentials("ada", "t0k")) == {"login": "ada", "token": REDACTED}


class TestExceptions:
    """Exceptions become {"type", "message"}; the message is redacted and bounded."""

    def test_builtin_exception(self) -> None:
        assert Capturer().snapshot(ValueError("bad input")) == {
            "type": "ValueError",
            "message": "bad input",
        }

    def test_custom_exception_has_qualified_type(self) -> None:
        assert Capturer().snapshot([QuotaError("over")]) == [
            {"type": f"{HERE}.QuotaError", "message": "over"}
        ]

    def test_message_is_redacted_and_cut(self) -> None:
        error = RuntimeError(f"rejected {OPENAI_KEY} for quota reasons")
        assert capturer(max_string_length=20).snapshot(error) == {
            "type": "RuntimeError",
            "message": f"rejected {REDACTED} ...[aiobs: truncated 39 chars]",
        }

    def test_message_whose_str_raises(self) -> None:
        assert Capturer().snapshot(MuteError()) == {
            "type": f"{HERE}.MuteError",
            "message": f"<{HERE}.MuteError (str failed)>",
        }


class TestObjects:
    """Other objects: their repr when customised, else their attributes, else their type."""

    def test_custom_repr(self) -> None:
        assert Capturer().snapshot(Money("12.50")) == "Money(12.50 EUR)"

    def test_custom_repr_is_redacted(self) -> None:
        assert Capturer().snapshot(LongRepr(f"Client({OPENAI_KEY})")) == f"Client({REDACTED})"

    def test_long_repr_is_cut(self) -> None:
        result = capturer(max_string_length=10).snapshot(LongRepr("R" * 500))
        assert re.fullmatch(r"R{10}\.\.\.\[aiobs: truncated \d+ chars\]", result)

    def test_attributes_with_type(self) -> None:
        assert Capturer().snapshot(Plain()) == {
            "__type__": f"{HERE}.Plain",
            "name": "plain",
            "api_key": REDACTED,
            "items": [1, 2],
        }

    @pytest.mark.parametrize(("value", "name"), [(Empty(), "Empty"), (Slotted(), "Slotted")])
    def test_object_without_attributes(self, value: object, name: str) -> None:
        assert Capturer().snapshot(value) == f"<{HERE}.{name}>"

    def test_raising_repr(self) -> None:
        assert Capturer().snapshot(Unprintable()) == f"<{HERE}.Unprintable (repr failed)>"

    def test_raising_attribute_access(self) -> None:
        assert Capturer().snapshot([Hostile()]) == [f"<{HERE}.Hostile (capture failed)>"]

    def test_type_without_a_name(self) -> None:
        assert Capturer().snapshot(Nameless()) == "<object (repr failed)>"

    def test_raising_iteration(self) -> None:
        assert Capturer().snapshot(BrokenList([1])) == f"<{HERE}.BrokenList (capture failed)>"

    def test_type_name(self) -> None:
        assert type_name([]) == "list"
        assert type_name(Point(0, 0)) == f"{HERE}.Point"

    def test_credential_straddling_the_cut_of_a_repr_is_hidden(self) -> None:
        result = capturer(max_string_length=20).snapshot(LongRepr("key=" + OPENAI_KEY))
        assert "sk-proj" not in result

    def test_cut_repr_reports_how_much_was_cut(self) -> None:
        result = capturer(max_string_length=10).snapshot(LongRepr("R" * 500))
        assert result == "R" * 10 + "...[aiobs: truncated 490 chars]"


class TestIterablesAreNotConsumed:
    """Generators, iterators and custom iterables are described, never iterated."""

    def test_generator(self) -> None:
        def numbers() -> Iterator[int]:
            yield 1
            yield 2

        generator = numbers()
        result = Capturer().snapshot({"g": generator})
        assert re.fullmatch(r"<generator object .*numbers at 0x[0-9a-f]+>", result["g"])
        assert list(generator) == [1, 2]

    def test_iterators(self) -> None:
        items = iter([1, 2, 3])
        mapped = map(str, [4, 5])
        assert Capturer().snapshot([items, mapped]) == ["<list_iterator>", "<map>"]
        assert list(items) == [1, 2, 3]
        assert list(mapped) == ["4", "5"]

    def test_custom_iterable(self) -> None:
        countdown = Countdown()
        assert Capturer().snapshot(countdown) == {
            "__type__": f"{HERE}.Countdown",
            "started": False,
        }
        assert countdown.started is False


# -- budget, inputs and mapping -------------------------------------------------------------------


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
        assert marker.startswith(f"<{HERE}.")
        assert marker.endswith(".Broken (capture failed)>")


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


# -- properties ------------------------------------------------------------------------------------

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

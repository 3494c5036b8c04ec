"""Enums, records, exceptions and other objects, and iterables that must not be consumed."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator

import pytest

from aiobs._capture import Capturer, type_name
from aiobs.redaction import REDACTED
from tests.capture.values import (
    HERE,
    OPENAI_KEY,
    Account,
    BrokenList,
    Color,
    Countdown,
    Credentials,
    Empty,
    Hostile,
    Huge,
    Kind,
    Lazy,
    Level,
    LongRepr,
    Money,
    MuteError,
    Nameless,
    Nothing,
    Pair,
    Perm,
    Plain,
    Point,
    QuotaError,
    Ratio,
    Shape,
    Slotted,
    Team,
    Unprintable,
    User,
    capturer,
)


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

"""Value types, constants and helpers shared by the capture tests."""

from __future__ import annotations

import dataclasses
import enum
from collections import namedtuple
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydantic import BaseModel

from aiobs._capture import CaptureLimits, Capturer

HERE = __name__  # the module in the qualified names of the types below
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
    """repr() raises, so that capture must survive it; Hypothesis prints it without repr()."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis's pretty printer prefers this hook to repr(): without it, a falsifying
        # example holding an Unprintable is reported as "repr exploded" instead of its failure.
        printer.text("Unprintable()")


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

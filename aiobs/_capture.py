"""Safe, bounded, redacted snapshots of arbitrary values.

Everything aiobs stores about a user's values passes through here. A snapshot never raises, is
always JSON-compatible (``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and ``dict`` with
string keys), and stays within :class:`CaptureLimits`; whatever is cut is replaced by an explicit
``[aiobs: ...]`` marker. Cycles, bytes, sets, enums, datetimes, dataclasses, pydantic models,
exceptions and objects whose ``__repr__`` raises are all handled. Secrets are hidden by the
:class:`~aiobs.redaction.Redaction` rules before the snapshot is returned.

Small immutable values (numbers, ``None``, booleans, short strings) are not copied on the hot path:
the decorator keeps them by reference (they cannot change) and :meth:`Capturer.finalize` makes them
safe at export, redaction included. Everything else is snapshotted at capture time, before the
traced code can mutate it.

Text that UTF-8 cannot encode (lone surrogates, which ``os.fsdecode`` makes of the undecodable
bytes of a file name) is repaired at export, where the JSON encoder finds it, rather than searched
for in every string on the hot path: :func:`valid_text` and :func:`repaired` replace each such
character by U+FFFD and mark the string.

A ``__repr__`` runs on the caller's thread and cannot be interrupted. When the repr of a type's
values has taken longer than :data:`SLOW_REPR_NS` twice in a row, the type is remembered and its
later values are recorded as a marker instead: a slow repr costs its time at most twice per type
and process, and a one-off pause (the scheduler, the garbage collector) during a fast repr does
not silence it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

from .redaction import DEFAULT_REDACTION, REDACTED, Redaction

JSONValue = Any
"""A value made only of None, bool, int, float, str, list and dict with str keys."""

MAX_DEPTH_ALLOWED = 32
"""Deeper snapshots would push exports past the nesting that common JSON parsers accept."""

_SAFE_INT = 1 << 53
_BIG_INT = 1 << 64
_FAST_STRING = 256
_FAST_ITEMS = 16
_SCALAR_COST = 24
"""What a number, None or boolean costs in the byte budget (a generous JSON width)."""

_REDACTION_OVERLAP = 4096
"""Characters past a cut that are still searched for credentials, so that one straddling the cut
(a long token, a JSON Web Token) is recognised and removed whole."""

_SURROGATE = re.compile("[\ud800-\udfff]")

SLOW_REPR_NS = 10_000_000
"""A repr (or an exception's str) slower than this (10 ms) twice in a row for values of one type
is not called again for that type: its values are recorded as ``<module.Type (repr skipped:
slow)>``."""

_SLOW_TYPES_LIMIT = 1024
_slow_types: dict[tuple[type, str], None] = {}
"""``(type, "repr" | "str")`` known to be slow in this process (bounded: emptied when full)."""
_suspect_types: dict[tuple[type, str], None] = {}
"""``(type, "repr" | "str")`` whose last call was slow: one more, and it is known to be slow."""


@dataclasses.dataclass(frozen=True)
class CaptureLimits:
    """Bounds on what is kept of each captured value.

    Args:
        max_string_length: characters kept of a string; the rest is replaced by a marker.
        max_items: items kept of a list, tuple, set or mapping (and attributes of an object).
        max_depth: levels of nesting kept; deeper containers become a marker.
        max_event_bytes: approximate serialized size kept of one event's inputs and, separately,
            of its output; values past the budget become a marker.

    Raises:
        ValueError: a limit is not a positive integer, or ``max_depth`` is above 32.
    """

    max_string_length: int = 8192
    max_items: int = 100
    max_depth: int = 8
    max_event_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value <= 0:
                raise ValueError(
                    f"CaptureLimits.{field.name} must be a positive integer, got {value!r}"
                )
        if self.max_depth > MAX_DEPTH_ALLOWED:
            raise ValueError(
                f"CaptureLimits.max_depth must be at most {MAX_DEPTH_ALLOWED}, got "
                f"{self.max_depth}: deeper documents are rejected by common JSON parsers"
            )


def type_name(value: object) -> str:
    """``module.QualName`` of the value's type, or just the name for builtins."""
    cls = type(value)
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", cls.__name__)
    if module in (None, "builtins"):
        return str(qualname)
    return f"{module}.{qualname}"


def valid_text(text: str) -> str:
    """``text`` as UTF-8 can hold it: itself, or with every surrogate replaced by U+FFFD.

    A replaced string ends with the marker ``[aiobs: N invalid characters replaced]``. Python
    strings may hold lone surrogates (``os.fsdecode`` makes one of each byte of a file name that
    is not UTF-8); JSON encoders refuse them, so one would stop a whole document being written.
    """
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:  # only surrogates cannot be encoded
        fixed, count = _SURROGATE.subn("\ufffd", text)
        return f"{fixed}[aiobs: {count} invalid character{'' if count == 1 else 's'} replaced]"
    return text


def repaired(value: Any, redact: Callable[[str], str]) -> Any:
    """A copy of the JSON-like ``value`` in which every string (keys too) encodes as UTF-8.

    Strings that :func:`valid_text` changes are redacted again with ``redact``; tuples become
    lists; anything else is returned as it is. This runs only for a record that the JSON encoder
    refused, so it favours coverage over speed.
    """
    if isinstance(value, str):
        text = str.__str__(value)
        fixed = valid_text(text)
        return text if fixed is text else redact(fixed)
    if isinstance(value, Mapping):
        return {
            (repaired(key, redact) if isinstance(key, str) else key): repaired(item, redact)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [repaired(item, redact) for item in value]
    return value


class _Budget:
    """Approximate serialized bytes still allowed for one snapshot."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


class Capturer:
    """Takes snapshots under one set of limits and redaction rules."""

    __slots__ = ("_half_budget", "fast_items", "fast_string", "limits", "redaction")

    def __init__(
        self, limits: CaptureLimits | None = None, redaction: Redaction | None = None
    ) -> None:
        self.limits = limits or CaptureLimits()
        self.redaction = redaction or DEFAULT_REDACTION
        self._half_budget = max(1, self.limits.max_event_bytes // 2)
        # Plain scalars are kept by reference when there are at most `fast_items` of them (in the
        # positional and again in the keyword arguments) and no string, keyword included, is
        # longer than `fast_string`. Each such item costs at most 2 * fast_string + 48 of the
        # budget, so both bounds are chosen to fit it. -1 turns the fast path off.
        half = self._half_budget
        items = min(_FAST_ITEMS, self.limits.max_items)
        string = min(_FAST_STRING, self.limits.max_string_length, (half // (2 * items) - 48) // 2)
        if string < 0:
            string = 0
            items = min(items, half // (2 * 48)) or -1
        self.fast_items = items
        self.fast_string = string

    def inputs(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        secret_positions: frozenset[int] = frozenset(),
        secret_names: frozenset[str] = frozenset(),
    ) -> tuple[list[JSONValue], dict[str, JSONValue] | None]:
        """Snapshot a call's arguments: ``(args, kwargs)``; kwargs is ``None`` when empty.

        ``secret_positions`` are positional indexes whose parameter names are secret, and
        ``secret_names`` extra keyword names to hide for this call site.
        """
        is_secret_key = self.redaction.is_secret_key
        budget = _Budget(self._half_budget)
        limit = self.limits.max_items
        out_args: list[JSONValue] = []
        for index, arg in enumerate(args):
            if index >= limit:
                out_args.append(f"[aiobs: {len(args) - limit} more items]")
                break
            out_args.append(REDACTED if index in secret_positions else self._value(arg, 1, budget))
        out_kwargs: dict[str, JSONValue] = {}
        for count, (key, value) in enumerate(kwargs.items()):
            if count >= limit:
                out_kwargs["[aiobs: truncated]"] = f"{len(kwargs) - limit} more keys"
                break
            secret = key in secret_names or is_secret_key(key)
            out_kwargs[key] = REDACTED if secret else self._value(value, 1, budget)
        return out_args, (out_kwargs or None)

    def output(self, value: object) -> JSONValue:
        """Snapshot a return value (or any single value); never raises."""
        return self._value(value, 0, _Budget(self._half_budget))

    snapshot = output

    def mapping(self, data: Mapping[str, Any]) -> dict[str, JSONValue]:
        """Snapshot keyword data (span attributes, point-event data) with key redaction."""
        result = self._value(data, 0, _Budget(self._half_budget))
        return result if isinstance(result, dict) else {"value": result}

    # -- values kept by reference until export ----------------------------------------------------

    def finalize(self, value: Any) -> JSONValue:
        """Make a value kept by reference safe to export.

        Strings are redacted (and repaired, see :func:`valid_text`) and numbers made JSON-safe.
        Containers are snapshots already and pass through, so this is idempotent.
        """
        kind = type(value)
        if kind is str:
            return self.redaction.redact_text(value if value.isascii() else valid_text(value))
        if kind is float and value - value != 0.0:
            return self._float(value, _Budget(64))
        if kind is int and not -_BIG_INT < value < _BIG_INT:
            return self._int(value, _Budget(64))
        return value

    def finalize_args(
        self, args: tuple[Any, ...] | list[Any], secret_positions: frozenset[int]
    ) -> list[JSONValue]:
        """Arguments as exported: a kept tuple is finalized, a snapshot list passes through."""
        if type(args) is not tuple:
            return args  # type: ignore[return-value]
        finalize = self.finalize
        if secret_positions:
            return [
                REDACTED if index in secret_positions else finalize(value)
                for index, value in enumerate(args)
            ]
        return [finalize(value) for value in args]

    def finalize_kwargs(
        self, kwargs: dict[str, Any], secret_names: Collection[str]
    ) -> dict[str, JSONValue]:
        """Keyword arguments as exported: secret keys hidden, kept scalars finalized."""
        is_secret_key = self.redaction.is_secret_key
        finalize = self.finalize
        return {
            (key if key.isascii() else valid_text(key)): REDACTED
            if key in secret_names or is_secret_key(key)
            else finalize(value)
            for key, value in kwargs.items()
        }

    # -- full snapshot --------------------------------------------------------------------------

    def _value(self, value: object, depth: int, budget: _Budget) -> JSONValue:
        return self._dispatch(value, depth, budget, set())

    def _dispatch(self, value: object, depth: int, budget: _Budget, seen: set[int]) -> JSONValue:
        try:
            return self._convert(value, depth, budget, seen)
        except Exception:  # noqa: BLE001 - a snapshot must never raise, whatever the object does
            budget.left -= 32
            return f"<{_safe_type_name(value)} (capture failed)>"

    def _convert(  # noqa: PLR0911, PLR0912 - one flat dispatch on the value's type reads best
        self, value: object, depth: int, budget: _Budget, seen: set[int]
    ) -> JSONValue:
        if budget.left <= 0:
            return "[aiobs: event size limit reached]"
        cls = type(value)
        if cls is str:
            return self._string(value, budget)  # type: ignore[arg-type]
        if value is None or cls is bool:
            budget.left -= 5
            return value
        if cls is int:
            return self._int(value, budget)  # type: ignore[arg-type]
        if cls is float:
            return self._float(value, budget)  # type: ignore[arg-type]
        if isinstance(value, enum.Enum):
            return self._enum(value, depth, budget, seen)
        if isinstance(value, str):
            return self._string(str.__str__(value), budget)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self._int(int(value), budget)
        if isinstance(value, float):
            return self._float(float(value), budget)
        if isinstance(value, (bytes, bytearray, memoryview)):
            budget.left -= 24
            return f"<{cls.__name__} len={len(value)}>"
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            budget.left -= 34
            return value.isoformat()
        if isinstance(value, datetime.timedelta):
            budget.left -= 12
            return value.total_seconds()
        if isinstance(value, (uuid.UUID, Decimal, PurePath, complex)):
            return self._string(str(value), budget)
        if depth >= self.limits.max_depth:
            budget.left -= 40
            return f"[aiobs: max depth {self.limits.max_depth} reached: {_safe_type_name(value)}]"
        marker = id(value)
        if marker in seen:
            budget.left -= 24
            return f"[aiobs: cycle: {_safe_type_name(value)}]"
        seen.add(marker)
        try:
            return self._container(value, depth, budget, seen)
        finally:
            seen.discard(marker)

    def _container(  # noqa: PLR0911 - one branch per kind of container
        self, value: object, depth: int, budget: _Budget, seen: set[int]
    ) -> JSONValue:
        if isinstance(value, Mapping):
            return self._items(value.items(), len(value), depth, budget, seen)
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
            return self._items(
                zip(value._fields, value, strict=False), len(value), depth, budget, seen
            )
        if isinstance(value, (list, tuple, set, frozenset, deque)):
            return self._sequence(value, depth, budget, seen)
        if isinstance(value, BaseException):
            return {
                "type": type_name(value),
                "message": self._string(_timed(value, "str"), budget),
            }
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            pairs = ((name, getattr(value, name, None)) for name in fields)
            return self._items(pairs, len(fields), depth, budget, seen)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names = [f.name for f in dataclasses.fields(value)]
            pairs = ((name, getattr(value, name, None)) for name in names)
            return self._items(pairs, len(names), depth, budget, seen)
        return self._object(value, depth, budget, seen)

    def _string(self, text: str, budget: _Budget) -> str:
        limit = self.limits.max_string_length
        redact = self.redaction.redact_text
        original = len(text)
        # Past a cut, search a little further so that a credential straddling it goes whole.
        text = redact(text[: limit + _REDACTION_OVERLAP] if original > limit else text)
        if len(text) > limit:  # too long from the start, or made longer by a replacement
            # A cut can make the head look like a credential of its own: search it again.
            head = redact(text[:limit])[:limit]
            cut = original - limit if original > limit else len(text) - limit
            text = f"{head}...[aiobs: truncated {cut} chars]"
        # The budget is in bytes of UTF-8; a character outside ASCII takes at most four.
        # (str.isascii() reads a flag: it costs nothing.)
        width = 1 if text.isascii() else 4
        if (len(text) + 2) * width > budget.left:
            keep = max(0, budget.left // width - 2)
            budget.left = 0
            # As above: the kept head can look like a credential of its own; search it again.
            return f"{redact(text[:keep])[:keep]}...[aiobs: event size limit reached]"
        budget.left -= (len(text) + 2) * width
        return text

    def _int(self, number: int, budget: _Budget) -> JSONValue:
        budget.left -= _SCALAR_COST
        if -_BIG_INT < number < _BIG_INT:
            return number
        sign = "-" if number < 0 else ""
        return f"<{sign}int of {number.bit_length()} bits>"

    @staticmethod
    def _float(number: float, budget: _Budget) -> JSONValue:
        budget.left -= _SCALAR_COST
        if math.isfinite(number):
            return number
        if math.isnan(number):
            return "NaN"
        return "Infinity" if number > 0 else "-Infinity"

    def _enum(self, member: enum.Enum, depth: int, budget: _Budget, seen: set[int]) -> JSONValue:
        raw = member.value
        if raw is None or type(raw) in (str, int, float, bool):
            return self._dispatch(raw, depth, budget, seen)
        return self._string(f"{type(member).__name__}.{member.name}", budget)

    def _key(self, key: object) -> str:
        """A dict key as exported: a string, cut to the string limit, with credentials removed."""
        if type(key) is str:
            text: str = key
        elif isinstance(key, str):  # a subclass: its text, not its repr
            text = str.__str__(key)
        elif key is None or isinstance(key, (bool, int, float, enum.Enum)):
            text = _safe_str(key)
        else:
            text = _timed(key, "repr")
        limit = self.limits.max_string_length
        if len(text) > limit:
            text = f"{text[:limit]}...[aiobs: truncated {len(text) - limit} chars]"
        return self.redaction.redact_text(text)

    def _items(
        self,
        pairs: Any,
        size: int,
        depth: int,
        budget: _Budget,
        seen: set[int],
    ) -> dict[str, JSONValue]:
        out: dict[str, JSONValue] = {}
        limit = self.limits.max_items
        is_secret_key = self.redaction.is_secret_key
        budget.left -= 2
        for count, (raw_key, item) in enumerate(pairs):
            if count >= limit:
                out["[aiobs: truncated]"] = f"{size - limit} more keys"
                break
            if budget.left <= 0:
                out["[aiobs: truncated]"] = "event size limit reached"
                break
            key = self._key(raw_key)
            budget.left -= (len(key) + 4) * (1 if key.isascii() else 4)
            if is_secret_key(key):
                out[key] = REDACTED
            else:
                out[key] = self._dispatch(item, depth + 1, budget, seen)
        return out

    def _sequence(self, items: Any, depth: int, budget: _Budget, seen: set[int]) -> list[JSONValue]:
        out: list[JSONValue] = []
        limit = self.limits.max_items
        budget.left -= 2
        for count, item in enumerate(items):
            if count >= limit:
                out.append(f"[aiobs: {len(items) - limit} more items]")
                break
            if budget.left <= 0:
                out.append("[aiobs: event size limit reached]")
                break
            out.append(self._dispatch(item, depth + 1, budget, seen))
        return out

    def _object(self, value: object, depth: int, budget: _Budget, seen: set[int]) -> JSONValue:
        cls = type(value)
        if cls.__repr__ is not object.__repr__:
            return self._string(_timed(value, "repr"), budget)
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict) and attributes:
            out = self._items(attributes.items(), len(attributes), depth, budget, seen)
            return {"__type__": type_name(value), **out}
        return f"<{type_name(value)}>"


def _safe_type_name(value: object) -> str:
    try:
        return type_name(value)
    except Exception:  # noqa: BLE001 - a type whose metadata raises still gets a marker
        return "object"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - user __str__ may raise anything
        return f"<{_safe_type_name(value)} (str failed)>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - user __repr__ may raise anything
        return f"<{_safe_type_name(value)} (repr failed)>"


def _timed(value: object, how: str) -> str:
    """``repr(value)`` (``how="repr"``) or ``str(value)``, unless that is known to be slow.

    Python cannot interrupt a ``__repr__`` running on this thread, so a slow call is paid in
    full; after two slow calls in a row for one type, the type is not asked again.
    """
    key = (type(value), how)
    if key in _slow_types:
        return f"<{_safe_type_name(value)} ({how} skipped: slow)>"
    started = time.perf_counter_ns()
    text = _safe_repr(value) if how == "repr" else _safe_str(value)
    # No lock below: dict operations are atomic, and a race only repeats or skips a strike.
    if time.perf_counter_ns() - started > SLOW_REPR_NS:
        if key in _suspect_types:
            if len(_slow_types) >= _SLOW_TYPES_LIMIT:
                _slow_types.clear()
            _slow_types[key] = None
        elif len(_suspect_types) < _SLOW_TYPES_LIMIT:
            _suspect_types[key] = None
    elif _suspect_types:
        _suspect_types.pop(key, None)
    return text


DEFAULT_CAPTURER = Capturer()
"""The capturer used by sessions of collectors that were not configured otherwise."""

"""What a value of a document may be where it becomes a database column.

Ids are short and URL-safe, so that every stored session can be read back at
``/v1/sessions/{id}``; text holds no NUL character (PostgreSQL text cannot); numbers are finite,
and integers fit in 64 bits (what SQLite and PostgreSQL hold). Each check raises
:class:`~aiobs.server.storage.base.InvalidDocument` naming the field, such as
``sessions[0].id must be 1 to 128 characters: ...``.

The SDK writes UUID4 session ids (as aiobs 0.2 did), 16-hex-digit span ids and 32-hex-digit
trace ids, all well inside the allowed form.
"""

from __future__ import annotations

import math
import re
from typing import TypeGuard

from .base import InvalidDocument

MAX_ID_LENGTH = 128
"""Longest session, span or trace id accepted."""

ID_RULE = f"1 to {MAX_ID_LENGTH} characters: letters, digits, '-', '_', '.' and ':'"
"""The form of an id, as messages state it."""

MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1
"""The range of a token count (a 64-bit integer column)."""

_ID = re.compile(r"[A-Za-z0-9._:-]+")


def shown(value: object, width: int = 40) -> str:
    """``repr(value)``, shortened: a 100,000-character value is not echoed back."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def is_id(value: str) -> bool:
    """Whether ``value`` has the form of an id (:data:`ID_RULE`)."""
    return (
        0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and (value.isalnum() or _ID.fullmatch(value) is not None)
    )


def check_id(value: object, where: str) -> str:
    """``value`` when it is an id.

    Raises:
        InvalidDocument: not a non-empty string, or not of the form :data:`ID_RULE`.
    """
    if not isinstance(value, str) or not value:
        raise InvalidDocument(f"{where} must be a non-empty string")
    if not is_id(value):
        raise InvalidDocument(
            f"{where} must be {ID_RULE} (the SDK writes UUIDs), got {shown(value)}"
        )
    return value


def check_optional_id(value: object, where: str) -> str | None:
    """``value`` when it is ``None`` or an id.

    Raises:
        InvalidDocument: a string that is not of the form :data:`ID_RULE`, or not a string.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidDocument(f"{where} must be a string")
    if not is_id(value):
        raise InvalidDocument(f"{where} must be {ID_RULE}, got {shown(value)}")
    return value


def check_text(value: object, where: str) -> str | None:
    """``value`` when it is ``None`` or a string without NUL.

    Raises:
        InvalidDocument: not a string, or one holding NUL.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidDocument(f"{where} must be a string")
    if "\x00" in value:
        raise InvalidDocument(f"{where} must not contain NUL (\\u0000), got {shown(value)}")
    return value


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a JSON number (``bool`` is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value: object, where: str) -> float | None:
    """``value`` as a float when it is ``None`` or a finite number.

    Raises:
        InvalidDocument: not a number, or one that is not finite as a float (an integer of
            400 digits is not).
    """
    if value is None:
        return None
    if not is_number(value):
        raise InvalidDocument(f"{where} must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidDocument(f"{where} must be a finite number, got {shown(value)}")
    return number


def integer(value: object, where: str) -> int | None:
    """``value`` as an int when it is ``None`` or a finite number within 64 bits.

    Raises:
        InvalidDocument: not a number, not finite, or beyond 64 bits.
    """
    if value is None:
        return None
    if not is_number(value):
        raise InvalidDocument(f"{where} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidDocument(f"{where} must be a finite number, got {shown(value)}")
    whole = int(value)
    if not MIN_INTEGER <= whole <= MAX_INTEGER:
        raise InvalidDocument(f"{where} must be an integer of at most 64 bits, got {shown(value)}")
    return whole

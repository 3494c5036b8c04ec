"""What a valid score is: the one check that ``observer.score`` and the flush server share.

A score has a name (the rules of label keys, plus ``.`` and ``-``), a value (a finite number, a
bool, or a category string of 1 to :data:`MAX_SCORE_CATEGORY` characters without NUL) and an
optional comment, cut at :data:`MAX_SCORE_COMMENT` characters, whose NUL characters (which
databases cannot store, and an evaluator's message may quote) become U+FFFD. It imports nothing
from aiobs, so that the SDK and the server (which may import only the bottom layer) both use it.
"""

from __future__ import annotations

import math
import re

SCORE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_.\-]{0,62}$")
"""Score names: those of label keys, plus ``.`` and ``-`` (``faithfulness.v2``)."""
MAX_SCORE_CATEGORY = 64
"""The longest category a score's value can be."""
MAX_SCORE_COMMENT = 4096
"""Comments longer than this are cut (an evaluator's message can be long)."""


def check_score_name(name: object) -> str:
    """``name`` when it is a valid score name.

    Raises:
        ValueError: it is not (the message says what a name looks like).
    """
    if not isinstance(name, str) or not SCORE_NAME_PATTERN.match(name):
        raise ValueError(
            f"Score name {name!r} is invalid: use a lowercase letter, then up to 62 lowercase "
            "letters, digits, '_', '.' or '-' (such as 'accuracy' or 'pii_detection')"
        )
    return name


def check_score_value(name: str, value: object) -> float | bool | str:
    """``value`` when it is a valid value for the score ``name``.

    Raises:
        ValueError: not a finite number, a bool, or a category of 1 to 64 characters.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float (10**400)
            bits = value.bit_length() if isinstance(value, int) else 0
            raise ValueError(
                f"Score {name!r} has an integer value of {bits} bits, too large for a float: a"
                " numeric score must be finite"
            ) from None
        if not finite:
            raise ValueError(f"Score {name!r} has value {value!r}: a numeric score must be finite")
        return value
    if isinstance(value, str):
        if not value or len(value) > MAX_SCORE_CATEGORY:
            raise ValueError(
                f"Score {name!r} has a category of {len(value)} characters: a category must "
                f"be 1 to {MAX_SCORE_CATEGORY} characters (use the comment for longer text)"
            )
        if "\x00" in value:
            raise ValueError(f"Score {name!r} has a category holding NUL (\\u0000): remove it")
        return value
    raise ValueError(
        f"Score {name!r} has a value of type {type(value).__name__}: give a number, a "
        f"bool, or a category string of at most {MAX_SCORE_CATEGORY} characters"
    )


def check_score_comment(name: str, comment: object) -> str | None:
    """``comment``: ``None``, or a string cut at :data:`MAX_SCORE_COMMENT`, NUL as U+FFFD.

    Raises:
        ValueError: it is neither ``None`` nor a string.
    """
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValueError(
            f"Score {name!r} has a comment of type {type(comment).__name__}: give a string"
        )
    comment = comment[:MAX_SCORE_COMMENT]
    return comment.replace("\x00", "\ufffd") if "\x00" in comment else comment


def check_score(
    name: object, value: object, comment: object = None
) -> tuple[str, float | bool | str, str | None]:
    """The name, value and comment of a score, checked (see the functions above).

    Raises:
        ValueError: one of them is invalid; the message says how to fix it.
    """
    checked = check_score_name(name)
    return checked, check_score_value(checked, value), check_score_comment(checked, comment)

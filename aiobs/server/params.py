"""Query parameters of the query API, turned into what the storage takes.

Times are accepted as epoch seconds (``1767225600`` or ``1767225600.5``) or ISO 8601
(``2026-01-01T00:00:00Z``; without a zone, UTC is meant). Labels are ``key:value``. No parameter
may hold NUL: nothing stored can contain it, and PostgreSQL cannot even compare with it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from .._score_rules import MAX_SCORE_CATEGORY, check_score_name
from .storage.base import ScoreFilter

BUCKETS: dict[str, int | None] = {"minute": 60, "hour": 3600, "day": 86400, "none": None}
"""Names of the stats time buckets and their widths in seconds."""


class BadParameterError(ValueError):
    """A query parameter that cannot be understood (HTTP 400); the message names it."""


def text(name: str, value: str | None) -> str | None:
    """``value``, or ``None`` when it is absent or empty.

    Raises:
        BadParameterError: it holds NUL.
    """
    if not value:
        return None
    if "\x00" in value:
        raise BadParameterError(f"{name} must not contain NUL (%00)")
    return value


def parse_time(name: str, value: str | None) -> float | None:
    """Epoch seconds of ``value`` (epoch seconds or ISO 8601); ``None`` when absent.

    Raises:
        BadParameterError: neither form, or not a finite time.
    """
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = _iso_seconds(name, text)
    if not math.isfinite(seconds):
        raise BadParameterError(f"{name} must be a finite time, got {value!r}")
    return seconds


def _iso_seconds(name: str, text: str) -> float:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameterError(
            f"{name} must be epoch seconds or an ISO 8601 time such as 2026-01-01T00:00:00Z, "
            f"got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError):
        raise BadParameterError(f"{name} is out of range: {text!r}") from None


def parse_labels(values: list[str]) -> dict[str, str]:
    """``{"key": "value"}`` from ``["key:value", ...]``; the first ``:`` splits.

    Raises:
        BadParameterError: an item has no ``:``, an empty key, or a key given twice with
            different values.
    """
    labels: dict[str, str] = {}
    for item in values:
        text("label", item)
        key, colon, value = item.partition(":")
        if not colon or not key:
            raise BadParameterError(f"label must look like key:value, got {item!r}")
        if labels.get(key, value) != value:
            raise BadParameterError(f"label {key!r} is given twice with different values")
        labels[key] = value
    return labels


def check_group_by(value: str) -> str:
    """``value`` when it is ``model``, ``provider``, ``none`` or ``label:<key>``.

    Raises:
        BadParameterError: anything else.
    """
    if value in ("model", "provider", "none"):
        return value
    text("group_by", value)
    if value.startswith("label:") and len(value) > len("label:"):
        return value
    raise BadParameterError(f"group_by must be model, provider, none or label:<key>, got {value!r}")


def parse_score_filters(values: list[str]) -> tuple[ScoreFilter, ...]:
    """Score filters from ``score`` parameters.

    Each is ``NAME`` (has the score), ``NAME:<0.5`` (also ``<=``, ``>``, ``>=``), ``NAME:true``,
    ``NAME:false`` or ``NAME:=category``.

    Raises:
        BadParameterError: a name or an expression that is not one of these forms.
    """
    filters: list[ScoreFilter] = []
    for item in values:
        text("score", item)
        name, colon, expression = item.partition(":")
        try:
            check_score_name(name)
        except ValueError as exc:
            raise BadParameterError(f"score={item!r}: {exc}") from None
        if not colon:
            filters.append(ScoreFilter(name))
        elif expression in ("true", "false"):
            filters.append(ScoreFilter(name, expression))
        elif expression.startswith("=") and 1 < len(expression) <= MAX_SCORE_CATEGORY + 1:
            filters.append(ScoreFilter(name, "=", category=expression[1:]))
        else:
            filters.append(_comparison(item, name, expression))
    return tuple(filters)


def _comparison(item: str, name: str, expression: str) -> ScoreFilter:
    op = expression[:2] if expression[:2] in ("<=", ">=") else expression[:1]
    number: float | None = None
    if op in ("<", "<=", ">", ">="):
        try:
            number = float(expression[len(op) :])
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise BadParameterError(
            f"score={item!r} is not a score filter: write NAME (has the score), NAME:<0.5,"
            " NAME:<=0.5, NAME:>0.8, NAME:>=0.8 (a finite number), NAME:true, NAME:false or"
            " NAME:=category"
        )
    return ScoreFilter(name, op, number=number)


def check_score_name_parameter(value: str | None) -> str | None:
    """``value`` (a score name) or ``None`` when absent.

    Raises:
        BadParameterError: not a valid score name.
    """
    if not text("score", value):
        return None
    try:
        return check_score_name(value)
    except ValueError as exc:
        raise BadParameterError(f"score: {exc}") from None

"""Quota periods: calendar months or days, in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal


def period_start(now: float, period: Literal["month", "day"]) -> float:
    """The epoch second at which the period holding ``now`` began.

    >>> period_start(1_700_000_000.0, "month")  # 2023-11-14 -> 2023-11-01
    1698796800.0
    """
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        start = start.replace(day=1)
    return start.timestamp()


def period_end(start: float, period: Literal["month", "day"]) -> float:
    """The epoch second at which the period that began at ``start`` ends (the next one begins).

    >>> period_end(1698796800.0, "month")  # 2023-11-01 -> 2023-12-01
    1701388800.0
    >>> period_end(1698796800.0, "day")
    1698883200.0
    """
    moment = datetime.fromtimestamp(start, tz=timezone.utc)
    if period == "day":
        return (moment + timedelta(days=1)).timestamp()
    if moment.month == 12:
        return moment.replace(year=moment.year + 1, month=1).timestamp()
    return moment.replace(month=moment.month + 1).timestamp()

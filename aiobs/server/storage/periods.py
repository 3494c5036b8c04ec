"""Quota periods: calendar months or days, in UTC."""

from __future__ import annotations

from datetime import datetime, timezone
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

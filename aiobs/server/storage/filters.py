"""SQL conditions that several queries share."""

from __future__ import annotations

from typing import Any


def time_range(
    column: str, since: float | None, until: float | None
) -> tuple[list[str], list[Any]]:
    """Conditions (and their parameters) keeping rows with ``since <= column < until``.

    ``column`` is a fixed column name of the caller's query, never user input; either bound may
    be ``None`` (open).
    """
    conditions: list[str] = []
    params: list[Any] = []
    if since is not None:
        conditions.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        conditions.append(f"{column} < ?")
        params.append(until)
    return conditions, params

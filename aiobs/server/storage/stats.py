"""Aggregates of LLM calls by group (model, provider, a label, or none) and time bucket.

The calls in range are read once (a few small columns each) and aggregated here, so that every
database gives the same percentiles (:func:`~aiobs.server.storage.base.percentile`). This suits
the ranges a dashboard asks for, up to a few million calls; beyond that the percentiles would
have to be estimated in the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .base import StatsQuery, percentile
from .driver import Cursor
from .filters import time_range

GROUP_COLUMNS = {"model": "e.model", "provider": "e.provider", "none": "NULL"}
"""The column of an event (``e``) each ``group_by`` other than a label groups by."""
_LABEL = "label:"

GROUP_BY_RULE = "group_by must be 'model', 'provider', 'none' or 'label:<key>'"
"""What a ``group_by`` the aggregates do not know is told."""


def label_grouping(group_by: str, rows: str) -> tuple[str, str, list[Any]] | None:
    """For ``group_by`` ``label:<key>``: the group column, the join and its parameters.

    ``rows`` is the alias of the table aggregated (its ``project_id`` and ``session_id`` find
    the session's label); ``None`` when ``group_by`` names no label.
    """
    if not (group_by.startswith(_LABEL) and len(group_by) > len(_LABEL)):
        return None
    join = (
        f" LEFT JOIN aiobs_labels l ON l.project_id = {rows}.project_id"
        f" AND l.session_id = {rows}.session_id AND l.key = ?"
    )
    return "l.value", join, [group_by[len(_LABEL) :]]


def check_bucket(width: float | None) -> None:
    """Refuse a time bucket narrower than one second.

    Raises:
        ValueError: ``width`` is below 1.
    """
    if width is not None and width < 1:
        raise ValueError("bucket_seconds must be at least 1")


@dataclass
class _Totals:
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    durations: list[float] = field(default_factory=list)


def aggregate(cursor: Cursor, project_id: str, query: StatsQuery) -> list[dict[str, Any]]:
    """One row per (time bucket, group), sorted by bucket then group.

    Raises:
        ValueError: an unknown ``group_by`` or a bucket width below one second.
    """
    params: list[Any] = []
    join = ""
    labelled = label_grouping(query.group_by, "e")
    if labelled is not None:
        group, join, params = labelled
    elif query.group_by in GROUP_COLUMNS:
        group = GROUP_COLUMNS[query.group_by]
    else:
        raise ValueError(GROUP_BY_RULE)
    width = query.bucket_seconds
    check_bucket(width)
    conditions = ["e.project_id = ?", "e.kind = 'llm'"]
    params.append(project_id)
    in_range, range_params = time_range("e.started_at", query.since, query.until)
    conditions += in_range
    params += range_params
    cursor.execute(
        f"SELECT {group}, e.started_at, e.duration_ms, e.error, e.input_tokens,"  # noqa: S608 - fixed fragments; values are parameters
        " e.output_tokens, e.total_tokens, e.cost"
        f" FROM aiobs_events e{join} WHERE {' AND '.join(conditions)}",
        params,
    )
    buckets: dict[tuple[float | None, str | None], _Totals] = {}
    for name, started_at, duration, error, tokens_in, tokens_out, tokens, cost in cursor.fetchall():
        bucket = None if width is None else math.floor((started_at or 0.0) / width) * width
        totals = buckets.get((bucket, name))
        if totals is None:
            totals = buckets[(bucket, name)] = _Totals()
        totals.calls += 1
        totals.errors += error
        totals.input_tokens += tokens_in or 0
        totals.output_tokens += tokens_out or 0
        totals.total_tokens += tokens or 0
        if cost is not None:
            totals.cost = (totals.cost or 0.0) + cost
        if duration is not None:
            totals.durations.append(duration)
    return [
        _row(bucket, name, totals) for (bucket, name), totals in sorted(buckets.items(), key=_order)
    ]


def _order(item: tuple[tuple[float | None, str | None], _Totals]) -> tuple[float, bool, str]:
    (bucket, name), _ = item
    return (-math.inf if bucket is None else bucket, name is not None, name or "")


def _row(bucket: float | None, name: str | None, totals: _Totals) -> dict[str, Any]:
    durations = sorted(totals.durations)
    return {
        "group": name,
        "bucket_start": None if bucket is None else float(bucket),
        "calls": totals.calls,
        "errors": totals.errors,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "total_tokens": totals.total_tokens,
        "cost": totals.cost,
        "latency_ms": {
            "p50": percentile(durations, 0.5),
            "p95": percentile(durations, 0.95),
            "p99": percentile(durations, 0.99),
        },
    }

"""The dashboard: LLM call figures over time by group, and the costliest and slowest sessions.

The figures are those of ``GET /v1/stats`` (the storage's stats query, its parameters read by
:mod:`aiobs.server.params`): one query by group and time bucket for the charts and the table,
one by bucket alone for the latency percentiles of all calls, and one of the whole range for
the totals. The sessions lists are the sessions query sorted by cost and by duration. With a
score named, its mean and pass rate (``GET /v1/stats?score=``) by group and bucket are charted
too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..server.params import (
    BUCKETS,
    BadParameterError,
    check_group_by,
    check_score_name_parameter,
    parse_time,
    text,
)
from ..server.storage import SessionQuery, StatsQuery, Storage

GROUPS = ("model", "provider", "label", "none")
BUCKET_NAMES = ("minute", "hour", "day")
FIELDS = ("group", "label", "bucket", "since", "until", "score")
TOP_SESSIONS = 10
MAX_BUCKETS = 1000
"""More time buckets than this are refused: the charts would be unreadable and the page large."""

NO_GROUP = {"model": "(no model)", "provider": "(no provider)", "label": "(no label)"}
NO_GROUP_SCORED = {
    "model": "(sessions, functions)",
    "provider": "(sessions, functions)",
    "label": "(no label)",
}
"""A score's group when the scored thing has no model or provider (not an LLM call)."""


@dataclass(frozen=True)
class DashboardQuery:
    """What the dashboard's form asks for, checked."""

    group_by: str
    bucket: str
    since: float | None
    until: float | None
    score: str | None = None
    """A score whose mean and pass rate are charted too."""

    def stats(self, *, grouped: bool = True, bucketed: bool = True) -> StatsQuery:
        """The stats query by group (or not) and time bucket (or not)."""
        return StatsQuery(
            group_by=self.group_by if grouped else "none",
            bucket_seconds=BUCKETS[self.bucket] if bucketed else None,
            since=self.since,
            until=self.until,
        )

    def score_stats(self, *, grouped: bool = True) -> StatsQuery:
        """The score's aggregates by group (or not) and time bucket."""
        return replace(self.stats(grouped=grouped), score=self.score)

    def sessions(self, order: str) -> SessionQuery:
        """The first sessions started in the range, in ``order``."""
        return SessionQuery(since=self.since, until=self.until, order=order, limit=TOP_SESSIONS)


def form_values(params: Mapping[str, str]) -> dict[str, str]:
    """The form's fields from the query string, with their defaults."""
    values = {name: params.get(name, "").strip() for name in FIELDS}
    values["group"] = values["group"] or "model"
    values["bucket"] = values["bucket"] or "hour"
    return values


def parse(values: Mapping[str, str]) -> DashboardQuery:
    """The dashboard query of the form's values.

    Raises:
        BadParameterError: a value ``GET /v1/stats`` would refuse, or grouping by label
            without a label key.
    """
    group = values["group"]
    if group not in GROUPS:
        raise BadParameterError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    if group == "label":
        key = text("label", values["label"])
        if key is None:
            raise BadParameterError("to group by label, give the label's key (for example env)")
        group_by = check_group_by(f"label:{key}")
    else:
        group_by = check_group_by(group)
    bucket = values["bucket"]
    if bucket not in BUCKET_NAMES:
        raise BadParameterError(f"bucket must be one of {', '.join(BUCKET_NAMES)}, got {bucket!r}")
    return DashboardQuery(
        group_by=group_by,
        bucket=bucket,
        since=parse_time("since", values["since"]),
        until=parse_time("until", values["until"]),
        score=check_score_name_parameter(values["score"]),
    )


def load(storage: Storage, project_id: str, query: DashboardQuery) -> dict[str, Any]:
    """Everything the page shows, read from the storage (blocking).

    Raises:
        BadParameterError: the range holds more than ``MAX_BUCKETS`` time buckets with calls.
    """
    overall = storage.stats(project_id, query.stats(grouped=False))
    if len(overall) > MAX_BUCKETS:
        raise BadParameterError(
            f"{len(overall):,} {query.bucket}s have calls, more than the {MAX_BUCKETS:,} the "
            "charts can show: choose a wider bucket or a shorter range (From, Until)"
        )
    grouped = storage.stats(project_id, query.stats())
    totals = storage.stats(project_id, query.stats(grouped=False, bucketed=False))
    scores = None
    if query.score is not None:
        scores = {
            "name": query.score,
            "rows": [
                _score_row(row, query.group_by)
                for row in storage.stats(project_id, query.score_stats())
            ],
            "overall": [
                _score_row(row, "none")
                for row in storage.stats(project_id, query.score_stats(grouped=False))
            ],
        }
    return {
        "scores": scores,
        "rows": [_row(row, query.group_by) for row in grouped],
        "overall": [_row(row, "none") for row in overall],
        "totals": _row(totals[0], "none") if totals else None,
        "costliest": storage.sessions(project_id, query.sessions("costliest")).sessions,
        "slowest": storage.sessions(project_id, query.sessions("slowest")).sessions,
    }


def chart_data(query: DashboardQuery, figures: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON that ``static/charts.js`` draws from."""
    groups: list[str] = []
    for row in figures["rows"]:
        if row["group"] not in groups:
            groups.append(row["group"])
    return {
        "bucket": query.bucket,
        "bucket_seconds": BUCKETS[query.bucket],
        "group_by": query.group_by,
        "groups": groups,
        "rows": figures["rows"],
        "overall": figures["overall"],
        "scores": figures.get("scores"),
    }


def _score_row(row: Mapping[str, Any], group_by: str) -> dict[str, Any]:
    """A score's stats row with its group named for people."""
    kind = "label" if group_by.startswith("label:") else group_by
    group = row["group"]
    return {
        "group": "all scores"
        if kind == "none"
        else (group if group is not None else NO_GROUP_SCORED[kind]),
        "bucket": row["bucket_start"],
        "count": row["count"],
        "mean": row["mean"],
        "pass_rate": row["pass_rate"],
    }


def _row(row: Mapping[str, Any], group_by: str) -> dict[str, Any]:
    """A stats row with its group named for people and its error rate."""
    calls = row["calls"]
    kind = "label" if group_by.startswith("label:") else group_by
    group = row["group"]
    return {
        "group": "all calls"
        if kind == "none"
        else (group if group is not None else NO_GROUP[kind]),
        "bucket": row["bucket_start"],
        "calls": calls,
        "errors": row["errors"],
        "error_rate": row["errors"] / calls if calls else 0.0,
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "total_tokens": row["total_tokens"],
        "cost": row["cost"],
        "p50": row["latency_ms"]["p50"],
        "p95": row["latency_ms"]["p95"],
        "p99": row["latency_ms"]["p99"],
    }

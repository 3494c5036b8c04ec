"""Queries over scores: the sessions a score filter keeps, and a score's aggregates.

A session matches a :class:`~aiobs.server.storage.base.ScoreFilter` when one of its scores of
that name (its own or one of its spans') matches. A score's aggregates per group and time bucket
are its ``count`` (every score of the name), ``mean`` (numeric and bool scores, ``true`` counting
as 1) and ``pass_rate``: the share of ``true`` for bool scores and of values of at least
:data:`PASS_THRESHOLD` for numeric ones; categories are counted in ``categories``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .base import ScoreFilter, StatsQuery
from .driver import Cursor
from .filters import time_range
from .session_sets import SessionSet
from .stats import GROUP_BY_RULE, GROUP_COLUMNS, check_bucket, label_grouping

PASS_THRESHOLD = 0.5
"""A numeric score passes at this value or above."""

_COMPARISONS = ("<", "<=", ">", ">=")


def session_sets(project_id: str, filters: tuple[ScoreFilter, ...]) -> list[SessionSet]:
    """The sessions matching each filter: one set each (see :mod:`.session_sets`).

    A set's members are read through ``aiobs_scores_name`` (the scores of that name, so a name
    given to few sessions is where a page starts); its test and probe look at one session's
    scores through ``aiobs_scores_session``. Counted, a set's size is that of its scores.

    Raises:
        ValueError: an operator this module does not know.
    """
    found: list[SessionSet] = []
    for wanted in filters:
        test, values = _value_test(wanted)
        found.append(
            SessionSet(
                "s.id",
                "sc.session_id",
                f"aiobs_scores sc WHERE sc.project_id = ? AND sc.name = ?{test}",
                (project_id, wanted.name, *values),
                "EXISTS (SELECT 1 FROM aiobs_scores sc WHERE sc.project_id = s.project_id"  # noqa: S608 - fixed fragments; values are parameters
                f" AND sc.session_id = s.id AND sc.name = ?{test})",
                (wanted.name, *values),
                "EXISTS (SELECT 1 FROM aiobs_scores sc WHERE sc.project_id = ?"  # noqa: S608 - fixed fragments; values are parameters
                f" AND sc.session_id = {{id}} AND sc.name = ?{test})",
                (project_id, wanted.name, *values),
            )
        )
    return found


def _value_test(wanted: ScoreFilter) -> tuple[str, list[Any]]:
    if wanted.op is None:
        return "", []
    if wanted.op in _COMPARISONS:
        return f" AND sc.kind = 'number' AND sc.number {wanted.op} ?", [wanted.number]
    if wanted.op in ("true", "false"):
        return " AND sc.kind = 'bool' AND sc.number = ?", [1.0 if wanted.op == "true" else 0.0]
    if wanted.op == "=":
        return " AND sc.kind = 'category' AND sc.category = ?", [wanted.category]
    raise ValueError(f"unknown score operator {wanted.op!r}")


@dataclass
class _Totals:
    count: int = 0
    numbers: int = 0
    total: float = 0.0
    passed: int = 0
    categories: dict[str, int] = field(default_factory=dict)


def aggregate(cursor: Cursor, project_id: str, query: StatsQuery) -> list[dict[str, Any]]:
    """One row per (time bucket, group) of the scores named ``query.score``.

    Groups are the scored call's model or provider (``null`` for scores of sessions and of
    functions), a label of the session, or none; buckets and ``since``/``until`` are the scores'
    ``created_at``.

    Raises:
        ValueError: an unknown ``group_by``, a bucket width below one second, no score name.
    """
    if not query.score:
        raise ValueError("score must name the score to aggregate")
    params: list[Any] = []
    join = ""
    labelled = label_grouping(query.group_by, "sc")
    if labelled is not None:
        group, join, params = labelled
    elif query.group_by in GROUP_COLUMNS:
        group = GROUP_COLUMNS[query.group_by]
        if query.group_by != "none":
            join = (
                " LEFT JOIN aiobs_events e ON e.project_id = sc.project_id"
                " AND e.session_id = sc.session_id AND e.event_key = sc.span_id"
                " AND e.kind = 'llm'"
            )
    else:
        raise ValueError(GROUP_BY_RULE)
    width = query.bucket_seconds
    check_bucket(width)
    conditions = ["sc.project_id = ?", "sc.name = ?"]
    params += [project_id, query.score]
    in_range, range_params = time_range("sc.created_at", query.since, query.until)
    conditions += in_range
    params += range_params
    cursor.execute(
        f"SELECT {group}, sc.created_at, sc.kind, sc.number, sc.category"  # noqa: S608 - fixed fragments; values are parameters
        f" FROM aiobs_scores sc{join} WHERE {' AND '.join(conditions)}",
        params,
    )
    buckets: dict[tuple[float | None, str | None], _Totals] = {}
    for name, created_at, kind, number, category in cursor.fetchall():
        bucket = None if width is None else math.floor(created_at / width) * width
        totals = buckets.get((bucket, name))
        if totals is None:
            totals = buckets[(bucket, name)] = _Totals()
        totals.count += 1
        if kind == "category":
            totals.categories[category] = totals.categories.get(category, 0) + 1
            continue
        totals.numbers += 1
        totals.total += number
        passed = number == 1.0 if kind == "bool" else number >= PASS_THRESHOLD
        totals.passed += passed
    return [
        _row(bucket, name, totals) for (bucket, name), totals in sorted(buckets.items(), key=_order)
    ]


def _order(item: tuple[tuple[float | None, str | None], _Totals]) -> tuple[float, bool, str]:
    (bucket, name), _ = item
    return (-math.inf if bucket is None else bucket, name is not None, name or "")


def _row(bucket: float | None, name: str | None, totals: _Totals) -> dict[str, Any]:
    numbers = totals.numbers
    return {
        "group": name,
        "bucket_start": None if bucket is None else float(bucket),
        "count": totals.count,
        "mean": totals.total / numbers if numbers else None,
        "pass_rate": totals.passed / numbers if numbers else None,
        "categories": dict(sorted(totals.categories.items())),
    }

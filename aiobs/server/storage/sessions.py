"""Reading sessions: filtered pages of summaries, and one session with its events and tree.

Summaries are computed from the stored events when read, so a session uploaded in several parts
counts each event once whatever the order of the uploads.
"""

from __future__ import annotations

import json
from typing import Any

from ..._format import EVENT_STARTED_AT, TYPE_FUNCTION, TYPE_PROVIDER
from ...tree import build_trace_tree
from . import session_sets
from .base import SessionPage, SessionQuery
from .cursors import decode_cursor, encode_cursor
from .driver import Cursor
from .filters import time_range
from .score_queries import session_sets as score_sets
from .search import search_set
from .session_sets import SessionSet

MAX_PAGE = 500
"""Most sessions on one page."""

_SESSION_COLUMNS = "s.id, s.name, s.started_at, s.ended_at, s.labels, s.meta"

_EVENT_EXISTS = (
    "EXISTS (SELECT 1 FROM aiobs_events e WHERE e.project_id = s.project_id"
    " AND e.session_id = s.id AND {})"
)

ORDERS = {
    "newest": "s.started_at DESC, s.id",
    "costliest": (
        "COALESCE((SELECT SUM(e.cost) FROM aiobs_events e WHERE e.project_id = s.project_id"
        " AND e.session_id = s.id), -1) DESC, s.started_at DESC, s.id"
    ),
    "slowest": "COALESCE(s.ended_at - s.started_at, -1) DESC, s.started_at DESC, s.id",
}
"""How a page can be sorted; only ``newest`` pages on with a cursor."""

_LLM = "e.kind || '' = 'llm'"
"""An LLM call, written so that no index on ``kind`` is chosen for it: without statistics
SQLite would otherwise read the events of a session's subquery through ``aiobs_events_time``
(every LLM call of the project, for each session) instead of the session's own events."""

_FAILED = (
    "EXISTS (SELECT 1 FROM aiobs_events e WHERE e.project_id = s.project_id"
    " AND e.session_id = s.id AND e.error = 1)"
)
"""A session with a failed call or function: a look in ``aiobs_events_failed``, the partial
index of failed events."""

_EVENT_TYPES = {"llm": TYPE_PROVIDER, "function": TYPE_FUNCTION}
"""The trace tree's ``event_type`` for each stored kind of event."""


def page(
    cursor: Cursor, project_id: str, query: SessionQuery, dialect: str = "sqlite"
) -> SessionPage:
    """One page of session summaries matching ``query``, newest first unless it says otherwise.

    Sessions without a cost (or still open, for ``slowest``) come last.

    ``dialect`` is the driver's name (full-text search differs between the databases).

    Raises:
        ValueError: ``limit`` outside 1..500, a cursor this function did not make, an unknown
            order, a cursor with an order other than ``newest``, or a search text too long.
    """
    if not 1 <= query.limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    order = ORDERS.get(query.order)
    if order is None:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {query.order!r}")
    if query.cursor is not None and query.order != "newest":
        raise ValueError("only the newest-first order pages on with a cursor")
    conditions, params, sets = _filters(project_id, query, dialect)
    if query.scores:
        sets += score_sets(project_id, query.scores)
    after: list[str] = []
    after_params: list[Any] = []
    if query.cursor is not None:
        after_time, after_id = decode_cursor(query.cursor)
        after.append("(s.started_at < ? OR (s.started_at = ? AND s.id > ?))")
        after_params += [after_time, after_time, after_id]
    conditions += after
    params += after_params
    shape = (
        session_sets.PageShape(conditions, params, after, after_params, query.limit + 1)
        if query.order == "newest"
        else None
    )
    in_sets, sets_params = session_sets.conditions(cursor, dialect, project_id, sets, shape)
    conditions = [*in_sets, *conditions]
    params = [*sets_params, *params]
    cursor.execute(
        f"SELECT {_SESSION_COLUMNS} FROM aiobs_sessions s WHERE {' AND '.join(conditions)}"  # noqa: S608 - fixed fragments; values are parameters
        f" ORDER BY {order} LIMIT ?",
        (*params, query.limit + 1),
    )
    rows = cursor.fetchall()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    summaries = summarize(cursor, project_id, rows)
    paging = more and query.order == "newest"
    next_cursor = encode_cursor(rows[-1][2], rows[-1][0]) if paging else None
    return SessionPage(summaries, next_cursor)


def _filters(
    project_id: str, query: SessionQuery, dialect: str
) -> tuple[list[str], list[Any], list[SessionSet]]:
    """The query's conditions on each session, their parameters, and its sets of sessions.

    The sets are what its label, model, provider, errors and search filters name (see
    :mod:`.session_sets`); PostgreSQL gets model, provider and search as conditions.
    """
    conditions: list[str] = []
    params: list[Any] = []
    sets = [_labelled(project_id, key, value) for key, value in query.labels.items()]
    if query.name is not None:
        conditions.append("s.name_lower LIKE ? ESCAPE '!'")
        params.append("%" + _like_literal(query.name.lower()) + "%")
    in_range, range_params = time_range("s.started_at", query.since, query.until)
    conditions += in_range
    params += range_params
    if query.model is not None:
        if dialect == "sqlite":
            sets.append(_calling(project_id, "model", query.model))
        else:
            conditions.append(
                _EVENT_EXISTS.format(f"{_LLM} AND (e.model = ? OR e.request_model = ?)")
            )
            params += [query.model, query.model]
    if query.provider is not None:
        if dialect == "sqlite":
            sets.append(_calling(project_id, "provider", query.provider))
        else:
            conditions.append(_EVENT_EXISTS.format(f"{_LLM} AND e.provider = ?"))
            params.append(query.provider)
    if query.has_errors:
        sets.append(_failed(project_id))
    elif query.has_errors is not None:
        conditions.append(f"NOT {_FAILED}")
    if query.search is not None:
        matching = search_set(dialect, query.search)
        if isinstance(matching, SessionSet):
            sets.append(matching)
        else:
            conditions.append(matching[0])
            params += matching[1]
    return conditions, params, sets


def detail(cursor: Cursor, project_id: str, session_id: str) -> dict[str, Any] | None:
    """The session with its events (as uploaded, by start time) and trace tree."""
    cursor.execute(
        f"SELECT {_SESSION_COLUMNS} FROM aiobs_sessions s WHERE s.project_id = ? AND s.id = ?",  # noqa: S608 - constant columns
        (project_id, session_id),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    summary = summarize(cursor, project_id, [row])[0]
    cursor.execute(
        "SELECT kind, body FROM aiobs_events WHERE project_id = ? AND session_id = ?",
        (project_id, session_id),
    )
    stored = [(json.loads(body), kind) for kind, body in cursor.fetchall()]
    stored.sort(key=lambda pair: (pair[0].get(EVENT_STARTED_AT) or 0.0, pair[1]))
    return {
        "session": summary,
        "events": [event for event, kind in stored if kind == "llm"],
        "function_events": [event for event, kind in stored if kind == "function"],
        "trace_tree": build_trace_tree([(event, _EVENT_TYPES[kind]) for event, kind in stored]),
    }


OUTLINE_FIELDS = (
    "key",
    "kind",
    "span_id",
    "parent_span_id",
    "provider",
    "api",
    "model",
    "started_at",
    "duration_ms",
    "error",
    "total_tokens",
)
"""What :func:`outline` gives of each event: its stored key and the columns a tree row needs.
``api`` is a function's name for a function event, ``model`` the model that answered (else the
one asked for), ``error`` 1 for a failed call or function."""


def outline(cursor: Cursor, project_id: str, session_id: str) -> dict[str, Any] | None:
    """The session's summary and its events' :data:`OUTLINE_FIELDS`, by start time.

    Read from the event table's columns only, not from the stored documents: a fraction of the
    work of :func:`detail` for a large session.
    """
    cursor.execute(
        f"SELECT {_SESSION_COLUMNS} FROM aiobs_sessions s WHERE s.project_id = ? AND s.id = ?",  # noqa: S608 - constant columns
        (project_id, session_id),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    summary = summarize(cursor, project_id, [row])[0]
    cursor.execute(
        "SELECT event_key, kind, span_id, parent_span_id, provider, api, model, started_at,"
        " duration_ms, error, total_tokens FROM aiobs_events"
        " WHERE project_id = ? AND session_id = ?",
        (project_id, session_id),
    )
    events = [dict(zip(OUTLINE_FIELDS, found, strict=True)) for found in cursor.fetchall()]
    events.sort(key=lambda event: (event["started_at"] or 0.0, event["kind"]))
    return {"session": summary, "events": events}


def event(cursor: Cursor, project_id: str, session_id: str, key: str) -> dict[str, Any] | None:
    """One event of the session as uploaded, by its stored key (its span id, when it has one)."""
    cursor.execute(
        "SELECT body FROM aiobs_events WHERE project_id = ? AND session_id = ? AND event_key = ?",
        (project_id, session_id, key),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    found: dict[str, Any] = json.loads(row[0])
    return found


def summarize(cursor: Cursor, project_id: str, rows: list[Any]) -> list[dict[str, Any]]:
    """Summaries of the sessions in ``rows`` (``_SESSION_COLUMNS``), with their event totals."""
    if not rows:
        return []
    ids = [row[0] for row in rows]
    marks = ", ".join("?" * len(ids))
    in_page = f"project_id = ? AND session_id IN ({marks})"
    cursor.execute(
        "SELECT session_id,"  # noqa: S608 - the only inserted text is placeholders
        " SUM(CASE WHEN kind = 'llm' THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN kind = 'function' THEN 1 ELSE 0 END),"
        " SUM(error), SUM(input_tokens), SUM(output_tokens), SUM(total_tokens), SUM(cost)"
        f" FROM aiobs_events WHERE {in_page} GROUP BY session_id",
        (project_id, *ids),
    )
    totals = {row[0]: row[1:] for row in cursor.fetchall()}
    cursor.execute(
        # kind written so that one session's page does not read every LLM call of the project
        # through aiobs_events_time (the plan SQLite picks for an IN of one id otherwise)
        "SELECT DISTINCT session_id, model, provider FROM aiobs_events e"  # noqa: S608 - placeholders only
        f" WHERE {_LLM} AND {in_page}",
        (project_id, *ids),
    )
    models: dict[str, set[str]] = {}
    providers: dict[str, set[str]] = {}
    for session_id, model, provider in cursor.fetchall():
        if model is not None:
            models.setdefault(session_id, set()).add(model)
        if provider is not None:
            providers.setdefault(session_id, set()).add(provider)
    summaries = []
    for session_id, name, started_at, ended_at, labels, meta in rows:
        llm, functions, errors, input_tokens, output_tokens, total_tokens, cost = totals.get(
            session_id, (0, 0, 0, None, None, None, None)
        )
        summaries.append(
            {
                "id": session_id,
                "name": name,
                "labels": json.loads(labels),
                "started_at": started_at,
                "ended_at": ended_at,
                "duration_ms": None if ended_at is None else (ended_at - started_at) * 1000.0,
                "meta": json.loads(meta),
                "llm_calls": int(llm),
                "function_calls": int(functions),
                "errors": int(errors),
                "input_tokens": int(input_tokens or 0),
                "output_tokens": int(output_tokens or 0),
                "total_tokens": int(total_tokens or 0),
                "cost": None if cost is None else float(cost),
                "models": sorted(models.get(session_id, ())),
                "providers": sorted(providers.get(session_id, ())),
            }
        )
    return summaries


def _labelled(project_id: str, key: str, value: str) -> SessionSet:
    """The sessions labelled ``key: value`` (``aiobs_labels_match``)."""
    return SessionSet(
        "s.id",
        "l.session_id",
        "aiobs_labels l WHERE l.project_id = ? AND l.key = ? AND l.value = ?",
        (project_id, key, value),
        "EXISTS (SELECT 1 FROM aiobs_labels l WHERE l.project_id = s.project_id"
        " AND l.session_id = s.id AND l.key = ? AND l.value = ?)",
        (key, value),
        "EXISTS (SELECT 1 FROM aiobs_labels l WHERE l.project_id = ?"
        " AND l.session_id = {id} AND l.key = ? AND l.value = ?)",
        (project_id, key, value),
    )


def _calling(project_id: str, what: str, value: str) -> SessionSet:
    """SQLite: the sessions with an LLM call to this ``model`` or ``provider``.

    Step 4's ``aiobs_session_models`` and ``aiobs_session_providers`` hold each session once.
    """
    table = "aiobs_session_models" if what == "model" else "aiobs_session_providers"
    return SessionSet(
        "s.id",
        "c.session_id",
        f"{table} c WHERE c.project_id = ? AND c.{what} = ?",
        (project_id, value),
        f"EXISTS (SELECT 1 FROM {table} c WHERE c.project_id = s.project_id"  # noqa: S608 - fixed names
        f" AND c.{what} = ? AND c.session_id = s.id)",
        (value,),
        f"EXISTS (SELECT 1 FROM {table} c WHERE c.project_id = ?"  # noqa: S608 - fixed names
        f" AND c.{what} = ? AND c.session_id = {{id}})",
        (project_id, value),
    )


def _failed(project_id: str) -> SessionSet:
    """The sessions with a failed call or function (``aiobs_events_failed``)."""
    return SessionSet(
        "s.id",
        "e.session_id",
        "aiobs_events e WHERE e.project_id = ? AND e.error = 1",
        (project_id,),
        _FAILED,
        (),
        "EXISTS (SELECT 1 FROM aiobs_events e WHERE e.project_id = ?"
        " AND e.session_id = {id} AND e.error = 1)",
        (project_id,),
    )


def _like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards escaped (escape character ``!``)."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")

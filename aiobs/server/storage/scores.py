"""Evaluation scores: checked into rows, stored once, read back onto sessions and events.

A score belongs to a session, and to one of its spans when ``span_id`` is set. It is stored in
``aiobs_scores`` (schema step 5) under an id: the client's (``POST /v1/scores``), or for a score
uploaded inside a document a digest of the score with its time, so that a document uploaded
again, under any idempotency key, stores its scores once. Beside each score is a digest of what
it says (target, name, value, comment, source, evaluator): the same id sent again with another
digest is refused (:class:`~aiobs.server.storage.base.ScoreIdReused`).

The value is kept by ``kind``: ``number`` (in ``number``), ``bool`` (``number`` 1 or 0) or
``category`` (in ``category``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..._format import (
    EVENT_SCORES,
    EVENT_SPAN_ID,
    NODE_CHILDREN,
    SCORE_COMMENT,
    SCORE_CREATED_AT,
    SCORE_EVALUATOR,
    SCORE_NAME,
    SCORE_SOURCE,
    SCORE_SPAN_ID,
    SCORE_VALUE,
    SESSION_ID,
    SESSION_SCORES,
    SOURCE_API,
    SOURCE_EVAL,
)
from ..._score_rules import check_score
from .base import InvalidDocument, NewScore, ScoreIdReused, ScoreTargetNotFound
from .driver import Cursor
from .values import check_id, check_optional_id, check_text, finite_number, shown

SCORE_ID: str = "id"
"""The stored score's id (not part of the document's score: the server gives it)."""

SOURCES = (SOURCE_API, SOURCE_EVAL)
"""Who can give a score."""

MAX_EVALUATOR_CHARS = 200
"""The longest evaluator name kept."""

ScoreRow = tuple[Any, ...]
"""The columns of :data:`SCORE_COLUMNS`, in order, without ``project_id``."""

SCORE_COLUMNS = (
    "id",
    "session_id",
    "span_id",
    "name",
    "kind",
    "number",
    "category",
    "comment",
    "source",
    "evaluator",
    "created_at",
    "digest",
)

INSERT_SCORE = (
    f"INSERT INTO aiobs_scores (project_id, {', '.join(SCORE_COLUMNS)})"  # noqa: S608 - constant columns
    f" VALUES (?{', ?' * len(SCORE_COLUMNS)}) ON CONFLICT (project_id, id) DO NOTHING"
)
_READ_COLUMNS = ", ".join(SCORE_COLUMNS[:-1])


def score_row(
    raw: Mapping[str, Any],
    path: str,
    session_id: str,
    span_id: str | None,
    *,
    score_id: str | None = None,
    created_at: float | None = None,
) -> ScoreRow:
    """A score as a row, checked as ``observer.score`` checks it; ``path`` names it in errors.

    ``score_id`` ``None`` makes the id a digest of the score and its ``created_at``.

    Raises:
        InvalidDocument: a field is wrong; the message names it and says why.
    """
    try:
        name, value, comment = check_score(
            raw.get(SCORE_NAME), raw.get(SCORE_VALUE), raw.get(SCORE_COMMENT)
        )
    except ValueError as exc:
        raise InvalidDocument(f"{path}: {exc}") from None
    if isinstance(value, bool):
        kind, number, category = "bool", 1.0 if value else 0.0, None
    elif isinstance(value, str):
        kind, number, category = "category", None, value
    else:
        kind, number, category = "number", float(value), None
    source = raw.get(SCORE_SOURCE)
    if source is None:
        source = SOURCE_API
    if source not in SOURCES:
        raise InvalidDocument(
            f"{path}.{SCORE_SOURCE} must be one of {', '.join(SOURCES)}, got {shown(source)}"
        )
    evaluator = check_text(raw.get(SCORE_EVALUATOR), f"{path}.{SCORE_EVALUATOR}")
    if evaluator is not None and len(evaluator) > MAX_EVALUATOR_CHARS:
        raise InvalidDocument(
            f"{path}.{SCORE_EVALUATOR} must be at most {MAX_EVALUATOR_CHARS} characters"
        )
    if created_at is None:
        created_at = finite_number(raw.get(SCORE_CREATED_AT), f"{path}.{SCORE_CREATED_AT}")
        if created_at is None:
            raise InvalidDocument(f"{path}.{SCORE_CREATED_AT} must be a number (epoch seconds)")
    said = [session_id, span_id, name, kind, number, category, comment, source, evaluator]
    digest = hashlib.sha256(json.dumps(said, ensure_ascii=False).encode("utf-8")).hexdigest()
    if score_id is None:
        score_id = "sha256:" + hashlib.sha256(f"{digest} {created_at!r}".encode()).hexdigest()
    return (
        score_id,
        session_id,
        span_id,
        name,
        kind,
        number,
        category,
        comment,
        source,
        evaluator,
        created_at,
        digest,
    )


def document_rows(
    sessions: Sequence[dict[str, Any]], events: Iterable[tuple[str, dict[str, Any], str]]
) -> list[ScoreRow]:
    """The scores of an uploaded document: its sessions' and its events' ``scores``.

    Args:
        sessions: the document's sessions (already checked).
        events: ``(path, event, session id)`` of the events that have ``scores`` (checked).

    Raises:
        InvalidDocument: a score is wrong (the message names it).
    """
    rows: list[ScoreRow] = []
    for index, session in enumerate(sessions):
        scores = session.get(SESSION_SCORES)
        if scores is None:
            continue
        path = f"sessions[{index}].{SESSION_SCORES}"
        for position, raw in enumerate(_list_of_scores(scores, path)):
            where = f"{path}[{position}]"
            span_id = check_optional_id(raw.get(SCORE_SPAN_ID), f"{where}.{SCORE_SPAN_ID}")
            rows.append(score_row(raw, where, session[SESSION_ID], span_id))
    for event_path, event, session_id in events:
        scores = event.get(EVENT_SCORES)
        if scores is None:
            continue
        path = f"{event_path}.{EVENT_SCORES}"
        span_id = event.get(EVENT_SPAN_ID)  # checked with the event
        for position, raw in enumerate(_list_of_scores(scores, path)):
            rows.append(score_row(raw, f"{path}[{position}]", session_id, span_id))
    return rows


def _list_of_scores(scores: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(scores, list):
        raise InvalidDocument(f"{path} must be a list")
    for position, raw in enumerate(scores):
        if not isinstance(raw, dict):
            raise InvalidDocument(f"{path}[{position}] must be an object")
    return scores


def new_score_row(score: NewScore, path: str, now: float) -> ScoreRow:
    """The row of a score sent to ``POST /v1/scores``, given the time ``now``.

    Raises:
        InvalidDocument: a field is wrong (the message names it).
    """
    session_id = check_id(score.session_id, f"{path}.session_id")
    span_id = check_optional_id(score.span_id, f"{path}.span_id")
    score_id = None if score.id is None else check_id(score.id, f"{path}.id")
    if score_id is not None and score_id.startswith("sha256:"):
        raise InvalidDocument(f"{path}.id must not start with 'sha256:' (the server's ids do)")
    raw = {
        SCORE_NAME: score.name,
        SCORE_VALUE: score.value,
        SCORE_COMMENT: score.comment,
        SCORE_SOURCE: score.source,
        SCORE_EVALUATOR: score.evaluator,
    }
    row = score_row(raw, path, session_id, span_id, score_id=score_id, created_at=now)
    if score_id is None:  # a new score each time: its id is random, not its content's
        row = (f"score_{secrets.token_hex(16)}", *row[1:])
    return row


def add(
    cursor: Cursor, project_id: str, rows: Sequence[ScoreRow]
) -> list[tuple[dict[str, Any], bool]]:
    """Store the scores of ``POST /v1/scores``; each stored score, and whether it is new.

    Raises:
        ScoreTargetNotFound: a session, or a span in it, is not stored in the project.
        ScoreIdReused: an id was stored before with a different score.
    """
    _require_targets(cursor, project_id, rows)
    stored: list[tuple[dict[str, Any], bool]] = []
    for row in rows:
        cursor.execute(INSERT_SCORE, (project_id, *row))
        if cursor.rowcount > 0:
            stored.append((as_score(row[:-1]), True))
            continue
        cursor.execute(
            f"SELECT {_READ_COLUMNS}, digest FROM aiobs_scores WHERE project_id = ? AND id = ?",  # noqa: S608 - constant columns
            (project_id, row[0]),
        )
        first = cursor.fetchone()
        if first is None or first[-1] != row[-1]:
            raise ScoreIdReused(row[0])
        stored.append((as_score(first[:-1]), False))
    return stored


def _require_targets(cursor: Cursor, project_id: str, rows: Sequence[ScoreRow]) -> None:
    sessions = sorted({row[1] for row in rows})
    marks = ", ".join("?" * len(sessions))
    cursor.execute(
        f"SELECT id FROM aiobs_sessions WHERE project_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders only
        (project_id, *sessions),
    )
    found = {row[0] for row in cursor.fetchall()}
    for session_id in sessions:
        if session_id not in found:
            raise ScoreTargetNotFound(f"session {session_id!r} not found")
    spans = sorted({(row[1], row[2]) for row in rows if row[2] is not None})
    for session_id, span_id in spans:
        cursor.execute(
            # an event with a span id is keyed by it: the unique index answers
            "SELECT 1 FROM aiobs_events WHERE project_id = ? AND session_id = ? AND event_key = ?"
            " AND span_id = ?",
            (project_id, session_id, span_id, span_id),
        )
        if cursor.fetchone() is None:
            raise ScoreTargetNotFound(f"span {span_id!r} not found in session {session_id!r}")


def of_sessions(
    cursor: Cursor, project_id: str, session_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The scores of these sessions (their own and their spans'), oldest first, by session."""
    if not session_ids:
        return {}
    marks = ", ".join("?" * len(session_ids))
    cursor.execute(
        f"SELECT {_READ_COLUMNS} FROM aiobs_scores"  # noqa: S608 - constant columns, placeholders
        f" WHERE project_id = ? AND session_id IN ({marks}) ORDER BY created_at, id",
        (project_id, *session_ids),
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for row in cursor.fetchall():
        found.setdefault(row[1], []).append(as_score(row))
    return found


def as_score(row: Sequence[Any]) -> dict[str, Any]:
    """A stored score as the API shows it (the document's fields, with ``id``)."""
    score_id, _session, span_id, name, kind, number, category, comment, source, evaluator, at = row
    value: float | bool | str
    if kind == "bool":
        value = bool(number)
    elif kind == "category":
        value = category
    else:
        value = float(number)
    return {
        SCORE_ID: score_id,
        SCORE_NAME: name,
        SCORE_VALUE: value,
        SCORE_COMMENT: comment,
        SCORE_SOURCE: source,
        SCORE_EVALUATOR: evaluator,
        SCORE_SPAN_ID: span_id,
        SCORE_CREATED_AT: float(at),
    }


def attach(detail: dict[str, Any], scores: Sequence[dict[str, Any]]) -> None:
    """Put a session's stored ``scores`` on its events and trace-tree nodes, the rest on it.

    The ``scores`` an event was uploaded with are replaced by the stored ones (which include
    scores added later); an event without stored scores stays as it was uploaded (every score
    uploaded is stored, so it had none).
    """
    by_span: dict[str, list[dict[str, Any]]] = {}
    for score in scores:
        if score[SCORE_SPAN_ID] is not None:
            by_span.setdefault(score[SCORE_SPAN_ID], []).append(score)
    placed: set[str] = set()
    stack: list[dict[str, Any]] = [*detail["events"], *detail["function_events"]]
    stack += detail["trace_tree"]
    while stack:
        item = stack.pop()
        span_id = item.get(EVENT_SPAN_ID)
        own = by_span.get(span_id) if isinstance(span_id, str) else None
        if own:
            item[EVENT_SCORES] = own
            placed.add(own[0][SCORE_SPAN_ID])
        stack.extend(item.get(NODE_CHILDREN) or ())
    detail["session"][SESSION_SCORES] = [
        score
        for score in scores
        if score[SCORE_SPAN_ID] is None or score[SCORE_SPAN_ID] not in placed
    ]


def summaries(scores: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per score name of a session: how many, their mean, the value of a single one.

    ``mean`` counts ``true`` as 1 and ``false`` as 0 and leaves categories out (``None`` when
    there are only categories).
    """
    by_name: dict[str, list[Any]] = {}
    for score in scores:
        by_name.setdefault(score[SCORE_NAME], []).append(score[SCORE_VALUE])
    lines = []
    for name in sorted(by_name):
        values = by_name[name]
        numbers = [float(value) for value in values if not isinstance(value, str)]
        lines.append(
            {
                "name": name,
                "count": len(values),
                "mean": sum(numbers) / len(numbers) if numbers else None,
                "value": values[0] if len(values) == 1 else None,
            }
        )
    return lines

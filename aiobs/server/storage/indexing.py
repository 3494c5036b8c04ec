"""SQLite: an upload's events entered in the search index and the sessions' look-up tables.

Schema step 4 filled the full-text index (``aiobs_event_text``) and the tables of each session's
models and providers with triggers run for every stored event; each run looked its session's
number up again and went through the trigger machinery, about a third of the writer's time per
upload. Since step 7 the writer does it once per upload, after inserting its events, with one
statement per table over the rows just inserted: rows are only ever appended, so they are those
with a rowid above the largest one before the upload (the writer holds the database's one
write lock, so no other row comes between). An upload that fails is rolled back with what these
statements wrote. PostgreSQL's index is a generated column and needs none of this.
"""

from __future__ import annotations

from .driver import Cursor

SESSION_SHIFT = 32
"""An SQLite full-text row's rowid is its session's number shifted left by this many bits, plus
the low bits of its event's rowid: the sessions a word is in are read from the index alone."""


def text_key(number: str, event_rowid: str) -> str:
    """SQL of a full-text row's rowid, from its session's number and its event's rowid."""
    return f"(({number}) << {SESSION_SHIFT}) | ({event_rowid} & {(1 << SESSION_SHIFT) - 1})"


_LAST_ROWID = "SELECT COALESCE(MAX(rowid), 0) FROM aiobs_events"

_INDEX_TEXT = (
    "INSERT INTO aiobs_event_text (rowid, search_text)"  # noqa: S608 - a constant expression
    f" SELECT {text_key('s.number', 'e.rowid')}, e.search_text"
    " FROM aiobs_events e JOIN aiobs_sessions s"
    " ON s.project_id = e.project_id AND s.id = e.session_id"
    " WHERE e.rowid > ? AND e.search_text IS NOT NULL AND e.search_text != ''"
)

_INDEX_MODELS = (
    "INSERT INTO aiobs_session_models (project_id, model, session_id)"
    " SELECT project_id, model, session_id FROM ("
    " SELECT project_id, model, session_id FROM aiobs_events"
    " WHERE rowid > ? AND +kind = 'llm' AND model IS NOT NULL"
    " UNION SELECT project_id, request_model, session_id FROM aiobs_events"
    " WHERE rowid > ? AND +kind = 'llm' AND request_model IS NOT NULL"
    ") WHERE true ON CONFLICT DO NOTHING"
)

_INDEX_PROVIDERS = (
    "INSERT INTO aiobs_session_providers (project_id, provider, session_id)"
    " SELECT DISTINCT project_id, provider, session_id FROM aiobs_events"
    " WHERE rowid > ? AND +kind = 'llm' AND provider IS NOT NULL ON CONFLICT DO NOTHING"
)


def last_event_rowid(cursor: Cursor) -> int:
    """The largest rowid of the events table (0 when it is empty): where new rows start after."""
    cursor.execute(_LAST_ROWID)
    row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def index_new_events(cursor: Cursor, after: int, *, calls: bool) -> None:
    """Index the events stored since ``after`` (a :func:`last_event_rowid`).

    Args:
        cursor: inside the transaction that inserted them.
        after: the largest event rowid before they were inserted.
        calls: whether they hold LLM calls, whose models and providers are kept per session.
    """
    cursor.execute(_INDEX_TEXT, (after,))
    if calls:
        cursor.execute(_INDEX_MODELS, (after, after))
        cursor.execute(_INDEX_PROVIDERS, (after,))

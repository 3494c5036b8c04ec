"""Full-text search: what the user typed, made a condition on the sessions query.

The words are matched whole and case-insensitively, all of them in one event (in any order and
place of its text). What is typed is never handed to a query language as it is: FTS5 gets each
piece between whitespace as a quoted string (so ``"``, ``*``, ``AND``, ``NEAR(`` or ``-`` are
words to find, or nothing), PostgreSQL gets the same pieces through ``plainto_tsquery``, which
has no operators. Text with no letter or digit finds nothing.
"""

from __future__ import annotations

from typing import Any

from .indexing import SESSION_SHIFT
from .session_sets import SessionSet

MAX_QUERY_CHARS = 1000
"""The longest search text accepted: a few words are what a search is for."""


class SearchTooLongError(ValueError):
    """The search text is longer than :data:`MAX_QUERY_CHARS`."""


def words(text: str) -> list[str]:
    """The pieces of ``text`` between whitespace that hold a letter or a digit.

    Raises:
        SearchTooLongError: ``text`` is longer than :data:`MAX_QUERY_CHARS`.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise SearchTooLongError(
            f"q is {len(text)} characters long; search for a few words"
            f" (at most {MAX_QUERY_CHARS} characters)"
        )
    return [piece for piece in text.split() if any(char.isalnum() for char in piece)]


def search_set(dialect: str, text: str) -> SessionSet | tuple[str, list[Any]]:
    """The sessions with an event holding every word of ``text``.

    On SQLite, the set of their numbers (``s.number``), read from the FTS5 index alone: its
    rowids carry the number of the event's session in their high bits (schema step 4), so a
    word found in 200,000 events costs reading 200,000 rowids, not looking each match up. The
    numbers are those of every project's sessions; the sessions query keeps its own project's
    (``s.project_id = ?``), and a number belongs to one session of one project, so another
    tenant's text never matches. On PostgreSQL, a condition on ``aiobs_sessions s`` looking only
    at the session's own events.
    """
    found = words(text)
    if not found:
        return "1 = 0", []
    if dialect == "postgresql":
        return (
            "EXISTS (SELECT 1 FROM aiobs_events e WHERE e.project_id = s.project_id"
            " AND e.session_id = s.id AND e.search_vector @@ plainto_tsquery('simple', ?))",
            [" ".join(found)],
        )
    return SessionSet(
        "s.number",
        f"f.rowid >> {SESSION_SHIFT}",
        "aiobs_event_text f WHERE aiobs_event_text MATCH ?",
        (fts5_query(found),),
    )


def fts5_query(found: list[str]) -> str:
    """An FTS5 query finding all of ``found``, each a quoted string (a phrase of its tokens)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in found)

"""Full-text search: what the user typed, made a condition on the sessions query.

The words are matched whole and case-insensitively, all of them in one event (in any order and
place of its text). What is typed is never handed to a query language as it is: FTS5 gets each
piece between whitespace as a quoted string (so ``"``, ``*``, ``AND``, ``NEAR(`` or ``-`` are
words to find, or nothing), PostgreSQL gets the same pieces through ``plainto_tsquery``, which
has no operators. Text with no letter or digit finds nothing.
"""

from __future__ import annotations

from typing import Any

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


def session_condition(dialect: str, project_id: str, text: str) -> tuple[str, list[Any]]:
    """A condition on ``aiobs_sessions s``: one of its events has every word of ``text``.

    Only events of ``project_id`` (the sessions' own project) are looked at, so another
    tenant's never match. On SQLite the condition does not refer to ``s``: the index is
    searched once for the whole query, not once per session.
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
    return (
        "s.id IN (SELECT f.session_id FROM aiobs_event_text f"
        " WHERE aiobs_event_text MATCH ? AND f.project_id = ?)",
        [fts5_query(found), project_id],
    )


def fts5_query(found: list[str]) -> str:
    """An FTS5 query finding all of ``found``, each a quoted string (a phrase of its tokens)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in found)

"""Filters naming a set of sessions, and which of them the sessions query starts from.

A label, model, provider, errors or search filter is a set of the project's sessions that an
index gives directly. The page is the newest sessions in all of the sets, and there are two ways
to find them: walk the project's sessions newest first (``aiobs_sessions_newest``) testing each
against every set, which stops after one page but visits every session when few match; or start
from the sessions of one set and sort them, which costs one look-up per member. On SQLite each
set is counted first, up to :data:`SMALL_SET`: the smallest set under that size is the start,
otherwise the walk (SQLite has no statistics to choose by itself). PostgreSQL's planner has
them, and gets the conditions as they are.

Unary ``+`` on a column keeps SQLite from using an index for that condition: it is how the
query says which of the two ways to take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .driver import Cursor

SMALL_SET = 5_000
"""Members of a set (index entries: events for a search) below which the page starts from it.

Starting from a set costs about as much as walking as many sessions; a set this large holds one
session in twenty of a 100,000-session project, so a walk finds a page of them quickly."""


@dataclass(frozen=True)
class SessionSet:
    """Sessions of the project picked by one filter.

    ``members`` selects values of ``column`` (``s.id``, or ``s.number`` for a search); ``test``
    is the condition for a walk, when it is cheaper per session than a list of the members (a
    look-up in the filter's own index), or empty to test against the members' list.
    """

    column: str
    members: str
    params: Sequence[Any]
    test: str = ""
    test_params: Sequence[Any] = field(default_factory=tuple)

    def size(self, cursor: Cursor, at_most: int) -> int:
        """How many members the set has, counting no further than ``at_most``."""
        cursor.execute(
            f"SELECT COUNT(*) FROM ({self.members} LIMIT ?) m",  # noqa: S608 - fixed fragments
            (*self.params, at_most),
        )
        row = cursor.fetchone()
        return int(row[0]) if row is not None else 0


def conditions(
    cursor: Cursor, dialect: str, project_id: str, sets: list[SessionSet]
) -> tuple[list[str], list[Any]]:
    """The project's condition and the sets' conditions, with their parameters, for ``dialect``.

    Starting from a set, the project's condition is written ``+s.project_id = ?`` so that SQLite
    does not walk ``aiobs_sessions_newest``, and the set's sessions are found by rowid (through
    the primary key, for a set of ids; ``aiobs_sessions_number`` for numbers). Walking, the other
    sets are tested for each session, by their ``test`` or as a list (``+`` keeps SQLite from
    starting from that list).
    """
    if dialect == "postgresql" or not sets:
        return (
            ["s.project_id = ?", *(f"{each.column} IN ({each.members})" for each in sets)],
            [project_id, *(value for each in sets for value in each.params)],
        )
    sizes = [each.size(cursor, SMALL_SET) for each in sets]
    start = min(range(len(sets)), key=sizes.__getitem__)
    if sizes[start] >= SMALL_SET:
        start = -1
    found = ["+s.project_id = ?" if start >= 0 else "s.project_id = ?"]
    params: list[Any] = [project_id]
    for number, each in enumerate(sets):
        if number == start and each.column == "s.id":
            found.append(
                "s.rowid IN (SELECT x.rowid FROM aiobs_sessions x"  # noqa: S608 - fixed fragments
                f" WHERE x.project_id = ? AND x.id IN ({each.members}))"
            )
            params += [project_id, *each.params]
        elif number == start:
            found.append(f"{each.column} IN ({each.members})")
            params += each.params
        elif each.test:
            found.append(each.test)
            params += each.test_params
        else:
            found.append(f"+{each.column} IN ({each.members})")
            params += each.params
    return found, params

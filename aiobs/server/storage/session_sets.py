"""Filters naming a set of sessions, and which of them the sessions query starts from.

A label, model, provider, errors, search or score filter is a set of the project's sessions that
an index gives directly. The page is the newest sessions in all of the sets, and there are two
ways to find them: walk the project's sessions newest first (``aiobs_sessions_newest``) testing
each against every set, which stops after one page but visits every session when few match; or
start from the sessions of one set and sort them, which costs one look-up per member. On SQLite
each set is counted first, up to :data:`SMALL_SET`: the smallest set under that size is the
start. When every set is larger, the walk is tried on the :data:`WALK_WINDOW` newest sessions
first: if they hold a page of matches the page walks, otherwise (large sets with almost nothing
in common) it starts from the smallest set, counted up to :data:`LARGE_SET`, and tests the other
sets on its members (SQLite has no statistics to choose by itself). PostgreSQL's planner has
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

    Its members are ``SELECT {selected} FROM {rows}``: values of ``column`` (``s.id``, or
    ``s.number`` for a search). ``test`` is the condition for a walk, when it is cheaper per
    session than a list of the members (a look-up in the filter's own index), or empty to test
    against the members' list. ``probe`` is the same look-up for a session id ``{id}`` (a member
    of another set of ids, named ``session_id`` in its ``selected``), or empty.
    """

    column: str
    selected: str
    rows: str
    params: Sequence[Any]
    test: str = ""
    test_params: Sequence[Any] = field(default_factory=tuple)
    probe: str = ""
    probe_params: Sequence[Any] = field(default_factory=tuple)

    @property
    def members(self) -> str:
        """The query of the members' values."""
        return f"SELECT {self.selected} FROM {self.rows}"  # noqa: S608 - fixed fragments

    def size(self, cursor: Cursor, at_most: int) -> int:
        """How many rows hold members, counting no further than ``at_most``.

        Counted without reading the members' values (``SELECT 1`` over the same rows), so that
        a set read from an index that does not hold them (``aiobs_labels_match``: a label's
        session is in the table's row) is counted from the index alone. A row is a member's
        entry in the filter's index: a session once for a label, model, provider; a failed
        event, a matching event of a search, or a score, for the others.
        """
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {self.rows} LIMIT ?) m",  # noqa: S608 - fixed fragments
            (*self.params, at_most),
        )
        row = cursor.fetchone()
        return int(row[0]) if row is not None else 0


def conditions(
    cursor: Cursor,
    dialect: str,
    project_id: str,
    sets: list[SessionSet],
    page: PageShape | None = None,
) -> tuple[list[str], list[Any]]:
    """The project's condition and the sets' conditions, with their parameters, for ``dialect``.

    Starting from a set, the project's condition is written ``+s.project_id = ?`` so that SQLite
    does not walk ``aiobs_sessions_newest``, and the set's sessions are found by rowid (through
    the primary key, for a set of ids; ``aiobs_sessions_number`` for numbers); the other sets
    with a ``probe`` are tested on the set's members before their sessions are looked up.
    Walking, the other sets are tested for each session, by their ``test`` or as a list (``+``
    keeps SQLite from starting from that list).

    ``page`` (a newest-first page) lets SQLite look before walking when every set is large:
    if the :data:`WALK_WINDOW` sessions the walk would visit first hold less than a page of
    matches, the page starts from the smallest set instead (see :func:`_walk_finds_a_page`).
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
    if start < 0 and page is not None and not _walk_finds_a_page(cursor, project_id, sets, page):
        sizes = [each.size(cursor, LARGE_SET) for each in sets]
        start = min(range(len(sets)), key=sizes.__getitem__)
    return _written(project_id, sets, start)


@dataclass(frozen=True)
class PageShape:
    """What a newest-first page asks besides its sets.

    The other conditions on ``s`` (with their parameters), those of them that say where the
    page starts (after a cursor), and how many rows it reads (its limit and one more).
    """

    conditions: Sequence[str]
    params: Sequence[Any]
    after: Sequence[str]
    after_params: Sequence[Any]
    rows: int


WALK_WINDOW = 5_000
"""Newest sessions a walk is tried on before it is chosen, when every set is large.

Sets that each hold half of the sessions may have almost none in common, and a walk then visits
every session of the project (868 ms p95 over 100,000 sessions for two such filters); these
many are tested in about 15 ms, and a page found among them is found by the walk as fast."""

_OTHER_COLUMNS = ("s.number", "s.name_lower", "s.ended_at")
"""Columns of a session a condition may test besides its project, id and start."""

LARGE_SET = 1_000_000
"""Members counted, at most, to choose the set a page starts from when none is small."""


def _walk_finds_a_page(
    cursor: Cursor, project_id: str, sets: list[SessionSet], page: PageShape
) -> bool:
    """Whether walking finds a page among the :data:`WALK_WINDOW` newest sessions.

    Those after the page's cursor; true also when the walk visits no more than those anyway, or
    when fewer than two sets have a ``test``. Only the sets with a ``test`` are tried: a set
    tested as a list (a search) would build that list twice, 20-40 ms for a common word, so a
    search and another large set with almost nothing in common still walk every session.
    """
    tested = [each for each in sets if each.test]
    if len(tested) < 2:
        return True
    after = "".join(f" AND {condition}" for condition in page.after)
    newest = f"FROM aiobs_sessions s WHERE s.project_id = ?{after} ORDER BY s.started_at DESC, s.id"
    window_params = [project_id, *page.after_params, WALK_WINDOW]
    cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 {newest} LIMIT ?) w", window_params)  # noqa: S608 - fixed fragments
    row = cursor.fetchone()
    if row is None or int(row[0]) < WALK_WINDOW:
        return True
    tests = ["s.project_id = ?", *(each.test for each in tested), *page.conditions]
    tests_params = [project_id, *(value for each in tested for value in each.test_params)]
    # the columns the tests read: those in aiobs_sessions_newest, and others only when needed
    columns = ["s.project_id", "s.id", "s.started_at"]
    columns += [name for name in _OTHER_COLUMNS if any(name in test for test in tests)]
    window = f"SELECT {', '.join(columns)} {newest} LIMIT ?"
    cursor.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM ({window}) s"  # noqa: S608 - fixed fragments
        f" WHERE {' AND '.join(tests)} LIMIT ?) m",
        (*window_params, *tests_params, *page.params, page.rows),
    )
    row = cursor.fetchone()
    return row is not None and int(row[0]) >= page.rows


def _written(project_id: str, sets: list[SessionSet], start: int) -> tuple[list[str], list[Any]]:
    """The conditions starting from ``sets[start]``, or walking when ``start`` is -1."""
    found = ["+s.project_id = ?" if start >= 0 else "s.project_id = ?"]
    params: list[Any] = [project_id]
    probed = (
        [number for number, each in enumerate(sets) if number != start and each.probe]
        if start >= 0 and sets[start].column == "s.id"
        else []
    )
    for number, each in enumerate(sets):
        if number == start and each.column == "s.id":
            members, members_params = each.members, list(each.params)
            if probed:
                probes = " AND ".join(
                    sets[other].probe.format(id="m.session_id") for other in probed
                )
                members = f"SELECT m.session_id FROM ({members}) m WHERE {probes}"  # noqa: S608 - fixed fragments
                members_params += [value for other in probed for value in sets[other].probe_params]
            found.append(
                "s.rowid IN (SELECT x.rowid FROM aiobs_sessions x"  # noqa: S608 - fixed fragments
                f" WHERE x.project_id = ? AND x.id IN ({members}))"
            )
            params += [project_id, *members_params]
        elif number == start:
            found.append(f"{each.column} IN ({each.members})")
            params += each.params
        elif number in probed:
            continue
        elif each.test:
            found.append(each.test)
            params += each.test_params
        else:
            found.append(f"+{each.column} IN ({each.members})")
            params += each.params
    return found, params

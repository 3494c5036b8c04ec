"""A set of sessions is counted over its own rows, whatever its members' expression holds."""

from __future__ import annotations

import sqlite3

from aiobs.server.storage.session_sets import SessionSet


def _cursor() -> sqlite3.Cursor:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE marks (project_id TEXT, session_id TEXT, kind TEXT)")
    connection.execute("CREATE TABLE names (session_id TEXT, name TEXT)")
    connection.executemany(
        "INSERT INTO marks VALUES (?, ?, ?)",
        [("p", f"s{index}", "x" if index % 2 else "y") for index in range(10)],
    )
    connection.executemany("INSERT INTO names VALUES (?, ?)", [("s1", "one"), ("s3", "three")])
    return connection.cursor()


def test_a_members_expression_with_its_own_from_is_counted_over_the_set_rows() -> None:
    cursor = _cursor()
    named = SessionSet(
        "s.id",
        # a scalar subquery in the selected expression: its FROM is not the set's
        "(SELECT n.name FROM names n WHERE n.session_id = m.session_id)",
        "marks m WHERE m.project_id = ? AND m.kind = ?",
        ("p", "x"),
    )
    assert named.size(cursor, 100) == 5
    assert named.size(cursor, 3) == 3  # counted no further than asked
    cursor.execute(named.members, tuple(named.params))
    assert sorted(row[0] or "" for row in cursor.fetchall()) == ["", "", "", "one", "three"]


def test_the_members_query_is_its_selected_values_over_its_rows() -> None:
    plain = SessionSet("s.id", "m.session_id", "marks m WHERE m.kind = ?", ("y",))
    assert plain.members == "SELECT m.session_id FROM marks m WHERE m.kind = ?"
    cursor = _cursor()
    cursor.execute(plain.members, tuple(plain.params))
    assert sorted(row[0] for row in cursor.fetchall()) == ["s0", "s2", "s4", "s6", "s8"]
    assert plain.size(cursor, 100) == 5

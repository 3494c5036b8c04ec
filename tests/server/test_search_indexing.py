"""SQLite: each upload's events enter the search index and the model and provider tables.

The writer indexes the rows an upload inserted (schema step 7; before it, row triggers did):
these tests hold the writer so that several uploads go in one transaction, refuse one of them
after it was indexed, and migrate a database written by step 6's triggers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from aiobs.server.storage import SQLStorage, indexing, migrations, open_storage
from aiobs.server.storage.base import SessionQuery
from aiobs.server.storage.driver import Cursor
from tests.server.app_fixtures import document, function_event, said, session


def _names(store: SQLStorage, project: str, **query: Any) -> list[str]:
    page = store.sessions(project, SessionQuery(**query))
    return sorted(item["name"] for item in page.sessions)


def _count(store: SQLStorage, sql: str) -> int:
    with store.driver.reading() as cursor:
        cursor.execute(sql)
        return int(cursor.fetchone()[0])


@pytest.fixture
def store(tmp_path: Path) -> SQLStorage:
    opened = open_storage(f"sqlite:///{tmp_path}/index.db")
    assert isinstance(opened, SQLStorage)
    return opened


def test_uploads_written_together_are_each_indexed_and_a_refused_one_not(
    store: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = store.create_key("enterprise").record
    real_index = indexing.index_new_events

    def index_then_refuse(cursor: Cursor, after: int, *, calls: bool) -> None:
        real_index(cursor, after, calls=calls)
        cursor.execute("SELECT COUNT(*) FROM aiobs_sessions WHERE name = 'refused'")
        if cursor.fetchone()[0]:
            raise ValueError("refused after its events were indexed")

    monkeypatch.setattr(indexing, "index_new_events", index_then_refuse)
    # a slow write holds the writer, so that the uploads below queue and go in one transaction
    gate, holding_writer = threading.Event(), threading.Event()

    def hold(_cursor: Cursor) -> None:
        holding_writer.set()
        gate.wait(10)

    holding = threading.Thread(target=store._writer.write, args=(hold,))
    holding.start()
    assert holding_writer.wait(10)
    uploads = {
        "alpha": ("apple banana", {"model": "m-alpha", "provider": "openai"}),
        "refused": ("apple cherry", {"model": "m-refused", "provider": "gemini"}),
        "beta": ("banana", {"model": "m-beta", "provider": "anthropic"}),
        "gamma": ("cherry", {"model": "m-alpha", "provider": "openai"}),
    }
    errors: dict[str, Exception] = {}

    def upload(name: str) -> None:
        run = session(name)
        words, extra = uploads[name]
        calls = [said(run["id"], words, **extra)]
        function = function_event(run["id"])
        function["args"] = [f"argument of {name}"]
        try:
            store.ingest(key, document([run], calls, [function]), None)
        except ValueError as exc:
            errors[name] = exc

    threads = [threading.Thread(target=upload, args=(name,)) for name in uploads]
    for thread in threads:
        thread.start()
    while store._writer._waiting.qsize() < len(threads):
        threading.Event().wait(0.01)
    gate.set()
    for thread in [holding, *threads]:
        thread.join(10)
    assert list(errors) == ["refused"]
    project = key.project_id
    assert _names(store, project, search="apple") == ["alpha"]
    assert _names(store, project, search="banana") == ["alpha", "beta"]
    assert _names(store, project, search="cherry") == ["gamma"]
    assert _names(store, project, search="argument") == ["alpha", "beta", "gamma"]
    assert _names(store, project, model="m-alpha") == ["alpha", "gamma"]
    assert _names(store, project, model="m-refused") == []
    assert _names(store, project, model="gpt-4o-mini") == []
    assert _names(store, project, provider="gemini") == []
    assert _names(store, project, provider="anthropic") == ["beta"]
    # one index row per stored event with text, none left of the refused upload
    assert _count(store, "SELECT COUNT(*) FROM aiobs_event_text") == 6
    assert _count(store, "SELECT COUNT(*) FROM aiobs_events") == 6
    store.close()


def test_a_repeated_upload_adds_no_rows_and_a_split_one_adds_its_own(store: SQLStorage) -> None:
    key = store.create_key("enterprise").record
    run = session("split")
    first = document([run], [said(run["id"], "first part", model="m1")])
    store.ingest(key, first, None)
    store.ingest(key, first, None)
    later = said(run["id"], "second part", model="m2", provider="anthropic")
    store.ingest(key, document([run], [later]), None)
    project = key.project_id
    assert _names(store, project, search="first") == ["split"]
    assert _names(store, project, search="second") == ["split"]
    assert _names(store, project, model="m2") == ["split"]
    assert _names(store, project, provider="anthropic") == ["split"]
    assert _count(store, "SELECT COUNT(*) FROM aiobs_event_text") == 2
    assert _count(store, "SELECT COUNT(*) FROM aiobs_session_models") == 2  # m1, m2
    store.close()


def test_a_database_indexed_by_step_6_triggers_migrates(tmp_path: Path) -> None:
    path = tmp_path / "step6.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE aiobs_schema_version (version INTEGER NOT NULL)")
    cursor = connection.cursor()
    for version, step in enumerate(migrations.STEPS[:6], start=1):
        for statement in step:
            if isinstance(statement, str):
                cursor.execute(statement)
            else:
                statement(cursor, "sqlite")
        cursor.execute("INSERT INTO aiobs_schema_version VALUES (?)", (version,))
    cursor.execute("INSERT INTO aiobs_projects VALUES ('p1', 0)")
    cursor.execute(
        "INSERT INTO aiobs_sessions (project_id, id, name, name_lower, started_at, ended_at,"
        " labels, meta) VALUES ('p1', 's1', 'old', 'old', 1, 2, '{}', '{}')"
    )
    cursor.execute(
        "INSERT INTO aiobs_events (project_id, session_id, kind, event_key, provider, model,"
        " error, body, search_text)"
        " VALUES ('p1', 's1', 'llm', 'k1', 'openai', 'm-old', 0, ?, 'archived words')",
        (json.dumps(said("s1", "archived words")),),
    )
    connection.commit()
    connection.close()
    store = open_storage(f"sqlite:///{path}")
    assert isinstance(store, SQLStorage)
    try:
        with store.driver.reading() as reading:
            reading.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            triggers = {row[0] for row in reading.fetchall()}
        assert "aiobs_event_text_insert" not in triggers
        assert "aiobs_session_calls" not in triggers
        assert _names(store, "p1", search="archived") == ["old"]
        assert _names(store, "p1", model="m-old") == ["old"]
        key = store.create_key("enterprise", project_id="p1").record
        run = session("new")
        store.ingest(key, document([run], [said(run["id"], "fresh words", model="m-new")]), None)
        assert _names(store, "p1", search="words") == ["new", "old"]
        assert _names(store, "p1", search="fresh") == ["new"]
        assert _names(store, "p1", model="m-new") == ["new"]
    finally:
        store.close()


_EVENTS_STEP = re.compile(r"(SCAN|SEARCH) (aiobs_events|e)\b")
"""A step of a query plan reading the events table (``e`` where it is so aliased)."""


def test_each_index_statement_reads_only_the_new_rows(store: SQLStorage) -> None:
    """The statements find the upload's rows by rowid range, never by scanning the events."""
    statements = (indexing._INDEX_TEXT, indexing._INDEX_MODELS, indexing._INDEX_PROVIDERS)
    with store.driver.reading() as cursor:
        for statement in statements:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, (0,) * statement.count("?"))
            steps = [row[3] for row in cursor.fetchall() if _EVENTS_STEP.match(row[3])]
            assert steps, statement
            assert all("INTEGER PRIMARY KEY (rowid>?)" in step for step in steps), steps
    store.close()

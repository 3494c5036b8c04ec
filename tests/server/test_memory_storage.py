"""The in-memory storage of the app's unit tests answers session queries as SQLite does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiobs.server.storage import SessionQuery, Storage
from tests.server.app_fixtures import sqlite_storage
from tests.server.memory_storage import MemoryStorage
from tests.ui.data import START, agent_document, failing_document, hostile_document, marked_document

QUERIES = {
    "newest": SessionQuery(),
    "costliest": SessionQuery(order="costliest"),
    "slowest": SessionQuery(order="slowest"),
    "search a word": SessionQuery(search="capital"),
    "search two words": SessionQuery(search="Capital FRANCE"),
    "search a word said nowhere": SessionQuery(search="zanzibar"),
    "search a function's argument": SessionQuery(search="lorem"),
    "model": SessionQuery(model="claude-haiku"),
    "provider": SessionQuery(provider="gemini"),
    "with errors": SessionQuery(has_errors=True),
    "without errors": SessionQuery(has_errors=False),
    "time range": SessionQuery(since=START + 1800, until=START + 9000),
    "label": SessionQuery(labels={"env": "prod"}),
    "first page of two": SessionQuery(limit=2),
}


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[Storage, Storage]]:
    sql = sqlite_storage(tmp_path)
    memory = MemoryStorage()
    for storage in (sql, memory):
        key = storage.create_key("free")
        for document in (
            agent_document(),
            failing_document(),
            hostile_document(),
            marked_document(),
        ):
            storage.ingest(key.record, document, None)
    yield sql, memory
    sql.close()


def ids(storage: Storage, query: SessionQuery) -> list[str]:
    project = storage.list_keys()[0].project_id
    return [summary["id"] for summary in storage.sessions(project, query).sessions]


@pytest.mark.parametrize("name", list(QUERIES))
def test_the_same_sessions_in_the_same_order(both: tuple[Storage, Storage], name: str) -> None:
    sql, memory = both
    assert ids(memory, QUERIES[name]) == ids(sql, QUERIES[name])


def test_the_orders_differ_so_the_comparison_means_something(
    both: tuple[Storage, Storage],
) -> None:
    sql, _ = both
    newest = ids(sql, QUERIES["newest"])
    assert newest == ["marked-run-1", "hostile-run-1", "failing-run-1", "agent-run-1"]
    assert ids(sql, QUERIES["costliest"])[0] == "agent-run-1"
    assert ids(sql, QUERIES["search a word"]) == ["marked-run-1", "agent-run-1"]


def test_an_unknown_order_and_a_cursor_with_another_order_are_refused() -> None:
    memory = MemoryStorage()
    with pytest.raises(ValueError, match="order must be one of"):
        memory.sessions("p", SessionQuery(order="cheapest"))
    with pytest.raises(ValueError, match="only the newest-first order"):
        memory.sessions("p", SessionQuery(order="slowest", cursor="2"))

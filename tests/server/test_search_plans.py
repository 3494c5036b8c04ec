"""The sessions query's filters on events look only at the session's own events (SQLite plans).

A filter on the events of a session (model, provider, errors, words) must be answered from the
events of that session, found by ``(project_id, session_id)``; a plan that reads every LLM call
of the project for each session listed makes a filtered page of a large project take seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiobs.server.storage import SQLStorage, open_storage, session_sets
from aiobs.server.storage.base import NewScore, ScoreFilter, SessionQuery
from aiobs.server.storage.driver import Cursor
from aiobs.server.storage.sessions import page, summarize
from tests.server.app_fixtures import document, llm_event, session


class _Explaining:
    """A cursor that records the plan of the sessions query instead of running it."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self.plans: list[str] = []

    @property
    def rowcount(self) -> int:
        return self.cursor.rowcount

    def execute(self, sql: str, params: object = (), /) -> object:
        if sql.startswith("SELECT s.id"):
            self.cursor.execute("EXPLAIN QUERY PLAN " + sql, params)  # type: ignore[arg-type]
            self.plans.append("\n".join(str(row[-1]) for row in self.cursor.fetchall()))
        return self.cursor.execute(sql, params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: object, /) -> object:
        raise AssertionError("not used")

    def fetchone(self) -> object:
        return self.cursor.fetchone()

    def fetchall(self) -> list[object]:
        return self.cursor.fetchall()


@pytest.fixture
def store(tmp_path: Path) -> SQLStorage:
    opened = open_storage(f"sqlite:///{tmp_path / 'plans.db'}")
    assert isinstance(opened, SQLStorage)
    return opened


@pytest.mark.parametrize("small_set", [0, 10**9], ids=["walking", "starting from a set"])
@pytest.mark.parametrize(
    "query",
    [
        SessionQuery(model="gpt-4o"),
        SessionQuery(provider="openai"),
        SessionQuery(model="gpt-4o", has_errors=True),
    ],
    ids=["model", "provider", "model and errors"],
)
def test_event_filters_search_the_sessions_events(
    store: SQLStorage, query: SessionQuery, small_set: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Model and provider come from the sessions' own rows in their look-up tables (step 4),
    never from the events: no plan reads every LLM call of the project for each session."""
    monkeypatch.setattr(session_sets, "SMALL_SET", small_set)
    try:
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            page(explaining, "p1", query, "sqlite")
        (plan,) = explaining.plans
        assert "aiobs_events_time" not in plan, plan
        column = "model" if query.model else "provider"
        if small_set:
            assert f"(project_id=? AND {column}=?)" in plan, plan
        else:
            assert f"(project_id=? AND {column}=? AND session_id=?)" in plan, plan
        assert "SCAN e" not in plan, plan
        assert "SCAN c" not in plan, plan
    finally:
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        SessionQuery(model="no-such-model"),
        SessionQuery(provider="no-such-provider"),
        SessionQuery(labels={"env": "nowhere"}),
        SessionQuery(has_errors=True),
        SessionQuery(model="gpt-4o", has_errors=True),
        SessionQuery(search="zanzibar"),
    ],
    ids=["model", "provider", "label", "errors", "model and errors", "search"],
)
def test_a_filter_naming_few_sessions_starts_from_them(
    store: SQLStorage, query: SessionQuery
) -> None:
    """A page matching few sessions or none reads those, not every session of the project."""
    try:
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            page(explaining, "p1", query, "sqlite")
        (plan,) = explaining.plans
        assert "aiobs_sessions_newest" not in plan, plan
        assert plan.startswith(
            ("SEARCH s USING INTEGER PRIMARY KEY", "SEARCH s USING INDEX aiobs_sessions_number")
        ), plan
    finally:
        store.close()


@pytest.mark.parametrize(
    "query",
    [
        SessionQuery(model="gpt-4o"),
        SessionQuery(labels={"env": "prod"}, has_errors=True),
        SessionQuery(search="invoice"),
        SessionQuery(search="invoice", provider="openai", has_errors=False),
    ],
    ids=["model", "label and errors", "search", "search, provider and no errors"],
)
def test_filters_naming_many_sessions_walk_the_newest_first(
    store: SQLStorage, query: SessionQuery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every set is large the page walks ``aiobs_sessions_newest`` and stops after a
    page: no sort of every match (a common word's 200,000 matches are not read back)."""
    monkeypatch.setattr(session_sets, "SMALL_SET", 0)
    try:
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            page(explaining, "p1", query, "sqlite")
        (plan,) = explaining.plans
        assert plan.startswith("SEARCH s USING INDEX aiobs_sessions_newest (project_id=?)"), plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


def test_a_search_reads_the_index_once_not_once_per_session(store: SQLStorage) -> None:
    try:
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            page(explaining, "p1", SessionQuery(search="refund"), "sqlite")
        (plan,) = explaining.plans
        assert "LIST SUBQUERY" in plan, plan
        assert "VIRTUAL TABLE INDEX 0:M" in plan, plan  # the full-text MATCH
        assert "CORRELATED" not in plan, plan
    finally:
        store.close()


class _Recording(_Explaining):
    """A cursor that records the plan of every query it runs."""

    def execute(self, sql: str, params: object = (), /) -> object:
        self.cursor.execute("EXPLAIN QUERY PLAN " + sql, params)  # type: ignore[arg-type]
        self.plans.append(sql + "\n" + "\n".join(str(row[-1]) for row in self.cursor.fetchall()))
        return self.cursor.execute(sql, params)  # type: ignore[arg-type]


@pytest.mark.parametrize("sessions", [1, 3], ids=["one session", "three sessions"])
def test_summaries_read_only_the_listed_sessions_events(store: SQLStorage, sessions: int) -> None:
    """A page or a session's header of one session read every LLM call of the project
    (``aiobs_events_time``) for its models: 1.1 s in a project of 700,000 calls."""
    try:
        with store.driver.reading() as cursor:
            recording = _Recording(cursor)
            rows = [(f"s{n}", None, 1.0, 2.0, "{}", "{}") for n in range(sessions)]
            summarize(recording, "p1", rows)
        assert len(recording.plans) == 2, recording.plans
        for plan in recording.plans:
            assert "aiobs_events_time" not in plan, plan
            assert "(project_id=? AND session_id=?)" in plan, plan
    finally:
        store.close()


def _half_and_half(store: SQLStorage, sessions: int, overlap: bool) -> str:
    """A project where ``env: prod`` and provider ``openai`` each name half the sessions, and
    together every other one of those (``overlap``) or only the first; return its id."""
    key = store.create_key("enterprise")
    runs, calls = [], []
    for number in range(sessions):
        prod = number % 2 == 1 or number == 0
        openai = number % 2 == 0 if not overlap else number % 4 in (0, 1)
        run = session(
            f"run{number}",
            session_id=f"run{number}",
            started_at=1_767_225_600.0 + number,
            labels={"env": "prod" if prod else "dev"},
        )
        runs.append(run)
        model = "gpt-4o" if openai else "claude-3-5-haiku"
        calls.append(
            llm_event(run["id"], model=model, provider="openai" if openai else "anthropic")
        )
    store.ingest(key.record, document(runs, calls), None)
    return key.record.project_id


def test_two_large_filters_with_almost_nothing_in_common_start_from_a_set(
    store: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two filters that each name half the sessions but one together walked every session of
    the project (868 ms p95 over 100,000 sessions): when the newest sessions hold less than a
    page of matches, the page starts from a set instead, testing the other on its members."""
    monkeypatch.setattr(session_sets, "SMALL_SET", 0)
    monkeypatch.setattr(session_sets, "WALK_WINDOW", 10)
    try:
        project = _half_and_half(store, 60, overlap=False)
        query = SessionQuery(provider="openai", labels={"env": "prod"}, limit=5)
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            found = page(explaining, project, query, "sqlite")
        assert [summary["name"] for summary in found.sessions] == ["run0"]
        (plan,) = explaining.plans
        assert "aiobs_sessions_newest" not in plan, plan
        assert plan.startswith("SEARCH s USING INTEGER PRIMARY KEY"), plan
    finally:
        store.close()


def test_two_large_filters_with_much_in_common_still_walk(
    store: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest sessions hold a page of matches: the walk stops after that page."""
    monkeypatch.setattr(session_sets, "SMALL_SET", 0)
    monkeypatch.setattr(session_sets, "WALK_WINDOW", 20)
    try:
        project = _half_and_half(store, 60, overlap=True)
        query = SessionQuery(provider="openai", labels={"env": "prod"}, limit=2)
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            found = page(explaining, project, query, "sqlite")
        assert [summary["name"] for summary in found.sessions] == ["run57", "run53"]
        (plan,) = explaining.plans
        assert plan.startswith("SEARCH s USING INDEX aiobs_sessions_newest (project_id=?)"), plan
        assert "TEMP B-TREE" not in plan, plan
    finally:
        store.close()


def test_a_score_filter_naming_few_sessions_starts_from_the_scores(store: SQLStorage) -> None:
    """A score given to few sessions was a condition tested on every session, newest first."""
    try:
        project = _half_and_half(store, 60, overlap=True)
        store.add_scores(
            project,
            [
                NewScore(session_id, "reviewed", value)
                for session_id, value in (("run3", 0.2), ("run8", 0.9), ("run9", 0.1))
            ],
        )
        query = SessionQuery(scores=(ScoreFilter("reviewed", "<", 0.5),))
        with store.driver.reading() as cursor:
            explaining = _Explaining(cursor)
            found = page(explaining, project, query, "sqlite")
        assert [summary["name"] for summary in found.sessions] == ["run9", "run3"]
        (plan,) = explaining.plans
        assert "aiobs_sessions_newest" not in plan, plan
        assert plan.startswith("SEARCH s USING INTEGER PRIMARY KEY"), plan
        assert "aiobs_scores_name" in plan, plan
    finally:
        store.close()

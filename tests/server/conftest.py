"""Storage fixtures: a real PostgreSQL 15 for the session, a fresh database per test, documents.

PostgreSQL comes from Debian's binaries (``make postgres`` installs them): a cluster is created in
a temporary directory, started on a free loopback port with ``fsync=off`` and stopped at the end.
Where they are missing, the PostgreSQL tests are skipped with one line that says how to install
them, unless ``AIOBS_REQUIRE_POSTGRES=1`` (set by CI), which makes that an error.
Documents are recorded with the real SDK (:func:`record_document`), so that the server is tested
against what clients really send.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiobs import _ids, observe, observer
from aiobs.exporters import InMemoryExporter
from aiobs.server.storage import SQLStorage, open_storage
from aiobs.server.storage.base import Quotas
from tests import postgres

BACKENDS = ("sqlite", "postgresql")


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster that hands out fresh databases."""

    base_url: str
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` on this server."""
        return self.base_url.rsplit("/", 1)[0] + "/" + database

    def fresh_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"aiobs_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free loopback port, for the whole test session."""
    reason = postgres.missing()
    if reason is not None:
        pytest.skip(reason)
    with postgres.temporary_postgres() as url:
        yield PostgresServer(url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """One summary line for the tests skipped for want of PostgreSQL, instead of one per test.

    pytest reports a skip raised by a fixture at each test's own location, so identical reasons
    would still be listed file by file and line by line; one location folds them together.
    """
    report: pytest.TestReport = yield
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    if "PostgreSQL tests skipped" in reason:
        report.longrepr = (postgres.__file__, None, reason)
    return report


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aiobs.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.fresh_database()


@pytest.fixture
def storage(storage_url: str) -> Iterator[SQLStorage]:
    """A migrated storage on an empty database, closed after the test."""
    opened = open_storage(storage_url, Quotas())
    assert isinstance(opened, SQLStorage)
    yield opened
    opened.close()


# -- documents ------------------------------------------------------------------------------------


@dataclass
class Call:
    """An LLM call to record."""

    model: str = "gpt-4o-mini"
    provider: str = "openai"
    started_at: float = 1_000.0
    duration_ms: float = 100.0
    input_tokens: int | None = 10
    output_tokens: int | None = 5
    cost: float | None = 0.001
    error: str | None = None


@dataclass
class SessionPlan:
    """A session to record: its calls run inside one ``@observe``d function."""

    name: str = "session"
    started_at: float = 1_000.0
    labels: dict[str, str] = field(default_factory=dict)
    calls: Sequence[Call] = ()
    function_error: bool = False


_span_ids = itertools.count(1)


def _record_call(call: Call) -> None:
    usage = None
    if call.input_tokens is not None and call.output_tokens is not None:
        usage = {
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "total_tokens": call.input_tokens + call.output_tokens,
        }
    cost = None if call.cost is None else {"input": 0.0, "output": call.cost, "total": call.cost}
    observer._record_event(
        {
            "provider": call.provider,
            "api": "chat.completions.create",
            "request": {"model": call.model, "messages": [{"role": "user", "content": "hi"}]},
            "response": None if call.error else {"text": "hello"},
            "error": call.error,
            "status": "error" if call.error else "ok",
            "started_at": call.started_at,
            "ended_at": call.started_at + call.duration_ms / 1000.0,
            "duration_ms": call.duration_ms,
            "span_id": f"{next(_span_ids):016x}",
            "request_model": call.model,
            "response_model": call.model,
            "usage": usage,
            "cost": cost,
        }
    )


@observe
def _work(calls: Sequence[Call], fail: bool) -> None:
    for call in calls:
        _record_call(call)
    if fail:
        raise RuntimeError("the work failed")


def record_document(*plans: SessionPlan) -> dict[str, Any]:
    """An export document written by the real SDK, one session per plan."""
    exporter = InMemoryExporter()
    for plan in plans:
        _ids.configure(wall=lambda start=plan.started_at: start)
        with observer.session(plan.name, labels=plan.labels), contextlib.suppress(RuntimeError):
            _work(plan.calls, plan.function_error)
    _ids.reset()
    observer.flush(exporter=exporter)
    assert len(exporter.documents) == 1
    return exporter.documents[0]


def legacy_document(session_id: str = "legacy-1") -> dict[str, Any]:
    """A document as aiobs 0.2 wrote it: fewer fields, no session ids on events, null numbers."""
    return {
        "sessions": [
            {"id": session_id, "name": "old", "started_at": 50.0, "meta": {"pid": 1, "cwd": "/"}}
        ],
        "events": [
            {
                "provider": "openai",
                "api": "chat.completions.create",
                "request": {"model": "gpt-3.5-turbo", "messages": []},
                "response": {
                    "model": "gpt-3.5-turbo-0613",
                    "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
                },
                "error": None,
                "started_at": 51.0,
                "ended_at": 52.0,
                "duration_ms": 1000.0,
                "callsite": None,
            },
            {
                "provider": "openai",
                "api": "embeddings.create",
                "request": {"model": "text-embedding-ada-002"},
                "response": None,
                "error": "RateLimitError: slow down",
                "started_at": 53.0,
                "ended_at": None,
                "duration_ms": None,
                "callsite": None,
            },
        ],
        "function_events": [
            {
                "provider": "function",
                "api": "app.main",
                "name": "main",
                "args": [],
                "kwargs": {},
                "result": None,
                "error": None,
                "started_at": 50.5,
                "ended_at": 54.0,
                "duration_ms": 3500.0,
                "span_id": "abc",
                "parent_span_id": None,
            }
        ],
        "trace_tree": [],
        "generated_at": 55.0,
        "version": 1,
    }

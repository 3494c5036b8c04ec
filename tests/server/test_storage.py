"""The storage layer on SQLite and PostgreSQL: keys, metering, ingest and queries.

Every test runs once per database (the ``storage`` fixture is parametrized).
"""

from __future__ import annotations

import copy
import statistics
import threading
from pathlib import Path
from typing import Any

import pytest

from aiobs.server.storage import SQLStorage, migrations, open_storage
from aiobs.server.storage.base import (
    KEY_PREFIX,
    InvalidDocument,
    KeyRecord,
    QuotaExceeded,
    Quotas,
    SessionQuery,
    StatsQuery,
)
from aiobs.server.storage.driver import Driver
from aiobs.server.storage.sqlite import SQLiteDriver

from .conftest import Call, SessionPlan, legacy_document, record_document

DAY = 86_400.0


def _ids(storage: SQLStorage, project: str, **filters: Any) -> set[str]:
    page = storage.sessions(project, SessionQuery(limit=500, **filters))
    assert page.next_cursor is None
    return {summary["id"] for summary in page.sessions}


def _race(servers: list[SQLStorage], key: KeyRecord, documents: list[Any]) -> list[str]:
    """Each server ingests its document at the same moment; "stored" or "refused" for each."""
    barrier = threading.Barrier(len(servers))
    outcomes: list[str] = []

    def upload(server: SQLStorage, document: Any) -> None:
        barrier.wait()
        try:
            server.ingest(key, document, None)
            outcomes.append("stored")
        except QuotaExceeded:
            outcomes.append("refused")

    pairs = zip(servers, documents, strict=True)
    threads = [threading.Thread(target=upload, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _count(storage: SQLStorage, table: str) -> int:
    with storage.driver.reading() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])


class TestKeys:
    """Keys are created, listed, revoked and checked without storing their secret."""

    def test_create_and_authenticate(self, storage: SQLStorage) -> None:
        new = storage.create_key("pro", name="ci")
        assert new.secret.startswith(f"{KEY_PREFIX}{new.record.key_id}_")
        assert storage.authenticate(new.secret) == new.record
        assert new.record.tier == "pro"
        assert new.record.name == "ci"

    def test_secret_is_not_stored(self, storage: SQLStorage) -> None:
        new = storage.create_key("free")
        secret_part = new.secret.removeprefix(f"{KEY_PREFIX}{new.record.key_id}_")
        assert len(secret_part) >= 40  # the random part itself may contain "_"
        with storage.driver.reading() as cursor:
            cursor.execute("SELECT * FROM aiobs_keys")
            stored = repr(cursor.fetchall())
        assert secret_part not in stored
        assert new.record.key_id in stored

    def test_wrong_secrets_fail(self, storage: SQLStorage) -> None:
        new = storage.create_key("free")
        key_id = new.record.key_id
        assert storage.authenticate(new.secret + "x") is None
        assert storage.authenticate(f"{KEY_PREFIX}{key_id}_{'A' * 43}") is None
        assert storage.authenticate(f"{KEY_PREFIX}nosuchkey0_{'A' * 43}") is None
        assert storage.authenticate("") is None
        assert storage.authenticate("Bearer nonsense") is None

    def test_revoked_key_fails(self, storage: SQLStorage) -> None:
        new = storage.create_key("free")
        other = storage.create_key("free")
        assert storage.revoke_key(new.record.key_id) is True
        assert storage.authenticate(new.secret) is None
        assert storage.authenticate(other.secret) == other.record
        assert storage.revoke_key("nosuchkey0") is False
        listed = {key.key_id: key for key in storage.list_keys()}
        assert listed[new.record.key_id].revoked_at is not None
        assert listed[other.record.key_id].revoked_at is None

    def test_list_oldest_first(self, storage: SQLStorage) -> None:
        times = iter([100.0, 200.0, 300.0])
        storage.clock = lambda: next(times)
        created = [storage.create_key("free", name=str(n)).record for n in range(3)]
        assert storage.list_keys() == created

    def test_keys_share_a_project(self, storage: SQLStorage) -> None:
        first = storage.create_key("free")
        second = storage.create_key("pro", project_id=first.record.project_id)
        third = storage.create_key("free")
        assert second.record.project_id == first.record.project_id
        assert third.record.project_id != first.record.project_id
        storage.ingest(first.record, record_document(SessionPlan("shared")), None)
        assert len(storage.sessions(second.record.project_id, SessionQuery()).sessions) == 1

    def test_unknown_project_or_tier(self, storage: SQLStorage) -> None:
        with pytest.raises(ValueError, match="no project 'proj_missing'"):
            storage.create_key("free", project_id="proj_missing")
        with pytest.raises(ValueError, match="free, pro, enterprise"):
            storage.create_key("gold")
        assert storage.list_keys() == []


class TestMigrations:
    """The schema is versioned; migrating again or concurrently changes nothing."""

    def test_migrate_twice_keeps_data(self, storage: SQLStorage) -> None:
        key = storage.create_key("free")
        storage.migrate()
        storage.migrate()
        with storage.driver.reading() as cursor:
            cursor.execute("SELECT version FROM aiobs_schema_version ORDER BY version")
            # each step once
            assert [row[0] for row in cursor.fetchall()] == list(
                range(1, migrations.CURRENT_VERSION + 1)
            )
        assert storage.authenticate(key.secret) == key.record

    def test_concurrent_migrations(self, storage_url: str) -> None:
        from aiobs.server.storage import open_storage

        errors: list[BaseException] = []
        opened: list[SQLStorage] = []
        barrier = threading.Barrier(4)

        def start() -> None:
            try:
                barrier.wait()
                storage = open_storage(storage_url)
                assert isinstance(storage, SQLStorage)
                opened.append(storage)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert errors == []
            assert len(opened) == 4
            with opened[0].driver.reading() as cursor:
                cursor.execute("SELECT COUNT(*) FROM aiobs_schema_version")
                assert cursor.fetchone()[0] == migrations.CURRENT_VERSION  # each step once
        finally:
            for storage in opened:
                storage.close()


def _unmigrated_driver(url: str) -> Driver:
    if url.startswith("sqlite:///"):
        return SQLiteDriver(Path(url.removeprefix("sqlite:///")))
    from aiobs.server.storage.postgres import PostgresDriver

    return PostgresDriver(url)


class TestMigrationFromVersion1:
    """A database of the first schema gains the digests of idempotency keys, keeping its data."""

    def test_uploads_stored_before_answer_a_replay(self, storage_url: str) -> None:
        first = SQLStorage(_unmigrated_driver(storage_url))
        with first.driver.transaction() as cursor:
            cursor.execute("CREATE TABLE aiobs_schema_version (version INTEGER NOT NULL)")
            for statement in migrations.STEPS[0]:
                cursor.execute(statement)
            cursor.execute("INSERT INTO aiobs_schema_version (version) VALUES (1)")
        key = first.create_key("free").record
        with first.driver.transaction() as cursor:
            cursor.execute(
                "INSERT INTO aiobs_uploads (project_id, idempotency_key, received_at)"
                " VALUES (?, 'old-upload', 1.0)",
                (key.project_id,),
            )
        assert migrations.migrate(first.driver) == 1
        document = record_document(SessionPlan(calls=[Call()]))
        again = first.ingest(key, document, "old-upload", digest="sha256:anything")
        assert (again.created, again.events_stored) == (False, 0)
        assert first.ingest(key, document, "new-upload", digest="d1").created
        first.close()


class TestIngest:
    """Uploads are stored once, counted once, and checked before anything is written."""

    def test_stored_and_counted(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        document = record_document(
            SessionPlan("one", 10.0, calls=[Call(), Call()]), SessionPlan("two", 20.0)
        )
        result = storage.ingest(key, document, "upload-1")
        assert (result.created, result.sessions_stored, result.events_stored) == (True, 2, 4)
        assert result.quota.used == 1 + 1
        assert storage.quota_status(key).used == 2

    def test_idempotency_key_seen_before(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        document = record_document(SessionPlan(calls=[Call()]))
        storage.ingest(key, document, "upload-1")
        again = storage.ingest(key, document, "upload-1")
        assert (again.created, again.sessions_stored, again.events_stored) == (False, 0, 0)
        assert again.quota.used == 1
        assert _count(storage, "aiobs_events") == 2
        assert storage.quota_status(key).used == 1

    def test_same_document_without_idempotency_key_is_not_duplicated(
        self, storage: SQLStorage
    ) -> None:
        key = storage.create_key("free").record
        document = record_document(SessionPlan(calls=[Call()]))
        storage.ingest(key, document, None)
        again = storage.ingest(key, document, None)
        assert (again.created, again.sessions_stored, again.events_stored) == (True, 0, 0)
        assert _count(storage, "aiobs_events") == 2
        assert storage.quota_status(key).used == 1

    def test_growing_session_is_counted_once(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        first = record_document(SessionPlan("running", 10.0, {"stage": "1"}, calls=[Call()]))
        session_id = first["sessions"][0]["id"]
        first["sessions"][0]["ended_at"] = None
        later = copy.deepcopy(first)
        later["sessions"][0].update(name="finished", ended_at=99.0, labels={"stage": "2"})
        extra = dict(later["events"][0], span_id="ffff000000000001", started_at=2_000.0)
        later["events"].append(extra)
        storage.ingest(key, first, "a")
        result = storage.ingest(key, later, "b")
        assert (result.sessions_stored, result.events_stored) == (0, 1)
        assert storage.quota_status(key).used == 1
        stored = storage.session(key.project_id, session_id)
        assert stored is not None
        assert len(stored["events"]) == 2
        assert len(stored["function_events"]) == 1
        assert stored["session"]["name"] == "finished"
        assert stored["session"]["ended_at"] == 99.0
        assert stored["session"]["labels"] == {"stage": "2"}
        assert stored["session"]["llm_calls"] == 2
        assert _ids(storage, key.project_id, labels={"stage": "2"}) == {session_id}
        assert _ids(storage, key.project_id, labels={"stage": "1"}) == set()

    def test_events_of_a_stored_session_without_it(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        first = record_document(SessionPlan(calls=[Call()]))
        storage.ingest(key, first, None)
        late = {
            "sessions": [],
            "events": [dict(first["events"][0], span_id="late")],
            "function_events": [],
        }
        assert storage.ingest(key, late, None).events_stored == 1
        late["events"][0]["session_id"] = "never-seen"
        late["events"][0]["span_id"] = "later"
        with pytest.raises(InvalidDocument, match=r"events\[0\]\.session_id names a session"):
            storage.ingest(key, late, None)

    @pytest.mark.parametrize("calls", [1, 7, 64, 65, 130])
    def test_uploads_of_any_size_store_every_event_once(
        self, storage: SQLStorage, calls: int
    ) -> None:
        key = storage.create_key("enterprise").record
        document = record_document(SessionPlan("many", 10.0, calls=[Call()] * calls))
        events = len(document["events"]) + len(document["function_events"])
        assert storage.ingest(key, document, "first").events_stored == events
        grown = copy.deepcopy(document)
        grown["events"] += [
            dict(document["events"][0], span_id=f"added{index:011d}") for index in range(3)
        ]
        grown["events"].append(dict(document["events"][0]))  # a duplicate within the upload
        assert storage.ingest(key, grown, "second").events_stored == 3
        stored = storage.session(key.project_id, document["sessions"][0]["id"])
        assert stored is not None
        assert len(stored["events"]) + len(stored["function_events"]) == events + 3
        assert _count(storage, "aiobs_events") == events + 3

    def test_aiobs_02_document(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        result = storage.ingest(key, legacy_document("old-1"), None)
        assert (result.sessions_stored, result.events_stored) == (1, 3)
        stored = storage.session(key.project_id, "old-1")
        assert stored is not None
        summary = stored["session"]
        assert summary["labels"] == {}
        assert summary["ended_at"] is None
        assert (summary["input_tokens"], summary["output_tokens"], summary["total_tokens"]) == (
            12,
            8,
            20,
        )
        assert summary["errors"] == 1
        assert summary["models"] == ["gpt-3.5-turbo-0613", "text-embedding-ada-002"]
        assert [event["session_id"] for event in stored["events"]] == ["old-1", "old-1"]
        assert [node["name"] for node in stored["trace_tree"] if "name" in node] == ["main"]
        assert _ids(storage, key.project_id, model="gpt-3.5-turbo") == {"old-1"}
        assert storage.ingest(key, legacy_document("old-1"), None).events_stored == 0


class TestQuota:
    """A key at its limit is refused; unlimited tiers never are; periods roll over."""

    def test_limit_reached(self, storage: SQLStorage) -> None:
        storage.quotas = Quotas(limits={"free": 2, "pro": None})
        key = storage.create_key("free").record
        storage.ingest(key, record_document(SessionPlan(), SessionPlan()), "one")
        blocked = record_document(SessionPlan("blocked", calls=[Call()]))
        with pytest.raises(QuotaExceeded) as caught:
            storage.ingest(key, blocked, "two")
        assert (caught.value.quota.used, caught.value.quota.limit) == (2, 2)
        assert caught.value.quota.is_rate_limited
        assert _ids(storage, key.project_id, name="blocked") == set()
        assert _count(storage, "aiobs_events") == 2
        storage.quotas = Quotas(limits={"free": 3})
        assert storage.ingest(key, blocked, "two").created  # the key was not used up

    def test_an_upload_under_the_limit_may_pass_it(self, storage: SQLStorage) -> None:
        storage.quotas = Quotas(limits={"free": 2})
        key = storage.create_key("free").record
        storage.ingest(key, record_document(SessionPlan()), None)
        result = storage.ingest(key, record_document(SessionPlan(), SessionPlan()), None)
        assert result.quota.used == 3
        assert result.quota.remaining == 0

    def test_servers_racing_for_the_last_slot_store_one_upload(
        self, storage: SQLStorage, storage_url: str
    ) -> None:
        quotas = Quotas(limits={"free": 1})
        servers = [storage, open_storage(storage_url, quotas), open_storage(storage_url, quotas)]
        storage.quotas = quotas
        try:
            for round_ in range(8):
                key = storage.create_key("free").record
                documents = [record_document(SessionPlan(f"s{index}")) for index in range(3)]
                outcomes = _race(servers, key, documents)
                assert sorted(outcomes) == ["refused", "refused", "stored"], round_
                assert storage.quota_status(key).used == 1
                assert len(storage.sessions(key.project_id, SessionQuery()).sessions) == 1
        finally:
            for server in servers[1:]:
                server.close()

    def test_unlimited(self, storage: SQLStorage) -> None:
        storage.quotas = Quotas(limits={"free": 0, "enterprise": None})
        key = storage.create_key("enterprise").record
        for _ in range(3):
            storage.ingest(key, record_document(SessionPlan(), SessionPlan()), None)
        quota = storage.quota_status(key)
        assert (quota.used, quota.limit, quota.remaining) == (6, None, None)
        assert quota.as_protocol()["traces_limit"] == -1

    def test_day_period_rolls_over(self, storage: SQLStorage) -> None:
        now = [10 * DAY + 3_600.0]
        storage.clock = lambda: now[0]
        storage.quotas = Quotas(limits={"free": 1}, period="day")
        key = storage.create_key("free").record
        storage.ingest(key, record_document(SessionPlan()), None)
        with pytest.raises(QuotaExceeded):
            storage.ingest(key, record_document(SessionPlan()), None)
        now[0] += DAY
        quota = storage.quota_status(key)
        assert (quota.used, quota.period_start) == (0, 11 * DAY)
        assert storage.ingest(key, record_document(SessionPlan()), None).quota.used == 1

    def test_month_period(self, storage: SQLStorage) -> None:
        storage.clock = lambda: 1_700_000_000.0  # 2023-11-14 UTC
        key = storage.create_key("free").record
        assert storage.quota_status(key).period_start == 1_698_796_800.0  # 2023-11-01 UTC


class TestIsolation:
    """A key sees only its own project's data."""

    def test_other_project_sees_nothing(self, storage: SQLStorage) -> None:
        alice = storage.create_key("free").record
        bob = storage.create_key("free").record
        document = record_document(SessionPlan("alice", labels={"team": "a"}, calls=[Call()]))
        session_id = document["sessions"][0]["id"]
        storage.ingest(alice, document, "same-key")
        assert storage.sessions(bob.project_id, SessionQuery()).sessions == []
        assert storage.session(bob.project_id, session_id) is None
        assert storage.stats(bob.project_id, StatsQuery()) == []
        assert storage.stats(bob.project_id, StatsQuery(group_by="label:team")) == []
        assert storage.session(alice.project_id, session_id) is not None

    def test_same_ids_in_two_projects_stay_apart(self, storage: SQLStorage) -> None:
        alice = storage.create_key("free").record
        bob = storage.create_key("free").record
        document = record_document(SessionPlan("shared", calls=[Call()]))
        session_id = document["sessions"][0]["id"]
        storage.ingest(alice, document, "same-key")
        forged = copy.deepcopy(document)
        forged["sessions"][0]["name"] = "bob's"
        result = storage.ingest(bob, forged, "same-key")
        assert (result.created, result.sessions_stored, result.events_stored) == (True, 1, 2)
        alice_view = storage.session(alice.project_id, session_id)
        bob_view = storage.session(bob.project_id, session_id)
        assert alice_view is not None
        assert bob_view is not None
        assert alice_view["session"]["name"] == "shared"
        assert bob_view["session"]["name"] == "bob's"


class TestSessions:
    """Session pages: newest first, every filter, keyset pagination."""

    @pytest.fixture
    def project(self, storage: SQLStorage) -> tuple[str, dict[str, dict[str, Any]]]:
        key = storage.create_key("enterprise").record
        plans = {
            "chat-A": SessionPlan("Chat-A", 100.0, {"env": "prod", "team": "x"}, [Call()]),
            "chat-b": SessionPlan("chat-b", 200.0, {"env": "prod", "team": "y"}, [Call("gpt-4o")]),
            "batch": SessionPlan("batch", 300.0, {"env": "dev"}, [Call("claude-3", "anthropic")]),
            "broken": SessionPlan("broken", 400.0, {"env": "dev"}, [Call(error="boom")]),
            "crash": SessionPlan("crash", 500.0, {}, [], function_error=True),
        }
        document = record_document(*plans.values())
        by_name = {session["name"]: session for session in document["sessions"]}
        storage.ingest(key, document, None)
        return key.project_id, {label: by_name[plan.name] for label, plan in plans.items()}

    def _named(self, found: set[str], sessions: dict[str, dict[str, Any]]) -> set[str]:
        return {label for label, session in sessions.items() if session["id"] in found}

    def test_newest_first_with_summaries(
        self, storage: SQLStorage, project: tuple[str, dict[str, dict[str, Any]]]
    ) -> None:
        project_id, sessions = project
        page = storage.sessions(project_id, SessionQuery())
        assert [s["name"] for s in page.sessions] == [
            "crash",
            "broken",
            "batch",
            "chat-b",
            "Chat-A",
        ]
        broken = page.sessions[1]
        assert broken["id"] == sessions["broken"]["id"]
        assert (broken["llm_calls"], broken["function_calls"], broken["errors"]) == (1, 1, 1)
        assert (broken["input_tokens"], broken["output_tokens"], broken["total_tokens"]) == (
            10,
            5,
            15,
        )
        assert broken["cost"] == pytest.approx(0.001)
        assert broken["models"] == ["gpt-4o-mini"]
        assert broken["providers"] == ["openai"]
        assert broken["labels"]["env"] == "dev"
        assert broken["started_at"] == 400.0
        crash = page.sessions[0]
        assert (crash["llm_calls"], crash["errors"], crash["cost"], crash["models"]) == (
            0,
            1,
            None,
            [],
        )

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"labels": {"env": "prod"}}, {"chat-A", "chat-b"}),
            ({"labels": {"env": "prod", "team": "y"}}, {"chat-b"}),
            ({"labels": {"env": "prod", "team": "z"}}, set()),
            ({"name": "CHAT"}, {"chat-A", "chat-b"}),
            ({"name": "t-a"}, {"chat-A"}),
            ({"since": 200.0}, {"chat-b", "batch", "broken", "crash"}),
            ({"until": 300.0}, {"chat-A", "chat-b"}),
            ({"since": 200.0, "until": 400.0}, {"chat-b", "batch"}),
            ({"model": "gpt-4o"}, {"chat-b"}),
            ({"model": "gpt-4o-mini"}, {"chat-A", "broken"}),
            ({"provider": "anthropic"}, {"batch"}),
            ({"has_errors": True}, {"broken", "crash"}),
            ({"has_errors": False}, {"chat-A", "chat-b", "batch"}),
            ({"has_errors": False, "labels": {"env": "dev"}}, {"batch"}),
        ],
    )
    def test_filters(
        self,
        storage: SQLStorage,
        project: tuple[str, dict[str, dict[str, Any]]],
        filters: dict[str, Any],
        expected: set[str],
    ) -> None:
        project_id, sessions = project
        assert self._named(_ids(storage, project_id, **filters), sessions) == expected

    def test_pages_cover_every_session_once(self, storage: SQLStorage) -> None:
        key = storage.create_key("enterprise").record
        plans = [SessionPlan(f"s{n}", float(n // 3)) for n in range(23)]  # ties in started_at
        document = record_document(*plans)
        storage.ingest(key, document, None)
        expected = sorted(document["sessions"], key=lambda s: (-s["started_at"], s["id"]))
        seen: list[str] = []
        cursor = None
        while True:
            page = storage.sessions(key.project_id, SessionQuery(limit=5, cursor=cursor))
            seen += [summary["id"] for summary in page.sessions]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [session["id"] for session in expected]
        filtered = storage.sessions(key.project_id, SessionQuery(limit=2, since=6.0))
        assert len(filtered.sessions) == 2
        rest = storage.sessions(
            key.project_id, SessionQuery(limit=2, since=6.0, cursor=filtered.next_cursor)
        )
        assert [s["started_at"] for s in filtered.sessions + rest.sessions] == [7.0] * 2 + [6.0] * 2

    @pytest.mark.parametrize("cursor", ["", "nonsense", "W10", "eyJhIjoxfQ", "WyJ4IiwgMV0"])
    def test_invalid_cursor(self, storage: SQLStorage, cursor: str) -> None:
        with pytest.raises(ValueError, match="invalid cursor"):
            storage.sessions("any", SessionQuery(cursor=cursor))

    @pytest.mark.parametrize("limit", [0, -1, 501])
    def test_limit_bounds(self, storage: SQLStorage, limit: int) -> None:
        with pytest.raises(ValueError, match="limit"):
            storage.sessions("any", SessionQuery(limit=limit))

    def test_costliest_and_slowest_first(self, storage: SQLStorage) -> None:
        key = storage.create_key("enterprise").record
        plans = [
            SessionPlan("cheap", 100.0, calls=[Call(cost=0.001)]),
            SessionPlan("dear", 200.0, calls=[Call(cost=0.004), Call(cost=0.003)]),
            SessionPlan("unpriced", 300.0, calls=[Call(cost=None)]),
            SessionPlan("middle", 400.0, calls=[Call(cost=0.002)]),
            SessionPlan("nothing", 500.0),
        ]
        document = record_document(*plans)
        lengths = {"cheap": 9.0, "dear": 1.0, "unpriced": 5.0, "middle": 3.0}
        for recorded in document["sessions"]:  # "nothing" stays open: no end time
            length = lengths.get(recorded["name"])
            recorded["ended_at"] = None if length is None else recorded["started_at"] + length
        storage.ingest(key, document, None)

        def names(order: str, limit: int = 50, **filters: Any) -> list[str]:
            query = SessionQuery(order=order, limit=limit, **filters)
            page = storage.sessions(key.project_id, query)
            assert page.next_cursor is None or order == "newest"  # the others are one page
            return [summary["name"] for summary in page.sessions]

        assert names("costliest") == ["dear", "middle", "cheap", "nothing", "unpriced"]
        assert names("costliest", limit=2) == ["dear", "middle"]
        assert names("costliest", since=250.0) == ["middle", "nothing", "unpriced"]
        assert names("slowest") == ["cheap", "unpriced", "middle", "dear", "nothing"]
        assert names("slowest", limit=1) == ["cheap"]
        assert names("newest", limit=2) == ["nothing", "middle"]
        with pytest.raises(ValueError, match="order must be one of newest, costliest, slowest"):
            storage.sessions(key.project_id, SessionQuery(order="cheapest"))
        newest = storage.sessions(key.project_id, SessionQuery(limit=2))
        with pytest.raises(ValueError, match="only the newest-first order pages on"):
            storage.sessions(
                key.project_id, SessionQuery(order="slowest", cursor=newest.next_cursor)
            )

    def test_one_session_with_tree(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        calls = [Call(started_at=1_002.0), Call("gpt-4o", started_at=1_001.0)]
        document = record_document(SessionPlan("tree", 1_000.0, calls=calls))
        session_id = document["sessions"][0]["id"]
        storage.ingest(key, document, None)
        stored = storage.session(key.project_id, session_id)
        assert stored is not None
        assert [event["request_model"] for event in stored["events"]] == ["gpt-4o", "gpt-4o-mini"]
        assert stored["events"][0] == document["events"][1]  # as uploaded
        assert stored["function_events"] == document["function_events"]
        (root,) = stored["trace_tree"]
        assert (root["event_type"], root["name"]) == ("function", "_work")
        assert [child["request_model"] for child in root["children"]] == ["gpt-4o", "gpt-4o-mini"]
        assert storage.session(key.project_id, "missing") is None


class TestStats:
    """LLM call aggregates match what the test computes from the same calls."""

    @staticmethod
    def _expected(calls: list[Call]) -> dict[str, Any]:
        durations = sorted(call.duration_ms for call in calls)
        cuts = statistics.quantiles(durations, n=100, method="inclusive")
        priced = [call.cost for call in calls if call.cost is not None]
        return {
            "calls": len(calls),
            "errors": sum(call.error is not None for call in calls),
            "input_tokens": sum(call.input_tokens or 0 for call in calls),
            "output_tokens": sum(call.output_tokens or 0 for call in calls),
            "cost": sum(priced) if priced else None,
            "latency_ms": {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]},
        }

    @staticmethod
    def _comparable(row: dict[str, Any]) -> dict[str, Any]:
        found = {key: row[key] for key in ("calls", "errors", "input_tokens", "output_tokens")}
        found["cost"] = None if row["cost"] is None else pytest.approx(row["cost"])
        found["latency_ms"] = {k: pytest.approx(v) for k, v in row["latency_ms"].items()}
        return found

    def test_groups_buckets_and_percentiles(self, storage: SQLStorage) -> None:
        key = storage.create_key("enterprise").record
        mini = [
            Call("gpt-4o-mini", started_at=1_000.0 + n * 7, duration_ms=float(10 + n * n),
                 input_tokens=n, output_tokens=2 * n, cost=0.5 * n if n % 3 else None,
                 error="boom" if n % 4 == 0 else None)
            for n in range(12)
        ]  # fmt: skip
        claude = [
            Call("claude-3", "anthropic", started_at=1_030.0 + n, duration_ms=float(100 - n),
                 cost=None)
            for n in range(5)
        ]  # fmt: skip
        storage.ingest(
            key,
            record_document(
                SessionPlan("a", 1_000.0, {"team": "x"}, mini[:6] + claude),
                SessionPlan("b", 1_050.0, {}, mini[6:]),
            ),
            None,
        )
        by_model = storage.stats(key.project_id, StatsQuery(group_by="model"))
        assert [row["group"] for row in by_model] == ["claude-3", "gpt-4o-mini"]
        assert [row["bucket_start"] for row in by_model] == [None, None]
        assert self._comparable(by_model[0]) == self._expected(claude)
        assert self._comparable(by_model[1]) == self._expected(mini)
        assert by_model[1]["total_tokens"] == sum(3 * n for n in range(12)) + 0
        assert by_model[0]["cost"] is None

        by_provider = storage.stats(key.project_id, StatsQuery(group_by="provider"))
        assert [(row["group"], row["calls"]) for row in by_provider] == [
            ("anthropic", 5),
            ("openai", 12),
        ]
        everything = storage.stats(key.project_id, StatsQuery(group_by="none"))
        assert len(everything) == 1
        assert self._comparable(everything[0]) == self._expected(mini + claude)

        by_label = storage.stats(key.project_id, StatsQuery(group_by="label:team"))
        assert [row["group"] for row in by_label] == [None, "x"]
        assert self._comparable(by_label[0]) == self._expected(mini[6:])
        assert self._comparable(by_label[1]) == self._expected(mini[:6] + claude)

        bucketed = storage.stats(key.project_id, StatsQuery(group_by="model", bucket_seconds=30))
        expected_rows: dict[tuple[float, str], list[Call]] = {}
        for call in mini + claude:
            bucket = (call.started_at // 30) * 30
            expected_rows.setdefault((bucket, call.model), []).append(call)
        assert [(row["bucket_start"], row["group"]) for row in bucketed] == sorted(expected_rows)
        for row in bucketed:
            calls = expected_rows[(row["bucket_start"], row["group"])]
            if len(calls) > 1:
                assert self._comparable(row) == self._expected(calls)
            else:
                assert row["latency_ms"]["p99"] == calls[0].duration_ms

        ranged = storage.stats(key.project_id, StatsQuery(since=1_030.0, until=1_035.0))
        in_range = [c for c in mini + claude if 1_030.0 <= c.started_at < 1_035.0]
        assert sum(row["calls"] for row in ranged) == len(in_range)

    @pytest.mark.parametrize("group_by", ["session", "label:", "MODEL", "model; DROP TABLE x"])
    def test_bad_group_by(self, storage: SQLStorage, group_by: str) -> None:
        with pytest.raises(ValueError, match="group_by"):
            storage.stats("any", StatsQuery(group_by=group_by))


def _valid() -> dict[str, Any]:
    return {
        "sessions": [{"id": "s1", "name": "n", "started_at": 1.0, "meta": {}}],
        "events": [
            {"session_id": "s1", "provider": "openai", "api": "x", "started_at": 1.0,
             "ended_at": 2.0, "duration_ms": 1000.0, "span_id": "e1"}
        ],
        "function_events": [
            {"session_id": "s1", "name": "f", "api": "m.f", "started_at": 1.0, "ended_at": 2.0,
             "duration_ms": 1000.0, "span_id": "f1"}
        ],
    }  # fmt: skip


def _set(path: str, value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = document
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _add_event(**fields: Any) -> Any:
    return lambda document: document["events"].append(dict(document["events"][0], **fields))


class TestInvalidDocuments:
    """A malformed upload is refused with a precise message and nothing is stored."""

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (_set("sessions", {}), "sessions must be a list"),
            (_set("events", None), "events must be a list"),
            (_set("function_events", "x"), "function_events must be a list"),
            (_set("sessions.0", []), r"sessions\[0\] must be an object"),
            (_set("sessions.0.id", ""), r"sessions\[0\]\.id must be a non-empty string"),
            (_set("sessions.0.id", 7), r"sessions\[0\]\.id must be a non-empty string"),
            (_set("sessions.0.started_at", "now"), r"sessions\[0\]\.started_at must be a number"),
            (_set("sessions.0.labels", ["a"]), r"sessions\[0\]\.labels must be an object"),
            (_set("sessions.0.labels", {"k": 1}), r"sessions\[0\]\.labels\.k must be a string"),
            (_set("sessions.0.name", 3), r"sessions\[0\]\.name must be a string"),
            (_add_event(started_at="1"), r"events\[1\]\.started_at must be a number"),
            (_add_event(duration_ms=True), r"events\[1\]\.duration_ms must be a number"),
            (_add_event(session_id=5), r"events\[1\]\.session_id must be a non-empty string"),
            (_add_event(span_id=5), r"events\[1\]\.span_id must be a string"),
            (_add_event(usage=[1]), r"events\[1\]\.usage must be an object"),
            (_add_event(usage={"input_tokens": "9"}), r"events\[1\]\.usage\.input_tokens must"),
            (_add_event(cost={"total": "1"}), r"events\[1\]\.cost\.total must be a number"),
            (_set("function_events.0.ended_at", {}), r"function_events\[0\]\.ended_at must be"),
            (_set("events.0.session_id", "other"), r"events\[0\]\.session_id names a session"),
        ],
    )
    def test_refused(self, storage: SQLStorage, change: Any, message: str) -> None:
        key = storage.create_key("free").record
        document = _valid()
        change(document)
        with pytest.raises(InvalidDocument, match=message):
            storage.ingest(key, document, "k")
        assert _count(storage, "aiobs_sessions") == 0
        assert _count(storage, "aiobs_events") == 0
        assert storage.quota_status(key).used == 0
        assert storage.ingest(key, _valid(), "k").created  # the idempotency key is still free

    def test_not_an_object(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        with pytest.raises(InvalidDocument, match="must be a JSON object"):
            storage.ingest(key, [], None)  # type: ignore[arg-type]

    def test_event_without_session_among_several(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        document = _valid()
        document["sessions"].append({"id": "s2", "name": "m", "started_at": 2.0, "meta": {}})
        del document["events"][0]["session_id"]
        with pytest.raises(InvalidDocument, match=r"events\[0\]\.session_id is required"):
            storage.ingest(key, document, None)


class TestConcurrency:
    """Threads ingesting at once all succeed and are counted exactly."""

    def test_eight_threads(self, storage: SQLStorage) -> None:
        key = storage.create_key("enterprise").record
        documents = [
            [record_document(SessionPlan(f"t{t}-{n}", calls=[Call()])) for n in range(4)]
            for t in range(8)
        ]
        shared = record_document(SessionPlan("shared", calls=[Call()]))
        results: list[Any] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def upload(mine: list[dict[str, Any]]) -> None:
            try:
                barrier.wait()
                for document in mine:
                    results.append(storage.ingest(key, document, None))
                    results.append(storage.ingest(key, shared, "shared-upload"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=upload, args=(mine,)) for mine in documents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(result.created for result in results) == 32 + 1
        assert storage.quota_status(key).used == 33
        assert len(_ids(storage, key.project_id)) == 33
        assert _count(storage, "aiobs_events") == 33 * 2


class TestLiteralText:
    """Text that looks like SQL or LIKE patterns is stored and matched literally."""

    NASTY = ("'; DROP TABLE aiobs_sessions; --", 'x" OR 1=1 --', "100%", "a_b", "back\\slash!")

    def test_labels_and_names(self, storage: SQLStorage) -> None:
        key = storage.create_key("free").record
        plans = [SessionPlan(name, float(n), {"k": name}) for n, name in enumerate(self.NASTY)] + [
            SessionPlan("1000", 9.0, {"k": "100"}),
            SessionPlan("axb", 10.0, {"k": "ab"}),
        ]
        document = record_document(*plans)
        document["sessions"][0]["labels"]["'; DELETE FROM aiobs_keys; --"] = "v"
        ids = {session["name"]: session["id"] for session in document["sessions"]}
        storage.ingest(key, document, "'; DROP TABLE aiobs_uploads; --")
        for name in self.NASTY:
            assert _ids(storage, key.project_id, labels={"k": name}) == {ids[name]}
            assert _ids(storage, key.project_id, name=name) == {ids[name]}
        for pattern in ("%", "_", "!"):
            expected = {ids[name] for name in ids if pattern in name}
            assert _ids(storage, key.project_id, name=pattern) == expected
        assert len(_ids(storage, key.project_id, name="_")) == 2  # not every name
        assert _ids(storage, key.project_id, labels={"'; DELETE FROM aiobs_keys; --": "v"}) == {
            ids[self.NASTY[0]]
        }
        assert storage.authenticate(storage.create_key("free").secret) is not None
        stats = storage.stats(key.project_id, StatsQuery(group_by="label:'; DROP TABLE x; --"))
        assert stats == []
        assert _count(storage, "aiobs_sessions") == len(plans)


def test_check(storage: SQLStorage) -> None:
    storage.check()


def test_quota_of_unknown_key_is_zero(storage: SQLStorage) -> None:
    ghost = KeyRecord("nosuchkey0", "proj_x", "free", None, 0.0)
    assert storage.quota_status(ghost).used == 0


@pytest.mark.parametrize("session_id", [{}, [], 5, None])
def test_an_event_naming_its_session_with_a_non_string_is_refused(
    storage: SQLStorage, session_id: Any
) -> None:
    key = storage.create_key("free").record
    document = _valid()
    document["sessions"].append({"id": "s2", "name": "m", "started_at": 2.0, "meta": {}})
    document["events"][0]["session_id"] = session_id
    with pytest.raises(InvalidDocument, match=r"events\[0\]\.session_id"):
        storage.ingest(key, document, None)

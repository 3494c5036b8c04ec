"""The flush server's HTTP app over real SQLite storage: protocol, auth, limits, queries, logs."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from aiobs.server.app import create_app
from aiobs.server.auth import KeyCache
from aiobs.server.limits import UploadLimits
from aiobs.server.storage import NewKey, Quotas, SessionQuery, Storage, open_storage
from tests.server.app_fixtures import (
    body,
    captured_server_log,
    document,
    function_event,
    live_server,
    llm_event,
    session,
    sqlite_storage,
)
from tests.server.memory_storage import MemoryStorage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = sqlite_storage(tmp_path)
    yield store
    store.close()


@pytest.fixture
def key(storage: Storage) -> NewKey:
    return storage.create_key("free", name="tests")


@pytest.fixture
def client(storage: Storage) -> TestClient:
    return TestClient(create_app(storage), raise_server_exceptions=False)


def auth(new: NewKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {new.secret}"}


def upload(client: TestClient, new: NewKey, doc: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/traces", content=body(doc), headers={**auth(new), **headers})


class TestProtocol:
    """The shapes the SDK reads, and what an upload stores and counts."""

    def test_usage_answers_the_protocol_object(self, client: TestClient, key: NewKey) -> None:
        answer = client.get("/v1/usage", headers=auth(key))
        assert answer.status_code == 200
        assert answer.json() == {
            "success": True,
            "usage": {
                "tier": "free",
                "traces_used": 0,
                "traces_limit": 10_000,
                "traces_remaining": 10_000,
                "is_rate_limited": False,
            },
        }

    def test_an_upload_is_stored_and_a_replay_is_not_counted_again(
        self, client: TestClient, key: NewKey
    ) -> None:
        one = session()
        doc = document([one], [llm_event(one["id"])], [function_event(one["id"])])
        first = upload(client, key, doc, **{"Idempotency-Key": "k-1"})
        assert first.status_code == 201
        assert first.json()["success"] is True
        assert first.json()["stored"] == {"sessions": 1, "events": 2}
        assert first.json()["usage"]["traces_used"] == 1
        again = upload(client, key, doc, **{"Idempotency-Key": "k-1"})
        assert again.status_code == 200
        assert again.json()["usage"]["traces_used"] == 1
        assert again.json()["stored"] == {"sessions": 0, "events": 0}

    def test_without_idempotency_key_identical_bodies_count_once(
        self, client: TestClient, key: NewKey
    ) -> None:
        doc = document([session()])
        assert upload(client, key, doc).status_code == 201
        assert upload(client, key, doc).status_code == 200
        other = upload(client, key, document([session()]))
        assert other.status_code == 201
        assert other.json()["usage"]["traces_used"] == 2

    def test_a_gzip_body_is_decoded(self, client: TestClient, key: NewKey) -> None:
        one = session("zipped")
        answer = client.post(
            "/v1/traces",
            content=body(document([one]), gzipped=True),
            headers={**auth(key), "Content-Encoding": "gzip"},
        )
        assert answer.status_code == 201
        fetched = client.get(f"/v1/sessions/{one['id']}", headers=auth(key))
        assert fetched.json()["session"]["name"] == "zipped"

    def test_a_usage_report_is_acknowledged_without_counting(
        self, client: TestClient, key: NewKey
    ) -> None:
        upload(client, key, document([session()]))
        for _ in range(2):
            answer = client.post("/v1/usage", json={"trace_count": 5}, headers=auth(key))
            assert answer.status_code == 200
            assert answer.json()["usage"]["traces_used"] == 1

    def test_the_openapi_document_names_the_server_and_its_version(
        self, client: TestClient
    ) -> None:
        spec = client.get("/openapi.json").json()
        assert spec["info"]["title"] == "aiobs flush server"
        assert spec["info"]["version"] == __import__("aiobs").__version__
        assert {"/v1/traces", "/v1/usage", "/v1/sessions", "/v1/stats", "/health"} <= set(
            spec["paths"]
        )


class TestAuthentication:
    """Every /v1 route needs a live key; refusals never echo it."""

    ROUTES = (
        ("GET", "/v1/usage"),
        ("POST", "/v1/usage"),
        ("POST", "/v1/traces"),
        ("GET", "/v1/sessions"),
        ("GET", "/v1/sessions/x"),
        ("GET", "/v1/stats"),
    )

    @pytest.mark.parametrize(("method", "path"), ROUTES)
    @pytest.mark.parametrize(
        "header",
        [None, "Bearer", "Token abc", "Bearer aiobs_sk_nope_nope", "Basic dXNlcjpwYXNz"],
    )
    def test_missing_malformed_or_unknown_keys_are_refused(
        self, client: TestClient, method: str, path: str, header: str | None
    ) -> None:
        headers = {} if header is None else {"Authorization": header}
        answer = client.request(method, path, headers=headers, json={"trace_count": 1})
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["success"] is False
        assert answer.json()["error"].startswith("missing or invalid API key")
        if header and " " in header:
            assert header.split()[-1] not in answer.text

    def test_a_wrong_secret_for_a_real_key_id_is_refused(
        self, client: TestClient, key: NewKey
    ) -> None:
        forged = key.secret[:-4] + ("AAAA" if not key.secret.endswith("AAAA") else "BBBB")
        answer = client.get("/v1/usage", headers={"Authorization": f"Bearer {forged}"})
        assert answer.status_code == 401
        assert forged not in answer.text

    def test_a_revoked_key_is_refused(self, storage: Storage, key: NewKey) -> None:
        client = TestClient(create_app(storage, key_cache_seconds=0))
        assert client.get("/v1/usage", headers=auth(key)).status_code == 200
        storage.revoke_key(key.record.key_id)
        assert client.get("/v1/usage", headers=auth(key)).status_code == 401

    def test_the_cache_reuses_an_authentication_until_it_expires(self) -> None:
        storage = MemoryStorage()
        new = storage.create_key("pro")
        now = [100.0]
        cache = KeyCache(storage, ttl=30, clock=lambda: now[0])
        assert cache.authenticate(new.secret) == new.record
        assert cache.authenticate(new.secret) == new.record
        assert storage.authentications == 1
        storage.revoke_key(new.record.key_id)
        now[0] += 29.9
        assert cache.authenticate(new.secret) is not None  # still within the window
        now[0] += 0.2
        assert cache.authenticate(new.secret) is None  # revocation has taken effect
        assert cache.authenticate("x" * 10_000) is None
        assert storage.authentications == 2  # an absurd token never reaches the database


class TestTenantIsolation:
    """A key reads and writes only its own project."""

    @pytest.fixture
    def stored(self, client: TestClient, key: NewKey) -> dict[str, Any]:
        one = session("secret-run", labels={"team": "a"})
        doc = document([one], [llm_event(one["id"])])
        assert upload(client, key, doc).status_code == 201
        return one

    def test_another_project_sees_nothing(
        self, client: TestClient, storage: Storage, stored: dict[str, Any]
    ) -> None:
        other = storage.create_key("free")
        listed = client.get("/v1/sessions", headers=auth(other))
        assert listed.json() == {"sessions": [], "next_cursor": None}
        by_label = client.get("/v1/sessions?label=team:a", headers=auth(other))
        assert by_label.json()["sessions"] == []
        fetched = client.get(f"/v1/sessions/{stored['id']}", headers=auth(other))
        missing = client.get("/v1/sessions/does-not-exist", headers=auth(other))
        assert fetched.status_code == missing.status_code == 404
        assert fetched.json() == missing.json()
        stats = client.get("/v1/stats?group_by=none", headers=auth(other))
        assert stats.json()["groups"] == []

    def test_the_owner_and_a_key_of_the_same_project_see_it(
        self, client: TestClient, storage: Storage, key: NewKey, stored: dict[str, Any]
    ) -> None:
        colleague = storage.create_key("free", project_id=key.record.project_id)
        for new in (key, colleague):
            listed = client.get("/v1/sessions", headers=auth(new)).json()
            assert [s["id"] for s in listed["sessions"]] == [stored["id"]]
        stats = client.get("/v1/stats?group_by=none", headers=auth(key)).json()
        assert stats["groups"][0]["calls"] == 1

    def test_the_same_session_id_in_two_projects_stays_apart(
        self, client: TestClient, storage: Storage, key: NewKey, stored: dict[str, Any]
    ) -> None:
        other = storage.create_key("free")
        twin = session("other-run", session_id=stored["id"])
        assert upload(client, other, document([twin])).status_code == 201
        mine = client.get(f"/v1/sessions/{stored['id']}", headers=auth(key)).json()
        theirs = client.get(f"/v1/sessions/{stored['id']}", headers=auth(other)).json()
        assert mine["session"]["name"] == "secret-run"
        assert theirs["session"]["name"] == "other-run"
        assert theirs["events"] == []


class TestMalformedInput:
    """Bad bodies and parameters are 4xx with a message, never 500."""

    @pytest.mark.parametrize(
        ("content", "headers", "status", "says"),
        [
            (b"{not json", {}, 400, "not valid JSON"),
            (b"\xff\xfe\x00", {}, 400, "JSON"),
            (b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
            (gzip.compress(b'{"a": 1}')[:-6], {"Content-Encoding": "gzip"}, 400, "gzip"),
            (b"{}", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
            (b"[]", {}, 400, ""),
            (b'"text"', {}, 400, ""),
            (b'{"sessions": 1, "events": [], "function_events": []}', {}, 400, "sessions"),
            (b'{"sessions": [{"id": 5}], "events": [], "function_events": []}', {}, 400, ""),
            (b'{"sessions": [], "events": [7], "function_events": []}', {}, 400, "events"),
            (b"", {}, 400, ""),
        ],
    )
    def test_bad_uploads(
        self,
        client: TestClient,
        key: NewKey,
        *,
        content: bytes,
        headers: dict[str, str],
        status: int,
        says: str,
    ) -> None:
        answer = client.post("/v1/traces", content=content, headers={**auth(key), **headers})
        assert answer.status_code == status
        assert answer.json()["success"] is False
        assert says in answer.json()["error"]
        assert client.get("/v1/usage", headers=auth(key)).json()["usage"]["traces_used"] == 0

    @pytest.mark.parametrize(
        ("query", "status"),
        [
            ("/v1/sessions?limit=0", 422),
            ("/v1/sessions?limit=501", 422),
            ("/v1/sessions?limit=many", 422),
            ("/v1/sessions?has_errors=perhaps", 422),
            ("/v1/sessions?since=yesterday", 400),
            ("/v1/sessions?until=1e999", 400),
            ("/v1/sessions?label=nocolon", 400),
            ("/v1/sessions?label=env:a&label=env:b", 400),
            ("/v1/sessions?cursor=garbage", 400),
            ("/v1/stats?group_by=colour", 400),
            ("/v1/stats?group_by=label:", 400),
            ("/v1/stats?bucket=week", 422),
        ],
    )
    def test_bad_parameters(self, client: TestClient, key: NewKey, query: str, status: int) -> None:
        answer = client.get(query, headers=auth(key))
        assert answer.status_code == status
        assert answer.json()["success"] is False
        assert answer.json()["error"]
        if status == 422:
            assert answer.json()["error"].startswith("invalid request:")
            assert answer.json()["detail"][0]["loc"][0] == "query"

    def test_a_bad_usage_report_is_422_in_the_common_shape(
        self, client: TestClient, key: NewKey
    ) -> None:
        answer = client.post("/v1/usage", json={"trace_count": "many"}, headers=auth(key))
        assert answer.status_code == 422
        assert "trace_count" in answer.json()["error"]

    def test_an_unexpected_error_is_a_plain_500_and_is_logged(self, key: NewKey) -> None:
        class Broken(MemoryStorage):
            def sessions(self, project_id: str, query: SessionQuery) -> Any:
                raise RuntimeError("internal detail xyz")

        storage = Broken()
        new = storage.create_key("free")
        client = TestClient(create_app(storage), raise_server_exceptions=False)
        with captured_server_log() as log:
            answer = client.get("/v1/sessions", headers=auth(new))
        assert answer.status_code == 500
        assert answer.json() == {
            "success": False,
            "error": "internal server error; the server log has the details",
        }
        assert any("unhandled error in GET /v1/sessions" in m for m in log.messages)


class TestSizeLimits:
    """Too large is refused with 413 however it arrives (a real server, real sockets)."""

    @pytest.fixture
    def url(self, storage: Storage) -> Iterator[str]:
        app = create_app(storage, max_body_bytes=50_000, max_document_bytes=200_000)
        with live_server(app) as base:
            yield base

    def test_a_declared_length_above_the_limit(self, url: str, key: NewKey) -> None:
        answer = requests.post(
            f"{url}/v1/traces", data=b"x" * 60_000, headers=auth(key), timeout=10
        )
        assert answer.status_code == 413
        assert "50000 bytes" in answer.json()["error"]

    def test_a_chunked_body_that_grows_past_the_limit(self, url: str, key: NewKey) -> None:
        chunks = (b"x" * 10_000 for _ in range(20))
        answer = requests.post(f"{url}/v1/traces", data=chunks, headers=auth(key), timeout=10)
        assert answer.status_code == 413
        assert "request body" in answer.json()["error"]

    def test_a_gzip_bomb_is_not_expanded(self, url: str, key: NewKey) -> None:
        bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
        assert len(bomb) < 50_000
        answer = requests.post(
            f"{url}/v1/traces",
            data=bomb,
            headers={**auth(key), "Content-Encoding": "gzip"},
            timeout=10,
        )
        assert answer.status_code == 413
        assert "decoded document" in answer.json()["error"]
        assert "200000 bytes" in answer.json()["error"]

    def test_a_client_that_hangs_up_mid_body_is_no_server_error(
        self, url: str, key: NewKey
    ) -> None:
        host, port = url.removeprefix("http://").split(":")
        with captured_server_log() as log:
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                head = (
                    f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {key.secret}\r\nContent-Length: 1000\r\n\r\n"
                )
                conn.sendall(head.encode() + b'{"sessions": [')
                time.sleep(0.2)  # authenticated and reading the body
            deadline = time.monotonic() + 5
            while not log.messages and time.monotonic() < deadline:
                time.sleep(0.02)
        assert [json.loads(m)["status"] for m in log.messages] == [400]

    def test_a_body_within_the_limits_is_stored(self, url: str, key: NewKey) -> None:
        chunks = (part for part in (body(document([session()])),))
        answer = requests.post(f"{url}/v1/traces", data=chunks, headers=auth(key), timeout=10)
        assert answer.status_code == 201


class TestMemoryBudget:
    """Uploads in progress share one memory budget: beyond it, 503 with Retry-After, at once."""

    def test_an_upload_beyond_the_budget_is_told_to_come_back(
        self, storage: Storage, key: NewKey
    ) -> None:
        app = create_app(storage, limits=UploadLimits(memory_bytes=4 * 1024 * 1024))
        run = session()
        events = [llm_event(run["id"]) for _ in range(800)]  # about 500 KB of JSON
        raw = body(document([run], events))
        with live_server(app) as url:
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=5) as slow:
                head = (
                    f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {key.secret}\r\nContent-Length: 3100000\r\n\r\n"
                )
                slow.sendall(head.encode() + b" " * 3_000_000)  # 3 MB held while the rest waits
                time.sleep(0.5)
                busy = requests.post(f"{url}/v1/traces", data=raw, headers=auth(key), timeout=10)
                assert busy.status_code == 503
                assert busy.headers["Retry-After"] == "1"
                assert "busy with other uploads" in busy.json()["error"]
            deadline = time.monotonic() + 10  # the slow upload has gone: its share comes back
            while True:
                again = requests.post(f"{url}/v1/traces", data=raw, headers=auth(key), timeout=10)
                if again.status_code != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert again.status_code == 201

    def test_an_upload_larger_than_the_whole_budget_is_refused_for_good(
        self, storage: Storage, key: NewKey
    ) -> None:
        client = TestClient(create_app(storage, limits=UploadLimits(memory_bytes=1024 * 1024)))
        run = session()
        raw = body(document([run], [llm_event(run["id"]) for _ in range(800)]))
        answer = client.post("/v1/traces", content=raw, headers=auth(key))
        assert answer.status_code == 413
        assert "--ingest-memory-mb" in answer.json()["error"]


class TestQuota:
    """A used-up quota refuses uploads with 429 and the usage."""

    def test_uploads_past_the_quota_are_refused_with_the_usage(self, tmp_path: Path) -> None:
        storage = open_storage(f"sqlite:///{tmp_path}/q.db", Quotas({"free": 2}))
        try:
            new = storage.create_key("free")
            client = TestClient(create_app(storage))
            assert upload(client, new, document([session(), session()])).status_code == 201
            refused = upload(client, new, document([session()]))
            assert refused.status_code == 429
            assert refused.json()["success"] is False
            assert "quota" in refused.json()["error"]
            assert refused.json()["usage"]["is_rate_limited"] is True
            assert refused.json()["usage"]["traces_remaining"] == 0
            usage = client.get("/v1/usage", headers=auth(new))
            assert usage.status_code == 429
            assert usage.json()["usage"]["traces_used"] == 2
            assert client.get("/v1/sessions", headers=auth(new)).json()["next_cursor"] is None
            assert len(client.get("/v1/sessions", headers=auth(new)).json()["sessions"]) == 2
        finally:
            storage.close()


class TestQueries:
    """Filters, pagination and times through the API."""

    @pytest.fixture
    def stored(self, client: TestClient, key: NewKey) -> list[dict[str, Any]]:
        base = 1_767_225_600.0  # 2026-01-01T00:00:00Z
        runs = [
            session(
                f"run-{i}", started_at=base + i * 3600, labels={"env": "prod" if i % 2 else "dev"}
            )
            for i in range(6)
        ]
        events = [
            llm_event(
                run["id"],
                model="claude-x" if i == 5 else "gpt-4o-mini",
                provider="anthropic" if i == 5 else "openai",
                started_at=run["started_at"] + 1,
                error="boom" if i == 2 else None,
            )
            for i, run in enumerate(runs)
        ]
        assert upload(client, key, document(runs, events)).status_code == 201
        return runs

    def names(self, client: TestClient, key: NewKey, query: str) -> list[str]:
        answer = client.get(f"/v1/sessions{query}", headers=auth(key))
        assert answer.status_code == 200, answer.text
        return [s["name"] for s in answer.json()["sessions"]]

    def test_filters(self, client: TestClient, key: NewKey, stored: list[dict[str, Any]]) -> None:
        assert self.names(client, key, "") == [f"run-{i}" for i in range(5, -1, -1)]
        assert self.names(client, key, "?label=env:prod") == ["run-5", "run-3", "run-1"]
        assert self.names(client, key, "?label=env:prod&label=team:x") == []
        assert self.names(client, key, "?label=env:a:b") == []  # the first colon splits
        assert self.names(client, key, "?name=RUN-4") == ["run-4"]
        assert self.names(client, key, "?has_errors=true") == ["run-2"]
        assert "run-2" not in self.names(client, key, "?has_errors=false")
        assert self.names(client, key, "?model=claude-x") == ["run-5"]
        assert self.names(client, key, "?provider=anthropic") == ["run-5"]

    def test_iso_and_epoch_times_mean_the_same(
        self, client: TestClient, key: NewKey, stored: list[dict[str, Any]]
    ) -> None:
        epoch = self.names(client, key, "?since=1767229200&until=1767240000")
        iso = self.names(
            client, key, "?since=2026-01-01T01:00:00Z&until=2026-01-01T04:00:00%2B00:00"
        )
        naive = self.names(client, key, "?since=2026-01-01T01:00:00&until=2026-01-01T04:00:00")
        assert epoch == iso == naive == ["run-3", "run-2", "run-1"]

    def test_pages_cover_every_session_once(
        self, client: TestClient, key: NewKey, stored: list[dict[str, Any]]
    ) -> None:
        seen: list[str] = []
        cursor = ""
        pages = 0
        while True:
            answer = client.get(f"/v1/sessions?limit=4{cursor}", headers=auth(key)).json()
            seen += [s["id"] for s in answer["sessions"]]
            pages += 1
            if answer["next_cursor"] is None:
                break
            cursor = f"&cursor={answer['next_cursor']}"
        assert pages == 2
        assert sorted(seen) == sorted(run["id"] for run in stored)

    def test_one_session_with_its_events_and_tree(
        self, client: TestClient, key: NewKey, stored: list[dict[str, Any]]
    ) -> None:
        answer = client.get(f"/v1/sessions/{stored[5]['id']}", headers=auth(key)).json()
        assert answer["session"]["name"] == "run-5"
        assert answer["session"]["llm_calls"] == 1
        assert answer["session"]["models"] == ["claude-x"]
        assert [e["provider"] for e in answer["events"]] == ["anthropic"]
        assert [node["span_id"] for node in answer["trace_tree"]] == [
            answer["events"][0]["span_id"]
        ]

    def test_stats_by_model_and_bucket(
        self, client: TestClient, key: NewKey, stored: list[dict[str, Any]]
    ) -> None:
        answer = client.get("/v1/stats?group_by=model", headers=auth(key)).json()
        assert answer["group_by"] == "model"
        assert answer["bucket"] == "none"
        calls = {g["group"]: g["calls"] for g in answer["groups"]}
        assert calls == {"claude-x": 1, "gpt-4o-mini": 5}
        errors = {g["group"]: g["errors"] for g in answer["groups"]}
        assert errors == {"claude-x": 0, "gpt-4o-mini": 1}
        hourly = client.get("/v1/stats?group_by=none&bucket=hour", headers=auth(key)).json()
        assert len(hourly["groups"]) == 6
        by_label = client.get("/v1/stats?group_by=label:env", headers=auth(key)).json()
        assert {g["group"]: g["calls"] for g in by_label["groups"]} == {"dev": 3, "prod": 3}


class TestHealth:
    """/health needs no key and says whether the database answers."""

    def test_ok(self, client: TestClient) -> None:
        answer = client.get("/health")
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok", "database": "ok"}

    def test_a_database_that_does_not_answer_is_503(self) -> None:
        storage = MemoryStorage()
        client = TestClient(create_app(storage))
        assert client.get("/health").status_code == 200
        storage.healthy = False
        answer = client.get("/health")
        assert answer.status_code == 503
        assert answer.json() == {"status": "unavailable", "database": "unreachable"}


class TestLogs:
    """One JSON line per request; never a key."""

    def test_each_request_is_one_json_line_without_the_key(
        self, client: TestClient, key: NewKey
    ) -> None:
        with captured_server_log() as log:
            upload(client, key, document([session()]))
            client.get("/v1/sessions?name=x", headers=auth(key))
            client.get("/v1/usage", headers={"Authorization": "Bearer aiobs_sk_wrong_key"})
        lines = [json.loads(message) for message in log.messages]
        assert [(line["method"], line["path"], line["status"]) for line in lines] == [
            ("POST", "/v1/traces", 201),
            ("GET", "/v1/sessions", 200),
            ("GET", "/v1/usage", 401),
        ]
        assert lines[0]["project_id"] == key.record.project_id
        assert lines[0]["bytes_in"] > 0
        assert lines[0]["bytes_out"] > 0
        assert lines[2]["project_id"] is None
        assert all(isinstance(line["duration_ms"], float) for line in lines)
        text = "\n".join(log.messages)
        assert key.secret not in text
        assert "aiobs_sk_wrong_key" not in text

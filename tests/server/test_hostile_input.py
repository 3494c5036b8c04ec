"""Uploads and queries an attacker would send, on SQLite and PostgreSQL: refused, never a 500.

Every refusal is a JSON answer that says what is wrong, and nothing of a refused upload is stored.
Documents are written as JSON text here, because most of these values (``NaN``, a lone surrogate,
a 5,000-digit integer) cannot be produced by ``json.dumps`` of Python values.
"""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, Quotas, SQLStorage, open_storage
from tests.server.app_fixtures import document, function_event, llm_event, session

HOLE = '"@@hole@@"'
"""Where a test puts its literal JSON text in a document."""


@pytest.fixture
def app_client(storage: SQLStorage) -> TestClient:
    return TestClient(create_app(storage), raise_server_exceptions=False)


@pytest.fixture
def key(storage: SQLStorage) -> NewKey:
    return storage.create_key("enterprise", name="attacker")


def auth(key: NewKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.secret}"}


def one_session(**fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document of one session with an LLM call and a function call, and that session."""
    run = session(**fields)
    return document([run], [llm_event(run["id"])], [function_event(run["id"])]), run


def with_literal(
    doc: dict[str, Any], place: Callable[[dict[str, Any]], None], literal: str
) -> bytes:
    """``doc`` as JSON with ``literal`` (raw JSON text) where ``place`` put the hole."""
    place(doc)
    text = json.dumps(doc)
    assert text.count(HOLE) == 1
    return text.replace(HOLE, literal).encode()


def post(client: TestClient, key: NewKey, raw: bytes, **headers: str) -> Any:
    return client.post("/v1/traces", content=raw, headers={**auth(key), **headers})


def stored_sessions(client: TestClient, key: NewKey) -> list[dict[str, Any]]:
    answer = client.get("/v1/sessions", headers=auth(key))
    assert answer.status_code == 200, answer.text
    sessions: list[dict[str, Any]] = answer.json()["sessions"]
    return sessions


def assert_refused(answer: Any, status: int, *fragments: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False
    for fragment in fragments:
        assert fragment in body["error"]


def _set(*path: str | int) -> Callable[[dict[str, Any]], None]:
    """A placer that puts the hole at ``path`` (keys and list indexes) in a document."""

    def place(doc: dict[str, Any]) -> None:
        target: Any = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = json.loads(HOLE)

    return place


NUMBER_FIELDS = {
    "events[0].started_at": _set("events", 0, "started_at"),
    "events[0].ended_at": _set("events", 0, "ended_at"),
    "events[0].duration_ms": _set("events", 0, "duration_ms"),
    "function_events[0].duration_ms": _set("function_events", 0, "duration_ms"),
    "events[0].usage.input_tokens": _set("events", 0, "usage", "input_tokens"),
    "events[0].usage.total_tokens": _set("events", 0, "usage", "total_tokens"),
    "events[0].cost.total": _set("events", 0, "cost", "total"),
    "sessions[0].started_at": _set("sessions", 0, "started_at"),
    "sessions[0].ended_at": _set("sessions", 0, "ended_at"),
}


def _add_cost(doc: dict[str, Any]) -> None:
    doc["events"][0]["cost"] = {"input": 0.0, "output": 0.0, "total": 0.0}


class TestNumbers:
    """Times, token counts and costs must be finite numbers the database can hold."""

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
    @pytest.mark.parametrize("field", list(NUMBER_FIELDS))
    def test_non_finite_numbers_are_refused(
        self, app_client: TestClient, key: NewKey, field: str, literal: str
    ) -> None:
        doc, _ = one_session()
        _add_cost(doc)
        answer = post(app_client, key, with_literal(doc, NUMBER_FIELDS[field], literal))
        assert_refused(answer, 400)
        assert stored_sessions(app_client, key) == []

    @pytest.mark.parametrize("field", list(NUMBER_FIELDS))
    def test_integers_too_large_for_the_field_are_refused(
        self, app_client: TestClient, key: NewKey, field: str
    ) -> None:
        doc, _ = one_session()
        _add_cost(doc)
        answer = post(app_client, key, with_literal(doc, NUMBER_FIELDS[field], "1" + "0" * 400))
        assert_refused(answer, 400, field)
        assert stored_sessions(app_client, key) == []

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
    def test_non_finite_numbers_in_recorded_arguments_are_refused(
        self, app_client: TestClient, key: NewKey, literal: str
    ) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("events", 0, "request", "temperature"), literal)
        assert_refused(post(app_client, key, raw), 400)
        assert stored_sessions(app_client, key) == []

    def test_a_5000_digit_integer_is_refused(self, app_client: TestClient, key: NewKey) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("events", 0, "request", "seed"), "7" * 5000)
        assert_refused(post(app_client, key, raw), 400, "not valid JSON")

    def test_a_large_but_finite_integer_in_arguments_is_kept(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        doc, run = one_session()
        raw = with_literal(doc, _set("events", 0, "request", "seed"), "9" * 401)
        assert post(app_client, key, raw).status_code == 201
        read = app_client.get(f"/v1/sessions/{run['id']}", headers=auth(key)).json()
        assert read["events"][0]["request"]["seed"] == int("9" * 401)

    def test_token_counts_beyond_64_bits_are_refused(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("events", 0, "usage", "output_tokens"), str(2**63))
        assert_refused(post(app_client, key, raw), 400, "events[0].usage.output_tokens")


class TestStrings:
    """Text must be valid Unicode; text that becomes a database column may not hold NUL."""

    PLACES: ClassVar[dict[str, Callable[[dict[str, Any]], None]]] = {
        "session name": _set("sessions", 0, "name"),
        "label value": _set("sessions", 0, "labels", "team"),
        "recorded argument": _set("events", 0, "request", "messages", 0, "content"),
        "span id": _set("events", 0, "span_id"),
        "model": _set("events", 0, "request_model"),
        "function name": _set("function_events", 0, "name"),
    }

    @pytest.mark.parametrize("literal", ['"a\\ud800b"', '"\\udfff"', '"x\\ud83dy"'])
    @pytest.mark.parametrize("place", list(PLACES))
    def test_a_lone_surrogate_is_refused(
        self, app_client: TestClient, key: NewKey, place: str, literal: str
    ) -> None:
        doc, _ = one_session(labels={"team": "a"})
        raw = with_literal(doc, self.PLACES[place], literal)
        assert_refused(post(app_client, key, raw), 400, "not valid JSON")
        assert stored_sessions(app_client, key) == []

    def test_a_surrogate_pair_is_kept(self, app_client: TestClient, key: NewKey) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("sessions", 0, "name"), '"smile \\ud83d\\ude00"')
        assert post(app_client, key, raw).status_code == 201
        assert stored_sessions(app_client, key)[0]["name"] == "smile \U0001f600"

    def test_bytes_that_are_not_utf8_are_refused(self, app_client: TestClient, key: NewKey) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("sessions", 0, "name"), '"@@"').replace(b"@@", b"\xed\xa0\x80")
        assert_refused(post(app_client, key, raw), 400)

    @pytest.mark.parametrize(
        "place",
        [
            "session name",
            "label value",
            "label key",
            "span id",
            "model",
            "function name",
            "provider",
        ],
    )
    def test_nul_in_a_column_is_refused(
        self, app_client: TestClient, key: NewKey, place: str
    ) -> None:
        doc, _ = one_session(labels={"team": "a"})
        if place == "label key":
            doc["sessions"][0]["labels"] = {"te\x00am": "a"}
            raw = json.dumps(doc).encode()
        elif place == "provider":
            raw = with_literal(doc, _set("events", 0, "provider"), '"open\\u0000ai"')
        else:
            raw = with_literal(doc, self.PLACES[place], '"a\\u0000b"')
        # an id breaks the id rule (which leaves NUL out); other text is told NUL is the problem
        assert_refused(post(app_client, key, raw), 400, "span_id" if place == "span id" else "NUL")
        assert stored_sessions(app_client, key) == []

    def test_nul_in_recorded_arguments_is_kept(self, app_client: TestClient, key: NewKey) -> None:
        doc, run = one_session()
        raw = with_literal(doc, self.PLACES["recorded argument"], '"bin\\u0000ary"')
        assert post(app_client, key, raw).status_code == 201
        read = app_client.get(f"/v1/sessions/{run['id']}", headers=auth(key)).json()
        assert read["events"][0]["request"]["messages"][0]["content"] == "bin\x00ary"


def nested(depth: int) -> str:
    """``depth`` levels of arrays and objects, alternating."""
    opening = "".join("[" if level % 2 else '{"k":' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opening + "0" + closing


class TestNesting:
    """Recorded values may nest 64 levels deep in the document; deeper is refused with 400."""

    @pytest.mark.parametrize("depth", [70, 500, 900, 5000])
    def test_deep_nesting_inside_an_event_is_refused(
        self, app_client: TestClient, key: NewKey, depth: int
    ) -> None:
        doc, _ = one_session()
        raw = with_literal(doc, _set("events", 0, "request", "tools"), nested(depth))
        assert_refused(post(app_client, key, raw), 400, "nested", "64")
        assert stored_sessions(app_client, key) == []

    def test_nesting_the_sdk_writes_is_stored_and_read_back(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        doc, run = one_session()
        raw = with_literal(doc, _set("events", 0, "request", "tools"), nested(40))
        assert post(app_client, key, raw).status_code == 201
        read = app_client.get(f"/v1/sessions/{run['id']}", headers=auth(key))
        assert read.status_code == 200
        assert json.dumps(read.json()["events"][0]["request"]["tools"]) == json.dumps(
            json.loads(nested(40))
        )


class TestIds:
    """Session, span and trace ids are short and URL-safe, so that every stored id can be read."""

    @pytest.mark.parametrize(
        "bad",
        ["a/b", "../x", "a b", "x" * 100_000, "x" * 129, "a?b", "a#b", "a%2Fb", "é", "a\\u0000b"],
    )
    def test_a_session_id_that_could_not_be_read_back_is_refused(
        self, app_client: TestClient, key: NewKey, bad: str
    ) -> None:
        doc, _ = one_session()
        doc["sessions"][0]["id"] = "@@"
        for event in doc["events"] + doc["function_events"]:
            event["session_id"] = "@@"
        raw = json.dumps(doc).replace('"@@"', json.dumps(bad).replace("\\\\u", "\\u")).encode()
        answer = post(app_client, key, raw)
        assert_refused(answer, 400, "sessions[0].id", "128")
        assert len(answer.text) < 1000  # a huge id is not echoed
        assert stored_sessions(app_client, key) == []

    @pytest.mark.parametrize("field", ["span_id", "parent_span_id", "trace_id"])
    def test_span_and_trace_ids_are_checked_too(
        self, app_client: TestClient, key: NewKey, field: str
    ) -> None:
        doc, _ = one_session()
        doc["events"][0][field] = "y" * 100_000
        assert_refused(post(app_client, key, json.dumps(doc).encode()), 400, f"events[0].{field}")

    @pytest.mark.parametrize(
        "good",
        [
            "6f1c0f8e-2d1a-4c55-9a0e-3b1f2a7c9d10",  # uuid4, as this SDK and aiobs 0.2 write
            "legacy-1",
            "run_2026.01.01:a",
            "x" * 128,
        ],
    )
    def test_ids_of_the_allowed_form_are_stored_and_read_back(
        self, app_client: TestClient, key: NewKey, good: str
    ) -> None:
        doc, _ = one_session(session_id=good)
        assert post(app_client, key, json.dumps(doc).encode()).status_code == 201
        read = app_client.get(f"/v1/sessions/{good}", headers=auth(key))
        assert read.status_code == 200
        assert read.json()["session"]["id"] == good


class TestQueryParameters:
    """Query parameters with NUL are refused with 400 (PostgreSQL text cannot hold it)."""

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/sessions?name=a%00b",
            "/v1/sessions?label=team:%00",
            "/v1/sessions?label=%00:x",
            "/v1/sessions?model=%00",
            "/v1/sessions?provider=open%00ai",
            "/v1/sessions/a%00b",
            "/v1/stats?group_by=label:%00",
        ],
    )
    def test_nul_is_refused(self, app_client: TestClient, key: NewKey, path: str) -> None:
        assert_refused(app_client.get(path, headers=auth(key)), 400, "NUL")


class TestIdempotencyKey:
    """A key names one document: reusing it for another is refused (IETF draft: 422)."""

    def test_a_reused_key_with_a_different_document_is_refused(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        first, one = one_session()
        second, two = one_session()
        headers = {"Idempotency-Key": "flush-1"}
        assert post(app_client, key, json.dumps(first).encode(), **headers).status_code == 201
        answer = post(app_client, key, json.dumps(second).encode(), **headers)
        assert_refused(answer, 422, "Idempotency-Key", "different document")
        assert [found["id"] for found in stored_sessions(app_client, key)] == [one["id"]]
        assert two["id"] != one["id"]

    def test_a_genuine_retry_is_still_a_replay(self, app_client: TestClient, key: NewKey) -> None:
        first, _ = one_session()
        raw = json.dumps(first).encode()
        headers = {"Idempotency-Key": "flush-1"}
        assert post(app_client, key, raw, **headers).status_code == 201
        again = post(app_client, key, gzip.compress(raw), **headers, **{"Content-Encoding": "gzip"})
        assert again.status_code == 200
        assert again.json()["stored"] == {"sessions": 0, "events": 0}


class TestDocumentEnvelope:
    """Unknown top-level fields are ignored within a small allowance, else refused."""

    def test_a_few_small_unknown_fields_are_ignored(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        doc, _ = one_session()
        doc.update({"sdk": "other", "extra": {"note": "x" * 1000}})
        assert post(app_client, key, json.dumps(doc).encode()).status_code == 201

    def test_many_unknown_fields_are_refused(self, app_client: TestClient, key: NewKey) -> None:
        doc, _ = one_session()
        doc.update({f"field{n}": n for n in range(20)})
        assert_refused(post(app_client, key, json.dumps(doc).encode()), 400, "unknown", "field0")
        assert stored_sessions(app_client, key) == []

    def test_a_large_unknown_field_is_refused(self, app_client: TestClient, key: NewKey) -> None:
        doc, _ = one_session()
        doc["padding"] = "x" * 200_000
        assert_refused(post(app_client, key, json.dumps(doc).encode()), 400, "padding")

    def test_a_gzip_bomb_of_empty_objects_is_refused_before_parsing(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        doc, _ = one_session()
        bomb = json.dumps(doc)[:-1] + ', "junk": [' + "{}," * 3_000_000 + "{}]}"
        body = gzip.compress(bomb.encode(), 9)
        assert len(body) < 200_000
        started = time.perf_counter()
        answer = post(app_client, key, body, **{"Content-Encoding": "gzip"})
        assert_refused(answer, 413, "values")
        assert time.perf_counter() - started < 5


class TestEventsPerUpload:
    """An upload holds at most 10,000 events by default; the SDK splits larger flushes."""

    def test_more_than_the_limit_is_refused_with_413(
        self, app_client: TestClient, key: NewKey
    ) -> None:
        run = session()
        events = [llm_event(run["id"]) for _ in range(5001)]
        functions = [function_event(run["id"]) for _ in range(5000)]
        answer = post(app_client, key, json.dumps(document([run], events, functions)).encode())
        assert_refused(answer, 413, "10001 events", "10000", "split")
        assert stored_sessions(app_client, key) == []

    def test_the_limit_is_configurable(self, storage: SQLStorage, key: NewKey) -> None:
        client = TestClient(create_app(storage, max_events_per_upload=3))
        run = session()
        doc = document([run], [llm_event(run["id"]) for _ in range(2)], [function_event(run["id"])])
        assert post(client, key, json.dumps(doc).encode()).status_code == 201
        doc["events"].append(llm_event(run["id"]))
        assert_refused(post(client, key, json.dumps(doc).encode()), 413, "4 events", "3")


def seconds_to_next_utc_day() -> float:
    now = datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class TestRetryAfter:
    """Quota refusals say when the quota renews."""

    @pytest.fixture
    def limited(self, storage_url: str) -> Iterator[tuple[TestClient, NewKey]]:
        storage = open_storage(storage_url, Quotas({"free": 1}, period="day"))
        key = storage.create_key("free")
        client = TestClient(create_app(storage), raise_server_exceptions=False)
        doc, _ = one_session()
        assert post(client, key, json.dumps(doc).encode()).status_code == 201
        yield client, key
        storage.close()

    def test_an_upload_refused_for_quota_says_when_to_retry(
        self, limited: tuple[TestClient, NewKey]
    ) -> None:
        client, key = limited
        doc, _ = one_session()
        answer = post(client, key, json.dumps(doc).encode())
        assert answer.status_code == 429
        assert math.isclose(
            int(answer.headers["Retry-After"]), seconds_to_next_utc_day(), abs_tol=5
        )

    def test_the_usage_answer_at_the_limit_says_it_too(
        self, limited: tuple[TestClient, NewKey]
    ) -> None:
        client, key = limited
        answer = client.get("/v1/usage", headers=auth(key))
        assert answer.status_code == 429
        assert math.isclose(
            int(answer.headers["Retry-After"]), seconds_to_next_utc_day(), abs_tol=5
        )

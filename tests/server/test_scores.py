"""Evaluation scores in the flush server: stored from uploads, added by POST /v1/scores, read
back on sessions and events, filtered on, and aggregated in /v1/stats.

Every test runs through the real app over SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiobs import observe, observer
from aiobs.evals import RegexAssertion, evaluate
from aiobs.exporters import InMemoryExporter
from aiobs.server.app import create_app
from aiobs.server.scoring import MAX_SCORES_PER_REQUEST
from aiobs.server.storage import NewKey, SQLStorage, migrations, open_storage
from tests.server.app_fixtures import document, function_event, live_server, llm_event, session


@pytest.fixture
def store(storage_url: str) -> Iterator[SQLStorage]:
    opened = open_storage(storage_url)
    assert isinstance(opened, SQLStorage)
    yield opened
    opened.close()


@pytest.fixture
def key(store: SQLStorage) -> NewKey:
    return store.create_key("enterprise")


@pytest.fixture
def client(store: SQLStorage) -> TestClient:
    return TestClient(create_app(store))


def auth(key: NewKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.secret}"}


def score(name: str, value: Any, created_at: float = 1.0, **extra: Any) -> dict[str, Any]:
    """A score as the SDK writes it into a document."""
    return {
        "name": name,
        "value": value,
        "comment": None,
        "source": "api",
        "evaluator": None,
        "span_id": None,
        "created_at": created_at,
        **extra,
    }


def upload(client: TestClient, key: NewKey, doc: dict[str, Any], idem: str | None = None) -> None:
    headers = auth(key) if idem is None else {**auth(key), "Idempotency-Key": idem}
    answer = client.post("/v1/traces", json=doc, headers=headers)
    assert answer.status_code in (200, 201), answer.text


def detail(client: TestClient, key: NewKey, session_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/sessions/{session_id}", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def names_and_values(scores: list[dict[str, Any]] | None) -> list[tuple[str, Any]]:
    return [(item["name"], item["value"]) for item in scores or []]


def scored_session(client: TestClient, key: NewKey) -> tuple[str, str]:
    """A stored session with one LLM call; its id and the call's span id."""
    run = session("scored")
    call = llm_event(run["id"])
    upload(client, key, document([run], [call]))
    return run["id"], call["span_id"]


class TestUploadedScores:
    """Scores inside an uploaded document are stored and read back where they were given."""

    def test_scores_written_by_the_sdk_come_back_on_their_events_nodes_and_session(
        self, client: TestClient, key: NewKey
    ) -> None:
        exporter = InMemoryExporter()
        with observer.session("graded"):
            with observer.span("answer"):
                span_id = observer.get_current_span_id()
                observer.score("helpful", 0.75, comment="graded by the reviewer")
                observer.score("grounded", True)
            observer.score("verdict", "pass")
            observer.flush(exporter=exporter)
            session_id = exporter.documents[0]["sessions"][0]["id"]
            # the span went out in the first document: this score goes on the session
            observer.score("late", False, span_id=span_id, session_id=session_id)
            observer.flush(exporter=exporter)
        assert exporter.documents[1]["sessions"][0]["scores"][0]["span_id"] == span_id
        for doc in exporter.documents:
            upload(client, key, doc)

        found = detail(client, key, session_id)
        (event,) = found["function_events"]
        assert names_and_values(event["scores"]) == [
            ("helpful", 0.75),
            ("grounded", True),
            ("late", False),
        ]
        assert event["scores"][0]["comment"] == "graded by the reviewer"
        assert event["scores"][0]["source"] == "api"
        assert names_and_values(found["trace_tree"][0]["scores"]) == names_and_values(
            event["scores"]
        )
        assert names_and_values(found["session"]["scores"]) == [("verdict", "pass")]
        summary = {line["name"]: line for line in found["session"]["score_summary"]}
        assert summary["helpful"] == {"name": "helpful", "count": 1, "mean": 0.75, "value": 0.75}
        assert summary["verdict"]["mean"] is None

    def test_evaluate_attach_results_arrive_with_source_evaluator_and_comment(
        self, client: TestClient, key: NewKey
    ) -> None:
        exporter = InMemoryExporter()

        @observe
        def capital(country: str) -> str:
            return "Paris" if country == "France" else "I am not sure"

        with observer.session("geography"):
            capital("France")
            capital("Peru")
        observer.flush(exporter=exporter)
        doc = exporter.documents[0]
        evaluate(doc, [RegexAssertion.from_patterns(patterns=["Paris"])], attach=True)
        upload(client, key, doc)

        found = detail(client, key, doc["sessions"][0]["id"])
        scores = {event["args"][0]: event["scores"][0] for event in found["function_events"]}
        assert {country: s["value"] for country, s in scores.items()} == {
            "France": 1.0,
            "Peru": 0.0,
        }
        assert {s["source"] for s in scores.values()} == {"eval"}
        assert scores["Peru"]["evaluator"]
        assert scores["Peru"]["evaluator"] == scores["France"]["evaluator"]
        assert scores["Peru"]["comment"].startswith("failed: ")
        assert scores["France"]["comment"].startswith("passed: ")
        answer = client.get(
            "/v1/sessions", params={"score": f"{scores['Peru']['name']}:<0.5"}, headers=auth(key)
        )
        assert [item["name"] for item in answer.json()["sessions"]] == ["geography"]

    def test_a_document_uploaded_again_stores_its_scores_once(
        self, store: SQLStorage, client: TestClient, key: NewKey
    ) -> None:
        run = session("twice")
        run["scores"] = [score("verdict", "pass")]
        call = llm_event(run["id"])
        call["scores"] = [score("helpful", 0.5, span_id=call["span_id"])]
        doc = document([run], [call])
        upload(client, key, doc, "first")
        upload(client, key, doc, "first")  # a retry: a replay
        upload(client, key, doc, "second")  # the same scores under another key
        found = detail(client, key, run["id"])
        assert names_and_values(found["session"]["scores"]) == [("verdict", "pass")]
        assert names_and_values(found["events"][0]["scores"]) == [("helpful", 0.5)]
        with store.driver.reading() as cursor:
            cursor.execute("SELECT COUNT(*) FROM aiobs_scores")
            assert cursor.fetchone()[0] == 2

    def test_an_event_without_scores_has_none(self, client: TestClient, key: NewKey) -> None:
        session_id, _ = scored_session(client, key)
        found = detail(client, key, session_id)
        assert "scores" not in found["events"][0]
        assert found["session"]["scores"] == []
        assert found["session"]["score_summary"] == []

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ({"name": "Bad Name"}, "sessions[0].scores[0]: Score name 'Bad Name' is invalid"),
            ({"value": [1]}, "sessions[0].scores[0]: Score 'verdict' has a value of type list"),
            ({"value": ""}, "a category must be 1 to 64 characters"),
            ({"value": "a\x00b"}, "Score 'verdict' has a category holding NUL"),
            ({"source": "robot"}, "sessions[0].scores[0].source must be one of api, eval"),
            ({"created_at": "now"}, "sessions[0].scores[0].created_at must be a number"),
            ({"span_id": "no spaces"}, "sessions[0].scores[0].span_id must be"),
        ],
    )
    def test_an_invalid_score_refuses_the_upload_naming_it(
        self, client: TestClient, key: NewKey, bad: dict[str, Any], message: str
    ) -> None:
        run = session("bad")
        run["scores"] = [{**score("verdict", "pass"), **bad}]
        answer = client.post("/v1/traces", json=document([run]), headers=auth(key))
        assert answer.status_code == 400
        assert message in answer.json()["error"]

    def test_scores_must_be_a_list_of_objects(self, client: TestClient, key: NewKey) -> None:
        run = session("bad")
        call = llm_event(run["id"])
        call["scores"] = {"name": "x"}
        answer = client.post("/v1/traces", json=document([run], [call]), headers=auth(key))
        assert answer.status_code == 400
        assert answer.json()["error"] == "events[0].scores must be a list"


PROGRAM = """
from aiobs import observe, observer

@observe
def answer(question):
    observer.score("helpful", 0.8, comment="graded in the program")
    return "fine"

observer.configure(exit_timeout=5.0)
observer.observe("delivered")
answer("hi")
observer.score("resolved", True)
observer.end()
observer.flush("out.json")
"""


def test_scores_delivered_by_the_sdk_to_a_running_server(
    store: SQLStorage, key: NewKey, tmp_path: Path
) -> None:
    """A program flushing to a real server (uvicorn) over HTTP: its scores are stored."""
    with live_server(create_app(store)) as url:
        env = {**os.environ, "AIOBS_API_KEY": key.secret, "AIOBS_FLUSH_SERVER_URL": url}
        env["AIOBS_SPOOL_DIR"] = str(tmp_path / "spool")
        env.pop("AIOBS_RAISE_INTERNAL_ERRORS", None)
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        client = TestClient(create_app(store))
        (summary,) = client.get("/v1/sessions", headers=auth(key)).json()["sessions"]
    assert summary["score_summary"] == [
        {"name": "helpful", "count": 1, "mean": 0.8, "value": 0.8},
        {"name": "resolved", "count": 1, "mean": 1.0, "value": True},
    ]
    found = detail(client, key, summary["id"])
    assert names_and_values(found["function_events"][0]["scores"]) == [("helpful", 0.8)]
    assert names_and_values(found["session"]["scores"]) == [("resolved", True)]


class TestPostScores:
    """POST /v1/scores adds scores to stored sessions and spans, once per client id."""

    def test_scores_of_a_session_and_a_span_are_added_and_read_back(
        self, client: TestClient, key: NewKey
    ) -> None:
        session_id, span_id = scored_session(client, key)
        answer = client.post(
            "/v1/scores",
            json=[
                {"session_id": session_id, "name": "overall", "value": 4},
                {
                    "session_id": session_id,
                    "span_id": span_id,
                    "name": "faithfulness.v2",
                    "value": 0.25,
                    "comment": "fail: 2 claims unsupported",
                    "source": "eval",
                    "evaluator": "hallucination",
                },
            ],
            headers=auth(key),
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["created"] == 2
        assert [item["name"] for item in body["scores"]] == ["overall", "faithfulness.v2"]
        found = detail(client, key, session_id)
        assert names_and_values(found["session"]["scores"]) == [("overall", 4.0)]
        (added,) = found["events"][0]["scores"]
        assert added["comment"] == "fail: 2 claims unsupported"
        assert (added["source"], added["evaluator"]) == ("eval", "hallucination")
        assert found["trace_tree"][0]["scores"] == [added]

    def test_nul_in_a_comment_is_stored_as_a_replacement_character(
        self, client: TestClient, key: NewKey
    ) -> None:
        session_id, _ = scored_session(client, key)
        sent = {"session_id": session_id, "name": "x", "value": 1, "comment": "quoted \x00 here"}
        answer = client.post("/v1/scores", json=sent, headers=auth(key))
        assert answer.status_code == 201, answer.text
        assert answer.json()["scores"][0]["comment"] == "quoted \ufffd here"

    def test_one_score_object_is_accepted(self, client: TestClient, key: NewKey) -> None:
        session_id, _ = scored_session(client, key)
        answer = client.post(
            "/v1/scores",
            json={"session_id": session_id, "name": "ok", "value": True},
            headers=auth(key),
        )
        assert answer.status_code == 201
        assert answer.json()["scores"][0]["value"] is True

    def test_a_gzipped_body_is_read(self, client: TestClient, key: NewKey) -> None:
        session_id, _ = scored_session(client, key)
        raw = json.dumps({"session_id": session_id, "name": "ok", "value": "yes"}).encode()
        answer = client.post(
            "/v1/scores",
            content=gzip.compress(raw),
            headers={**auth(key), "Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert answer.status_code == 201, answer.text

    def test_the_same_id_again_returns_the_stored_score(
        self, client: TestClient, key: NewKey
    ) -> None:
        session_id, span_id = scored_session(client, key)
        sent = {"id": "review-17", "session_id": session_id, "span_id": span_id}
        sent |= {"name": "helpful", "value": 0.9}
        first = client.post("/v1/scores", json=sent, headers=auth(key))
        again = client.post("/v1/scores", json=sent, headers=auth(key))
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == {**first.json(), "created": 0}
        assert len(detail(client, key, session_id)["events"][0]["scores"]) == 1

    def test_the_same_id_with_another_score_is_a_conflict(
        self, client: TestClient, key: NewKey
    ) -> None:
        session_id, _ = scored_session(client, key)
        sent = {"id": "review-17", "session_id": session_id, "name": "helpful", "value": 0.9}
        assert client.post("/v1/scores", json=sent, headers=auth(key)).status_code == 201
        changed = client.post("/v1/scores", json={**sent, "value": 0.1}, headers=auth(key))
        assert changed.status_code == 409
        assert "review-17" in changed.json()["error"]
        assert "used before for a different score" in changed.json()["error"]
        found = detail(client, key, session_id)
        assert names_and_values(found["session"]["scores"]) == [("helpful", 0.9)]

    def test_nothing_is_stored_when_one_score_of_a_list_is_refused(
        self, client: TestClient, key: NewKey
    ) -> None:
        session_id, _ = scored_session(client, key)
        answer = client.post(
            "/v1/scores",
            json=[
                {"session_id": session_id, "name": "fine", "value": 1},
                {"session_id": session_id, "span_id": "0123456789abcdef", "name": "x", "value": 1},
            ],
            headers=auth(key),
        )
        assert answer.status_code == 404
        assert detail(client, key, session_id)["session"]["scores"] == []

    def test_another_projects_session_and_span_are_answered_as_missing(
        self, store: SQLStorage, client: TestClient, key: NewKey
    ) -> None:
        session_id, span_id = scored_session(client, key)
        other = store.create_key("enterprise")
        answers = {
            "missing session": client.post(
                "/v1/scores",
                json={"session_id": "no-such-session", "name": "x", "value": 1},
                headers=auth(other),
            ),
            "other session": client.post(
                "/v1/scores",
                json={"session_id": session_id, "name": "x", "value": 1},
                headers=auth(other),
            ),
        }
        assert {name: a.status_code for name, a in answers.items()} == {
            "missing session": 404,
            "other session": 404,
        }
        assert answers["other session"].json()["error"] == f"session {session_id!r} not found"
        missing_span = client.post(
            "/v1/scores",
            json={"session_id": session_id, "span_id": "ffffffffffffffff", "name": "x", "value": 1},
            headers=auth(key),
        )
        assert missing_span.status_code == 404
        assert "span 'ffffffffffffffff' not found" in missing_span.json()["error"]
        own_span_other_key = client.post(
            "/v1/scores",
            json={"session_id": session_id, "span_id": span_id, "name": "x", "value": 1},
            headers=auth(other),
        )
        assert own_span_other_key.status_code == 404

    @pytest.mark.parametrize(
        ("sent", "message"),
        [
            ({"name": "Helpful", "value": 1}, "Score name 'Helpful' is invalid"),
            ({"name": "x", "value": "c" * 65}, "a category must be 1 to 64 characters"),
            ({"name": "x", "value": {"a": 1}}, "has a value of type dict"),
            ({"name": "x", "value": 10**400}, "too large for a float"),
            ({"name": "x", "value": 1, "comment": 5}, "has a comment of type int"),
            ({"name": "x", "value": "a\x00b"}, "Score 'x' has a category holding NUL"),
            ({"name": "x", "value": 1, "source": "human"}, "source must be one of api, eval"),
            ({"name": "x", "value": 1, "source": ""}, "source must be one of api, eval"),
            ({"name": "x", "value": 1, "id": "has space"}, "scores[0].id must be"),
            ({"name": "x", "value": 1, "id": "sha256:abc"}, "must not start with 'sha256:'"),
            ({"name": "x", "value": 1, "vlaue": 2}, "unknown field 'vlaue'"),
            ({"name": "x"}, "scores[0].value is required"),
        ],
    )
    def test_an_invalid_score_is_refused_with_what_is_wrong(
        self, client: TestClient, key: NewKey, sent: dict[str, Any], message: str
    ) -> None:
        session_id, _ = scored_session(client, key)
        answer = client.post(
            "/v1/scores",
            content=json.dumps({"session_id": session_id, **sent}),
            headers={**auth(key), "Content-Type": "application/json"},
        )
        assert answer.status_code == 422, answer.text
        assert message in answer.json()["error"]

    @pytest.mark.parametrize(
        "raw",
        [b"", b"not json", b"[]", b"17", b'"x"', b"[1]", b'{"a":NaN}', b"[" * 900 + b"]" * 900],
    )
    def test_a_malformed_body_is_refused_never_a_server_error(
        self, client: TestClient, key: NewKey, raw: bytes
    ) -> None:
        answer = client.post(
            "/v1/scores", content=raw, headers={**auth(key), "Content-Type": "application/json"}
        )
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["error"]

    def test_a_body_beyond_the_limit_is_refused(self, client: TestClient, key: NewKey) -> None:
        session_id, _ = scored_session(client, key)
        many = [{"session_id": session_id, "name": "x", "value": 1}] * (MAX_SCORES_PER_REQUEST + 1)
        answer = client.post("/v1/scores", json=many, headers=auth(key))
        assert answer.status_code == 422
        assert "more than 1000 per request" in answer.json()["error"]
        huge = {"session_id": session_id, "name": "x", "value": 1, "comment": "c" * 2_000_000}
        answer = client.post("/v1/scores", json=huge, headers=auth(key))
        assert answer.status_code == 413

    def test_a_key_is_required(self, client: TestClient) -> None:
        answer = client.post("/v1/scores", json={"session_id": "s", "name": "x", "value": 1})
        assert answer.status_code == 401


def sessions_found(client: TestClient, key: NewKey, *scores: str) -> list[str]:
    answer = client.get("/v1/sessions", params={"score": list(scores)}, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return sorted(item["name"] for item in answer.json()["sessions"])


class TestScoreFilters:
    """GET /v1/sessions keeps the sessions having a matching score (theirs or a span's)."""

    @pytest.fixture
    def graded(self, client: TestClient, key: NewKey) -> None:
        runs = [session(name, started_at=float(i)) for i, name in enumerate("abcd")]
        calls = [llm_event(run["id"]) for run in runs]
        calls[0]["scores"] = [score("helpful", 0.2, span_id=calls[0]["span_id"])]
        calls[1]["scores"] = [score("helpful", 0.8, span_id=calls[1]["span_id"])]
        runs[2]["scores"] = [score("helpful", True), score("tone", "friendly")]
        runs[3]["scores"] = [score("pii", False), score("tone", "rude")]
        step = function_event(runs[3]["id"])
        step["scores"] = [score("helpful", 0.5, span_id=step["span_id"])]
        upload(client, key, document(runs, calls, [step]))

    @pytest.mark.usefixtures("graded")
    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            (("helpful",), ["a", "b", "c", "d"]),
            (("helpful:<0.5",), ["a"]),
            (("helpful:<=0.5",), ["a", "d"]),
            (("helpful:>0.5",), ["b"]),
            (("helpful:>=0.8",), ["b"]),
            (("helpful:true",), ["c"]),
            (("pii:false",), ["d"]),
            (("pii:true",), []),
            (("tone:=friendly",), ["c"]),
            (("tone:=Friendly",), []),
            (("helpful:>=0.5", "tone:=rude"), ["d"]),
            (("nothing",), []),
        ],
    )
    def test_filters(
        self, client: TestClient, key: NewKey, filters: tuple[str, ...], expected: list[str]
    ) -> None:
        assert sessions_found(client, key, *filters) == expected

    @pytest.mark.usefixtures("graded")
    def test_the_list_shows_each_sessions_scores_by_name(
        self, client: TestClient, key: NewKey
    ) -> None:
        answer = client.get("/v1/sessions", params={"score": "tone"}, headers=auth(key))
        lines = {item["name"]: item["score_summary"] for item in answer.json()["sessions"]}
        assert lines["c"] == [
            {"name": "helpful", "count": 1, "mean": 1.0, "value": True},
            {"name": "tone", "count": 1, "mean": None, "value": "friendly"},
        ]

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("helpful:<abc", "is not a score filter"),
            ("helpful:<nan", "is not a score filter"),
            ("helpful:maybe", "is not a score filter"),
            ("helpful:=", "is not a score filter"),
            ("Helpful", "Score name 'Helpful' is invalid"),
            (":<0.5", "Score name '' is invalid"),
            ("helpful:\x00", "must not contain NUL"),
        ],
    )
    def test_a_bad_expression_is_a_clear_400(
        self, client: TestClient, key: NewKey, expression: str, message: str
    ) -> None:
        answer = client.get("/v1/sessions", params={"score": expression}, headers=auth(key))
        assert answer.status_code == 400
        assert message in answer.json()["error"]


class TestScoreStats:
    """GET /v1/stats?score=NAME: count, mean and pass rate by group and time bucket."""

    def test_mean_and_pass_rate_by_model_and_hour(self, client: TestClient, key: NewKey) -> None:
        run = session("stats")
        hour = 3600.0 * 500_000
        calls = [llm_event(run["id"], model=model) for model in ("m1", "m1", "m2")]
        calls[0]["scores"] = [score("helpful", 0.9, hour + 10, span_id=calls[0]["span_id"])]
        calls[1]["scores"] = [score("helpful", 0.3, hour + 20, span_id=calls[1]["span_id"])]
        calls[2]["scores"] = [score("helpful", True, hour + 3600, span_id=calls[2]["span_id"])]
        run["scores"] = [score("helpful", "n/a", hour + 30), score("other", 0.0, hour)]
        upload(client, key, document([run], calls))
        answer = client.get(
            "/v1/stats", params={"score": "helpful", "bucket": "hour"}, headers=auth(key)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "group_by": "model",
            "bucket": "hour",
            "score": "helpful",
            "groups": [
                {
                    "group": None,
                    "bucket_start": hour,
                    "count": 1,
                    "mean": None,
                    "pass_rate": None,
                    "categories": {"n/a": 1},
                },
                {
                    "group": "m1",
                    "bucket_start": hour,
                    "count": 2,
                    "mean": pytest.approx(0.6),
                    "pass_rate": 0.5,
                    "categories": {},
                },
                {
                    "group": "m2",
                    "bucket_start": hour + 3600,
                    "count": 1,
                    "mean": 1.0,
                    "pass_rate": 1.0,
                    "categories": {},
                },
            ],
        }

    def test_grouped_by_a_label_of_the_session(self, client: TestClient, key: NewKey) -> None:
        runs = [session("a", labels={"env": "prod"}), session("b", labels={"env": "dev"})]
        runs[0]["scores"] = [score("ok", True), score("ok", False)]
        runs[1]["scores"] = [score("ok", 1.0)]
        upload(client, key, document(runs))
        answer = client.get(
            "/v1/stats", params={"score": "ok", "group_by": "label:env"}, headers=auth(key)
        )
        groups = {g["group"]: (g["count"], g["pass_rate"]) for g in answer.json()["groups"]}
        assert groups == {"dev": (1, 1.0), "prod": (2, 0.5)}

    def test_without_score_the_stats_are_the_calls(self, client: TestClient, key: NewKey) -> None:
        scored_session(client, key)
        answer = client.get("/v1/stats", headers=auth(key)).json()
        assert answer["score"] is None
        assert answer["groups"][0]["calls"] == 1

    def test_a_bad_score_name_is_a_400(self, client: TestClient, key: NewKey) -> None:
        answer = client.get("/v1/stats", params={"score": "Not Valid"}, headers=auth(key))
        assert answer.status_code == 400
        assert "Score name 'Not Valid' is invalid" in answer.json()["error"]


class TestSchemaStep:
    """Step 5 creates the scores table on a database of the previous version."""

    def test_a_database_migrated_before_scores_gains_them(self, storage_url: str) -> None:
        opened = open_storage(storage_url)
        assert isinstance(opened, SQLStorage)
        try:
            with opened.driver.reading() as cursor:
                cursor.execute("SELECT MAX(version) FROM aiobs_schema_version")
                assert cursor.fetchone()[0] == migrations.CURRENT_VERSION
                cursor.execute("SELECT COUNT(*) FROM aiobs_scores")
                assert cursor.fetchone()[0] == 0
        finally:
            opened.close()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_any_json_body_is_answered_without_a_server_error(client: TestClient, key: NewKey) -> None:
    """Whatever JSON is sent, in whatever field, the answer is a 2xx or a 4xx with a message."""
    session_id, span_id = scored_session(client, key)
    field = st.sampled_from(["id", "session_id", "span_id", "name", "value", "comment", "source"])
    usual = {"session_id": session_id, "span_id": span_id, "name": "x", "value": 1}

    @given(
        changes=st.dictionaries(field, JSON | st.sampled_from([session_id, span_id]), max_size=4),
        as_list=st.booleans(),
    )
    @settings(max_examples=60, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(changes: dict[str, Any], as_list: bool) -> None:
        sent: Any = {**usual, **changes}
        answer = client.post("/v1/scores", json=[sent] if as_list else sent, headers=auth(key))
        assert answer.status_code in (200, 201, 404, 409, 422), answer.text
        if answer.status_code >= 400:
            assert answer.json()["error"]

    check()

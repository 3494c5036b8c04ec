"""Full-text search over recorded inputs and outputs (``q`` of ``GET /v1/sessions``).

Every test runs on SQLite (FTS5) and PostgreSQL (``tsvector``), through the real app and
storage.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, SQLStorage, migrations, open_storage
from aiobs.server.storage.base import SessionQuery
from aiobs.server.storage.document import MAX_SEARCH_CHARS, search_text
from tests.server.app_fixtures import document, function_event, said, session


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


def found(client: TestClient, key: NewKey, **params: Any) -> list[str]:
    answer = client.get(
        "/v1/sessions", params=params, headers={"Authorization": f"Bearer {key.secret}"}
    )
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()["sessions"]]


def stored(store: SQLStorage, key: NewKey, name: str, *events: dict[str, Any], **kw: Any) -> str:
    """Upload one session named ``name`` with ``events`` (made for its id by the callables)."""
    run = session(name, **kw)
    llm = [event(run["id"]) for event in events if event is not None]
    store.ingest(
        key.record,
        document([run], [e for e in llm if "request" in e], [e for e in llm if "args" in e]),
        None,
    )
    return str(run["id"])


class TestSearch:
    """Sessions are found by the words of their calls' prompts, answers, arguments and results."""

    def test_words_of_prompts_answers_arguments_and_results_are_found(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        runs = [
            session("prompt", started_at=4.0),
            session("answer", started_at=3.0),
            session("function", started_at=2.0),
            session("other", started_at=1.0),
        ]
        step = function_event(runs[2]["id"])
        step["args"] = [{"ticket": "Refund for order 1234"}]
        step["result"] = "approved by supervisor"
        store.ingest(
            key.record,
            document(
                runs,
                [
                    said(runs[0]["id"], "Where is my parcel?"),
                    said(runs[1]["id"], "hi", "Your parcel left Zürich today"),
                    said(runs[3]["id"], "unrelated", "nothing here"),
                ],
                [step],
            ),
            None,
        )
        assert found(client, key, q="parcel") == ["prompt", "answer"]
        assert found(client, key, q="PARCEL zürich") == ["answer"]
        assert found(client, key, q="refund 1234") == ["function"]
        assert found(client, key, q="supervisor") == ["function"]
        assert found(client, key, q="parcel supervisor") == []  # all words in one event
        assert found(client, key, q="parc") == []  # whole words

    def test_names_of_things_are_not_searched(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        run = session("s")
        store.ingest(key.record, document([run], [said(run["id"], "hello")]), None)
        assert found(client, key, q="hello") == ["s"]
        assert found(client, key, q="user") == []  # the role
        assert found(client, key, q="gpt") == []  # the model

    def test_combined_with_the_other_filters(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        runs = [
            session("prod-a", labels={"env": "prod"}, started_at=3.0),
            session("dev-a", labels={"env": "dev"}, started_at=2.0),
            session("prod-b", labels={"env": "prod"}, started_at=1.0),
        ]
        store.ingest(
            key.record,
            document(
                runs,
                [
                    said(runs[0]["id"], "invoice overdue", model="gpt-4o"),
                    said(runs[1]["id"], "invoice overdue"),
                    said(runs[2]["id"], "invoice paid", error="boom"),
                ],
            ),
            None,
        )
        assert found(client, key, q="invoice", label="env:prod") == ["prod-a", "prod-b"]
        assert found(client, key, q="invoice", model="gpt-4o") == ["prod-a"]
        assert found(client, key, q="invoice", has_errors="true") == ["prod-b"]
        assert found(client, key, q="overdue", name="dev") == ["dev-a"]
        assert found(client, key, q="invoice", since="1.5") == ["prod-a", "dev-a"]
        first = client.get(
            "/v1/sessions",
            params={"q": "invoice", "limit": 2},
            headers={"Authorization": f"Bearer {key.secret}"},
        ).json()
        assert [s["name"] for s in first["sessions"]] == ["prod-a", "dev-a"]
        assert found(client, key, q="invoice", limit=2, cursor=first["next_cursor"]) == ["prod-b"]

    def test_another_project_never_matches(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        other = store.create_key("enterprise")
        shared_id = "same-id-in-both"
        mine = session("mine", session_id=shared_id)
        theirs = session("theirs", session_id=shared_id)
        store.ingest(key.record, document([mine], [said(shared_id, "apples")]), None)
        store.ingest(other.record, document([theirs], [said(shared_id, "secret pears")]), None)
        assert found(client, key, q="pears") == []
        assert found(client, key, q="secret") == []
        assert found(client, other, q="pears") == ["theirs"]
        assert found(client, other, q="apples") == []

    @pytest.mark.parametrize(
        "typed",
        [
            '"',
            '""',
            "*",
            "a*",
            "AND",
            "OR",
            "NOT",
            "NEAR(",
            "NEAR(a b)",
            "-",
            "-a",
            "a:b",
            "(",
            ")",
            "^",
            "{a}",
            "'",
            "\\",
            "%",
            "_",
            "!",
            "& |",
            "<->",
            "a OR",
            "col : x",
            "é",
            "\u200b",
            "x" * 999,
        ],
    )
    def test_query_syntax_is_text_not_an_error(
        self, store: SQLStorage, key: NewKey, client: TestClient, typed: str
    ) -> None:
        run = session("s")
        store.ingest(key.record, document([run], [said(run["id"], "plain words")]), None)
        assert found(client, key, q=typed) == []

    def test_operators_are_words_to_find(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        run = session("s")
        text = 'say "NEAR(x y)" AND not-found OR a* please'
        store.ingest(key.record, document([run], [said(run["id"], text)]), None)
        assert found(client, key, q="AND") == ["s"]
        assert found(client, key, q='"NEAR(x') == ["s"]
        assert found(client, key, q="OR please") == ["s"]
        assert found(client, key, q="a*") == ["s"]

    @pytest.mark.parametrize(
        ("typed", "message"),
        [("a\x00b", "must not contain NUL"), ("x" * 10_000, "at most 1000 characters")],
    )
    def test_unusable_text_is_a_400_saying_why(
        self, key: NewKey, client: TestClient, typed: str, message: str
    ) -> None:
        answer = client.get(
            "/v1/sessions", params={"q": typed}, headers={"Authorization": f"Bearer {key.secret}"}
        )
        assert answer.status_code == 400
        assert message in answer.text

    def test_recorded_nul_is_stored_and_searchable(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        run = session("s")
        store.ingest(
            key.record, document([run], [said(run["id"], "left\x00right", "odd char")]), None
        )
        assert found(client, key, q="right") == ["s"]
        assert found(client, key, q="char") == ["s"]

    def test_only_the_first_part_of_a_long_text_is_indexed(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        run = session("s")
        text = "early " + "filler " * (MAX_SEARCH_CHARS // 7) + "late"
        store.ingest(key.record, document([run], [said(run["id"], text)]), None)
        assert found(client, key, q="early") == ["s"]
        assert found(client, key, q="late") == []

    def test_a_repeated_upload_is_indexed_once(
        self, store: SQLStorage, key: NewKey, client: TestClient
    ) -> None:
        run = session("s")
        doc = document([run], [said(run["id"], "twice")])
        store.ingest(key.record, doc, None)
        store.ingest(key.record, doc, None)
        page = store.sessions(key.record.project_id, SessionQuery(search="twice"))
        assert [s["name"] for s in page.sessions] == ["s"]
        if store.driver.name == "sqlite":
            with store.driver.reading() as cursor:
                cursor.execute("SELECT COUNT(*) FROM aiobs_event_text")
                assert cursor.fetchone()[0] == 1


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_any_text_is_answered_without_a_server_error(
    store: SQLStorage, key: NewKey, client: TestClient
) -> None:
    """Schemathesis's requests of ``GET /v1/sessions``, with ``q`` any text at all."""
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.checks import not_a_server_error

    run = session("s")
    store.ingest(key.record, document([run], [said(run["id"], "some words")]), None)
    operation = schemathesis.openapi.from_asgi("/openapi.json", create_app(store))
    sessions = operation["/v1/sessions"]["GET"]
    typed = st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(['"', "*", "AND", "NEAR(", "-", "(", ":", "^", "x"])).map(
            " ".join
        ),
    )

    @given(case=sessions.as_strategy(), q=typed)
    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, q: str) -> None:
        case.query = {**(case.query or {}), "q": q}
        case.call_and_validate(
            headers={"Authorization": f"Bearer {key.secret}"}, checks=[not_a_server_error]
        )

    check()


class TestSearchText:
    """What of an event is searched."""

    def test_the_text_of_a_call(self) -> None:
        event = said("x", "question?", "answer!")
        assert search_text(event, "llm") == "question?\nanswer!"

    def test_the_text_of_a_function(self) -> None:
        event = function_event("x")
        event["args"] = ["a", {"k": "b", "n": 3}]
        event["kwargs"] = {"flag": "c"}
        event["result"] = ["d"]
        assert search_text(event, "function") == "a\nb\nc\nd"


def _reference_text(event: dict[str, Any], kind: str) -> str:
    """What search_text is meant to give: the strings in order, names of things left out."""
    fields = ("request", "response") if kind == "llm" else ("args", "kwargs", "result", "yielded")
    skipped = {"model", "role", "type", "id", "finish_reasons", "usage"}

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for key, item in value.items() if key not in skipped for s in strings(item)]
        if isinstance(value, list):
            return [s for item in value for s in strings(item)]
        return []

    text = "\n".join(s for name in fields for s in strings(event.get(name)))
    return text[:MAX_SEARCH_CHARS].replace("\x00", " ")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["content", "text", "model", "role", "id", "k", "usage", "type"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)


class TestSearchTextShapes:
    """The search text of any recorded value, shallow or deep, short or long."""

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(request=_JSON, response=_JSON, args=_JSON, result=_JSON)
    def test_any_value_gives_its_strings_in_order(
        self, request: object, response: object, args: object, result: object
    ) -> None:
        call = {"request": request, "response": response}
        function = {"args": args, "kwargs": {}, "result": result}
        assert search_text(call, "llm") == _reference_text(call, "llm")
        assert search_text(function, "function") == _reference_text(function, "function")

    @pytest.mark.parametrize("depth", [1, 47, 48, 49, 500, 5000])
    def test_deeply_nested_values_are_walked_whole(self, depth: int) -> None:
        value: object = "bottom"
        expected = ["bottom"]
        for level in range(depth):
            if level % 2:
                value = [f"level{level}", value]
                expected = [f"level{level}", *expected]
            else:
                value = {"k": value, "text": f"t{level}"}
                expected = [*expected, f"t{level}"]
        event = {"args": [value], "kwargs": {}, "result": "top"}
        whole = "\n".join([*expected, "top"])
        assert search_text(event, "function") == whole[:MAX_SEARCH_CHARS]

    def test_mappings_and_strings_of_subclasses_are_walked(self) -> None:
        class Text(str):
            pass

        event = {"request": OrderedDict(messages=[Text("from a subclass")]), "response": {}}
        assert search_text(event, "llm") == "from a subclass"

    def test_many_long_strings_are_cut_at_the_limit(self) -> None:
        event = {"args": ["x" * 5000 for _ in range(10)], "kwargs": {}, "result": "end"}
        text = search_text(event, "function")
        assert len(text) == MAX_SEARCH_CHARS
        assert "end" not in text


def test_events_stored_before_search_existed_are_found(tmp_path: Path) -> None:
    """The migration step that adds search indexes the events already stored (SQLite)."""
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE aiobs_schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(migrations.STEPS[:2], start=1):
        for statement in step:
            assert isinstance(statement, str)
            connection.execute(statement)
        connection.execute("INSERT INTO aiobs_schema_version VALUES (?)", (version,))
    connection.execute("INSERT INTO aiobs_projects VALUES ('p1', 0)")
    for project in ("p1", "p2"):
        connection.execute(
            "INSERT INTO aiobs_sessions VALUES (?, 's1', 'old', 'old', 1, 2, '{}', '{}')",
            (project,),
        )
        body = said("s1", f"archived words {project}")
        connection.execute(
            "INSERT INTO aiobs_events (project_id, session_id, kind, event_key, error, body)"
            " VALUES (?, 's1', 'llm', 'k1', 0, ?)",
            (project, json.dumps(body)),
        )
    connection.commit()
    connection.close()
    store = open_storage(f"sqlite:///{path}")
    try:
        assert [
            s["id"] for s in store.sessions("p1", SessionQuery(search="archived")).sessions
        ] == ["s1"]
        assert store.sessions("p1", SessionQuery(search="p2")).sessions == []
    finally:
        store.close()


def test_q_is_in_the_openapi_schema(client: TestClient) -> None:
    parameters = client.get("/openapi.json").json()["paths"]["/v1/sessions"]["get"]["parameters"]
    q = next(p for p in parameters if p["name"] == "q")
    assert q["in"] == "query"
    assert "words" in q["description"].lower()

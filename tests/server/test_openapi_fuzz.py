"""Every operation of the OpenAPI document, fuzzed with schemathesis: never a server error.

The app runs in process (ASGI) over real SQLite and PostgreSQL storage, with a valid key, so that
generated requests get past authentication and reach the parsers and the database. Examples are
derived deterministically so that a failure reproduces. Besides what schemathesis derives from
the schema, uploads carry hostile values an attacker would try (``NaN``, ``1e400``, a lone
surrogate, NUL, 900 levels of nesting, a 5,000-digit integer, ids that could not be read back) at
every place of a document, and queries carry NUL and oversized values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the importorskip
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from aiobs.server.app import create_app  # noqa: E402
from aiobs.server.storage import NewKey, Storage, open_storage  # noqa: E402
from tests.server.app_fixtures import (  # noqa: E402
    document,
    function_event,
    llm_event,
    session,
)


@pytest.fixture
def fuzz_storage(storage_url: str) -> Iterator[Storage]:
    store = open_storage(storage_url)
    yield store
    store.close()


@pytest.fixture
def fuzz_key(fuzz_storage: Storage) -> NewKey:
    new = fuzz_storage.create_key("enterprise")
    run = session("seeded", labels={"env": "prod"})
    fuzz_storage.ingest(new.record, document([run], [llm_event(run["id"])]), "seed")
    return new


OPERATIONS = [
    ("GET", "/v1/usage"),
    ("POST", "/v1/usage"),
    ("POST", "/v1/traces"),
    ("GET", "/v1/sessions"),
    ("GET", "/v1/sessions/{session_id}"),
    ("GET", "/v1/stats"),
    ("POST", "/v1/scores"),
    ("GET", "/health"),
]

FUZZ_SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_list_covers_every_operation(fuzz_storage: Storage) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(fuzz_storage))
    found = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert found == set(OPERATIONS)


# schemathesis draws from the ``random`` module inside its strategies, which Hypothesis flags
# with a deprecation warning whenever the shared state moved during a draw.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_operation_answers_with_a_server_error(
    fuzz_storage: Storage, fuzz_key: NewKey, method: str, path: str
) -> None:
    app = create_app(fuzz_storage, max_body_bytes=200_000, max_document_bytes=1_000_000)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    headers = {"Authorization": f"Bearer {fuzz_key.secret}"}

    @given(case=operation.as_strategy())
    @FUZZ_SETTINGS
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()


HOLE = "@@hole@@"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "7" * 5000,
    str(2**63),
    '"a\\ud800b"',
    '"\\udfff"',
    '"a\\u0000b"',
    '"a/b"',
    '"' + "x" * 100_000 + '"',
    '""',
    "true",
    "{}",
    _nested(500),
    _nested(900),
    '{"k":' * 300 + "0" + "}" * 300,
]
"""JSON text an attacker puts where a document has a value."""

PLACES = [
    ("sessions", 0, "id"),
    ("sessions", 0, "name"),
    ("sessions", 0, "started_at"),
    ("sessions", 0, "ended_at"),
    ("sessions", 0, "labels", "env"),
    ("sessions", 0, "meta", "pid"),
    ("events", 0, "session_id"),
    ("events", 0, "span_id"),
    ("events", 0, "parent_span_id"),
    ("events", 0, "trace_id"),
    ("events", 0, "provider"),
    ("events", 0, "request_model"),
    ("events", 0, "started_at"),
    ("events", 0, "ended_at"),
    ("events", 0, "duration_ms"),
    ("events", 0, "usage", "input_tokens"),
    ("events", 0, "usage", "total_tokens"),
    ("events", 0, "cost"),
    ("events", 0, "cost", "total"),
    ("events", 0, "request", "model"),
    ("events", 0, "request", "messages", 0, "content"),
    ("events", 0, "response"),
    ("function_events", 0, "name"),
    ("function_events", 0, "duration_ms"),
    ("function_events", 0, "args", 0),
    ("generated_at",),
    ("trace_tree",),
    ("an_unknown_field",),
]
"""Where in a document the hostile value goes."""


def _hostile_document(place: tuple[str | int, ...], value: str) -> bytes:
    run = session(labels={"env": "prod"})
    doc = document([run], [llm_event(run["id"])], [function_event(run["id"])])
    doc["events"][0]["cost"] = {"input": 0.0, "output": 0.0, "total": 0.0}
    target: Any = doc
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = HOLE
    return json.dumps(doc).replace(f'"{HOLE}"', value).encode()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_hostile_documents_are_refused_not_failed(fuzz_storage: Storage, fuzz_key: NewKey) -> None:
    app = create_app(fuzz_storage)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)["/v1/traces"]["POST"]
    headers = {"Authorization": f"Bearer {fuzz_key.secret}"}
    answers: set[int] = set()

    @given(
        case=operation.as_strategy(),
        place=st.sampled_from(PLACES),
        value=st.sampled_from(HOSTILE_VALUES),
    )
    @settings(FUZZ_SETTINGS, max_examples=150)
    def check(case: Any, place: tuple[str | int, ...], value: str) -> None:
        case.body = _hostile_document(place, value)
        case.headers = {
            name: text
            for name, text in (case.headers or {}).items()
            if name.lower() != "content-encoding"  # the document goes as it is
        }
        response = case.call(headers=headers)
        answers.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, response.text

    check()
    assert 400 in answers


HOSTILE_QUERY_VALUES = ["a\x00b", "\x00", "x" * 10_000, "label:\x00", "%00", "é/../"]


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize(
    ("path", "parameters"),
    [
        ("/v1/sessions", ["name", "label", "model", "provider", "since", "cursor", "q"]),
        ("/v1/stats", ["group_by", "since", "until"]),
        ("/v1/sessions/{session_id}", ["session_id"]),
    ],
)
def test_hostile_query_parameters_are_refused_not_failed(
    fuzz_storage: Storage, fuzz_key: NewKey, path: str, parameters: list[str]
) -> None:
    app = create_app(fuzz_storage)
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path]["GET"]
    headers = {"Authorization": f"Bearer {fuzz_key.secret}"}

    @given(
        case=operation.as_strategy(),
        name=st.sampled_from(parameters),
        value=st.sampled_from(HOSTILE_QUERY_VALUES),
    )
    @settings(FUZZ_SETTINGS, max_examples=60)
    def check(case: Any, name: str, value: str) -> None:
        if name == "session_id":
            case.path_parameters = {"session_id": value}
        else:
            case.query = {**(case.query or {}), name: value}
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()

"""Every operation of the OpenAPI document, fuzzed with schemathesis: never a server error.

The app runs in process (ASGI) over real SQLite storage, with a valid key, so that generated
requests get past authentication and reach the parsers and the database. Examples are derived
deterministically so that a failure reproduces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the importorskip
from schemathesis.checks import not_a_server_error  # noqa: E402

from aiobs.server.app import create_app  # noqa: E402
from aiobs.server.storage import NewKey, Storage  # noqa: E402
from tests.server.app_fixtures import document, llm_event, session, sqlite_storage  # noqa: E402


@pytest.fixture
def fuzz_storage(tmp_path: Path) -> Iterator[Storage]:
    store = sqlite_storage(tmp_path)
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
    ("GET", "/health"),
]


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
    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    check()

"""A node's detail, fetched on demand: the route, its project check, and the pane in Chromium
with the values the SDK cut short or redacted and the node's labels."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, Storage
from aiobs.ui.markers import markers
from aiobs.ui.trace import outline_view, session_view
from tests.server.memory_storage import MemoryStorage
from tests.ui.conftest import UiServer, detail_text, seeded_storage
from tests.ui.data import API_KEY, marked_document
from tests.ui.test_pages import BASE, sign_in


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Storage, NewKey, NewKey]]:
    storage, key, other = seeded_storage(tmp_path)
    storage.ingest(key.record, marked_document(), None)
    yield storage, key, other
    storage.close()


@pytest.fixture
def client(seeded: tuple[Storage, NewKey, NewKey]) -> TestClient:
    return TestClient(create_app(seeded[0]), base_url=BASE, raise_server_exceptions=False)


def trace_data(page_html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page_html)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


class TestNodeRoute:
    """The session page sends the tree; ``/ui/sessions/{id}/nodes/{node}`` sends a node's detail."""

    def test_the_session_page_holds_the_tree_without_details(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        sign_in(client, seeded[1])
        page = client.get("/ui/sessions/agent-run-1")
        assert page.status_code == 200
        assert "What is the capital of France?" not in page.text
        data = trace_data(page.text)
        assert data["session_id"] == "agent-run-1"
        assert data["labels"] == {"env": "prod"}
        assert [node["id"] for node in data["nodes"]] == ["root1", "plan1", "llm1", "llm2"]
        assert all("detail" not in node for node in data["nodes"])
        llm = data["nodes"][2]
        assert (llm["name"], llm["kind"], llm["tokens"], llm["error"]) == (
            "openai chat.completions.create · gpt-4o-mini",
            "llm",
            1290,
            False,
        )

    def test_a_nodes_detail_is_json(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        sign_in(client, seeded[1])
        answer = client.get("/ui/sessions/agent-run-1/nodes/llm1")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store"
        found = answer.json()
        assert found["name"] == "openai chat.completions.create · gpt-4o-mini"
        user = found["detail"]["messages"][1]
        assert (user["role"], user["text"]) == ("user", "What is the capital of France?")
        assert found["detail"]["usage"]["input_tokens"] == 1234
        function = client.get("/ui/sessions/agent-run-1/nodes/plan1").json()
        assert function["kind"] == "function"
        assert function["detail"]["callsite"]["line"] == 42

    def test_recorded_html_is_escaped_in_the_json(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        sign_in(client, seeded[1])
        answer = client.get("/ui/sessions/hostile-run-1/nodes/hostile1")
        assert "<" not in answer.text
        assert "<script>" in answer.json()["detail"]["messages"][0]["text"]

    def test_another_projects_node_is_answered_as_a_missing_one(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        sign_in(client, seeded[2])  # the other project
        assert client.get("/ui/sessions/other-project-run/nodes/llm1").status_code == 200
        theirs = client.get("/ui/sessions/agent-run-1/nodes/llm1")
        no_session = client.get("/ui/sessions/no-such-run/nodes/llm1")
        no_node = client.get("/ui/sessions/other-project-run/nodes/no-such-node")
        assert theirs.status_code == no_session.status_code == no_node.status_code == 404
        assert theirs.text == no_session.text == no_node.text

    def test_without_a_sign_in_the_route_answers_401(self, client: TestClient) -> None:
        answer = client.get("/ui/sessions/agent-run-1/nodes/llm1", follow_redirects=False)
        assert answer.status_code == 401
        assert "Paris" not in answer.text


class TestMarkers:
    """Values the SDK's real capture cut short or redacted are found, with where they are."""

    def test_truncation_and_redaction_of_a_function(self) -> None:
        event = marked_document()["function_events"][0]
        found = markers(event)
        assert (found["truncated"], found["redacted"], found["replaced"]) == (3, 3, 0)
        assert [(item["kind"], item["path"]) for item in found["items"]] == [
            ("truncated", "args[0]"),
            ("truncated", "args[1][20]"),
            ("redacted", "kwargs.api_key"),
            ("redacted", "kwargs.note"),
            ("truncated", "result.summary"),
            ("redacted", "attributes.password"),
        ]
        assert found["items"][0]["marker"] == "[aiobs: truncated 11500 chars]"
        assert found["items"][1]["marker"] == "[aiobs: 10 more items]"

    def test_the_size_budget_depth_and_key_limits_are_cut_markers(self) -> None:
        from aiobs._capture import CaptureLimits, Capturer

        capture = Capturer(CaptureLimits(max_items=2, max_depth=2, max_event_bytes=400))
        value = {
            "many": {str(number): number for number in range(5)},
            "deep": [[[1]]],
            "big": "x" * 1000,
        }
        found = markers({"result": capture.output(value)})
        assert found["truncated"] >= 2
        assert found["redacted"] == 0
        assert all(item["kind"] == "truncated" for item in found["items"])

    def test_nothing_marked_in_plain_values(self) -> None:
        found = markers({"args": ["[not a marker]", "aiobs: truncated"], "result": {"a": 1}})
        assert found == {"truncated": 0, "redacted": 0, "replaced": 0, "items": []}

    def test_at_most_fifty_are_listed_but_all_are_counted(self) -> None:
        found = markers({"args": ["[REDACTED]"] * 70})
        assert found["redacted"] == 70
        assert len(found["items"]) == 50

    def test_no_secret_reaches_the_detail(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        sign_in(client, seeded[1])
        answer = client.get("/ui/sessions/marked-run-1/nodes/marked1")
        assert answer.status_code == 200
        assert API_KEY not in answer.text
        assert answer.json()["detail"]["attributes"]["password"] == "[REDACTED]"


@pytest.fixture(scope="module")
def marked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    from tests.server.app_fixtures import live_server

    storage, key, other = seeded_storage(tmp_path_factory.mktemp("marked"))
    storage.ingest(key.record, marked_document(), None)
    try:
        with live_server(create_app(storage)) as url:
            yield UiServer(url, storage, key, other)
    finally:
        storage.close()


def browser_sign_in(page: Any, server: UiServer) -> None:
    page.goto(server.url + "/ui/signin")
    page.fill("#key", server.key.secret)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(server.url + "/ui/")


@pytest.mark.slow
class TestDetailInBrowser:
    """Chromium fetches a node's detail when it is shown and draws the markers and labels."""

    def test_a_nodes_detail_is_fetched_when_it_is_opened(
        self, page: Any, marked_server: UiServer
    ) -> None:
        browser_sign_in(page, marked_server)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(marked_server.url + "/ui/sessions/agent-run-1")
        assert "What is the capital" not in page.inner_text("#trace-data")
        assert "question" in detail_text(page)  # the first node: answer(question=...)
        page.click("li[data-id=plan1] > .row .toggle")  # opens and shows plan
        page.click("li[data-id=llm1] > .row .name")
        text = detail_text(page)
        assert "What is the capital of France?" in text
        assert "Input tokens\n1,234" in text
        nodes = [url for url in fetched if "/nodes/" in url]
        assert nodes == [
            marked_server.url + "/ui/sessions/agent-run-1/nodes/root1",
            marked_server.url + "/ui/sessions/agent-run-1/nodes/plan1",
            marked_server.url + "/ui/sessions/agent-run-1/nodes/llm1",
        ]
        page.click("li[data-id=root1] > .row .name")  # shown before: not fetched again
        assert "question" in detail_text(page)
        assert len([url for url in fetched if "/nodes/" in url]) == 3

    def test_cut_and_redacted_values_are_marked(self, page: Any, marked_server: UiServer) -> None:
        browser_sign_in(page, marked_server)
        page.goto(marked_server.url + "/ui/sessions/marked-run-1")
        detail_text(page)
        summary = page.locator("#detail .markers .marker-summary .badge").all_inner_texts()
        assert summary == ["3 cut short", "3 redacted"]
        listed = page.locator("#detail .marker-list li").all_inner_texts()
        assert listed[0] == "truncated args[0] [aiobs: truncated 11500 chars]"
        assert "redacted kwargs.api_key [REDACTED]" in listed
        arguments = page.locator("#detail details.json:has(summary:text('Arguments')) pre")
        assert arguments.locator("mark.marker-truncated").all_inner_texts() == [
            "[aiobs: truncated 11500 chars]",
            "[aiobs: 10 more items]",
        ]
        redacted = page.locator("#detail details.json:has(summary:text('Keyword arguments')) pre")
        assert redacted.locator("mark.marker-redacted").all_inner_texts() == ["[REDACTED]"] * 2
        assert API_KEY not in page.inner_text("body")
        page.click("li[data-id=marked2] > .row .name")  # the LLM call: its prompt
        detail_text(page)
        prompt = page.locator("#detail .messages .text")
        assert prompt.locator("mark.marker-redacted").all_inner_texts() == ["[REDACTED]"]
        assert prompt.locator("mark.marker-truncated").all_inner_texts() == [
            "[aiobs: truncated 11577 chars]"
        ]

    def test_a_nodes_labels_and_span_attributes(self, page: Any, marked_server: UiServer) -> None:
        browser_sign_in(page, marked_server)
        page.goto(marked_server.url + "/ui/sessions/marked-run-1")
        detail_text(page)
        session_labels = page.locator("#detail .labels .chip-label").all_inner_texts()
        assert session_labels == ["team: search"]
        attributes = page.locator("#detail .labels .chip-attribute")
        assert attributes.all_inner_texts() == [
            "customer: acme",
            "password: [REDACTED]",
            "retries: 2",
        ]
        assert attributes.nth(1).locator("mark.marker-redacted").count() == 1
        page.goto(marked_server.url + "/ui/sessions/failing-run-1")  # no attributes: labels only
        detail_text(page)
        assert page.locator("#detail .labels .chip-attribute").count() == 0
        assert page.locator("#detail .labels .chip-label").all_inner_texts() == ["env: dev"]


class TestOutline:
    """The session page's tree, read from the event table alone, is the full view's tree."""

    @pytest.mark.parametrize(
        "session_id", ["agent-run-1", "failing-run-1", "hostile-run-1", "marked-run-1"]
    )
    def test_the_same_nodes_as_the_full_view_without_details(
        self, seeded: tuple[Storage, NewKey, NewKey], session_id: str
    ) -> None:
        storage, key, _ = seeded
        project = key.record.project_id
        full = session_view(storage.session(project, session_id) or {})
        for node in full["nodes"]:
            del node["detail"]
        outline = storage.session_outline(project, session_id)
        assert outline is not None
        assert outline_view(outline) == full
        assert (
            outline_view(MemoryStorage.session_outline(storage, project, session_id) or {}) == full
        )

    def test_a_tree_too_deep_marks_the_nodes_placed_beside_their_parent(self) -> None:
        rows = [
            {
                "key": f"s{depth}",
                "kind": "function",
                "span_id": f"s{depth}",
                "parent_span_id": f"s{depth - 1}" if depth else None,
                "provider": "function",
                "api": f"step{depth}",
                "model": None,
                "started_at": 100.0 + depth,
                "duration_ms": 1.0,
                "error": 0,
                "total_tokens": None,
            }
            for depth in range(70)
        ]
        view = outline_view({"session": {"labels": None}, "events": rows})
        deep = [node["id"] for node in view["nodes"] if node.get("depth_truncated")]
        assert deep == [f"s{depth}" for depth in range(64, 70)]
        assert view["labels"] == {}

"""The compare page through FastAPI's TestClient over real SQLite storage."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from aiobs.server.storage import NewKey, Storage
from tests.ui.data import XSS_IMG, agent_rerun_document
from tests.ui.test_pages import client, key, seeded, sign_in

__all__ = ["client", "key", "seeded"]


@pytest.fixture
def rerun(seeded: tuple[Storage, NewKey, NewKey]) -> None:
    storage, key, _ = seeded
    storage.ingest(key.record, agent_rerun_document(), None)


def error_of(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def rows(page: str) -> list[tuple[str, str, list[str]]]:
    """(side, node name, differences) of each row of the compare table."""
    found = []
    for side, body in re.findall(
        r'<tr id="c\d+" class="side-(\w+)[^"]*"[^>]*>(.*?)</tr>', page, re.S
    ):
        name = re.search(r'<span class="name">(.*?)</span>', body, re.S)
        assert name is not None
        diffs = re.findall(r'<span class="diff [^"]+"[^>]*>(.*?)</span>', body, re.S)
        found.append((side, html.unescape(name.group(1)), [html.unescape(d) for d in diffs]))
    return found


@pytest.mark.usefixtures("rerun")
class TestCompare:
    """Two sessions of the project, aligned, with what differs marked."""

    def test_needs_a_sign_in(self, client: TestClient) -> None:
        answer = client.get("/ui/compare?a=agent-run-1&b=agent-run-2", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/signin")

    def test_the_two_trees_with_their_differences(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        answer = client.get("/ui/compare", params={"a": "agent-run-1", "b": "agent-run-2"})
        assert answer.status_code == 200
        assert rows(answer.text) == [
            ("both", "answer", []),
            ("both", "plan", []),
            (
                "both",
                "openai chat.completions.create · gpt-4o-mini",
                [
                    "output differs",
                    "tokens +600 (+47 %)",
                    "latency +500 ms (+62 %)",
                    "cost +$0.0002 (+67 %)",
                ],
            ),
            ("both", "anthropic chat.completions.create · claude-haiku", []),
            ("b", "verify", ["only in B"]),
        ]
        assert (
            "4 nodes in both sessions (1 with differences), 0 only in A, 1 only in B."
            in answer.text
        )
        assert 'href="/ui/sessions/agent-run-2"' in answer.text

    def test_a_session_with_itself_has_no_differences(
        self, client: TestClient, key: NewKey
    ) -> None:
        sign_in(client, key)
        answer = client.get("/ui/compare", params={"a": "agent-run-1", "b": "agent-run-1"})
        assert [diffs for _, _, diffs in rows(answer.text)] == [[], [], [], []]

    def test_two_ticked_sessions_lead_to_the_comparison(
        self, client: TestClient, key: NewKey
    ) -> None:
        sign_in(client, key)
        listing = client.get("/ui/").text
        assert 'name="pick" value="agent-run-2" form="compare-pick"' in listing
        answer = client.get("/ui/compare?pick=agent-run-1&pick=agent-run-2", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/ui/compare?a=agent-run-1&b=agent-run-2"

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("", "Give two sessions to compare"),
            ("a=agent-run-1", "Give two sessions to compare"),
            ("pick=agent-run-1", "Pick exactly two sessions to compare (you picked 1)."),
            ("pick=a&pick=b&pick=c", "Pick exactly two sessions to compare (you picked 3)."),
        ],
    )
    def test_not_two_sessions_is_explained(
        self, client: TestClient, key: NewKey, query: str, message: str
    ) -> None:
        sign_in(client, key)
        answer = client.get(f"/ui/compare?{query}")
        assert answer.status_code == 400
        assert message in error_of(answer.text)

    @pytest.mark.parametrize("other", ["other-project-run", "no-such-session", "bad%00id"])
    def test_another_projects_session_is_not_found(
        self, client: TestClient, key: NewKey, other: str
    ) -> None:
        sign_in(client, key)
        for query in (f"a=agent-run-1&b={other}", f"a={other}&b=agent-run-1"):
            answer = client.get(f"/ui/compare?{query}")
            assert answer.status_code == 404
            assert "Session not found" in answer.text
            assert "geography agent" not in answer.text

    def test_recorded_strings_are_text(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        answer = client.get("/ui/compare", params={"a": "hostile-run-1", "b": "agent-run-1"})
        assert answer.status_code == 200
        assert XSS_IMG not in answer.text
        assert "hostile &lt;img src=x onerror=" in answer.text
        assert "<script>window" not in answer.text

    def test_the_session_page_offers_a_comparison(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        page = client.get("/ui/sessions/agent-run-1").text
        assert '<form class="compare-with" method="get" action="/ui/compare">' in page
        assert '<input type="hidden" name="a" value="agent-run-1">' in page

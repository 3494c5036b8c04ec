"""The dashboard page through FastAPI's TestClient over real SQLite storage."""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from aiobs.server.storage import NewKey, Storage
from aiobs.ui.dashboard import MAX_BUCKETS
from tests.server.app_fixtures import document, llm_event, session
from tests.ui.data import START
from tests.ui.test_pages import client, key, seeded, sign_in

__all__ = ["client", "key", "seeded"]


def chart_data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def cells(page: str, table_class: str) -> list[list[str]]:
    found = re.search(rf'<table class="{table_class}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert found is not None
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


class TestDashboard:
    """The stats of the signed-in project, by group and hour, and its top sessions."""

    def test_needs_a_sign_in(self, client: TestClient) -> None:
        answer = client.get("/ui/dashboard", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/signin")

    def test_figures_by_model_and_hour(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        answer = client.get("/ui/dashboard")
        assert answer.status_code == 200
        assert cells(answer.text, "sessions stats") == [
            [
                "2026-01-01 00:00:00",
                "claude-haiku",
                "1",
                "0",
                "0.0 %",
                "1,234",
                "56",
                "1,290",
                "$0.0003",
                "400 ms",
                "400 ms",
                "400 ms",
            ],
            [
                "2026-01-01 00:00:00",
                "gpt-4o-mini",
                "1",
                "0",
                "0.0 %",
                "1,234",
                "56",
                "1,290",
                "$0.0003",
                "800 ms",
                "800 ms",
                "800 ms",
            ],
            [
                "2026-01-01 01:00:00",
                "gemini-2.0-flash",
                "1",
                "1",
                "100.0 %",
                "1,234",
                "56",
                "1,290",
                "$0.0003",
                "50 ms",
                "50 ms",
                "50 ms",
            ],
            [
                "2026-01-01 02:00:00",
                "gpt-4o-mini",
                "1",
                "0",
                "0.0 %",
                "1,234",
                "56",
                "1,290",
                "$0.0003",
                "10 ms",
                "10 ms",
                "10 ms",
            ],
        ]
        data = chart_data(answer.text)
        assert data["groups"] == ["claude-haiku", "gpt-4o-mini", "gemini-2.0-flash"]
        assert data["bucket_seconds"] == 3600

    def test_grouped_by_label_with_the_sessions_lists(
        self, client: TestClient, key: NewKey
    ) -> None:
        sign_in(client, key)
        answer = client.get("/ui/dashboard", params={"group": "label", "label": "env"})
        assert answer.status_code == 200
        assert [row[:4] for row in cells(answer.text, "sessions stats")] == [
            ["2026-01-01 00:00:00", "prod", "2", "0"],
            ["2026-01-01 01:00:00", "dev", "1", "1"],
            ["2026-01-01 02:00:00", "(no label)", "1", "0"],
        ]
        costliest = answer.text.split('id="costliest"')[1].split("</section>")[0]
        assert costliest.index("geography agent") < costliest.index("nightly batch")

    def test_a_day_and_a_range(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        params = {"group": "none", "bucket": "day", "since": "2026-01-01T00:30"}
        answer = client.get("/ui/dashboard", params=params)
        assert cells(answer.text, "sessions stats") == [
            ["2026-01-01 00:00:00", "all calls", "2", "1", "50.0 %", "2,468", "112", "2,580",
             "$0.0006", "30 ms", "48 ms", "50 ms"],
        ]  # fmt: skip
        slowest = answer.text.split('id="slowest"')[1].split("</section>")[0]
        assert "geography agent" not in slowest  # it started before the range
        assert "nightly batch" in slowest

    def test_another_projects_calls_are_not_counted(
        self, client: TestClient, seeded: tuple[object, NewKey, NewKey]
    ) -> None:
        other = seeded[2]
        sign_in(client, other)
        answer = client.get("/ui/dashboard", params={"group": "none"})
        assert cells(answer.text, "sessions stats") == [
            ["2026-01-01 00:00:00", "all calls", "2", "0", "0.0 %", "2,468", "112", "2,580",
             "$0.0006", "600 ms", "780 ms", "796 ms"],
        ]  # fmt: skip
        assert "nightly batch" not in answer.text
        assert "/ui/sessions/other-project-run" in answer.text

    def test_an_empty_range_says_so(self, client: TestClient, key: NewKey) -> None:
        sign_in(client, key)
        answer = client.get("/ui/dashboard", params={"since": "2030-01-01"})
        assert answer.status_code == 200
        assert "No LLM calls in this range." in answer.text
        assert "No sessions started in this range." in answer.text
        assert "charts.js" not in answer.text

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            ({"group": "team"}, "group must be one of model, provider, label, none, got 'team'"),
            ({"group": "label"}, "to group by label, give the label's key (for example env)"),
            ({"bucket": "week"}, "bucket must be one of minute, hour, day, got 'week'"),
            ({"since": "yesterday"}, "since must be epoch seconds or an ISO 8601 time"),
            ({"until": "1e999"}, "until must be a finite time"),
            ({"group": "label", "label": "a\x00b"}, "label must not contain NUL"),
        ],
    )
    def test_bad_parameters_are_explained_on_the_page(
        self, client: TestClient, key: NewKey, params: dict[str, str], message: str
    ) -> None:
        sign_in(client, key)
        answer = client.get("/ui/dashboard", params=params)
        assert answer.status_code == 400
        found = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
        assert found is not None
        assert message in html.unescape(found.group(1))
        assert "<form" in answer.text  # the form stays, to correct the value

    def test_too_many_buckets_are_refused_with_a_way_out(
        self, client: TestClient, seeded: tuple[Storage, NewKey, NewKey]
    ) -> None:
        storage, key, _ = seeded
        calls = [
            llm_event("many", started_at=START + minute * 60.0) for minute in range(MAX_BUCKETS + 1)
        ]
        storage.ingest(key.record, document([session(session_id="many")], calls), None)
        sign_in(client, key)
        answer = client.get("/ui/dashboard", params={"bucket": "minute"})
        assert answer.status_code == 400
        assert "1,001 minutes have calls, more than the 1,000 the charts can show" in answer.text
        assert client.get("/ui/dashboard", params={"bucket": "day"}).status_code == 200

"""The dashboard page through FastAPI's TestClient over real SQLite storage."""

from __future__ import annotations

import html
import json
import re

from fastapi.testclient import TestClient

from aiobs.server.storage import NewKey
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

"""The dashboard in a real headless Chromium: figures, charts, the group switch, keyboard, phone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import UiServer
from tests.ui.test_browser import sign_in

pytestmark = pytest.mark.slow


def table(page: Any) -> list[list[str]]:
    rows = page.locator("table.stats tbody tr")
    return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]


def count(page: Any, selector: str) -> int:
    result: int = page.locator(selector).count()
    return result


class TestDashboard:
    """The seeded calls (three hours, four calls) as a table and as SVG charts."""

    def test_figures_and_charts_by_model(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.click("nav >> text=Dashboard")
        page.wait_for_url(ui_server.url + "/ui/dashboard")
        assert page.locator(".totals").inner_text().split("\n") == [
            "LLM calls",
            "4",
            "Tokens",
            "5,160",
            "Cost",
            "$0.0012",
            "Error rate",
            "25.0 %",
            "Latency p50 · p95 · p99",
            "225 ms · 740 ms · 788 ms",
        ]
        assert [row[:5] for row in table(page)] == [
            ["2026-01-01 00:00:00", "claude-haiku", "1", "0", "0.0 %"],
            ["2026-01-01 00:00:00", "gpt-4o-mini", "1", "0", "0.0 %"],
            ["2026-01-01 01:00:00", "gemini-2.0-flash", "1", "1", "100.0 %"],
            ["2026-01-01 02:00:00", "gpt-4o-mini", "1", "0", "0.0 %"],
        ]
        for metric in ("calls", "total_tokens", "cost"):  # a bar per hour and model
            assert count(page, f"#chart-{metric} svg rect.bar") == 4
        assert count(page, "#chart-error_rate svg circle.point") == 4  # a point per row
        assert count(page, "#chart-latency svg circle.point") == 9  # p50, p95, p99 of 3 hours
        legend = page.locator("#chart-calls .legend li").all_inner_texts()
        assert legend == ["claude-haiku", "gpt-4o-mini", "gemini-2.0-flash"]
        first_hour = page.locator("#chart-calls rect.bar title").all_text_contents()[:2]
        assert first_hour == [
            "2026-01-01 00:00 · claude-haiku: 1",
            "2026-01-01 00:00 · gpt-4o-mini: 1",
        ]
        # the two calls of the first hour stack to the top of the chart (2 calls)
        heights = [float(h) for h in page.locator("#chart-calls rect.bar").evaluate_all(
            "bars => bars.map(bar => bar.getAttribute('height'))"
        )]  # fmt: skip
        assert heights[0] == pytest.approx(heights[1])
        assert heights[2] == pytest.approx(heights[0])
        assert page.locator("#chart-calls text.tick").first.text_content() == "2"
        costliest = page.locator("#costliest tbody td:first-child").all_inner_texts()
        assert costliest[0] == "geography agent"

    def test_the_group_switch(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/dashboard")
        page.select_option("select[name=group]", "provider")
        page.click("button:has-text('Show')")
        page.wait_for_url(re.compile(r".*group=provider.*"))
        assert [row[1] for row in table(page)] == ["anthropic", "openai", "gemini", "openai"]
        assert page.locator("#chart-calls .legend li").all_inner_texts() == [
            "anthropic",
            "openai",
            "gemini",
        ]
        page.select_option("select[name=group]", "label")
        page.fill("input[name=label]", "env")
        page.click("button:has-text('Show')")
        page.wait_for_url(re.compile(r".*group=label.*"))
        assert [row[1:3] for row in table(page)] == [
            ["prod", "2"],
            ["dev", "1"],
            ["(no label)", "1"],
        ]
        assert count(page, "#chart-calls svg rect.bar") == 3
        page.select_option("select[name=group]", "none")
        page.select_option("select[name=bucket]", "day")
        page.click("button:has-text('Show')")
        page.wait_for_url(re.compile(r".*bucket=day.*"))
        assert [row[:3] for row in table(page)] == [["2026-01-01 00:00:00", "all calls", "4"]]
        assert count(page, "#chart-calls svg rect.bar") == 1
        assert count(page, "#chart-latency svg circle.point") == 3

    def test_a_bad_value_is_explained(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/dashboard?group=label")
        assert "to group by label, give the label's key" in page.locator(".error").inner_text()
        assert count(page, "svg") == 0

    def test_keyboard_only(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/dashboard")
        page.focus("select[name=group]")
        page.keyboard.press("ArrowDown")  # model -> provider
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Show":
                break
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*group=provider.*"))
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "geography agent":
                break
        page.keyboard.press("Enter")
        page.wait_for_url(ui_server.url + "/ui/sessions/agent-run-1")

    def test_a_narrow_screen(self, browser: Any, ui_server: UiServer) -> None:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        phone = context.new_page()
        try:
            sign_in(phone, ui_server)
            phone.goto(ui_server.url + "/ui/dashboard")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            boxes = phone.locator("figure.chart svg").evaluate_all(
                "charts => charts.map(chart => chart.getBoundingClientRect().right)"
            )
            assert len(boxes) == 5
            assert all(right <= 390 for right in boxes)
        finally:
            context.close()

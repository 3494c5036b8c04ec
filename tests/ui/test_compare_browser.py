"""The compare page in a real headless Chromium: picking, marked differences, folding, phone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import UiServer
from tests.ui.data import agent_rerun_document
from tests.ui.test_browser import sign_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def rerun(ui_server: UiServer) -> None:
    ui_server.storage.ingest(ui_server.key.record, agent_rerun_document(), None)


def visible_names(page: Any) -> list[str]:
    names: list[str] = page.locator("#compare tbody tr:visible .name").all_inner_texts()
    return names


def background(page: Any, selector: str) -> str:
    colour: str = page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor")
    return colour


class TestCompare:
    """Two ticked sessions side by side, their differences marked and coloured."""

    def test_tick_two_sessions_and_compare(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.check("tr:has-text('geography agent (rerun)') input[name=pick]")
        page.check("tr:has-text('nightly batch') ~ tr:has-text('geography agent') input[name=pick]")
        page.click("button:has-text('Compare')")
        page.wait_for_url(re.compile(r".*/ui/compare\?a=agent-run-2&b=agent-run-1$"))
        assert visible_names(page) == [
            "answer",
            "plan",
            "openai chat.completions.create · gpt-4o-mini",
            "anthropic chat.completions.create · claude-haiku",
            "verify",
        ]
        call = page.locator("#compare tr", has_text="gpt-4o-mini")
        assert call.locator(".diff").all_inner_texts() == [
            "output differs",
            "tokens -600 (-32 %)",
            "latency -500 ms (-38 %)",
            "cost -$0.0002 (-40 %)",
        ]
        assert call.locator("td.side").all_inner_texts() == [
            "1.3 s · 1,890 tokens · $0.0005\nParis, on the Seine.",
            "800 ms · 1,290 tokens · $0.0003\nParis is the capital of France.",
        ]
        verify = page.locator("#compare tr", has_text="verify")
        assert verify.locator("td.side").all_inner_texts()[1] == "not in B"  # A is the rerun
        assert verify.locator(".diff").inner_text() == "only in A"
        assert page.locator("tr[data-field=duration_ms] .diff").inner_text() == "-500 ms (-20 %)"

    def test_worse_and_better_have_their_colours(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/compare?a=agent-run-1&b=agent-run-2")
        call = page.locator("#compare tr", has_text="gpt-4o-mini")
        assert call.locator(".diff.worse").count() == 3
        assert call.locator(".diff.changed").inner_text() == "output differs"
        page.goto(ui_server.url + "/ui/compare?a=agent-run-2&b=agent-run-1")
        worse, better = "rgb(253, 236, 234)", "rgb(230, 244, 236)"
        assert background(page, "#compare .diff.better") == better
        page.goto(ui_server.url + "/ui/compare?a=agent-run-1&b=agent-run-2")
        assert background(page, "#compare .diff.worse") == worse

    def test_fold_and_only_differences_by_keyboard(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/compare?a=agent-run-1&b=agent-run-2")
        page.focus("#expand-all")
        page.keyboard.press("Shift+Tab")  # back to the link of session B in the totals
        for _ in range(5):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "only-differences":
                break
        page.keyboard.press("Space")
        assert visible_names(page) == [
            "answer",
            "plan",
            "openai chat.completions.create · gpt-4o-mini",
            "verify",
        ]
        page.keyboard.press("Tab")  # the fold button of "answer"
        assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Fold answer"
        page.keyboard.press("Enter")
        assert visible_names(page) == ["answer"]
        assert page.locator("button.fold").first.get_attribute("aria-expanded") == "false"
        page.keyboard.press("Space")
        assert len(visible_names(page)) == 4
        page.click("#collapse-all")
        assert visible_names(page) == ["answer"]
        page.click("#expand-all")
        page.uncheck("#only-differences")
        assert len(visible_names(page)) == 5

    def test_from_a_session_page(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/sessions/agent-run-1")
        page.fill("#compare-b", "agent-run-2")
        page.press("#compare-b", "Enter")
        page.wait_for_url(re.compile(r".*/ui/compare\?a=agent-run-1&b=agent-run-2$"))
        assert page.locator("h1").inner_text() == "Compare two sessions"

    def test_a_narrow_screen(self, browser: Any, ui_server: UiServer) -> None:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        phone = context.new_page()
        try:
            sign_in(phone, ui_server)
            phone.goto(ui_server.url + "/ui/compare?a=agent-run-1&b=agent-run-2")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            wrap = phone.locator("#compare").locator("xpath=..")
            assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")  # the table scrolls
            phone.locator("button.fold").first.click()
            assert visible_names(phone) == ["answer"]
        finally:
            context.close()

"""The sessions page's search box in a real headless Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import UiServer
from tests.ui.test_browser import session_names, sign_in

pytestmark = pytest.mark.slow


class TestSearchBox:
    """Words typed in the search box find the sessions where they were said."""

    def test_words_of_a_conversation_find_its_session(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.fill("input[name=q]", "capital France")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*q=capital\+France.*"))
        # the other project recorded the same conversation: it is not listed
        assert session_names(page) == ["geography agent"]
        assert page.input_value("input[name=q]") == "capital France"

    def test_search_combines_with_the_filters(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.fill("input[name=q]", "Paris")
        page.select_option("select[name=errors]", "yes")
        page.click("button:has-text('Filter')")
        page.wait_for_url(re.compile(r".*errors=yes.*"))
        assert session_names(page) == []
        assert "No session matches these filters." in page.inner_text("main")

    @pytest.mark.parametrize("typed", ['"NEAR( AND *', "<script>window.__xss = 1</script>"])
    def test_query_syntax_and_markup_are_only_text(
        self, page: Any, ui_server: UiServer, typed: str
    ) -> None:
        sign_in(page, ui_server)
        page.fill("input[name=q]", typed)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*q=.*"))
        assert page.input_value("input[name=q]") == typed
        assert page.locator(".error").count() == 0
        assert page.evaluate("window.__xss") is None

    def test_the_hostile_session_is_found_by_what_it_said(
        self, page: Any, ui_server: UiServer
    ) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/?q=ignore+script")
        assert len(session_names(page)) == 1
        assert page.evaluate("window.__xss") is None

    def test_too_long_a_search_says_why(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        response = page.goto(ui_server.url + "/ui/?q=" + "x" * 1001)
        assert response is not None
        assert response.status == 400
        assert "at most 1000 characters" in page.inner_text("[role=alert]")

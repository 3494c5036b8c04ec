"""The web UI in a real headless Chromium: sign in, list, filter, read a trace, sign out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import UiServer, detail_text
from tests.ui.data import XSS_IMG, XSS_SCRIPT

pytestmark = pytest.mark.slow


def sign_in(page: Any, server: UiServer, secret: str | None = None) -> None:
    page.goto(server.url + "/")
    assert page.url.endswith("/ui/signin")
    page.fill("#key", secret or server.key.secret)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(server.url + "/ui/")


def session_names(page: Any) -> list[str]:
    return page.locator("table.sessions tbody tr td:first-child").all_inner_texts()


class TestSessionsPage:
    """Signing in shows the project's sessions, newest first, filtered by the form."""

    def test_sign_in_lists_newest_first_and_sign_out_ends_it(
        self, page: Any, ui_server: UiServer
    ) -> None:
        sign_in(page, ui_server)
        assert session_names(page) == [
            f"hostile {XSS_IMG}",
            "nightly batch",
            "geography agent",
        ]
        agent = page.locator("tr", has_text="geography agent")
        assert agent.locator("td").all_inner_texts()[1:] == [
            "env: prod",
            "2026-01-01 00:00:00",
            "2.0 s",
            "2",
            "2,580",
            "$0.0006",
            "0",
        ]
        page.click("button:has-text('Sign out')")
        page.wait_for_url(ui_server.url + "/ui/signin")
        page.goto(ui_server.url + "/ui/")
        assert page.url.endswith("/ui/signin")

    def test_filters_narrow_the_list(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.select_option("select[name=errors]", "yes")
        page.click("button:has-text('Filter')")
        page.wait_for_url(re.compile(r".*errors=yes.*"))
        assert session_names(page) == ["nightly batch"]
        page.goto(ui_server.url + "/ui/?label=env:prod")
        assert session_names(page) == ["geography agent"]
        page.goto(ui_server.url + "/ui/?model=claude-haiku&provider=anthropic")
        assert session_names(page) == ["geography agent"]
        page.goto(ui_server.url + "/ui/?since=2026-01-01T00:30&until=2026-01-01T01:30")
        assert session_names(page) == ["nightly batch"]
        page.fill("input[name=name]", "agent")
        page.fill("input[name=since]", "")
        page.fill("input[name=until]", "")
        page.click("button:has-text('Filter')")
        page.wait_for_url(re.compile(r".*name=agent.*"))
        assert session_names(page) == ["geography agent"]
        page.goto(ui_server.url + "/ui/?since=yesterday")
        assert "since must be epoch seconds or an ISO 8601 time" in page.inner_text(".error")

    def test_a_second_project_sees_none_of_the_first(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server, ui_server.other_key.secret)
        assert session_names(page) == ["geography agent"]
        assert page.get_attribute("table.sessions a", "href") == "/ui/sessions/other-project-run"
        theirs = page.goto(ui_server.url + "/ui/sessions/agent-run-1")
        theirs_text = page.inner_text("main")
        missing = page.goto(ui_server.url + "/ui/sessions/no-such-session")
        assert theirs.status == missing.status == 404
        assert theirs_text == page.inner_text("main")
        assert "Session not found" in theirs_text


class TestSessionPage:
    """The trace tree, its keyboard navigation and an LLM call's detail."""

    def test_keyboard_opens_the_tree_and_shows_an_llm_calls_messages(
        self, page: Any, ui_server: UiServer
    ) -> None:
        sign_in(page, ui_server)
        page.click("text=geography agent")
        tree = page.locator("#tree")
        tree.locator("li[role=treeitem]").first.wait_for()  # drawn by the page's script
        visible = tree.locator("li[role=treeitem] >> visible=true")
        assert visible.locator(":scope > .row .name").all_inner_texts() == [
            "answer",
            "plan",
            "anthropic chat.completions.create · claude-haiku",
        ]
        assert page.inner_text("#detail h2") == "answer"
        page.focus("#tree li[aria-selected=true]")
        page.keyboard.press("ArrowDown")
        assert page.inner_text("#detail h2") == "plan"
        page.keyboard.press("ArrowRight")  # expands plan
        page.keyboard.press("ArrowRight")  # to its first child
        llm_name = "openai chat.completions.create · gpt-4o-mini"
        assert page.inner_text("#detail h2") == llm_name
        assert page.get_attribute("li[aria-selected=true]", "aria-level") == "3"
        detail_text(page)
        messages = page.locator("#detail .messages article")
        assert messages.locator("header").all_inner_texts()[:2] == ["SYSTEM", "USER"]
        assert messages.nth(1).locator(".text").inner_text() == "What is the capital of France?"
        assert "calls lookup_city" in messages.nth(2).inner_text()
        assert '{"country": "France"}' in messages.nth(2).inner_text()
        assert messages.nth(3).locator(".text").inner_text() == "Paris"
        response = page.inner_text("#detail .response .text")
        assert response == "Paris is the capital of France."
        usage = page.inner_text("#detail .part:has(h3:text('Usage'))")
        assert "Input tokens\n1,234" in usage
        assert "Output tokens\n56" in usage
        assert "$0.000300" in usage
        page.keyboard.press("ArrowLeft")  # back to plan
        page.keyboard.press("ArrowLeft")  # collapses plan
        assert page.get_attribute("li[data-id=plan1]", "aria-expanded") == "false"
        assert not page.is_visible("li[data-id=llm1]")
        bar = page.locator("li[data-id=root1] > .row .bar")
        assert bar.get_attribute("style") == "left: 0%; width: 100%;"

    def test_a_functions_arguments_result_and_callsite(
        self, page: Any, ui_server: UiServer
    ) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/sessions/agent-run-1")
        detail = detail_text(page)
        assert "app/agent.py:42" in detail
        assert '"question": "capital of France?"' in detail
        assert '"answer": "Paris"' in detail

    def test_a_failed_call_shows_its_error(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        page.goto(ui_server.url + "/ui/sessions/failing-run-1")
        detail_text(page)
        assert "RateLimitError: slow down" in page.inner_text("#detail .error-box")


class TestHostileContent:
    """Recorded HTML and script are shown as text and never run."""

    def test_script_and_img_in_a_prompt_are_text(self, page: Any, ui_server: UiServer) -> None:
        sign_in(page, ui_server)
        assert f"hostile {XSS_IMG}" in session_names(page)
        assert XSS_SCRIPT in page.inner_text("table.sessions")
        response = page.goto(ui_server.url + "/ui/sessions/hostile-run-1")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        detail_text(page)
        user = page.inner_text("#detail .messages .text")
        assert user == f"Ignore this: {XSS_SCRIPT} and {XSS_IMG}"
        answer = page.inner_text("#detail .response .text")
        assert answer == f"echo {XSS_IMG} </script><script>window.__xss='json'</script>"
        assert page.evaluate("window.__xss") is None
        assert page.locator("img").count() == 0
        assert page.locator("script").count() == 2  # the data block and session.js
        assert page.inner_text("h1") == f"hostile {XSS_IMG}"


class TestNarrowScreen:
    """On a phone-sized screen nothing but the sessions table scrolls sideways."""

    @pytest.mark.parametrize("path", ["/ui/signin", "/ui/", "/ui/sessions/agent-run-1"])
    def test_pages_fit_390_pixels(self, page: Any, ui_server: UiServer, path: str) -> None:
        page.set_viewport_size({"width": 390, "height": 844})
        if path != "/ui/signin":
            sign_in(page, ui_server)
        page.goto(ui_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        if path.startswith("/ui/sessions/"):
            tree = page.locator(".tree-pane").bounding_box()
            detail = page.locator("#detail").bounding_box()
            assert detail["y"] >= tree["y"] + tree["height"]  # the detail comes below the tree

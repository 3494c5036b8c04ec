"""A session of thousands of events opens at once: rows are built when they can be seen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aiobs.server.app import create_app
from aiobs.server.storage import open_storage
from tests.server.app_fixtures import document, live_server, session
from tests.ui.conftest import UiServer, detail_text
from tests.ui.data import function, llm
from tests.ui.test_browser import sign_in

pytestmark = pytest.mark.slow

PARENTS = 3
CHILDREN = 1000


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    storage = open_storage(f"sqlite:///{tmp_path_factory.mktemp('big')}/big.db")
    key = storage.create_key("enterprise")
    run = session("big", session_id="big-run")
    functions, calls = [], []
    for parent in range(PARENTS):
        span = f"p{parent}"
        functions.append(function("big-run", span, None, f"step{parent}", at=parent, ms=900))
        calls.extend(
            llm(
                "big-run",
                f"{span}c{child}",
                span,
                parent + child / 2000,
                1,
                messages=[{"role": "user", "content": f"question {parent}.{child}"}],
            )
            for child in range(CHILDREN)
        )
    storage.ingest(key.record, document([run], calls, functions), None)
    try:
        with live_server(create_app(storage)) as url:
            yield UiServer(url, storage, key, key)
    finally:
        storage.close()


def test_only_the_first_branch_is_drawn_and_the_others_on_demand(
    page: Any, big_server: UiServer
) -> None:
    sign_in(page, big_server)
    page.goto(big_server.url + "/ui/sessions/big-run")
    items = page.locator("#tree li[role=treeitem]")
    items.first.wait_for()
    assert items.count() == PARENTS + CHILDREN  # the roots, and the first one's children
    second = page.locator("#tree > li").nth(1)
    assert second.get_attribute("aria-expanded") == "false"
    second.locator(":scope > .row .toggle").click()
    assert second.get_attribute("aria-expanded") == "true"
    assert items.count() == PARENTS + 2 * CHILDREN
    assert second.locator("li[role=treeitem]").first.inner_text().startswith("LLM")
    # the keyboard opens a branch too, and moves into it
    third = page.locator("#tree > li").nth(2)
    third.locator(":scope > .row .name").click()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert third.get_attribute("aria-expanded") == "true"
    focused = page.locator("#tree li[aria-selected=true]")
    assert focused.get_attribute("aria-level") == "2"
    assert "question 2.0" in detail_text(page)

"""Web UI fixtures: a real server on a free port over SQLite, two projects, a real Chromium.

Chromium is Debian's (``make chromium`` installs it, as root or with sudo); Playwright drives it
and never downloads a browser. Where it is missing, the browser tests are skipped with one line
saying how to install it, unless ``AIOBS_REQUIRE_BROWSER=1`` (set by CI), which makes that an
error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, Storage, open_storage
from tests.ui.data import agent_document, failing_document, hostile_document

CHROMIUM = os.environ.get("AIOBS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REQUIRE_BROWSER = "AIOBS_REQUIRE_BROWSER"


@dataclass
class UiServer:
    """A running flush server with the UI, and a key of each of its two projects."""

    url: str
    storage: Storage
    key: NewKey
    other_key: NewKey


def seeded_storage(path: Path) -> tuple[Storage, NewKey, NewKey]:
    """A SQLite storage with the agent, failing and hostile sessions in one project and one
    session in another project."""
    storage = open_storage(f"sqlite:///{path}/ui.db")
    key = storage.create_key("free", name="ui tests")
    other = storage.create_key("free", name="another project")
    for document in (agent_document(), failing_document(), hostile_document()):
        storage.ingest(key.record, document, None)
    storage.ingest(other.record, agent_document("other-project-run"), None)
    return storage, key, other


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    from tests.server.app_fixtures import live_server

    storage, key, other = seeded_storage(tmp_path_factory.mktemp("ui"))
    try:
        with live_server(create_app(storage)) as url:
            yield UiServer(url, storage, key, other)
    finally:
        storage.close()


def _browser_missing() -> str | None:
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}: run 'make chromium' (apt-get install chromium, as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: run 'make .venv/.installed-dev'"
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium, for the tests of this package only.

    Playwright's sync API runs an asyncio event loop in this thread while it is started, so a
    test that calls ``asyncio.run()`` fails meanwhile. Closed when this package's tests end, it
    leaves nothing running for the tests collected after them (``tests/ui/test_fixture.py``).
    """
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{REQUIRE_BROWSER}=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280x800, failing the test on page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}")
            # a 4xx page (not found, a refused filter) is logged as a failed load: that is expected
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield page
    context.close()
    assert errors == [], "the page reported errors (CSP violations, script errors or dialogs)"


DETAIL_SHOWN = """() => {
  const chosen = document.querySelector("#tree li[aria-selected=true]");
  const detail = document.getElementById("detail");
  return chosen !== null && detail.dataset.shown === chosen.dataset.id;
}"""


def detail_text(page: Any) -> str:
    """The detail pane's text once it shows the chosen node (a node's detail is fetched)."""
    page.wait_for_function(DETAIL_SHOWN)
    text: str = page.inner_text("#detail")
    return text

"""Take the screenshots of docs/ui.md: ``python -m tests.ui.screenshots docs/img``.

A server with the sample sessions of the browser tests runs on a free port; Debian's Chromium
(through Playwright) signs in and photographs each page at 1280x800, and the session, dashboard
and compare pages on a narrow screen (the agent's rerun is added for the compare page, and a
session with values the SDK cut short or redacted for the last picture).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from aiobs.server.app import create_app
from tests.server.app_fixtures import live_server
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, DETAIL_SHOWN, seeded_storage
from tests.ui.data import agent_rerun_document, marked_document


def _sign_in(page: Page, url: str, secret: str) -> None:
    page.goto(url + "/ui/signin")
    page.fill("#key", secret)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(url + "/ui/")


SHOTS = (
    "signin",
    "sessions",
    "sessions-search",
    "session",
    "session-narrow",
    "dashboard",
    "dashboard-narrow",
    "compare",
    "compare-narrow",
    "session-markers",
)


def main(directory: str) -> int:
    """Write the ``SHOTS`` as PNG files into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        storage, key, _ = seeded_storage(Path(data))
        try:
            with live_server(create_app(storage)) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/ui/signin")
                page.screenshot(path=out / "signin.png")
                _sign_in(page, url, key.secret)
                page.screenshot(path=out / "sessions.png")
                page.goto(url + "/ui/?q=capital+France")
                page.screenshot(path=out / "sessions-search.png")
                page.goto(url + "/ui/sessions/agent-run-1")
                page.focus("#tree li[aria-selected=true]")
                for press in ("ArrowDown", "ArrowRight", "ArrowRight"):
                    page.keyboard.press(press)
                page.wait_for_function(DETAIL_SHOWN)  # the node's detail is fetched
                page.screenshot(path=out / "session.png")
                narrow = browser.new_page(viewport={"width": 390, "height": 844})
                _sign_in(narrow, url, key.secret)
                narrow.goto(url + "/ui/sessions/agent-run-1")
                narrow.wait_for_function(DETAIL_SHOWN)
                narrow.screenshot(path=out / "session-narrow.png", full_page=True)
                page.goto(url + "/ui/dashboard")
                page.screenshot(path=out / "dashboard.png", full_page=True)
                narrow.goto(url + "/ui/dashboard")
                narrow.screenshot(path=out / "dashboard-narrow.png", full_page=True)
                storage.ingest(key.record, agent_rerun_document(), None)
                page.goto(url + "/ui/compare?a=agent-run-1&b=agent-run-2")
                page.screenshot(path=out / "compare.png")
                narrow.goto(url + "/ui/compare?a=agent-run-1&b=agent-run-2")
                narrow.screenshot(path=out / "compare-narrow.png", full_page=True)
                storage.ingest(key.record, marked_document(), None)
                page.goto(url + "/ui/sessions/marked-run-1")
                page.wait_for_function(DETAIL_SHOWN)
                page.screenshot(path=out / "session-markers.png")
                browser.close()
        finally:
            storage.close()
    for name in SHOTS:
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))

"""Screenshots of the local viewer and the HTML report for docs/ui.md.

``python -m tests.ui.screenshots_local docs/img`` (run by ``make screenshots``): the sample
sessions of the browser tests are written as flush files (JSON, JSON Lines, gzip), served by
``aiobs ui`` and written by ``aiobs report``, and photographed in Debian's Chromium.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from aiobs.cli import main as aiobs
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, DETAIL_SHOWN
from tests.ui.test_local import Viewer, flush_directory

SHOTS = ("local", "local-session", "report", "report-session", "report-narrow")


def main(directory: str) -> int:
    """Write the pictures named in :data:`SHOTS` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, sync_playwright() as playwright:
        flush_directory(Path(data) / "out")
        report = Path(data) / "report.html"
        here = Path.cwd()
        os.chdir(data)  # so that the banners name the broken file as out/broken.json
        try:
            aiobs(["report", "out", "-o", str(report)])
        finally:
            os.chdir(here)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        viewer = Viewer("out", "--no-browser", cwd=Path(data))
        try:
            page.goto(viewer.url)
            page.screenshot(path=out / "local.png")
            page.goto(viewer.url + "sessions/agent-run-1")
            page.focus("#tree li[aria-selected=true]")
            for press in ("ArrowDown", "ArrowRight", "ArrowRight"):
                page.keyboard.press(press)
            page.wait_for_function(DETAIL_SHOWN)  # the node's detail is fetched
            page.screenshot(path=out / "local-session.png")
        finally:
            viewer.stop()
        page.goto(report.as_uri())
        page.screenshot(path=out / "report.png")
        page.goto(report.as_uri() + "#session-2")
        page.focus("#tree li[aria-selected=true]")
        for press in ("ArrowDown", "ArrowRight", "ArrowRight"):
            page.keyboard.press(press)
        page.screenshot(path=out / "report-session.png")
        narrow = browser.new_page(viewport={"width": 390, "height": 844})
        narrow.goto(report.as_uri() + "#session-2")
        narrow.screenshot(path=out / "report-narrow.png", full_page=True)
        browser.close()
    for name in SHOTS:
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))

"""``aiobs report``: one self-contained HTML file, opened from file:// in Chromium."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aiobs.cli import main
from tests.ui.conftest import UiServer
from tests.ui.data import XSS_IMG, XSS_SCRIPT, agent_document, hostile_document
from tests.ui.test_browser import sign_in
from tests.ui.test_local import export, flush_directory, node_details, open_all, tree_texts


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = flush_directory(tmp_path_factory.mktemp("flush"))
    output = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(directory), "-o", str(output)]) == 1  # broken.json is skipped
    return output


def inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)


class TestTheFile:
    """What the file holds: everything inline, allowed by hash, data that cannot escape."""

    def test_the_csp_allows_exactly_the_inline_script_and_style(self, report_file: Path) -> None:
        html = report_file.read_text(encoding="utf-8")
        (script,) = inline(html, "script")
        (style,) = inline(html, "style")

        def sha(text: str) -> str:
            return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

        csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
        assert csp is not None
        assert csp.group(1).replace("&#39;", "'") == (
            f"default-src 'none'; script-src 'sha256-{sha(script)}'; "
            f"style-src 'sha256-{sha(style)}'; img-src 'none'; base-uri 'none'; form-action 'none'"
        )
        assert not re.search(r"<(link|img|iframe)\b|src=|https?://", html.split("<style>")[0])

    def test_recorded_strings_cannot_close_the_data_block(self, report_file: Path) -> None:
        html = report_file.read_text(encoding="utf-8")
        data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html)
        assert data is not None
        assert "<" not in data.group(1)
        assert ">" not in data.group(1)
        assert "&" not in data.group(1)
        assert XSS_SCRIPT not in html
        assert XSS_IMG not in html
        names = [view["nodes"][0]["name"] for view in json.loads(data.group(1))["sessions"]]
        assert len(names) == 3

    def test_line_separators_are_escaped(self, tmp_path: Path) -> None:
        document = copy.deepcopy(agent_document())  # its messages are a module-level list
        document["events"][0]["request"]["messages"][0]["content"] = "a\u2028b\u2029c</script>"
        export(tmp_path / "a.json", document)
        assert main(["report", str(tmp_path / "a.json"), "-o", str(tmp_path / "a.html")]) == 0
        html = (tmp_path / "a.html").read_text(encoding="utf-8")
        assert "\u2028" not in html
        assert "\u2029" not in html
        assert "a\\u2028b\\u2029c\\u003c/script\\u003e" in html

    def test_a_report_of_files_none_of_which_reads_is_not_written(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (tmp_path / "bad.json").write_text("{")
        output = tmp_path / "out.html"
        assert main(["report", str(tmp_path / "bad.json"), "-o", str(output)]) == 1
        err = capsys.readouterr().err
        assert f"aiobs report: skipped {tmp_path / 'bad.json'}: not JSON" in err
        assert "aiobs: error: no file could be read; no report written" in err
        assert not output.exists()

    def test_says_what_it_wrote(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        export(tmp_path / "a.json", agent_document())
        output = tmp_path / "deeper" / "a.html"
        assert main(["report", str(tmp_path / "a.json"), "-o", str(output)]) == 0
        size = output.stat().st_size
        assert capsys.readouterr().err == f"wrote {output} (1 session, {size:,} bytes)\n"


@pytest.mark.slow
class TestInBrowser:
    """From file:// in Chromium: the same session as the server UI, nothing fetched or run."""

    def test_same_session_as_the_server_ui_and_no_request(
        self, page: Any, report_file: Path, ui_server: UiServer, browser: Any
    ) -> None:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report_file.as_uri())
        names = page.locator("table.sessions tbody tr td:first-child").all_inner_texts()
        assert names == [f"hostile {XSS_IMG}", "nightly batch", "geography agent"]
        assert "broken.json: not JSON" in page.inner_text(".problems")
        page.click("text=geography agent")
        assert page.inner_text("#session-page h1") == "geography agent"
        open_all(page)
        report_tree, report_details = tree_texts(page), node_details(page)
        server_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        sign_in(server_page, ui_server)
        server_page.goto(ui_server.url + "/ui/sessions/agent-run-1")
        open_all(server_page)
        assert report_tree == tree_texts(server_page)
        server_details = node_details(server_page)
        for mine, theirs in zip(report_details, server_details, strict=True):
            assert mine.splitlines() == theirs.splitlines()
        head = ".session-head > :not(form.compare-with)"  # comparing needs the server
        assert page.locator(head).all_inner_texts() == server_page.locator(head).all_inner_texts()
        server_page.context.close()
        page.go_back()
        assert page.is_visible("#sessions-page")
        assert not page.is_visible("#session-page")
        assert requests == [report_file.as_uri()]

    def test_hostile_strings_are_text(self, page: Any, report_file: Path) -> None:
        page.goto(report_file.as_uri())
        page.click("table.sessions a >> nth=0")
        assert page.inner_text("#session-page h1") == f"hostile {XSS_IMG}"
        assert XSS_SCRIPT in page.inner_text(".session-head")
        messages = page.inner_text("#detail .messages")
        assert f"Ignore this: {XSS_SCRIPT} and {XSS_IMG}" in messages
        assert "</script><script>window.__xss='json'</script>" in page.inner_text("#detail")
        assert page.locator("main img").count() == 0
        assert page.evaluate("window.__xss") is None

    def test_keyboard_moves_through_the_tree(self, page: Any, report_file: Path) -> None:
        page.goto(report_file.as_uri() + "#session-2")
        page.focus("#tree li[aria-selected=true]")
        page.keyboard.press("ArrowDown")
        assert page.inner_text("#detail h2") == "plan"
        page.goto(report_file.as_uri() + "#session-99")
        assert page.is_visible("#sessions-page")


def test_a_session_with_a_hostile_name_in_the_title(tmp_path: Path) -> None:
    """Recorded names go into the page through the escaping templates only."""
    export(tmp_path / "h.json", hostile_document())
    main(["report", str(tmp_path / "h.json"), "-o", str(tmp_path / "h.html")])
    html = (tmp_path / "h.html").read_text(encoding="utf-8")
    assert "hostile &lt;img src=x onerror=&#34;window.__xss = &#39;img&#39;&#34;&gt;" in html

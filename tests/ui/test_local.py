"""``aiobs ui PATH...``: the web UI over flush files, run as a real process, read in Chromium."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs.cli import main
from aiobs.exporters import FileExporter
from aiobs.exporters.document import ExportDocument
from aiobs.server.storage import SessionQuery
from aiobs.ui.files import UnreadableFile, read_document
from aiobs.ui.local import REFRESH_SECONDS, is_loopback
from tests.ui.conftest import UiServer, detail_text
from tests.ui.data import agent_document, failing_document, hostile_document
from tests.ui.test_browser import sign_in

ROOT = Path(__file__).resolve().parents[2]


def export(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` with the SDK's FileExporter (format from the name)."""
    result = FileExporter(str(path)).export_document(
        ExportDocument.from_json(json.dumps(document).encode())
    )
    assert result.success, result


def flush_directory(directory: Path) -> Path:
    """The sample sessions as JSON, JSON Lines (gzipped) and gzipped JSON, and one bad file."""
    directory.mkdir(parents=True, exist_ok=True)
    export(directory / "agent.json", agent_document())
    export(directory / "failing.jsonl.gz", failing_document())
    export(directory / "nested" / "hostile.json.gz", hostile_document())
    (directory / "broken.json").write_text('{"sessions": [', encoding="utf-8")
    return directory


class Viewer:
    """``aiobs ui`` in a subprocess: its address and what it printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiobs", "ui", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+/ui/)", line)
        if match is None:
            self.stop()
            raise AssertionError(f"no address printed: {line!r} {self.stderr}")
        self.url = match.group(1)
        self.base = self.url.removesuffix("/ui/")
        self.stderr = ""

    def get(self, path: str, host: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path)
        if host:
            request.add_header("Host", host)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stop(self) -> None:
        """Stop it as Ctrl+C would (it then removes its temporary database)."""
        self.process.terminate()
        try:
            _, self.stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, self.stderr = self.process.communicate(timeout=10)


@pytest.fixture(scope="module")
def flush_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return flush_directory(tmp_path_factory.mktemp("flush"))


@pytest.fixture(scope="module")
def viewer(flush_dir: Path) -> Iterator[Viewer]:
    running = Viewer(str(flush_dir), "--no-browser")
    try:
        yield running
    finally:
        running.stop()


class TestCommandLine:
    """Arguments and errors of ``aiobs ui`` and ``aiobs report``."""

    @pytest.mark.parametrize("command", ["ui", "report"])
    def test_a_missing_path_is_an_error_naming_it(
        self, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        missing = tmp_path / "nowhere.json"
        assert main([command, str(missing)]) == 1
        assert capsys.readouterr().err == f"aiobs: error: no such file or directory: {missing}\n"

    @pytest.mark.parametrize("command", ["ui", "report"])
    def test_no_path_is_a_usage_error(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            main([command])
        assert exited.value.code == 2
        assert "the following arguments are required: PATH" in capsys.readouterr().err

    def test_a_port_out_of_range_is_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["ui", str(tmp_path), "--port", "70000"]) == 1
        assert "--port must be between 0 and 65535" in capsys.readouterr().err

    def test_help_describes_the_options(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["ui", "--help"])
        text = capsys.readouterr().out
        for option in ("--host", "--port", "--no-browser", "BROWSER", "a free port"):
            assert option in text

    def test_a_non_loopback_host_warns_that_there_is_no_authentication(
        self, tmp_path: Path
    ) -> None:
        # 192.0.2.1 (TEST-NET-1) is on no interface: the warning comes first, then the error
        done = subprocess.run(
            [sys.executable, "-m", "aiobs", "ui", str(tmp_path), "--host", "192.0.2.1"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        lines = done.stderr.splitlines()
        assert "WARNING: listening on 192.0.2.1, which is not a loopback address" in lines[0]
        assert "no key and no sign-in" in lines[0]
        assert lines[1].startswith("aiobs: error: cannot listen on 192.0.2.1 port 0: ")

    def test_loopback_addresses(self) -> None:
        assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
        assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.com"]))


class TestReadingFiles:
    """Every format FileExporter writes reads back; a bad file says what is wrong."""

    @pytest.mark.parametrize("name", ["a.json", "a.json.gz", "a.jsonl", "a.jsonl.gz"])
    def test_each_format(self, tmp_path: Path, name: str) -> None:
        export(tmp_path / name, agent_document())
        if "jsonl" in name:  # JSON Lines append: a second flush to the same file
            export(tmp_path / name, failing_document())
        document = read_document(tmp_path / name)
        ids = {session["id"] for session in document["sessions"]}
        assert ids == ({"agent-run-1", "failing-run-1"} if "jsonl" in name else {"agent-run-1"})
        assert {event["span_id"] for event in document["function_events"]} == {"root1", "plan1"}

    def test_an_append_in_progress_is_left_out(self, tmp_path: Path) -> None:
        path = tmp_path / "a.jsonl"
        export(path, agent_document())
        with path.open("a") as out:
            out.write('{"record": "session", "id": "half')
        assert [s["id"] for s in read_document(path)["sessions"]] == ["agent-run-1"]
        gz = tmp_path / "a.jsonl.gz"
        export(gz, agent_document())
        whole = gz.read_bytes()
        export(gz, failing_document())
        gz.write_bytes(gz.read_bytes()[: len(whole) + 20])  # the second member cut short
        assert [s["id"] for s in read_document(gz)["sessions"]] == ["agent-run-1"]

    def test_bad_files_name_the_file_and_the_fault(self, tmp_path: Path) -> None:
        cases = {
            "not.json": ("{nope", "not JSON"),
            "list.json": ("[1]", "not an aiobs export document"),
            "lines.jsonl": ('{"record": "session", "id": "s"}\n{bad\n{}\n', "line 2 is not JSON"),
            "other.jsonl": ('{"a": 1}\n', 'line 1 is not an aiobs record (no "record" field'),
        }
        for name, (text, fault) in cases.items():
            (tmp_path / name).write_text(text)
            with pytest.raises(UnreadableFile, match=re.escape(fault)) as raised:
                read_document(tmp_path / name)
            assert str(raised.value).startswith(str(tmp_path / name))
        (tmp_path / "fake.json.gz").write_bytes(b"\x1f\x8bnot gzip")
        with pytest.raises(UnreadableFile, match="not a readable gzip file"):
            read_document(tmp_path / "fake.json.gz")


class TestViewerProcess:
    """The viewer as a process: no sign-in, unreadable files reported, its own host only."""

    def test_lists_every_format_with_no_sign_in_and_reports_the_bad_file(
        self, viewer: Viewer, flush_dir: Path
    ) -> None:
        status, html = viewer.get("/ui/")
        assert status == 200
        for name in ("geography agent", "nightly batch", "hostile &lt;img"):
            assert name in html
        assert f"{flush_dir / 'broken.json'}: not JSON" in html
        assert "Sign out" not in html
        assert "<h1>Sessions</h1>" in viewer.get("/ui/signin")[1]  # no sign-in page either

    def test_other_host_names_are_refused(self, viewer: Viewer) -> None:
        port = viewer.base.rsplit(":", 1)[1]
        assert viewer.get("/ui/", host=f"attacker.example:{port}")[0] == 421
        assert viewer.get("/ui/", host=f"localhost:{port}")[0] == 200

    def test_the_api_still_needs_a_key(self, viewer: Viewer) -> None:
        assert viewer.get("/v1/sessions")[0] == 401

    def test_opens_the_browser_named_by_BROWSER(self, tmp_path: Path) -> None:
        opened = tmp_path / "opened.txt"
        script = tmp_path / "browser.py"
        written = f"{opened}.tmp"  # renamed when complete: the test never reads half of it
        script.write_text(
            f"import os, sys; open({written!r}, 'w').write(sys.argv[1]); "
            f"os.rename({written!r}, {str(opened)!r})\n"
        )
        running = Viewer(str(tmp_path), env={"BROWSER": f"{sys.executable} {script} %s"})
        try:
            deadline = time.monotonic() + 10
            while not opened.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert opened.read_text() == running.url
        finally:
            running.stop()


def tree_texts(page: Any) -> list[str]:
    return page.locator("#tree li[role=treeitem] > .row").all_inner_texts()


def node_details(page: Any) -> list[str]:
    """The detail pane's text for each node of the trace, chosen in turn."""
    details = []
    for row in page.locator("#tree li[role=treeitem] > .row").all():
        row.click()
        details.append(detail_text(page))
    return details


def open_all(page: Any) -> None:
    while page.locator("#tree li[aria-expanded=false]").count():
        page.locator("#tree li[aria-expanded=false] > .row .toggle").first.click()


@pytest.mark.slow
class TestViewerInBrowser:
    """The viewer in Chromium shows what the server's UI shows for the same document."""

    def test_sessions_of_every_format_are_listed(self, page: Any, viewer: Viewer) -> None:
        page.goto(viewer.url)
        names = page.locator("table.sessions tbody tr td:first-child").all_inner_texts()
        assert names == [
            "hostile <img src=x onerror=\"window.__xss = 'img'\">",
            "nightly batch",
            "geography agent",
        ]
        assert "broken.json: not JSON" in page.inner_text(".problems")
        assert page.locator("text=Sign out").count() == 0

    def test_a_session_shows_the_same_tree_and_messages_as_the_server_ui(
        self, page: Any, viewer: Viewer, ui_server: UiServer, browser: Any
    ) -> None:
        page.goto(viewer.url)
        page.click("text=geography agent")
        page.wait_for_url(re.compile(r".*/ui/sessions/agent-run-1$"))
        open_all(page)
        local_tree, local_details = tree_texts(page), node_details(page)
        server_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        sign_in(server_page, ui_server)
        server_page.goto(ui_server.url + "/ui/sessions/agent-run-1")
        open_all(server_page)
        assert local_tree == tree_texts(server_page)
        assert local_details == node_details(server_page)
        assert len(local_details) == 4
        assert any("What is the capital of France?" in detail for detail in local_details)
        assert page.evaluate("window.__xss") is None
        server_page.context.close()

    def test_new_and_grown_files_appear_after_a_reload(self, page: Any, tmp_path: Path) -> None:
        export(tmp_path / "first.jsonl", agent_document())
        running = Viewer(str(tmp_path), "--no-browser")
        try:
            page.goto(running.url)
            names = page.locator("table.sessions tbody tr td:first-child")
            assert names.all_inner_texts() == ["geography agent"]
            time.sleep(REFRESH_SECONDS)
            export(tmp_path / "later" / "second.json", failing_document())
            page.reload()
            assert names.all_inner_texts() == ["nightly batch", "geography agent"]
            time.sleep(REFRESH_SECONDS)
            export(tmp_path / "first.jsonl", agent_document("agent-run-2"))  # an append
            export(tmp_path / ".hidden.json", hostile_document())  # a writer's temporary file
            page.reload()
            assert names.all_inner_texts() == [
                "nightly batch",
                "geography agent",
                "geography agent",
            ]
            page.click("a[href='/ui/sessions/agent-run-2']")
            page.locator("#tree li[role=treeitem]").first.wait_for()  # drawn by the script
            assert "LLM" in page.inner_text("#tree")
        finally:
            running.stop()


def test_gzip_of_a_whole_json_document(tmp_path: Path) -> None:
    """A ``.json.gz`` written by hand (one member) reads like the SDK's."""
    path = tmp_path / "hand.json.gz"
    path.write_bytes(gzip.compress(json.dumps(agent_document()).encode()))
    assert read_document(path)["sessions"][0]["id"] == "agent-run-1"


class TestNothingStopsTheViewer:
    """A file that breaks the reader in an unexpected way is reported like any bad file."""

    def test_a_deeply_nested_file_is_a_problem_not_a_crash(self, tmp_path: Path) -> None:
        from aiobs.ui.local import LocalViewer

        export(tmp_path / "good.json", agent_document())
        (tmp_path / "deep.json").write_text("[" * 200_000)
        with LocalViewer([tmp_path]) as viewer:
            (problem,) = viewer.files.problems()
            assert problem.startswith(f"{tmp_path / 'deep.json'}: cannot be loaded (")
            summary = viewer.storage.sessions(
                viewer.app.state.aiobs_ui.local_project, SessionQuery()
            )
            assert [s["id"] for s in summary.sessions] == ["agent-run-1"]

    def test_a_directory_given_as_a_file_says_it_cannot_be_read(self, tmp_path: Path) -> None:
        with pytest.raises(UnreadableFile, match=r": cannot be read \(Is a directory\)"):
            read_document(tmp_path)


class TestEmptyViewer:
    """A viewer over files with no session yet says where to flush, not to flush to a server."""

    def test_an_empty_viewer_says_how_to_add_sessions_to_its_files(self, tmp_path: Path) -> None:
        from fastapi.testclient import TestClient

        from aiobs.ui.local import LocalViewer

        with LocalViewer([tmp_path]) as viewer:
            page = TestClient(viewer.app, base_url="http://127.0.0.1").get("/ui/")
        assert page.status_code == 200
        assert f"No sessions in {tmp_path} yet" in page.text
        assert f'observer.flush("{tmp_path}")' in page.text
        assert "flush to this server" not in page.text


def test_stopping_removes_the_temporary_database(tmp_path: Path) -> None:
    """The viewer's SQLite copy of the files is deleted when it stops (SIGTERM, as Ctrl+C)."""
    export(tmp_path / "a.json", agent_document())
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    running = Viewer(str(tmp_path / "a.json"), "--no-browser", env={"TMPDIR": str(temporary)})
    assert [path.name[:9] for path in temporary.iterdir()] == ["aiobs-ui-"]
    running.stop()
    assert running.process.returncode == 0
    assert list(temporary.iterdir()) == []

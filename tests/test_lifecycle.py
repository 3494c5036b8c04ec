"""Lifecycle: the flush at exit, fork safety, failed and discarded exports, empty flushes, reset."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiobs import observe, observer
from aiobs.exporters import ExportResult, InMemoryExporter
from tests.helpers import flush_document

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """\
import json
import os
import sys

from aiobs import observe, observer


@observe
def step(x):
    return x


"""

IN_CHILD = """\
import signal


def in_child(work):
    # Run work() in a forked child that reports through a file and leaves with os._exit.
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(20)  # a deadlocked child dies instead of hanging the test
            with open("child-report.txt", "w") as stream:
                json.dump(work(), stream)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert status == 0, f"the child ended with wait status {status}"
    with open("child-report.txt") as stream:
        return json.load(stream)


"""

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")


@observe
def step(x: Any) -> Any:
    return x


def run_script(
    cwd: Path, body: str, *, prelude: str = PRELUDE, **env: str
) -> dict[str, Any] | None:
    """Run ``prelude + body`` in a fresh interpreter; return the JSON it printed last, if any."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIOBS_") and key != "LLM_OBS_OUT"
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    environment["AIOBS_RAISE_INTERNAL_ERRORS"] = "1"
    environment.update(env)
    process = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(body)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    # An error inside an atexit hook does not change the exit status; it is printed.
    assert "Traceback" not in process.stderr, process.stderr
    lines = process.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def json_files(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*.json"))


def read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def event_args(document: dict[str, Any]) -> list[Any]:
    return [event["args"] for event in document["function_events"]]


class TestFlushAtExit:
    """At interpreter exit, unexported data is flushed to the last or the default destination."""

    def test_unflushed_events_go_to_the_session_file(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            session_id = observer.observe(session_name="exit")
            step(1)
            step(2)
            print(json.dumps({"session_id": session_id, "pid": os.getpid()}))
            """,
        )
        assert report is not None
        assert json_files(tmp_path) == [f"{report['session_id']}.json"]
        document = read(tmp_path / f"{report['session_id']}.json")
        assert event_args(document) == [[1], [2]]
        [session] = document["sessions"]
        assert (session["id"], session["name"]) == (report["session_id"], "exit")
        assert session["meta"]["pid"] == report["pid"]
        assert session["ended_at"] is not None  # open sessions are ended first

    @pytest.mark.parametrize(
        ("setup", "env"),
        [
            ("", {"AIOBS_FLUSH_AT_EXIT": "0"}),
            ("observer.configure(flush_at_exit=False)\n", {}),
        ],
        ids=["environment", "configure"],
    )
    def test_switched_off_writes_nothing(
        self, tmp_path: Path, setup: str, env: dict[str, str]
    ) -> None:
        run_script(tmp_path, setup + "observer.observe()\nstep(1)\n", **env)
        assert json_files(tmp_path) == []

    def test_llm_obs_out_names_the_file(self, tmp_path: Path) -> None:
        run_script(
            tmp_path, "observer.observe()\nstep(1)\n", LLM_OBS_OUT=str(Path("out", "run.json"))
        )
        assert json_files(tmp_path) == [str(Path("out", "run.json"))]
        assert event_args(read(tmp_path / "out" / "run.json")) == [[1]]

    def test_later_events_join_the_last_explicit_file(self, tmp_path: Path) -> None:
        run_script(
            tmp_path,
            """
            observer.observe()
            step(1)
            assert observer.flush("custom.json") == "custom.json"
            step(2)
            step(3)
            """,
        )
        assert json_files(tmp_path) == ["custom.json"]
        document = read(tmp_path / "custom.json")
        assert event_args(document) == [[1], [2], [3]]
        [session] = document["sessions"]
        assert session["ended_at"] is not None

    def test_later_events_go_to_the_last_exporter_with_its_arguments(self, tmp_path: Path) -> None:
        run_script(
            tmp_path,
            """
            from aiobs.exporters import BaseExporter, ExportResult


            class Spool(BaseExporter):
                name = "spool"

                def __init__(self):
                    self.count = 0

                def export(self, data, **kwargs):
                    self.count += 1
                    with open(f"spool-{self.count}-{kwargs['tag']}.json", "w") as stream:
                        stream.write(data.model_dump_json())
                    return ExportResult(True, destination="spool")


            observer.observe()
            step(1)
            assert observer.flush(exporter=Spool(), tag="nightly").success
            step(2)
            """,
        )
        assert json_files(tmp_path) == ["spool-1-nightly.json", "spool-2-nightly.json"]
        assert event_args(read(tmp_path / "spool-1-nightly.json")) == [[1]]
        assert event_args(read(tmp_path / "spool-2-nightly.json")) == [[2]]

    def test_data_kept_by_a_failed_export_is_flushed_at_exit(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            from aiobs.exporters import InMemoryExporter

            session_id = observer.observe()
            step(1)
            assert not observer.flush(exporter=InMemoryExporter(fail=True)).success
            print(json.dumps({"session_id": session_id}))
            """,
        )
        assert report is not None
        assert json_files(tmp_path) == [f"{report['session_id']}.json"]
        assert event_args(read(tmp_path / f"{report['session_id']}.json")) == [[1]]

    def test_discarded_data_stays_discarded(self, tmp_path: Path) -> None:
        run_script(
            tmp_path,
            """
            observer.observe()
            step(1)
            observer.flush("run.json")
            step(2)
            assert observer.flush(persist=False) is None
            step(3)
            """,
        )
        assert json_files(tmp_path) == ["run.json"]
        assert event_args(read(tmp_path / "run.json")) == [[1], [3]]

    def test_nothing_pending_leaves_the_file_as_it_was(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            observer.observe()
            step(1)
            observer.flush("done.json")
            with open("done.json") as stream:
                print(json.dumps({"content": stream.read()}))
            """,
        )
        assert report is not None
        assert json_files(tmp_path) == ["done.json"]
        assert (tmp_path / "done.json").read_text(encoding="utf-8") == report["content"]

    def test_no_session_no_file(self, tmp_path: Path) -> None:
        run_script(tmp_path, "assert step(1) == 1\nwith observer.span('idle'):\n    pass\n")
        assert json_files(tmp_path) == []


@needs_fork
class TestFork:
    """A forked child records on its own: fresh locks, own ids, own pid, own file."""

    def test_child_exports_only_its_own_events_to_its_own_file(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            session_id = observer.observe(session_name="forked")
            step("flushed")
            observer.flush()
            step("buffered")  # buffered at the fork: the parent exports it, the child must not
            with open(f"{session_id}.json", "rb") as stream:
                before = stream.read()


            def child():
                step("child")
                return {"path": observer.flush(), "pid": os.getpid()}


            child_report = in_child(child)
            with open(f"{session_id}.json", "rb") as stream:
                untouched = stream.read() == before
            step("parent")
            path = observer.flush()
            print(json.dumps({
                "session_id": session_id,
                "pid": os.getpid(),
                "child": child_report,
                "untouched": untouched,
                "path": path,
            }))
            """,
            prelude=PRELUDE + IN_CHILD,
            AIOBS_FLUSH_AT_EXIT="0",
        )
        assert report is not None
        session_id, parent_pid = report["session_id"], report["pid"]
        child_pid = report["child"]["pid"]
        assert child_pid != parent_pid
        assert report["child"]["path"] == f"{session_id}-{child_pid}.json"
        assert report["path"] == f"{session_id}.json"
        assert report["untouched"] is True
        assert json_files(tmp_path) == sorted([f"{session_id}.json", report["child"]["path"]])

        child = read(tmp_path / report["child"]["path"])
        parent = read(tmp_path / f"{session_id}.json")
        assert event_args(child) == [["child"]]
        assert event_args(parent) == [["flushed"], ["buffered"], ["parent"]]
        assert [(s["id"], s["meta"]["pid"]) for s in child["sessions"]] == [(session_id, child_pid)]
        assert [(s["id"], s["meta"]["pid"]) for s in parent["sessions"]] == [
            (session_id, parent_pid)
        ]
        for key in ("span_id", "trace_id"):
            child_ids = {event[key] for event in child["function_events"]}
            parent_ids = {event[key] for event in parent["function_events"]}
            assert len(parent_ids) == 3
            assert child_ids
            assert child_ids.isdisjoint(parent_ids)

    def test_locks_are_fresh_while_a_parent_thread_is_flushing(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            import threading

            from aiobs.exporters import InMemoryExporter


            class Stalled(InMemoryExporter):
                def __init__(self):
                    super().__init__()
                    self.entered = threading.Event()
                    self.release = threading.Event()

                def export_document(self, document, **kwargs):
                    result = super().export_document(document, **kwargs)
                    self.entered.set()
                    assert self.release.wait(30)
                    return result


            observer.observe(session_name="forked")
            step("parent")
            stalled = Stalled()
            flusher = threading.Thread(target=observer.flush, kwargs={"exporter": stalled})
            flusher.start()
            assert stalled.entered.wait(30)  # the parent's flush lock is held from here on


            def child():
                step("child")
                memory = InMemoryExporter()
                assert observer.flush(exporter=memory).success
                [document] = memory.documents
                return {
                    "args": [event["args"] for event in document["function_events"]],
                    "pids": [session["meta"]["pid"] for session in document["sessions"]],
                    "pid": os.getpid(),
                }


            child_report = in_child(child)
            stalled.release.set()
            flusher.join(30)
            print(json.dumps({
                "child": child_report,
                "parent": [event["args"] for event in stalled.function_events],
            }))
            """,
            prelude=PRELUDE + IN_CHILD,
            AIOBS_FLUSH_AT_EXIT="0",
        )
        assert report is not None
        assert report["child"]["args"] == [["child"]]
        assert report["child"]["pids"] == [report["child"]["pid"]]
        assert report["parent"] == [["parent"]]

    def test_parent_and_child_each_flush_their_own_file_at_exit(self, tmp_path: Path) -> None:
        report = run_script(
            tmp_path,
            """
            session_id = observer.observe(session_name="forked")
            step("before")
            child = os.fork()
            if child == 0:
                step("child")
                sys.exit(0)  # a normal exit: the child's own at-exit flush runs
            _, status = os.waitpid(child, 0)
            assert status == 0
            step("parent")
            print(json.dumps({"session_id": session_id, "pid": os.getpid(), "child": child}))
            """,
        )
        assert report is not None
        parent_file = f"{report['session_id']}.json"
        child_file = f"{report['session_id']}-{report['child']}.json"
        assert json_files(tmp_path) == sorted([parent_file, child_file])
        parent, child = read(tmp_path / parent_file), read(tmp_path / child_file)
        assert event_args(parent) == [["before"], ["parent"]]
        assert event_args(child) == [["child"]]
        assert [s["meta"]["pid"] for s in parent["sessions"]] == [report["pid"]]
        assert [s["meta"]["pid"] for s in child["sessions"]] == [report["child"]]
        assert all(s["ended_at"] is not None for s in parent["sessions"] + child["sessions"])

    def test_a_child_that_records_nothing_leaves_the_parents_file_alone(
        self, tmp_path: Path
    ) -> None:
        report = run_script(
            tmp_path,
            """
            observer.observe(session_name="forked")
            step(1)
            observer.flush("run.json")
            child = os.fork()
            if child == 0:
                sys.exit(0)
            _, status = os.waitpid(child, 0)
            assert status == 0
            print(json.dumps({"pid": os.getpid(), "child": child}))
            """,
        )
        assert report is not None
        assert json_files(tmp_path) == ["run.json"]
        document = read(tmp_path / "run.json")
        assert event_args(document) == [[1]]
        [session] = document["sessions"]
        assert (session["meta"]["pid"], session["ended_at"]) == (report["pid"], None)


class TestFailedExport:
    """A failed export keeps everything; the next successful flush exports it exactly once."""

    def test_failed_exports_keep_all_sessions_and_events(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        default_id = observer.observe(session_name="default")
        step(1)
        with observer.session("scoped") as scoped:
            step(2)
        failing = InMemoryExporter(fail=True)
        with caplog.at_level(logging.WARNING, logger="aiobs"):
            result = observer.flush(exporter=failing)
        assert isinstance(result, ExportResult)
        assert (result.success, result.error) == (False, "refused: fail=True")
        assert "2 events kept for the next flush" in caplog.text
        assert observer.buffered_events == 2
        step(3)
        assert not observer.flush(exporter=failing).success  # type: ignore[union-attr]
        assert failing.documents == []

        document = flush_document()
        sessions = {session["id"]: session for session in document["sessions"]}
        assert set(sessions) == {default_id, scoped.id}
        assert sessions[scoped.id]["ended_at"] is not None
        assert sessions[default_id]["ended_at"] is None
        owners = [(event["session_id"], event["args"]) for event in document["function_events"]]
        assert sorted(owners) == sorted([(default_id, [1]), (scoped.id, [2]), (default_id, [3])])
        assert observer.buffered_events == 0
        # Exported once: the ended session is released, the open one has nothing new.
        assert flush_document()["sessions"] == []

    def test_failed_file_export_then_a_working_one(self, tmp_path: Path) -> None:
        observer.observe()
        step(1)
        (tmp_path / "taken").mkdir()
        assert observer.flush(tmp_path / "taken") is None  # a directory: cannot be written
        step(2)
        assert observer.flush("ok.json") == "ok.json"
        assert event_args(read(tmp_path / "ok.json")) == [[1], [2]]


class TestPersistFalse:
    """flush(persist=False) without an exporter discards what is buffered and writes nothing."""

    def test_discards_without_writing(self, tmp_path: Path) -> None:
        observer.observe()
        for value in range(3):
            step(value)
        assert observer.flush(persist=False) is None
        assert json_files(tmp_path) == []
        assert observer.buffered_events == 0
        assert not observer.pending()
        step(4)
        assert event_args(flush_document()) == [[4]]

    def test_discarded_ended_session_is_released(self) -> None:
        with observer.session("gone"):
            step(1)
        assert observer.flush(persist=False) is None
        document = flush_document()
        assert (document["sessions"], document["function_events"]) == ([], [])

    def test_with_an_exporter_it_still_exports(self) -> None:
        observer.observe()
        step(1)
        exporter = InMemoryExporter()
        result = observer.flush(exporter=exporter, persist=False)
        assert isinstance(result, ExportResult)
        assert result.success
        assert [event["args"] for event in exporter.function_events] == [[1]]


class TestEmptyFlush:
    """Flushing nothing writes an empty but valid document."""

    def test_no_session_writes_an_empty_valid_file(
        self, tmp_path: Path, export_schema: dict[str, Any]
    ) -> None:
        assert observer.flush() == "llm_observability.json"
        document = read(tmp_path / "llm_observability.json")
        jsonschema.validate(document, export_schema)
        assert {key: value for key, value in document.items() if key != "generated_at"} == {
            "sessions": [],
            "events": [],
            "function_events": [],
            "trace_tree": [],
            "enh_prompt_traces": None,
            "version": 1,
        }
        assert isinstance(document["generated_at"], float)

    def test_empty_flush_to_an_exporter(self, export_schema: dict[str, Any]) -> None:
        exporter = InMemoryExporter()
        result = observer.flush(exporter=exporter, include_trace_tree=False)
        assert isinstance(result, ExportResult)
        assert (result.success, result.metadata) == (True, {"events": 0})
        [document] = exporter.documents
        jsonschema.validate(document, export_schema)
        assert (document["sessions"], document["function_events"], document["trace_tree"]) == (
            [],
            [],
            None,
        )

    def test_nothing_new_still_goes_to_the_default_sessions_file(self, tmp_path: Path) -> None:
        session_id = observer.observe()
        step(1)
        assert observer.flush() == f"{session_id}.json"
        assert observer.flush() == f"{session_id}.json"
        assert json_files(tmp_path) == [f"{session_id}.json"]


class TestReset:
    """reset() forgets sessions, data and written files, and restores the default settings."""

    def test_forgets_data_and_ends_the_default_session(self) -> None:
        observer.observe(api_key="aiobs_sk_test")
        session = observer.current_session()
        assert session is not None
        step(1)
        observer.reset()
        observer.configure(flush_at_exit=False)
        assert observer.current_session() is None
        assert session.ended_at is not None
        assert observer.api_key is None
        assert (observer.buffered_events, observer.pending()) == (0, False)
        step(2)  # no session: not recorded
        document = flush_document()
        assert (document["sessions"], document["function_events"]) == ([], [])

    def test_restores_default_settings(self) -> None:
        observer.configure(max_buffered_events=5, propagate_to_threads=False)
        observer.reset()
        observer.configure(flush_at_exit=False)
        assert observer.max_buffered_events == 100_000
        with observer.session("defaults") as session, observer.span("fan-out") as span:
            for value in range(6):
                step(value)
            thread = threading.Thread(target=step, args=("thread",))
            thread.start()
            thread.join(30)
        document = flush_document()
        assert len(document["function_events"]) == 8
        [threaded] = [e for e in document["function_events"] if e["args"] == ["thread"]]
        assert (threaded["parent_span_id"], threaded["session_id"]) == (span.span_id, session.id)
        assert document["sessions"][0]["dropped_events"] == 0

    def test_reads_the_environment_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AIOBS_MAX_BUFFERED_EVENTS", "3")
        monkeypatch.setenv("AIOBS_FLUSH_AT_EXIT", "0")
        monkeypatch.setenv("AIOBS_PROPAGATE_TO_THREADS", "0")
        observer.reset()
        assert (observer.max_buffered_events, observer.flush_at_exit) == (3, False)
        with observer.session("env") as session, observer.span("fan-out"):
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(step, "pool").result(30)  # no session in the worker: not recorded
            for value in range(3):
                step(value)  # with the span, 4 events: the last is dropped
        document = flush_document()
        assert [e["name"] for e in document["function_events"]] == ["step", "step", "step"]
        assert [(s["id"], s["dropped_events"]) for s in document["sessions"]] == [(session.id, 1)]

    def test_removes_the_thread_patches(self) -> None:
        original_start = threading.Thread.start
        original_submit = ThreadPoolExecutor.submit
        with observer.session("patched"):
            assert threading.Thread.start is not original_start
            assert ThreadPoolExecutor.submit is not original_submit
        observer.reset()
        observer.configure(flush_at_exit=False)
        assert threading.Thread.start is original_start
        assert ThreadPoolExecutor.submit is original_submit

    def test_forgets_which_files_it_wrote(self, tmp_path: Path) -> None:
        observer.observe()
        step(1)
        observer.flush("run.json")
        step(2)
        observer.flush("run.json")
        assert event_args(read(tmp_path / "run.json")) == [[1], [2]]
        observer.reset()
        observer.configure(flush_at_exit=False)
        observer.observe()
        step(3)
        observer.flush("run.json")  # a file from before the reset is replaced, not extended
        assert event_args(read(tmp_path / "run.json")) == [[3]]

    def test_data_from_before_reset_never_comes_back(self) -> None:
        with observer.session("open"):
            step("before")
            observer.reset()
            observer.configure(flush_at_exit=False)
            step("after")
        assert ["before"] not in event_args(flush_document())

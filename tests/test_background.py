"""Background flushing: flush(block=False), periodic and size-based flushes, exit and fork."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.exporters import ExportDocument, ExportResult, InMemoryExporter


@observe
def work(value: int) -> int:
    return value


def _wait_for(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class _Counting(InMemoryExporter):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        self.threads.append(threading.current_thread().name)
        return super().export_document(document, **kwargs)


def test_a_non_blocking_flush_returns_at_once_and_runs_in_the_background() -> None:
    exporter = _Counting()
    observer.observe("s")
    work(1)
    assert observer.flush(exporter=exporter, block=False) is None
    assert observer.wait_for_background_flushes(timeout=5)
    assert exporter.threads == ["aiobs-flush"]
    assert [e["result"] for e in exporter.function_events] == [1]


def test_flushes_happen_when_enough_events_are_buffered() -> None:
    exporter = _Counting()
    observer.observe("s")
    observer.flush(exporter=exporter)  # the destination that background flushes use
    observer.configure(flush_every=5)
    for value in range(4):
        work(value)
    time.sleep(0.3)
    assert len(exporter.documents) == 1  # 4 < 5: nothing yet
    work(4)
    assert _wait_for(lambda: len(exporter.documents) == 2)
    assert [e["result"] for e in exporter.documents[1]["function_events"]] == [0, 1, 2, 3, 4]


def test_periodic_flushes_run_only_when_something_is_buffered() -> None:
    exporter = _Counting()
    observer.observe("s")
    observer.flush(exporter=exporter)
    observer.configure(flush_interval=0.2)
    work(1)
    assert _wait_for(lambda: len(exporter.function_events) == 1)
    flushes = len(exporter.documents)
    time.sleep(0.6)
    assert len(exporter.documents) == flushes  # idle: no empty flushes
    observer.configure(flush_interval=0)  # off
    work(2)
    time.sleep(0.5)
    assert len(exporter.function_events) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"flush_interval": -1}, "flush_interval must be a number of seconds"),
        ({"flush_interval": "soon"}, "flush_interval must be a number of seconds"),
        ({"flush_every": 2.5}, "flush_every must be a number of events"),
        ({"exit_timeout": -0.1}, "exit_timeout must be a number of seconds"),
    ],
)
def test_bad_settings_say_what_is_expected(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        observer.configure(**settings)


def _run(script: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def test_a_queued_flush_is_not_lost_at_exit(tmp_path: Path) -> None:
    _run(
        """
        from aiobs import observe, observer

        @observe
        def work(value):
            return value

        observer.observe("exiting")
        work(1)
        observer.flush("out.json", block=False)
        work(2)
        """,
        tmp_path,
    )
    document = json.loads((tmp_path / "out.json").read_text())
    assert sorted(e["result"] for e in document["function_events"]) == [1, 2]


def test_exit_waits_at_most_exit_timeout_for_a_slow_flush(tmp_path: Path) -> None:
    start = time.monotonic()
    completed = _run(
        """
        import time
        from aiobs import observe, observer
        from aiobs.exporters import CustomExporter

        observer.configure(exit_timeout=0.5)
        observer.observe("slow")
        observer.event("tick")
        observer.flush(exporter=CustomExporter(lambda data, **_: time.sleep(5)), block=False)
        time.sleep(0.3)  # the background flush is running now
        """,
        tmp_path,
    )
    assert time.monotonic() - start < 4.5
    assert "still running after 0.5 s at exit" in completed.stderr


def test_a_forked_child_flushes_in_its_own_background_thread(tmp_path: Path) -> None:
    completed = _run(
        """
        import os, time, glob
        from aiobs import observe, observer

        @observe
        def work(value):
            return value

        observer.configure(flush_every=2, flush_at_exit=False)
        session = observer.observe("forking")
        pid = os.fork()
        if pid == 0:
            work(10)
            work(11)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not glob.glob(f"{session}-{os.getpid()}.json"):
                time.sleep(0.05)
            os._exit(0 if glob.glob(f"{session}-{os.getpid()}.json") else 3)
        _, status = os.waitpid(pid, 0)
        print("child", pid, os.waitstatus_to_exitcode(status))
        """,
        tmp_path,
    )
    pid, code = completed.stdout.split()[1:3]
    assert code == "0", completed.stderr
    [written] = list(tmp_path.glob(f"*-{pid}.json"))
    document = json.loads(written.read_text())
    assert [e["result"] for e in document["function_events"]] == [10, 11]

"""What a process killed while it writes an export file leaves, and how the next one recovers.

Each test runs a real writer in a subprocess, kills it with SIGKILL in the middle of a large write
(one event with a string of tens of megabytes), checks that the crash left what it should (a
temporary file, a torn last line or gzip member), then has a new process flush to the same path.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiobs.exporters.file import STALE_AFTER_SECONDS, remove_stale_temporaries

fcntl = pytest.importorskip("fcntl", reason="SIGKILL and flock are POSIX")

WRITER = """
import os, sys
from aiobs import CaptureLimits, observe, observer
from aiobs.exporters import FileExporter

path, size, first = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
big = 4 * size + 1024
observer.configure(
    flush_at_exit=False,
    capture_limits=CaptureLimits(max_string_length=big, max_event_bytes=4 * big),
)
observer.observe("crash")

@observe
def step(value):
    return len(value)

exporter = FileExporter(path)
if first:
    step("before the crash")
    assert observer.flush(exporter=exporter).success
step(os.urandom(size // 2).hex())  # incompressible enough that a gzip member stays large
print("ready", flush=True)
observer.flush(exporter=exporter)
print("done", flush=True)
"""

SIZE = 32 * 1024 * 1024
"""Characters of the large argument: its write takes tens of milliseconds."""


def crash_while_writing(
    path: Path, crashed: Callable[[], bool], *, first: bool, attempts: int = 5
) -> None:
    """Run the writer, SIGKILL it as soon as its large write shows, until ``crashed()`` holds.

    A kill can land after the write completed (a busy machine); then the attempt is repeated.
    """
    seen: list[dict[str, int]] = []
    for _ in range(attempts):
        for leftover in path.parent.iterdir():
            leftover.unlink()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(SIZE), "1" if first else "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        started_size = path.stat().st_size if path.exists() else 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.poll() is None:
            if _write_started(path, started_size):
                break
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        writer.stdout.close()
        if crashed():
            return
        seen.append({entry.name: entry.stat().st_size for entry in path.parent.iterdir()})
    pytest.fail(f"the writer was never killed mid-write in {attempts} attempts: {seen}")


def _write_started(path: Path, started_size: int) -> bool:
    """A temporary file of ``path`` has content, or ``path`` grew."""
    try:
        with os.scandir(path.parent) as entries:
            if any(e.name.endswith(".tmp") and e.stat().st_size for e in entries):
                return True
        return path.stat().st_size > started_size
    except FileNotFoundError:
        return False


FLUSH_AFTER = """
import sys
from aiobs import observe, observer
from aiobs.exporters import FileExporter
observer.configure(flush_at_exit=False)
observer.observe("after")
def after(value):
    return value
after.__module__ = "tests"
after = observe(after)
after("recovered")
print("flushing", flush=True)
assert observer.flush(exporter=FileExporter(sys.argv[1])).success
"""


def flush_in_new_process(path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", FLUSH_AFTER, str(path)],
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )


def temporaries(directory: Path) -> list[str]:
    return sorted(entry.name for entry in directory.iterdir() if entry.name.endswith(".tmp"))


def function_events(lines: list[dict[str, Any]]) -> list[Any]:
    return [line["args"] for line in lines if line["record"] == "function_event"]


class TestJSON:
    def test_a_crash_mid_write_leaves_a_temporary_file_the_next_process_removes(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "out" / "run.json"
        path.parent.mkdir()
        crash_while_writing(path, lambda: bool(temporaries(path.parent)), first=False)
        (leftover,) = temporaries(path.parent)
        assert leftover.startswith(".run.json.")
        assert not path.exists()

        flush_in_new_process(path)

        assert temporaries(path.parent) == []
        document = json.loads(path.read_bytes())
        assert [e["args"] for e in document["function_events"]] == [["recovered"]]


class TestJSONLines:
    def test_a_torn_last_line_is_cut_before_the_next_append(self, tmp_path: Path) -> None:
        path = tmp_path / "out" / "run.jsonl"
        path.parent.mkdir()

        def torn() -> bool:
            return not path.read_bytes().endswith(b"\n")

        crash_while_writing(path, torn, first=True)
        complete, piece = path.read_bytes().rsplit(b"\n", 1)
        assert piece.startswith(b'{"record":"function_event"')  # a piece of the large line
        assert len(complete.splitlines()) == 3  # the first flush, the second one's session

        flush_in_new_process(path)

        lines = [json.loads(line) for line in path.read_bytes().splitlines()]
        assert path.read_bytes().endswith(b"\n")
        assert function_events(lines) == [["before the crash"], ["recovered"]]
        assert [line["name"] for line in lines if line["record"] == "session"] == [
            "crash",
            "crash",
            "after",
        ]

    def test_a_torn_gzip_member_is_cut_before_the_next_append(self, tmp_path: Path) -> None:
        path = tmp_path / "out" / "run.jsonl.gz"
        path.parent.mkdir()

        def torn() -> bool:
            try:
                gzip.decompress(path.read_bytes())
            except (EOFError, OSError, zlib.error):
                return True
            return False

        crash_while_writing(path, torn, first=True)

        flush_in_new_process(path)

        lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        assert function_events(lines) == [["before the crash"], ["recovered"]]

    def test_a_line_another_process_is_writing_is_never_cut(self, tmp_path: Path) -> None:
        path = tmp_path / "shared.jsonl"
        with path.open("ab") as writer:
            fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # as an append in progress holds it
            writer.write(b'{"record":"event","provider":"other","api":"one",')
            writer.flush()
            with subprocess.Popen(
                [sys.executable, "-c", FLUSH_AFTER, str(path)], stdout=subprocess.PIPE, text=True
            ) as flusher:
                assert flusher.stdout is not None
                assert flusher.stdout.readline().strip() == "flushing"
                time.sleep(0.5)  # the flush waits for the lock meanwhile
                try:
                    assert path.read_bytes().endswith(b'"api":"one",')
                finally:
                    writer.write(b'"span_id":null}\n')
                    writer.flush()
                    fcntl.flock(writer.fileno(), fcntl.LOCK_UN)
                assert flusher.wait(timeout=60) == 0
        lines = [json.loads(line) for line in path.read_bytes().splitlines()]
        assert [line.get("api") for line in lines if line["record"] != "session"] == [
            "one",
            "tests.after",
        ]

    def test_complete_files_are_left_as_they_are(self, tmp_path: Path) -> None:
        for name in ("plain.jsonl", "packed.jsonl.gz"):
            path = tmp_path / name
            flush_in_new_process(path)
            before = path.read_bytes()
            flush_in_new_process(path)
            assert path.read_bytes().startswith(before)
            raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
            assert function_events([json.loads(line) for line in raw.splitlines()]) == [
                ["recovered"],
                ["recovered"],
            ]

    def test_a_tail_that_is_not_an_aiobs_member_is_left_alone(self, tmp_path: Path) -> None:
        path = tmp_path / "foreign.jsonl.gz"
        path.write_bytes(b"not gzip at all")
        flush_in_new_process(path)
        assert path.read_bytes().startswith(b"not gzip at all")


class TestStaleTemporaries:
    """Only temporary files named as aiobs names them, and provably stale, are removed."""

    def test_which_files_are_removed(self, tmp_path: Path) -> None:
        target = tmp_path / "run.json"
        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        try:
            files = {
                f".run.json.{dead.pid}.abcd1234.tmp": "dead writer",
                f".run.json.{live.pid}.abcd1234.tmp": "live writer",
                f".run.json.{live.pid}.old12345.tmp": "live pid, untouched for long",
                f".run.json.{os.getpid()}.mine5678.tmp": "this process, recent",
                ".run.json.x1y2z3w4.tmp": "no pid, recent",
                ".run.json.x9y8z7w6.tmp": "no pid, untouched for long",
                f".other.json.{dead.pid}.abcd1234.tmp": "another target",
                f".run.json.{dead.pid}.abcd1234.tmp.keep": "not our suffix",
                "run.json": "the target itself",
            }
            for name in files:
                (tmp_path / name).write_text("x")
            old = time.time() - STALE_AFTER_SECONDS - 60
            for name in (f".run.json.{live.pid}.old12345.tmp", ".run.json.x9y8z7w6.tmp"):
                os.utime(tmp_path / name, (old, old))

            removed = remove_stale_temporaries(target)
        finally:
            live.kill()
            live.wait()

        assert sorted(removed) == sorted(
            [
                f".run.json.{dead.pid}.abcd1234.tmp",
                f".run.json.{live.pid}.old12345.tmp",
                ".run.json.x9y8z7w6.tmp",
            ]
        )
        assert sorted(entry.name for entry in tmp_path.iterdir()) == sorted(
            set(files) - set(removed)
        )

    def test_a_missing_directory_is_not_an_error(self, tmp_path: Path) -> None:
        assert remove_stale_temporaries(tmp_path / "nowhere" / "run.json") == []

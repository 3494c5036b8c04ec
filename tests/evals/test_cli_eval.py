"""``aiobs eval``: evaluators over flush files from the command line, as a CI gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.exporters import FileExporter


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiobs", "eval", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def call(span_id: str, question: str, answer: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "api": "chat.completions.create",
        "request": {"messages": [{"role": "user", "content": question}]},
        "response": {"text": answer},
        "started_at": 1.0,
        "ended_at": 1.5,
        "duration_ms": 500.0,
        "span_id": span_id,
    }


@observe
def as_json(city: str) -> dict[str, str]:
    return {"city": city}


@pytest.fixture
def flush_file(tmp_path: Path) -> Path:
    """A real flush file: two LLM calls (one answer leaks an email) and a function."""
    observer.observe("cli")
    observer._record_event(call("00000000000000a1", "Capital of France?", "Paris."))
    observer._record_event(call("00000000000000a2", "Email?", "jane@example.com, in Paris"))
    as_json("Paris")
    path = tmp_path / "run.json"
    observer.flush(str(path))
    observer.reset()
    return path


class TestGate:
    """The exit status says whether every evaluation passed."""

    def test_all_pass(self, flush_file: Path) -> None:
        done = run(flush_file, "--eval", "regex:Paris")
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].split() == ["SPAN", "CALL", "EVAL", "STATUS", "SCORE", "MESSAGE"]
        assert "00000000000000a1  chat.completions.create  regex_assertion  PASSED" in lines[1]
        assert lines[-1] == "3 evaluations of 1 file(s): 3 passed"

    def test_a_failure_fails_the_run(self, flush_file: Path) -> None:
        done = run(flush_file, "--eval", "pii", "--eval", "regex:Paris")
        assert done.returncode == 1
        [failed] = [line for line in done.stdout.splitlines() if "FAILED" in line]
        assert failed.startswith("00000000000000a2")
        assert "pii_detection" in failed
        assert done.stdout.splitlines()[-1] == "6 evaluations of 1 file(s): 5 passed, 1 failed"

    def test_json_output(self, flush_file: Path, tmp_path: Path) -> None:
        schema = tmp_path / "schema.json"
        schema.write_text(json.dumps({"type": "object", "required": ["city"]}))
        truth = tmp_path / "truth.json"
        truth.write_text(json.dumps({"Capital of France?": "paris", "Email?": "jane"}))
        done = run(
            flush_file, "--eval", f"schema:{schema}", "--eval", f"ground-truth:@{truth}", "--json"
        )
        report = json.loads(done.stdout)
        statuses = [(r["span_id"], r["eval"], r["status"]) for r in report["results"]]
        function_span = statuses[-1][0]
        assert statuses == [
            ("00000000000000a1", "schema_assertion", "failed"),
            ("00000000000000a1", "ground_truth", "passed"),
            ("00000000000000a2", "schema_assertion", "failed"),
            ("00000000000000a2", "ground_truth", "passed"),
            (function_span, "schema_assertion", "passed"),
            (function_span, "ground_truth", "error"),
        ]
        assert report["counts"] == {"passed": 3, "failed": 2, "error": 1, "skipped": 0}
        assert "no expected output for the input" in report["results"][-1]["message"]
        assert report["results"][0]["file"] == str(flush_file)
        assert done.returncode == 1

    def test_jsonl_gzip_and_directories(self, tmp_path: Path) -> None:
        observer.observe("cli")
        observer._record_event(call("00000000000000b1", "q", "Paris"))
        (tmp_path / "out").mkdir()
        observer.flush(exporter=FileExporter(str(tmp_path / "out" / "run.jsonl.gz")))
        done = run(tmp_path / "out", "--eval", "regex:Paris", "--eval", "latency:1000")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1] == "2 evaluations of 1 file(s): 2 passed"


class TestBadArguments:
    """Bad specs and files are refused with a message saying what to give."""

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("bogus:x", "unknown evaluator 'bogus'"),
            ("regex", "expected one of regex:PATTERN"),
            ("schema:/nonexistent.json", "cannot read /nonexistent.json"),
            ("latency:fast", "MAX_MS must be a positive number"),
        ],
    )
    def test_bad_spec(self, flush_file: Path, spec: str, message: str) -> None:
        done = run(flush_file, "--eval", spec)
        assert done.returncode == 2
        assert message in done.stderr

    def test_not_a_flush_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.json"
        path.write_text("[]")
        done = run(path, "--eval", "pii")
        assert done.returncode == 1
        assert "not an aiobs flush file" in done.stderr
        missing = run(tmp_path / "missing.json", "--eval", "pii")
        assert missing.returncode == 1
        assert "no such file or directory" in missing.stderr

"""The demo and the benchmark run end to end (their figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aiobs.models import ObservabilityExport
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent


class TestDemo:
    """make demo's pipeline writes a valid document and summarises it."""

    def test_demo_writes_and_summarises(self, tmp_path: Path) -> None:
        output = tmp_path / "demo.json"
        completed = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "demo.py"), str(output)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        export = ObservabilityExport.model_validate_json(output.read_bytes())
        requests = [s for s in export.sessions if s.name == "request"]
        assert len(requests) == 3
        assert {s.labels["user"] for s in requests if s.labels} == {"ada", "grace", "alan"}
        functions = {s.id: 0 for s in export.sessions}
        for event in export.function_events:
            functions[event.session_id] += 1
        assert all(functions[s.id] == 13 for s in requests), functions
        kinds = {e.kind for e in export.function_events}
        assert kinds == {"function", "generator", "span", "event"}
        for session in requests:
            calls = [e for e in export.events if e.session_id == session.id]
            assert sorted({(e.provider, e.api) for e in calls}) == [
                ("anthropic", "messages.create"),
                ("gemini", "models.generate_content_stream"),
                ("openai", "chat.completions.create"),
                ("openai", "embeddings.create"),
            ]
            assert session.llm_calls == len(calls) == 8
            assert session.cost is not None
            assert session.cost.total > 0
            assert all(e.usage is not None and e.usage.input_tokens for e in calls)
            streamed = [e for e in calls if e.stream is not None]
            assert len(streamed) == 2
            assert all(e.stream.ttft_ms is not None for e in streamed if e.stream)
        assert "sk-demo" not in output.read_text()
        assert f"Wrote {output}" in completed.stdout
        assert "LLM calls by provider" in completed.stdout
        assert "Trace tree of session" in completed.stdout
        assert "stream_answer" in completed.stdout


def run_quick_benchmark(
    script: str, results: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run ``bench/<script> --quick --json <results>``; fail if it exits with an error."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick", "--json", str(results), *options],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


class TestBenchmark:
    """The benchmark script runs in its quick mode and reports every measurement."""

    def test_quick_run(self, tmp_path: Path) -> None:
        results = tmp_path / "bench.json"
        run_quick_benchmark("bench_observe.py", results)
        figures = json.loads(results.read_text())
        assert set(figures["ns_per_call"]) >= {
            "bare",
            "observe_no_session",
            "observe_capture",
            "observe_no_capture",
            "bare_nested",
            "observe_nested",
        }
        assert figures["bytes_per_event"] > 0
        assert all(value > 0 for value in figures["flush_us_per_event"].values())


class TestObserveComponentsBenchmark:
    """The step-by-step @observe benchmark runs in its quick mode and reports every step."""

    def test_quick_run(self, tmp_path: Path) -> None:
        results = tmp_path / "components.json"
        run_quick_benchmark("bench_observe_components.py", results)
        figures = json.loads(results.read_text())["ns_per_call"]
        steps = [name for name in figures if name.startswith("step ")]
        assert len(steps) == 8
        assert "@observe, arguments and result captured" in figures
        assert all(value > 0 for value in figures.values())


class TestProviderBenchmark:
    """The provider benchmark runs in its quick mode and reports every variant."""

    def test_quick_run(self, tmp_path: Path) -> None:
        results = tmp_path / "providers.json"
        completed = run_quick_benchmark("bench_providers.py", results)
        figures = json.loads(results.read_text())
        assert set(figures["results"]) >= {"bare", "aiobs, no session", "aiobs recording"}
        assert all(row["plain_us"] > 0 for row in figures["results"].values())
        assert figures["chunks"]["chunks"] == 200
        assert figures["chunks"]["per_stream_us"] > 0
        assert "aiobs adds" in completed.stdout
        end_to_end = figures["end_to_end"]
        assert {"openai chat", "openai stream 10", "openai stream 100"} <= set(end_to_end)
        assert end_to_end["openai chat"]["bare_us"]["median"] > 0
        assert set(end_to_end["openai chat"]) >= {"bare_us", "aiobs", "idle", "known"}
        assert 0.5 * 12 < figures["known_cost_alone_us"] < 2 * 12  # the calibration's own loop
        assert "calibration: a wrapper burning" in completed.stdout
        assert "aiobs" in end_to_end["per chunk"]
        assert figures["memory"]["bytes_per_event"] > 0
        assert set(figures["gc_passes_per_1000_calls"]) == {"bare", "aiobs"}


class TestFlushBenchmark:
    """The flush benchmark runs in its quick mode against every destination."""

    def test_quick_run(self, tmp_path: Path) -> None:
        results = tmp_path / "flush.json"
        run_quick_benchmark("bench_flush.py", results)
        figures = json.loads(results.read_text())["results"]
        assert set(figures) == {
            "file (JSON)",
            "file (JSON, gzip)",
            "file (JSON Lines)",
            "flush server",
        }
        for by_size in figures.values():
            assert by_size["1000"]["us_per_event"] > 0
            assert by_size["1000"]["bytes"] > 0
        assert (
            figures["file (JSON, gzip)"]["1000"]["bytes"] < figures["file (JSON)"]["1000"]["bytes"]
        )


class TestServerBenchmark:
    """The flush server benchmark runs in its quick mode against every server."""

    def test_quick_run(self, tmp_path: Path) -> None:
        results = tmp_path / "server.json"
        servers = ["HTTP floor (no storage)", "SQLite, 1 worker", "SQLite, 2 workers"]
        postgresql = "PostgreSQL, 2 workers"
        # Where PostgreSQL is not installed (the storage tests' skip line says so), the benchmark
        # still runs against the other servers.
        with_postgresql = postgres.missing() is None
        run_quick_benchmark(
            "bench_server.py", results, *([] if with_postgresql else ["--no-postgres"])
        )
        figures = json.loads(results.read_text())
        assert (postgresql in figures) is with_postgresql
        for server in [*servers, postgresql] if with_postgresql else servers:
            assert figures[server]["events_per_second"] > 0
            assert 0 < figures[server]["p50_ms"] <= figures[server]["p99_ms"]

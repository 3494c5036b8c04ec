"""The collector's public API: sessions, labels, configuration and aiobs 0.2 entry points."""

from __future__ import annotations

import json
import platform
import re
import socket
from pathlib import Path
from typing import Any

import pytest

import aiobs
from aiobs import Collector, Event, FunctionEvent, observe, observer
from aiobs.exporters import InMemoryExporter
from aiobs.testing import deterministic
from tests.helpers import flush_document


@observe
def step(x: int) -> int:
    return x


class TestObserve:
    """observe() starts the default session locally: no API key, no network."""

    def test_returns_session_id_and_names_session(self) -> None:
        session_id = observer.observe(session_name="run-1")
        document = flush_document()
        [session] = document["sessions"]
        assert session["id"] == session_id
        assert session["name"] == "run-1"
        assert session["ended_at"] is None
        assert session["meta"]["cwd"] == str(Path.cwd())

    def test_unnamed_session_is_named_by_its_id(self) -> None:
        session_id = observer.observe()
        assert flush_document()["sessions"][0]["name"] == session_id

    def test_api_key_is_stored_not_checked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def no_network(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("observe() must not open a connection")

        monkeypatch.setattr(socket, "create_connection", no_network)
        monkeypatch.setattr(socket.socket, "connect", no_network)
        observer.observe(api_key="aiobs_sk_local")
        assert observer.api_key == "aiobs_sk_local"
        monkeypatch.setenv("AIOBS_API_KEY", "aiobs_sk_from_env")
        observer.reset()
        observer.observe()
        assert observer.api_key == "aiobs_sk_from_env"

    def test_second_observe_ends_the_first_session(self) -> None:
        first = observer.observe(session_name="a")
        step(1)
        second = observer.observe(session_name="b")
        step(2)
        document = flush_document()
        sessions = {s["id"]: s for s in document["sessions"]}
        assert sessions[first]["ended_at"] is not None
        assert sessions[second]["ended_at"] is None
        by_session = {e["session_id"]: e["args"] for e in document["function_events"]}
        assert by_session == {first: [1], second: [2]}

    def test_end_stops_recording(self) -> None:
        observer.observe()
        step(1)
        observer.end()
        step(2)
        document = flush_document()
        assert [e["args"] for e in document["function_events"]] == [[1]]
        assert document["sessions"][0]["ended_at"] is not None
        observer.end()  # ending twice is harmless

    def test_invalid_session_name(self) -> None:
        with pytest.raises(ValueError, match="Session name must be a string"):
            observer.observe(session_name=42)  # type: ignore[arg-type]


class TestScopedSessions:
    """observer.session() is current only inside its block."""

    def test_block_records_into_its_own_session(self) -> None:
        default_id = observer.observe(session_name="default")
        with observer.session("scoped", labels={"route": "/chat"}) as scoped:
            step(1)
            assert observer.current_session() is scoped
            assert observer.get_labels()["route"] == "/chat"
        step(2)
        document = flush_document()
        sessions = {s["name"]: s for s in document["sessions"]}
        assert sessions["scoped"]["ended_at"] is not None
        assert sessions["default"]["ended_at"] is None
        owners = sorted((e["args"], e["session_id"]) for e in document["function_events"])
        assert owners == [([1], scoped.id), ([2], default_id)]

    def test_block_starts_a_new_trace(self) -> None:
        @observe
        def outer() -> None:
            with observer.session("inner"):
                step(1)

        observer.observe()
        outer()
        events = flush_document()["function_events"]
        inner_step = next(e for e in events if e["name"] == "step")
        assert inner_step["parent_span_id"] is None

    def test_async_block(self) -> None:
        import asyncio

        async def main() -> str:
            async with observer.session("async") as session:
                step(3)
                return session.id

        session_id = asyncio.run(main())
        [event] = flush_document()["function_events"]
        assert event["session_id"] == session_id

    def test_ended_sessions_are_released_after_export(self) -> None:
        with observer.session("once"):
            step(1)
        assert len(flush_document()["sessions"]) == 1
        assert flush_document()["sessions"] == []

    def test_a_scope_cannot_be_entered_twice(self) -> None:
        scope = observer.session("x")
        with scope, pytest.raises(RuntimeError, match="already in use"), scope:
            pass

    def test_invalid_labels_fail_on_entry(self) -> None:
        with (
            pytest.raises(ValueError, match="Label key 'Bad'"),
            observer.session(labels={"Bad": "x"}),
        ):
            pass


class TestLabels:
    """Labels follow the aiobs 0.2 rules: system < environment < explicit."""

    def test_system_labels(self) -> None:
        observer.observe()
        labels = observer.get_labels()
        assert labels["aiobs_sdk_version"] == aiobs.__version__
        assert labels["aiobs_python_version"] == platform.python_version()
        assert labels["aiobs_hostname"] == socket.gethostname()
        assert labels["aiobs_os"] == platform.system().lower()

    def test_precedence(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AIOBS_LABEL_ENVIRONMENT", "staging")
        monkeypatch.setenv("AIOBS_LABEL_TEAM", "ml")
        monkeypatch.setenv("AIOBS_LABEL_AIOBS_OS", "spoofed")  # reserved: ignored
        monkeypatch.setenv("AIOBS_LABEL_BAD-KEY", "x")  # invalid key: ignored
        observer.observe(labels={"environment": "production"})
        labels = observer.get_labels()
        assert labels["environment"] == "production"
        assert labels["team"] == "ml"
        assert labels["aiobs_os"] == platform.system().lower()
        assert "bad-key" not in labels

    def test_set_add_remove(self) -> None:
        observer.observe(labels={"a": "1"})
        observer.set_labels({"b": "2"})
        assert {k: v for k, v in observer.get_labels().items() if not k.startswith("aiobs_")} == {
            "a": "1",
            "b": "2",
        }
        observer.set_labels({"c": "3"}, merge=False)
        user = {k: v for k, v in observer.get_labels().items() if not k.startswith("aiobs_")}
        assert user == {"c": "3"}
        assert "aiobs_os" in observer.get_labels()
        observer.add_label("d", "4")
        observer.remove_label("c")
        observer.remove_label("missing")
        user = {k: v for k, v in observer.get_labels().items() if not k.startswith("aiobs_")}
        assert user == {"d": "4"}
        [session] = flush_document()["sessions"]
        assert session["labels"]["d"] == "4"
        assert "c" not in session["labels"]

    @pytest.mark.parametrize(
        ("labels", "message"),
        [
            ({"Env": "x"}, "Label key 'Env' is invalid"),
            ({"1abc": "x"}, "Label key '1abc' is invalid"),
            ({"a" * 64: "x"}, "is invalid"),
            ({"aiobs_custom": "x"}, "reserved prefix 'aiobs_'"),
            ({"env": 3}, "Label value for 'env' must be a string, got int"),
            (
                {"env": "x" * 257},
                "Label value for 'env' is 257 characters long; the maximum is 256",
            ),
            ({f"k{i}": "v" for i in range(65)}, "Too many labels (65)"),
        ],
    )
    def test_invalid_labels_name_the_problem(self, labels: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            observer.observe(labels=labels)

    def test_label_limits_after_merge(self) -> None:
        observer.observe(labels={f"k{i}": "v" for i in range(60)})
        with pytest.raises(ValueError, match="Too many labels"):
            observer.set_labels({f"x{i}": "v" for i in range(10)})
        with pytest.raises(ValueError, match="Cannot remove system label"):
            observer.remove_label("aiobs_os")
        with pytest.raises(ValueError, match="already has 64 labels"):
            observer.add_label("one_more", "v")

    def test_label_calls_need_a_session(self) -> None:
        for call in (
            observer.get_labels,
            lambda: observer.set_labels({"a": "b"}),
            lambda: observer.add_label("a", "b"),
            lambda: observer.remove_label("a"),
        ):
            with pytest.raises(RuntimeError, match="No active session"):
                call()


class TestFlushDestinations:
    """flush() picks its file: path > LLM_OBS_OUT > <session-id>.json > llm_observability.json."""

    def test_explicit_path_creates_directories(self, tmp_path: Path) -> None:
        observer.observe()
        step(1)
        target = tmp_path / "nested" / "dir" / "out.json"
        assert observer.flush(target) == str(target)
        assert json.loads(target.read_text())["function_events"][0]["args"] == [1]

    def test_environment_path(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LLM_OBS_OUT", str(tmp_path / "env.json"))
        observer.observe()
        step(1)
        assert observer.flush() == str(tmp_path / "env.json")

    def test_no_session_default_name(self, tmp_path: Path) -> None:
        assert observer.flush() == "llm_observability.json"
        document = json.loads((tmp_path / "llm_observability.json").read_text())
        assert document["sessions"] == []
        assert document["function_events"] == []
        assert document["version"] == 1

    def test_no_trace_tree(self) -> None:
        observer.observe()
        step(1)
        exporter = InMemoryExporter()
        observer.flush(exporter=exporter, include_trace_tree=False)
        document = exporter.documents[0]
        assert document["trace_tree"] is None
        assert document["enh_prompt_traces"] is None
        assert len(document["function_events"]) == 1

    def test_repeated_flushes_to_one_file_accumulate(self, tmp_path: Path) -> None:
        observer.observe()
        step(1)
        path = observer.flush("run.json")
        step(2)
        assert observer.flush("run.json") == path
        document = json.loads((tmp_path / "run.json").read_text())
        assert sorted(e["args"][0] for e in document["function_events"]) == [1, 2]
        assert len(document["sessions"]) == 1
        assert len(document["trace_tree"]) == 2

    def test_a_file_from_another_run_is_replaced(self, tmp_path: Path) -> None:
        (tmp_path / "run.json").write_text(json.dumps({"sessions": [{"id": "old"}]}))
        observer.observe()
        step(1)
        observer.flush("run.json")
        document = json.loads((tmp_path / "run.json").read_text())
        assert [s["name"] for s in document["sessions"]] != ["old"]
        assert len(document["sessions"]) == 1

    def test_unwritable_destination_keeps_data(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        observer.observe()
        step(1)
        assert observer.flush(blocker / "out.json") is None
        assert observer.buffered_events == 1
        assert observer.flush("good.json") == "good.json"
        assert json.loads((tmp_path / "good.json").read_text())["function_events"][0]["args"] == [1]
        assert observer.buffered_events == 0

    def test_exporter_returns_its_result(self) -> None:
        exporter = InMemoryExporter()
        observer.observe()
        step(1)
        result = observer.flush(exporter=exporter)
        assert result is not None
        assert result.success  # type: ignore[union-attr]
        assert result.metadata == {"events": 1}  # type: ignore[union-attr]

    def test_failing_exporter_keeps_data_for_the_next_flush(self) -> None:
        observer.observe()
        step(1)
        failing = InMemoryExporter(fail=True)
        result = observer.flush(exporter=failing)
        assert result is not None
        assert not result.success  # type: ignore[union-attr]
        step(2)
        [document] = [flush_document()]
        assert [e["args"] for e in document["function_events"]] == [[1], [2]]

    def test_raising_exporter_is_a_failed_export(self) -> None:
        class Broken(InMemoryExporter):
            def export_document(self, document: Any, **kwargs: Any) -> Any:
                raise ConnectionError("down")

        observer.observe()
        step(1)
        result = observer.flush(exporter=Broken())
        assert result is not None
        assert result.error == "ConnectionError: down"  # type: ignore[union-attr]
        assert observer.buffered_events == 1

    def test_flush_from_inside_an_exporter_is_ignored(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        inner_results: list[Any] = []

        class Reentrant(InMemoryExporter):
            def export_document(self, document: Any, **kwargs: Any) -> Any:
                inner_results.append(observer.flush(exporter=InMemoryExporter()))
                return super().export_document(document, **kwargs)

        observer.observe()
        step(1)
        outer = Reentrant()
        observer.flush(exporter=outer)
        assert inner_results == [None]
        assert "flush() called during a flush" in caplog.text
        assert [e["args"] for e in outer.documents[0]["function_events"]] == [[1]]
        assert observer.buffered_events == 0

    def test_persist_false_discards(self, tmp_path: Path) -> None:
        observer.observe()
        step(1)
        assert observer.flush(persist=False) is None
        assert observer.buffered_events == 0
        assert list(tmp_path.iterdir()) == []


class TestConfigure:
    """configure() validates what it is given and says how to fix it."""

    def test_bad_arguments(self) -> None:
        with pytest.raises(TypeError, match=r"capture_limits must be an aiobs\.CaptureLimits"):
            observer.configure(capture_limits={"max_items": 3})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"redaction must be an aiobs\.Redaction"):
            observer.configure(redaction=False)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_buffered_events must be a positive int"):
            observer.configure(max_buffered_events=0)
        with pytest.raises(TypeError, match="flush_at_exit must be True or False"):
            observer.configure(flush_at_exit="yes")  # type: ignore[arg-type]

    def test_limits_apply_to_new_captures(self) -> None:
        observer.configure(capture_limits=aiobs.CaptureLimits(max_string_length=4))
        observer.observe()
        step("abcdefgh")  # type: ignore[arg-type]
        [event] = flush_document()["function_events"]
        assert event["args"] == ["abcd...[aiobs: truncated 4 chars]"]

    def test_redaction_can_be_turned_off(self) -> None:
        @observe
        def login(password: str) -> None:
            return None

        observer.configure(redaction=aiobs.Redaction(enabled=False))
        observer.observe()
        login("hunter2")
        assert flush_document()["function_events"][0]["args"] == ["hunter2"]

    def test_bad_environment_values_are_logged_not_raised(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("AIOBS_MAX_BUFFERED_EVENTS", "lots")
        collector = Collector()
        assert collector.max_buffered_events == 100_000
        assert "AIOBS_MAX_BUFFERED_EVENTS" in caplog.text


class TestCompatibility:
    """aiobs 0.2 entry points keep working."""

    def test_record_event_accepts_models_and_dicts(self) -> None:
        observer.observe()
        observer._record_event(
            Event(
                provider="openai",
                api="chat.completions.create",
                request={"model": "gpt-4o", "api_key": "sk-abcdefghijklmnopqrstuvwxyz"},
                response={"text": "hi"},
                started_at=1.0,
                ended_at=2.0,
                duration_ms=1000.0,
            )
        )
        observer._record_event(
            FunctionEvent(api="m.f", name="f", started_at=1.0, ended_at=1.5, duration_ms=500.0)
        )
        observer._record_event(
            {
                "provider": "gemini",
                "api": "generate",
                "request": None,
                "started_at": 3,
                "ended_at": 4,
                "duration_ms": 1000,
            }
        )
        observer._record_event({"provider": "weird", "started_at": "not a number"})
        document = flush_document()
        providers = [e["provider"] for e in document["events"]]
        assert providers == ["openai", "gemini", "weird"]
        assert document["events"][0]["request"]["api_key"] == "[REDACTED]"
        assert document["events"][2]["api"] == "None"
        assert [e["name"] for e in document["function_events"]] == ["f"]
        assert {e["session_id"] for e in document["events"]} == {document["sessions"][0]["id"]}

    def test_record_event_takes_the_current_span_as_parent(self) -> None:
        @observe
        def agent() -> str | None:
            observer._record_event(
                {
                    "provider": "openai",
                    "api": "x",
                    "request": {},
                    "started_at": 1.0,
                    "ended_at": 1.0,
                    "duration_ms": 0.0,
                }
            )
            return observer.get_current_span_id()

        observer.observe()
        span_id = agent()
        document = flush_document()
        assert document["events"][0]["parent_span_id"] == span_id
        assert document["trace_tree"][0]["children"][0]["event_type"] == "provider"

    def test_record_event_without_session_is_ignored(self) -> None:
        observer._record_event({"provider": "openai", "api": "x"})
        assert flush_document()["events"] == []

    def test_separate_collectors_record_separately(self) -> None:
        mine = Collector(flush_at_exit=False)
        exporter = InMemoryExporter()
        with deterministic():
            mine.observe(session_name="mine")
            step(5)
            mine.flush(exporter=exporter)
        assert [e["args"] for e in exporter.documents[0]["function_events"]] == [[5]]
        assert flush_document()["function_events"] == []

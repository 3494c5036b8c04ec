"""observer.score(): scores on spans and sessions, inside the flushed document."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiobs import observe, observer
from aiobs.exporters import FileExporter, InMemoryExporter
from aiobs.models import ObservabilityExport
from tests.helpers import flush_document


@observe
def answer(question: str) -> str:
    observer.score("helpful", 0.75, comment="reviewer")
    return "Paris"


def scores_of(event: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(score["name"], score["value"]) for score in event.get("scores") or ()]


class TestScoreInTheDocument:
    """A score lands on its span's event or on its session, never at the top level."""

    def test_current_span_is_scored(self, export_schema: dict[str, Any]) -> None:
        observer.observe()
        answer("Capital of France?")
        document = flush_document()
        [event] = document["function_events"]
        [score] = event["scores"]
        assert score["name"] == "helpful"
        assert score["value"] == 0.75
        assert score["comment"] == "reviewer"
        assert score["source"] == "api"
        assert score["evaluator"] is None
        assert score["span_id"] == event["span_id"]
        assert isinstance(score["created_at"], float)
        assert set(document) == {
            "sessions",
            "events",
            "function_events",
            "trace_tree",
            "enh_prompt_traces",
            "generated_at",
            "version",
        }
        assert "scores" not in document["sessions"][0]
        assert document["trace_tree"][0]["scores"] == event["scores"]
        jsonschema.validate(document, export_schema)
        ObservabilityExport.model_validate(document)

    def test_session_scored_outside_spans_and_by_id(self, export_schema: dict[str, Any]) -> None:
        with observer.session("s") as session:
            observer.score("resolved", True)
        observer.score("csat", "happy", session_id=session.id)
        document = flush_document()
        assert scores_of(document["sessions"][0]) == [("resolved", True), ("csat", "happy")]
        jsonschema.validate(document, export_schema)

    def test_given_span_id_and_an_earlier_flushed_span(self) -> None:
        observer.observe()
        with observer.span("first") as first:
            pass
        flush_document()
        with observer.span("second") as second:
            pass
        assert first.span_id is not None
        assert second.span_id is not None
        observer.score("late", 1, span_id=first.span_id)
        observer.score("now", 2, span_id=second.span_id)
        document = flush_document()
        [event] = document["function_events"]
        assert scores_of(event) == [("now", 2)]
        [kept] = document["sessions"][0]["scores"]
        assert (kept["name"], kept["span_id"]) == ("late", first.span_id)

    def test_llm_call_event_scored_by_span_id(self) -> None:
        observer.observe()
        observer._record_event(
            {
                "provider": "openai",
                "api": "chat.completions.create",
                "request": {"messages": [{"role": "user", "content": "hi"}]},
                "response": {"text": "hello"},
                "started_at": 1.0,
                "ended_at": 2.0,
                "duration_ms": 1000.0,
                "span_id": "00000000000000aa",
            }
        )
        with observer.span("other"):
            pass
        observer.score("toxicity", 0.0, span_id="00000000000000aa")
        document = flush_document()
        [call] = document["events"]
        assert scores_of(call) == [("toxicity", 0.0)]
        assert "scores" not in document["function_events"][0]

    def test_no_scores_means_no_field(self) -> None:
        observer.observe()
        with observer.span("plain"):
            pass
        document = flush_document()
        assert "scores" not in document["function_events"][0]
        assert "scores" not in document["sessions"][0]

    def test_scores_are_exported_once_and_kept_after_a_failed_export(self) -> None:
        observer.observe()
        observer.score("kept", 3)
        failing = InMemoryExporter(fail=True)
        observer.flush(exporter=failing)
        first = flush_document()
        assert scores_of(first["sessions"][0]) == [("kept", 3)]
        observer.score("after", 4)
        second = flush_document()
        assert scores_of(second["sessions"][0]) == [("after", 4)]

    def test_score_reaches_an_ended_and_flushed_current_session(self) -> None:
        with observer.session("done") as session:
            flush = flush_document()
            assert flush["sessions"][0]["id"] == session.id
            observer.score("late", 0.5)
        document = flush_document()
        assert scores_of(document["sessions"][0]) == [("late", 0.5)]


class TestScoresInFiles:
    """File exporters keep scores, merging included (a file flushed twice)."""

    def test_json_file_merge(self, tmp_path: Path) -> None:
        path = tmp_path / "run.json"
        observer.observe()
        answer("q1")
        observer.flush(str(path))
        answer("q2")
        observer.score("session_level", "good")
        observer.flush(str(path))
        document = json.loads(path.read_text())
        assert [scores_of(event) for event in document["function_events"]] == [
            [("helpful", 0.75)],
            [("helpful", 0.75)],
        ]
        assert scores_of(document["sessions"][0]) == [("session_level", "good")]

    def test_gzip_json_lines(self, tmp_path: Path) -> None:
        path = tmp_path / "run.jsonl.gz"
        observer.observe()
        answer("q")
        observer.flush(exporter=FileExporter(str(path)))
        lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
        [event] = [line for line in lines if line["record"] == "function_event"]
        assert scores_of(event) == [("helpful", 0.75)]


class TestBadScores:
    """Invalid names and values are refused with a message saying what to give."""

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("Bad Name", 1, "Score name 'Bad Name' is invalid"),
            ("", 1, "Score name '' is invalid"),
            (3, 1, "Score name 3 is invalid"),
            ("x", math.nan, "must be finite"),
            ("x", math.inf, "must be finite"),
            ("x", "y" * 65, "a category must be 1 to 64 characters"),
            ("x", "", "a category must be 1 to 64 characters"),
            ("x", None, "give a number, a bool, or a category"),
            ("x", [1], "give a number, a bool, or a category"),
        ],
    )
    def test_refused(self, name: Any, value: Any, message: str) -> None:
        observer.observe()
        with pytest.raises(ValueError, match=message):
            observer.score(name, value)

    def test_bad_span_id_and_unknown_session(self) -> None:
        observer.observe()
        with pytest.raises(ValueError, match="16 lowercase hex digits"):
            observer.score("x", 1, span_id="nope")
        with pytest.raises(ValueError, match="not a session this collector is recording"):
            observer.score("x", 1, session_id="missing")

    def test_no_session_is_a_warning(self, caplog: pytest.LogCaptureFixture) -> None:
        assert observer.score("x", 1) is None
        assert "no session is current" in caplog.text

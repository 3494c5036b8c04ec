"""aiobs.evals.evaluate(): evaluators over a flushed document, results attached as scores."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aiobs import observe, observer
from aiobs.evals import EvalStatus, PIIDetectionEval, RegexAssertion, evaluate
from aiobs.evals.documents import read_document
from aiobs.exporters import FileExporter
from tests.helpers import flush_document

CALL: dict[str, Any] = {
    "provider": "openai",
    "api": "chat.completions.create",
    "request": {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Capital of France?"},
        ],
    },
    "response": {"text": "Paris. Mail me at jane@example.com"},
    "request_model": "gpt-4o-mini",
    "started_at": 1.0,
    "ended_at": 1.25,
    "duration_ms": 250.0,
    "span_id": "00000000000000c1",
}


@observe
def capital(country: str) -> str:
    return "Rome" if country == "Italy" else "Paris"


def record_run() -> None:
    observer.observe("run")
    observer._record_event(CALL)
    capital("Italy")
    with observer.span("step"):
        pass  # a span without a result is not judged


class TestInputs:
    """Each EvalInput is built from the recorded event."""

    def test_llm_call_and_function(self) -> None:
        record_run()
        document = flush_document()
        evaluations = evaluate(document, [RegexAssertion.from_patterns(patterns=[r"Paris"])])
        assert [(e.kind, e.name, e.result.status) for e in evaluations] == [
            ("llm", "chat.completions.create", EvalStatus.PASSED),
            ("function", "capital", EvalStatus.FAILED),
        ]
        call, function = evaluations
        assert call.span_id == "00000000000000c1"
        assert function.span_id == document["function_events"][0]["span_id"]
        assert call.session_id == document["sessions"][0]["id"]

    def test_eval_input_fields(self) -> None:
        from aiobs.evals.documents import inputs

        record_run()
        [(_, _, llm), (_, _, function)] = list(inputs(flush_document()))
        assert llm.user_input == "Capital of France?"
        assert llm.system_prompt == "You are terse."
        assert llm.model_output == "Paris. Mail me at jane@example.com"
        assert llm.metadata is not None
        assert llm.metadata["latency_ms"] == 250.0
        assert llm.metadata["model"] == "gpt-4o-mini"
        assert function.user_input == "Italy"
        assert function.model_output == "Rome"

    @pytest.mark.parametrize(
        ("request_body", "user", "system"),
        [
            (
                {
                    "system": "Be nice.",
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                },
                "Hi",
                "Be nice.",
            ),
            ({"instructions": "Short.", "input": "Question?"}, "Question?", "Short."),
            (
                {
                    "contents": [{"role": "user", "parts": [{"text": "Hola"}]}],
                    "config": {"system_instruction": "Spanish."},
                },
                "Hola",
                "Spanish.",
            ),
        ],
    )
    def test_vendor_shapes(self, request_body: dict[str, Any], user: str, system: str) -> None:
        from aiobs.evals.documents import llm_input

        eval_input = llm_input({**CALL, "request": request_body})
        assert eval_input is not None
        assert (eval_input.user_input, eval_input.system_prompt) == (user, system)


class TestAttach:
    """attach=True writes scores into the document, or through observer.score."""

    def test_into_a_dict(self, export_schema: dict[str, Any]) -> None:
        record_run()
        document = flush_document()
        evaluate(document, [PIIDetectionEval.default()], attach=True)
        [call] = document["events"]
        [score] = call["scores"]
        assert score["name"] == "pii_detection"
        assert score["value"] == 0.0
        assert score["source"] == "eval"
        assert score["evaluator"] == "pii_detection"
        assert score["comment"].startswith("failed: ")
        assert score["span_id"] == "00000000000000c1"
        assert [
            node.get("scores") for node in document["trace_tree"] if node["provider"] != "function"
        ] == [call["scores"]]
        assert document["function_events"][0]["scores"][0]["value"] == 1.0
        jsonschema.validate(document, export_schema)

    def test_through_the_live_collector(self) -> None:
        record_run()
        preview = flush_document()
        capital("France")
        evaluate(
            preview,
            [RegexAssertion.from_patterns(patterns=[r"Paris"])],
            attach=True,
            collector=observer,
        )
        document = flush_document()
        # The function of this document gets nothing; earlier spans' scores sit on the session.
        assert "scores" not in document["function_events"][0]
        spans = sorted(s["span_id"] for s in document["sessions"][0]["scores"])
        assert spans == sorted(["00000000000000c1", preview["function_events"][0]["span_id"]])
        assert {s["source"] for s in document["sessions"][0]["scores"]} == {"eval"}

    def test_path_needs_a_target(self, tmp_path: Path) -> None:
        record_run()
        observer.flush(str(tmp_path / "run.json"))
        with pytest.raises(ValueError, match="attach=True needs a document"):
            evaluate(tmp_path / "run.json", [PIIDetectionEval.default()], attach=True)


class TestFiles:
    """Flush files are read as JSON or JSON Lines, gzipped or not."""

    @pytest.mark.parametrize("name", ["run.json", "run.json.gz", "run.jsonl", "run.jsonl.gz"])
    def test_formats(self, tmp_path: Path, name: str) -> None:
        record_run()
        path = tmp_path / name
        observer.flush(exporter=FileExporter(str(path)))
        evaluations = evaluate(path, [RegexAssertion.from_patterns(patterns=[r"Paris"])])
        assert [e.result.status for e in evaluations] == [EvalStatus.PASSED, EvalStatus.FAILED]
        assert {e.source for e in evaluations} == {str(path)}

    def test_not_a_flush_file(self, tmp_path: Path) -> None:
        path = tmp_path / "x.json"
        path.write_text(json.dumps([1, 2]))
        with pytest.raises(ValueError, match="not an aiobs flush file"):
            read_document(path)
        with pytest.raises(ValueError, match="cannot be read"):
            read_document(tmp_path / "missing.json")

    def test_sampling(self) -> None:
        record_run()
        document = flush_document()
        regex = RegexAssertion.from_patterns(patterns=[r"Paris"])
        assert evaluate(document, [regex], sample_rate=0.0) == []
        some = evaluate(document, [regex], sample_rate=0.5, rng=random.Random(1))
        assert len(some) <= 2
        with pytest.raises(ValueError, match="sample_rate must be between 0 and 1"):
            evaluate(document, [regex], sample_rate=2)

"""configure(evaluators=...): evaluators run when a document is flushed, never on the call path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.evals import (
    EvalInput,
    EvalResult,
    PIIDetectionEval,
    RegexAssertion,
    ToxicityDetectionEval,
)
from aiobs.evals.base import BaseEval
from aiobs.standin import StandinServer
from tests.evals.test_judges import scripted
from tests.helpers import flush_document
from tests.test_llm import MODELS, make_client


@observe
def reply(question: str) -> str:
    return f"Write to jane@example.com about {question}"


class RecordingEval(BaseEval):
    """Passes everything, and notes the thread that judged."""

    name = "recording_eval"

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        self.threads.append(threading.current_thread().name)
        return EvalResult.pass_result(eval_name=self.eval_name, message="fine")


class TestAtFlush:
    """Configured evaluators judge each flushed document's events and attach their scores."""

    def test_scores_on_the_flushed_events(self, tmp_path: Path) -> None:
        observer.configure(evaluators=[PIIDetectionEval.default()])
        observer.observe()
        reply("rent")
        path = tmp_path / "run.json"
        observer.flush(str(path))
        [event] = json.loads(path.read_text())["function_events"]
        [score] = event["scores"]
        assert (score["name"], score["value"], score["source"]) == ("pii_detection", 0.0, "eval")
        reply("again")  # the next flush judges only its new events, merged into the same file
        observer.flush(str(path))
        events = json.loads(path.read_text())["function_events"]
        assert [len(event["scores"]) for event in events] == [1, 1]

    def test_not_on_the_call_path_and_in_the_background_worker(self) -> None:
        recording = RecordingEval()
        observer.configure(evaluators=[recording], flush_interval=0.05)
        observer.observe()
        reply("x")
        assert recording.threads == []  # nothing judged while the program runs
        deadline = 50
        while not recording.threads and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        assert recording.threads
        assert all(name != threading.current_thread().name for name in recording.threads)

    def test_sample_rate_zero_and_turning_off(self) -> None:
        observer.configure(evaluators=[PIIDetectionEval.default()], eval_sample_rate=0.0)
        observer.observe()
        reply("x")
        assert "scores" not in flush_document()["function_events"][0]
        observer.configure(evaluators=[], eval_sample_rate=1.0)
        reply("y")
        assert "scores" not in flush_document()["function_events"][0]

    def test_bad_settings(self) -> None:
        with pytest.raises(TypeError, match="is not an evaluator"):
            observer.configure(evaluators=["pii"])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="evaluators must be a list"):
            observer.configure(evaluators=PIIDetectionEval.default())  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="eval_sample_rate must be a number from 0 to 1"):
            observer.configure(eval_sample_rate=1.5)

    def test_a_failing_evaluator_is_reported_not_raised_outside_tests(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        from aiobs import _guard

        class Broken(RecordingEval):
            def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
                raise RuntimeError("boom")

        _guard.set_raise_internal_errors(False)
        observer.configure(evaluators=[Broken()])
        observer.observe()
        reply("x")
        document = flush_document()
        assert len(document["function_events"]) == 1
        assert "scores" not in document["function_events"][0]
        assert "boom" in caplog.text


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinServer]:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    with StandinServer() as server:
        yield server


def test_judge_calls_at_flush_are_not_recorded(standin: StandinServer) -> None:
    client = make_client("openai", standin)
    try:
        verdict = {"label": "toxic", "score": 0.9, "categories": ["harassment"], "explanation": "x"}
        judge = ToxicityDetectionEval(client, model=MODELS["openai"])
        observer.configure(evaluators=[judge, RegexAssertion.from_patterns(patterns=["idiot"])])
        observer.observe()

        @observe
        def rude() -> str:
            return f"You idiot {scripted(verdict)}"

        rude()
        document = flush_document()
        [event] = document["function_events"]
        assert [(s["name"], s["value"]) for s in event["scores"]] == [
            ("toxicity_detection", pytest.approx(0.1)),
            ("regex_assertion", 1.0),
        ]
        assert document["events"] == []  # the judge's own call is not in the user's session
        assert flush_document()["events"] == []
    finally:
        client.close()

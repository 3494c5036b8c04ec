"""Scores in the OTLP export: a gen_ai.evaluation.result span event on the scored span."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from aiobs import observe, observer
from aiobs.exporters.otlp import OTLPExporter
from tests.exporters.test_otlp import Receiver, attrs, by_name, flush_to, receiver

__all__ = ["receiver"]  # the fixture, shared with the exporter's own tests


@observe
def answer() -> str:
    observer.score("helpful", 0.5, comment="partly")
    observer.score("resolved", True)
    observer.score("tone", "friendly")
    return "Paris"


def test_scores_become_evaluation_events(receiver: Receiver) -> None:
    observer.observe()
    answer()
    observer.score("session_only", 1)  # a session is not a span: not sent
    result = flush_to(OTLPExporter(endpoint=receiver.url))
    assert result.success, result
    span = by_name(receiver.spans)["answer"]
    events = [(event.name, attrs(event)) for event in span.events]
    assert events == [
        (
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "helpful",
                "gen_ai.evaluation.score.value": 0.5,
                "gen_ai.evaluation.explanation": "partly",
                "aiobs.score.source": "api",
            },
        ),
        (
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "resolved",
                "gen_ai.evaluation.score.value": 1.0,
                "gen_ai.evaluation.score.label": "true",
                "aiobs.score.source": "api",
            },
        ),
        (
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "tone",
                "gen_ai.evaluation.score.label": "friendly",
                "aiobs.score.source": "api",
            },
        ),
    ]
    assert all(span.start_time_unix_nano <= event.time_unix_nano for event in span.events)

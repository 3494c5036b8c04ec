"""Several answers from the real SDKs (OpenAI ``n``, Gemini ``candidate_count``) in the export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
pytest.importorskip("openai")
pytest.importorskip("google.genai")

import openai
from google import genai

from aiobs import observer, providers
from aiobs.exporters import CompositeExporter, InMemoryExporter
from aiobs.exporters.otlp import OTLPExporter
from aiobs.standin import Reply, StandinServer
from tests.exporters.otlp_receiver import Receiver, attrs


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinServer]:
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    providers.instrument()
    with StandinServer() as server:
        yield server
    providers.uninstrument()
    providers.instrument()


def export(receiver: Receiver) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flush to memory and to the receiver: the one provider event and its span's attributes."""
    memory = InMemoryExporter()
    exporter = OTLPExporter(endpoint=receiver.url, capture_content=True)
    observer.flush(exporter=CompositeExporter([memory, exporter]))
    [event] = memory.documents[0]["events"]
    [span] = receiver.spans
    return event, attrs(span)


def test_openai_n_gives_one_message_per_choice(receiver: Receiver, standin: StandinServer) -> None:
    client = openai.OpenAI(base_url=standin.openai_url, api_key="sk-test", max_retries=0)
    observer.observe()
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], n=3
    )
    client.close()
    event, values = export(receiver)
    texts = [choice.message.content for choice in completion.choices]
    assert [choice["text"] for choice in event["response"]["choices"]] == texts
    messages = json.loads(values["gen_ai.output.messages"])
    assert [m["parts"] for m in messages] == [[{"type": "text", "content": t}] for t in texts]
    assert [m["finish_reason"] for m in messages] == ["stop"] * 3
    assert values["gen_ai.response.finish_reasons"] == ["stop"] * 3


def test_one_choice_has_no_choices_field(receiver: Receiver, standin: StandinServer) -> None:
    client = openai.OpenAI(base_url=standin.openai_url, api_key="sk-test", max_retries=0)
    observer.observe()
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    client.close()
    event, values = export(receiver)
    assert "choices" not in event["response"]
    assert len(json.loads(values["gen_ai.output.messages"])) == 1


def test_gemini_candidates_give_one_message_each(
    receiver: Receiver, standin: StandinServer
) -> None:
    def candidate(index: int, text: str, reason: str) -> dict[str, Any]:
        return {
            "index": index,
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": reason,
        }

    standin.fail_next(
        Reply.json(
            {
                "candidates": [candidate(0, "Paris", "STOP"), candidate(1, "Lyon?", "MAX_TOKENS")],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4},
                "modelVersion": "gemini-2.0-flash-001",
                "responseId": "r1",
            }
        )
    )
    client = genai.Client(api_key="x", http_options={"base_url": standin.gemini_url})
    observer.observe()
    client.models.generate_content(
        model="gemini-2.0-flash", contents="Capital?", config={"candidate_count": 2}
    )
    event, values = export(receiver)
    assert [choice["text"] for choice in event["response"]["choices"]] == ["Paris", "Lyon?"]
    messages = json.loads(values["gen_ai.output.messages"])
    assert [(m["parts"][0]["content"], m["finish_reason"]) for m in messages] == [
        ("Paris", "stop"),
        ("Lyon?", "length"),
    ]
    assert values["aiobs.response.finish_reasons"] == ["STOP", "MAX_TOKENS"]

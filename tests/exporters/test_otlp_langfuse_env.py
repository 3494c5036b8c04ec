"""The OpenTelemetry environment variables for the resource, and ``profile="langfuse"``."""

from __future__ import annotations

import json
import logging

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from aiobs import observe, observer
from aiobs.exporters.otlp import OTLPExporter
from aiobs.providers.call import LLMCall
from aiobs.usage import Usage
from tests.exporters.otlp_receiver import Receiver, attrs, by_name, flush_to


def resource_of(receiver: Receiver) -> dict[str, object]:
    return attrs(receiver.received[0].request.resource_spans[0].resource)


@observe
def leaf(x: int) -> int:
    return x + 1


class TestResourceFromTheEnvironment:
    """``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``; the exporter's arguments win."""

    def test_service_name_from_the_environment(
        self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
        observer.observe()
        leaf(1)
        flush_to(OTLPExporter(endpoint=receiver.url))
        assert resource_of(receiver)["service.name"] == "checkout"

    def test_resource_attributes_from_the_environment(
        self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=staging, service.version=1.2 ,team=a%2Cb,,",
        )
        observer.observe()
        leaf(1)
        flush_to(OTLPExporter(endpoint=receiver.url))
        resource = resource_of(receiver)
        assert resource["deployment.environment.name"] == "staging"
        assert resource["service.version"] == "1.2"
        assert resource["team"] == "a,b"  # percent-decoded
        assert resource["service.name"] == "aiobs"

    def test_service_name_env_beats_the_one_in_resource_attributes_env(
        self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
        observer.observe()
        leaf(1)
        flush_to(OTLPExporter(endpoint=receiver.url))
        assert resource_of(receiver)["service.name"] == "from-attributes"
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-service-name")
        assert OTLPExporter(endpoint=receiver.url).service_name == "from-service-name"

    def test_arguments_win_over_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "env-name")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=env,region=eu")
        exporter = OTLPExporter(service_name="arg-name", resource_attributes={"team": "arg"})
        assert exporter.service_name == "arg-name"
        assert exporter.resource_attributes["team"] == "arg"
        assert exporter.resource_attributes["region"] == "eu"
        in_resource = OTLPExporter(resource_attributes={"service.name": "resource-arg"})
        assert in_resource.service_name == "resource-arg"

    def test_phoenix_project_follows_the_service_name_env(
        self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "support-bot")
        observer.observe()
        leaf(1)
        flush_to(OTLPExporter(endpoint=receiver.url, profile="phoenix"))
        assert resource_of(receiver)["openinference.project.name"] == "support-bot"

    def test_malformed_resource_attributes_are_ignored_with_a_warning(
        self,
        receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=ai,oops")
        with caplog.at_level(logging.WARNING, logger="aiobs"):
            exporter = OTLPExporter(endpoint=receiver.url)
        assert "OTEL_RESOURCE_ATTRIBUTES ignored: 'oops' is not key=value" in caplog.text
        observer.observe()
        leaf(1)
        flush_to(exporter)
        assert "team" not in resource_of(receiver)
        assert receiver.spans


def record_for_langfuse(*, failing: bool = False) -> None:
    """A named session with labels: a root function calling an LLM, and a point event."""
    observer.observe(session_name="support chat", labels={"user_id": "u-7", "tier": "gold"})

    @observe
    def answer(question: str) -> str:
        call = LLMCall.start(
            "openai",
            "chat.completions.create",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]},
            model="gpt-4o-mini",
        )
        assert call is not None
        if failing:
            call.fail(RuntimeError("rate limited"))
            return ""
        call.finish(
            response={"text": "Paris", "finish_reasons": ["stop"]},
            usage=Usage(input_tokens=10, output_tokens=2),
        )
        observer.event("cache", hit=True)
        return "Paris"

    answer("Capital of France?")


class TestLangfuseProfile:
    """``profile="langfuse"`` adds what Langfuse reads, on top of the standard attributes."""

    def test_observation_types_session_trace_name_and_metadata(self, receiver: Receiver) -> None:
        record_for_langfuse()
        flush_to(OTLPExporter(endpoint=receiver.url, profile="langfuse"))
        spans = {name: attrs(span) for name, span in by_name(receiver.spans).items()}
        root, chat, event = spans["answer"], spans["chat gpt-4o-mini"], spans["cache"]
        assert root["langfuse.observation.type"] == "span"
        assert chat["langfuse.observation.type"] == "generation"
        assert event["langfuse.observation.type"] == "event"
        session_id = root["session.id"]
        for values in (root, chat, event):
            assert values["langfuse.session.id"] == session_id
            assert values["langfuse.trace.metadata.tier"] == "gold"
            assert values["langfuse.trace.metadata.user_id"] == "u-7"
            assert values["langfuse.user.id"] == "u-7"
            assert values["aiobs.label.tier"] == "gold"  # the standard stays
        assert root["langfuse.trace.name"] == "support chat"
        assert "langfuse.trace.name" not in chat  # only roots name the trace
        assert chat["gen_ai.usage.cost"] == chat["aiobs.cost.total"]
        for values in spans.values():  # content is opt-in
            assert not {key for key in values if key.endswith((".input", ".output"))}

    def test_content_as_observation_and_trace_input_output(self, receiver: Receiver) -> None:
        record_for_langfuse()
        flush_to(OTLPExporter(endpoint=receiver.url, profile="langfuse", capture_content=True))
        spans = {name: attrs(span) for name, span in by_name(receiver.spans).items()}
        root, chat = spans["answer"], spans["chat gpt-4o-mini"]
        assert json.loads(root["langfuse.observation.input"]) == {
            "args": ["Capital of France?"],
            "kwargs": {},
        }
        assert json.loads(root["langfuse.observation.output"]) == "Paris"
        assert root["langfuse.trace.input"] == root["langfuse.observation.input"]
        assert root["langfuse.trace.output"] == root["langfuse.observation.output"]
        assert chat["langfuse.observation.input"] == chat["gen_ai.input.messages"]
        assert chat["langfuse.observation.output"] == chat["gen_ai.output.messages"]
        assert "langfuse.trace.input" not in chat

    def test_failure_as_error_level(self, receiver: Receiver) -> None:
        record_for_langfuse(failing=True)
        flush_to(OTLPExporter(endpoint=receiver.url, profile="langfuse"))
        chat = attrs(by_name(receiver.spans)["chat gpt-4o-mini"])
        assert chat["langfuse.observation.level"] == "ERROR"
        assert "rate limited" in chat["langfuse.observation.status_message"]
        assert "langfuse.observation.level" not in attrs(by_name(receiver.spans)["answer"])

    def test_no_langfuse_names_without_the_profile(self, receiver: Receiver) -> None:
        record_for_langfuse()
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        for span in receiver.spans:
            assert not [key for key in attrs(span) if key.startswith("langfuse.")]
            assert "gen_ai.usage.cost" not in attrs(span)

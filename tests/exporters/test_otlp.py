"""The OTLP/HTTP exporter, against a real OTLP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aiobs import __version__, observe, observer
from aiobs.exporters import ExportResult
from aiobs.exporters.otlp import OTLPExporter, parse_headers
from aiobs.providers.call import LLMCall
from aiobs.usage import Usage
from tests.exporters.otlp_receiver import Receiver, attrs, by_name, flush_to, receiver

__all__ = [
    "Receiver",
    "attrs",
    "by_name",
    "flush_to",
    "receiver",
]  # as tests/test_scores_otlp.py imports them


def rpc_status(message: str) -> bytes:
    """A ``google.rpc.Status`` with code 3 and ``message``, in protobuf wire format."""
    encoded = message.encode()
    return bytes([0x08, 3, 0x12, len(encoded)]) + encoded


# -- what is recorded ------------------------------------------------------------------------


def record(*, failing_call: bool = False) -> dict[str, float]:
    """A session with nested ``@observe`` functions, a failing one and an LLM call inside."""
    before = time.time()
    observer.observe(session_name="otlp-run", labels={"env": "test", "team": "ai"})

    @observe
    def ask(question: str) -> str:
        call = LLMCall.start(
            "openai",
            "chat.completions.create",
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]},
            model="gpt-4o-mini",
        )
        assert call is not None
        if failing_call:
            call.fail(RuntimeError("rate limited upstream"))
            return ""
        call.finish(
            response={
                "id": "chatcmpl-42",
                "model": "gpt-4o-mini-2024-07-18",
                "text": "Paris",
                "finish_reasons": ["stop"],
            },
            usage=Usage(input_tokens=12, output_tokens=3),
            response_model="gpt-4o-mini-2024-07-18",
            stream={"ttft_ms": 12.5, "chunks": 3, "status": "completed"},
        )
        return "Paris"

    @observe
    def broken() -> None:
        raise ValueError("no luck")

    @observe
    def pipeline() -> str:
        with pytest.raises(ValueError, match="no luck"):
            broken()
        return ask("Capital of France?")

    pipeline()
    return {"before": before, "after": time.time()}


# -- tests -----------------------------------------------------------------------------------


class TestMapping:
    """A recorded document arrives as the span tree aiobs recorded."""

    def test_span_names_kinds_and_tree(self, receiver: Receiver) -> None:
        record()
        result = flush_to(OTLPExporter(endpoint=receiver.url))
        assert result.success, result
        assert result.metadata["spans"] == 4
        spans = by_name(receiver.spans)
        assert sorted(spans) == ["ask", "broken", "chat gpt-4o-mini", "pipeline"]
        internal = Span.SpanKind.SPAN_KIND_INTERNAL
        assert [spans[n].kind for n in ("pipeline", "ask", "broken")] == [internal] * 3
        assert spans["chat gpt-4o-mini"].kind == Span.SpanKind.SPAN_KIND_CLIENT
        root = spans["pipeline"]
        assert len(root.trace_id) == 16
        assert len(root.span_id) == 8
        assert root.parent_span_id == b""
        assert {span.trace_id for span in receiver.spans} == {root.trace_id}
        assert spans["ask"].parent_span_id == root.span_id
        assert spans["broken"].parent_span_id == root.span_id
        assert spans["chat gpt-4o-mini"].parent_span_id == spans["ask"].span_id

    def test_ids_and_timestamps_match_the_document(self, receiver: Receiver) -> None:
        clock = record()
        document = observer.flush(exporter=OTLPExporter(endpoint=receiver.url))
        assert isinstance(document, ExportResult)
        assert document.success
        spans = by_name(receiver.spans)
        low, high = int(clock["before"] * 1e9) - 1000, int(clock["after"] * 1e9) + 1000
        for span in receiver.spans:
            assert low <= span.start_time_unix_nano <= span.end_time_unix_nano <= high
        root, ask = spans["pipeline"], spans["ask"]
        assert root.start_time_unix_nano <= ask.start_time_unix_nano
        assert ask.end_time_unix_nano <= root.end_time_unix_nano

    def test_function_span_attributes_and_error(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url))
        spans = by_name(receiver.spans)
        session_id = attrs(spans["pipeline"])["session.id"]
        ask = attrs(spans["ask"])
        assert ask["aiobs.callsite.function"] == "pipeline"
        assert ask["aiobs.callsite.file"].endswith("tests/exporters/test_otlp.py")
        assert isinstance(ask["aiobs.callsite.line"], int)
        assert ask["code.function.name"] == f"{__name__}.record.<locals>.ask"
        assert ask["code.file.path"] == __file__
        assert ask["aiobs.kind"] == "function"
        assert ask["aiobs.module"] == __name__
        assert ask["gen_ai.conversation.id"] == session_id
        assert ask["aiobs.label.env"] == "test"
        assert ask["aiobs.label.team"] == "ai"
        assert spans["ask"].status.code == Status.StatusCode.STATUS_CODE_UNSET
        broken = spans["broken"]
        assert broken.status.code == Status.StatusCode.STATUS_CODE_ERROR
        assert "no luck" in broken.status.message

    def test_llm_span_genai_attributes(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url))
        span = by_name(receiver.spans)["chat gpt-4o-mini"]
        values = attrs(span)
        assert values["gen_ai.operation.name"] == "chat"
        assert values["gen_ai.provider.name"] == "openai"
        assert values["gen_ai.system"] == "openai"
        assert values["gen_ai.request.model"] == "gpt-4o-mini"
        assert values["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
        assert values["gen_ai.response.id"] == "chatcmpl-42"
        assert values["gen_ai.response.finish_reasons"] == ["stop"]
        assert values["gen_ai.usage.input_tokens"] == 12
        assert values["gen_ai.usage.output_tokens"] == 3
        assert values["gen_ai.conversation.id"] == values["session.id"]
        assert values["aiobs.cost.total"] == pytest.approx((12 * 0.15 + 3 * 0.6) / 1e6)
        assert values["aiobs.stream.ttft_ms"] == 12.5
        assert "gen_ai.input.messages" not in values
        assert "gen_ai.output.messages" not in values
        assert "error.type" not in values
        assert span.status.code == Status.StatusCode.STATUS_CODE_UNSET

    def test_failed_llm_call(self, receiver: Receiver) -> None:
        record(failing_call=True)
        flush_to(OTLPExporter(endpoint=receiver.url))
        span = by_name(receiver.spans)["chat gpt-4o-mini"]
        assert span.status.code == Status.StatusCode.STATUS_CODE_ERROR
        assert "rate limited upstream" in span.status.message
        assert attrs(span)["error.type"] == "RuntimeError"

    def test_resource_and_scope(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url, service_name="support-bot"))
        (resource_spans,) = receiver.received[0].request.resource_spans
        resource = attrs(resource_spans.resource)
        assert resource["service.name"] == "support-bot"
        assert resource["telemetry.sdk.name"] == "aiobs"
        assert resource["telemetry.sdk.version"] == __version__
        assert resource_spans.scope_spans[0].scope.name == "aiobs"

    def test_capture_content(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        values = attrs(by_name(receiver.spans)["chat gpt-4o-mini"])
        messages = json.loads(values["gen_ai.input.messages"])
        assert messages == [
            {"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]}
        ]
        output = json.loads(values["gen_ai.output.messages"])
        assert output[0]["parts"][0]["content"] == "Paris"
        assert output[0]["finish_reason"] == "stop"

    def test_event_without_trace_id_gets_a_stable_one(self) -> None:
        from aiobs.exporters.otlp import build_request

        event = {"name": "lonely", "span_id": "00000000000000ab", "started_at": 1.0}
        first = build_request({"function_events": [event]}).resource_spans[0]
        second = build_request({"function_events": [event]}).resource_spans[0]
        trace_id = first.scope_spans[0].spans[0].trace_id
        assert len(trace_id) == 16
        assert any(trace_id)
        assert trace_id == second.scope_spans[0].spans[0].trace_id


class TestTransport:
    """How the spans travel: compression, headers, retries and failures."""

    def test_gzip_on_and_off(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url))
        record()
        flush_to(OTLPExporter(endpoint=receiver.url, compression=None))
        zipped, plain_request = receiver.received
        assert zipped.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain_request.headers
        assert zipped.headers["content-type"] == "application/x-protobuf"
        assert plain_request.headers["content-type"] == "application/x-protobuf"
        assert zipped.raw_size < plain_request.raw_size

    def test_environment_defaults(
        self, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.removesuffix("/v1/traces"))
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0k,x-team=ai")
        record()
        result = flush_to(OTLPExporter())
        assert result.success, result
        headers = receiver.received[0].headers
        assert headers["authorization"] == "Bearer t0k"
        assert headers["x-team"] == "ai"

    def test_endpoint_precedence(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        assert OTLPExporter().endpoint == "http://localhost:4318/v1/traces"
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
        assert OTLPExporter().endpoint == "http://collector:4318/v1/traces"
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tempo:4318/otlp")
        assert OTLPExporter().endpoint == "http://tempo:4318/otlp"
        assert OTLPExporter(endpoint="http://given/v1/traces").endpoint == "http://given/v1/traces"

    def test_parse_headers(self) -> None:
        assert parse_headers("a=1, b = x%3Dy ,broken,=v") == {"a": "1", "b": "x=y"}

    def test_503_is_retried(self, receiver: Receiver) -> None:
        receiver.answers.append((503, {"Retry-After": "0"}, b"busy"))
        record()
        result = flush_to(OTLPExporter(endpoint=receiver.url, backoff=0.01))
        assert result.success, result
        assert receiver.attempts == 2
        assert len(receiver.spans) == 4

    def test_retries_give_up(self, receiver: Receiver) -> None:
        receiver.answers.extend([(429, {}, b"slow down")] * 3)
        record()
        result = flush_to(OTLPExporter(endpoint=receiver.url, max_retries=2, backoff=0.01))
        assert not result.success
        assert receiver.attempts == 3
        assert "429" in (result.error or "")
        assert "slow down" in (result.error or "")

    def test_400_fails_at_once_and_the_data_is_kept(self, receiver: Receiver) -> None:
        receiver.answers.append(
            (400, {"Content-Type": "application/x-protobuf"}, rpc_status("bad span"))
        )
        record()
        exporter = OTLPExporter(endpoint=receiver.url, backoff=0.01)
        failed = flush_to(exporter)
        assert not failed.success
        assert receiver.attempts == 1
        assert "400" in (failed.error or "")
        assert "bad span" in (failed.error or "")
        assert receiver.spans == []
        delivered = flush_to(exporter)
        assert delivered.success, delivered
        assert sorted(by_name(receiver.spans)) == ["ask", "broken", "chat gpt-4o-mini", "pipeline"]

    def test_unreachable_receiver(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        record()
        exporter = OTLPExporter(
            endpoint=f"http://user:secret@127.0.0.1:{port}/v1/traces", max_retries=1, backoff=0.01
        )
        result = flush_to(exporter)
        assert not result.success
        assert "cannot reach" in (result.error or "")
        assert "secret" not in (result.error or "")
        assert "secret" not in repr(exporter)

    def test_headers_never_in_results(self, receiver: Receiver) -> None:
        receiver.answers.append((401, {"Content-Type": "text/plain"}, b"who are you"))
        record()
        result = flush_to(OTLPExporter(endpoint=receiver.url, headers={"api-key": "s3cr3t"}))
        assert not result.success
        assert "401" in (result.error or "")
        assert "who are you" in (result.error or "")
        assert "s3cr3t" not in repr(result)
        assert "s3cr3t" not in str(result.metadata)


class TestSetup:
    """Construction, the aiobs 0.2 path and a missing dependency."""

    def test_missing_dependency_names_the_extra(self) -> None:
        with (
            mock.patch.dict(sys.modules, {"opentelemetry.proto.collector.trace.v1": None}),
            pytest.raises(ImportError, match=r"aiobs\[otel\]"),
        ):
            OTLPExporter()

    def test_bad_compression(self) -> None:
        with pytest.raises(ValueError, match="compression"):
            OTLPExporter(compression="zstd")

    def test_aiobs_02_export_path(self, receiver: Receiver) -> None:
        from aiobs.models import ObservabilityExport
        from tests.helpers import flush_document

        record()
        document = flush_document()
        result = OTLPExporter(endpoint=receiver.url).export(
            ObservabilityExport.model_validate(document)
        )
        assert result.success, result
        assert len(receiver.spans) == 4


# -- the GenAI conventions -------------------------------------------------------------------

SCHEMAS = Path(__file__).parent / "data"


def schema_valid(name: str, value: str) -> Any:
    """``value`` (JSON text) decoded, after validating it against the conventions' schema."""
    jsonschema = pytest.importorskip("jsonschema")
    decoded = json.loads(value)
    schema = json.loads((SCHEMAS / f"gen-ai-{name}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(decoded)
    return decoded


def llm_call(
    provider: str, api: str, request: dict[str, Any], operation: str, **finish: Any
) -> None:
    """One recorded LLM call, finished with ``finish`` (or failed with ``error=...``)."""
    call = LLMCall.start(provider, api, request, model=request.get("model"), operation=operation)
    assert call is not None
    error = finish.pop("error", None)
    if error is not None:
        call.fail(error)
    else:
        call.finish(**finish)


def export_one(receiver: Receiver, **options: Any) -> dict[str, Any]:
    """Flush to ``receiver`` and return the attributes of the only span."""
    flush_to(OTLPExporter(endpoint=receiver.url, **options))
    (span,) = receiver.spans
    return attrs(span)


class TestGenAIContent:
    """With ``capture_content``, prompts and answers follow the conventions' message structure."""

    def test_anthropic_system_and_blocks(self, receiver: Receiver) -> None:
        observer.observe()
        request = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "tu_1", "name": "w", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "18C"}],
                },
            ],
        }
        response = {
            "id": "msg_1",
            "text": "18C.",
            "tool_calls": [{"id": "tu_2", "name": "log", "arguments": {"t": 18}}],
            "finish_reasons": ["tool_use"],
        }
        llm_call("anthropic", "messages.create", request, "chat", response=response)
        values = export_one(receiver, capture_content=True)
        assert schema_valid("system-instructions", values["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "You are terse."}
        ]
        messages = schema_valid("input-messages", values["gen_ai.input.messages"])
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[2]["parts"] == [
            {"type": "tool_call_response", "id": "tu_1", "response": "18C"}
        ]
        assert schema_valid("output-messages", values["gen_ai.output.messages"]) == [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": "18C."},
                    {"type": "tool_call", "id": "tu_2", "name": "log", "arguments": {"t": 18}},
                ],
                "finish_reason": "tool_call",  # Anthropic's "tool_use"
            }
        ]

    def test_gemini_bare_string_and_system_instruction(self, receiver: Receiver) -> None:
        observer.observe()
        request = {
            "model": "gemini-2.5-flash",
            "contents": "Hi",
            "config": {"system_instruction": "Be brief."},
        }
        response = {"text": "Hello", "finish_reasons": ["STOP"]}
        llm_call(
            "gemini", "models.generate_content", request, "generate_content", response=response
        )
        values = export_one(receiver, capture_content=True)
        assert schema_valid("input-messages", values["gen_ai.input.messages"]) == [
            {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
        ]
        assert schema_valid("system-instructions", values["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "Be brief."}
        ]
        output = schema_valid("output-messages", values["gen_ai.output.messages"])
        assert output[0]["finish_reason"] == "stop"  # Gemini's "STOP"

    def test_output_without_finish_reason_has_none_rather_than_null(
        self, receiver: Receiver
    ) -> None:
        observer.observe()
        request = {"model": "gpt-4o-mini", "input": "Hi"}
        llm_call("openai", "responses.create", request, "responses", response={"text": "Hel"})
        values = export_one(receiver, capture_content=True)
        assert json.loads(values["gen_ai.output.messages"]) == [
            {"role": "assistant", "parts": [{"type": "text", "content": "Hel"}]}
        ]

    def test_no_content_without_the_switch(self, receiver: Receiver) -> None:
        observer.observe()
        request = {"model": "m", "system": "secret", "messages": [{"role": "user", "content": "x"}]}
        llm_call("anthropic", "messages.create", request, "chat", response={"text": "y"})
        values = export_one(receiver)
        assert not {k for k in values if k.startswith(("gen_ai.input", "gen_ai.output"))}
        assert "gen_ai.system_instructions" not in values


class TestGenAIValues:
    """Operation and provider names, request parameters, usage and streaming, as standardized."""

    def test_responses_api_is_chat(self, receiver: Receiver) -> None:
        observer.observe()
        request = {"model": "gpt-4o", "input": "Hi", "temperature": 0.5, "max_output_tokens": 50}
        llm_call("openai", "responses.create", request, "responses", response={"text": "Yo"})
        flush_to(OTLPExporter(endpoint=receiver.url))
        (span,) = receiver.spans
        assert span.name == "chat gpt-4o"
        values = attrs(span)
        assert values["gen_ai.operation.name"] == "chat"
        assert values["gen_ai.request.temperature"] == 0.5
        assert values["gen_ai.request.max_tokens"] == 50

    def test_gemini_is_gcp_gemini_with_its_config(self, receiver: Receiver) -> None:
        observer.observe()
        request = {
            "model": "gemini-2.5-flash",
            "contents": "Hi",
            "config": {
                "temperature": 0.1,
                "top_p": 0.9,
                "top_k": 40,
                "max_output_tokens": 64,
                "stop_sequences": ["END"],
                "seed": 7,
                "presence_penalty": 0.25,
                "frequency_penalty": 0.5,
                "candidate_count": 1,
            },
        }
        stream = {"ttft_ms": 250.0, "chunks": 2, "status": "completed"}
        llm_call(
            "gemini",
            "models.generate_content_stream",
            request,
            "generate_content",
            response={"text": "Hello", "finish_reasons": ["STOP"]},
            stream=stream,
        )
        values = export_one(receiver)
        assert values["gen_ai.operation.name"] == "generate_content"
        assert values["gen_ai.provider.name"] == "gcp.gemini"
        assert values["gen_ai.request.temperature"] == 0.1
        assert values["gen_ai.request.top_p"] == 0.9
        assert values["gen_ai.request.top_k"] == 40
        assert values["gen_ai.request.max_tokens"] == 64
        assert values["gen_ai.request.stop_sequences"] == ["END"]
        assert values["gen_ai.request.seed"] == 7
        assert values["gen_ai.request.presence_penalty"] == 0.25
        assert values["gen_ai.request.frequency_penalty"] == 0.5
        assert values["gen_ai.request.choice.count"] == 1
        assert values["gen_ai.request.stream"] is True
        assert values["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.25)
        assert values["gen_ai.response.finish_reasons"] == ["stop"]
        assert values["aiobs.response.finish_reasons"] == ["STOP"]  # the provider's own

    def test_openai_chat_parameters_and_usage(self, receiver: Receiver) -> None:
        observer.observe()
        request = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_completion_tokens": 20,
            "stop": "\n",
            "seed": 3,
            "tools": [{"type": "function", "function": {"name": "weather"}}],
        }
        usage = Usage(
            input_tokens=100,
            output_tokens=30,
            cached_input_tokens=60,
            cache_write_tokens=10,
            reasoning_tokens=12,
        )
        llm_call("openai", "chat.completions.create", request, "chat", response={}, usage=usage)
        values = export_one(receiver)
        assert values["gen_ai.request.max_tokens"] == 20
        assert values["gen_ai.request.stop_sequences"] == ["\n"]
        assert values["gen_ai.request.seed"] == 3
        assert "gen_ai.request.stream" not in values
        assert values["gen_ai.usage.input_tokens"] == 100
        assert values["gen_ai.usage.cache_read.input_tokens"] == 60
        assert values["gen_ai.usage.cache_creation.input_tokens"] == 10
        assert values["gen_ai.usage.reasoning.output_tokens"] == 12
        assert "gen_ai.tool.definitions" not in values  # content: only with capture_content

    def test_tool_definitions_are_content(self, receiver: Receiver) -> None:
        observer.observe()
        tools = [{"name": "weather", "input_schema": {"type": "object"}}]
        request = {"model": "claude", "max_tokens": 5, "messages": [], "tools": tools}
        llm_call("anthropic", "messages.create", request, "chat", response={})
        values = export_one(receiver, capture_content=True)
        assert json.loads(values["gen_ai.tool.definitions"]) == tools
        assert values["gen_ai.request.max_tokens"] == 5

    def test_embeddings(self, receiver: Receiver) -> None:
        observer.observe()
        request = {"model": "text-embedding-3-small", "input": ["a"], "encoding_format": "base64"}
        response = {"count": 1, "dimensions": 1536}
        llm_call("openai", "embeddings.create", request, "embeddings", response=response)
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        (span,) = receiver.spans
        values = attrs(span)
        assert span.name == "embeddings text-embedding-3-small"
        assert values["gen_ai.operation.name"] == "embeddings"
        assert values["gen_ai.request.encoding_formats"] == ["base64"]
        assert values["gen_ai.embeddings.dimension.count"] == 1536
        assert "gen_ai.input.messages" not in values  # embeddings have inputs, not messages


def exception_event(span: Span) -> dict[str, Any]:
    """The attributes of the span's one ``exception`` event."""
    (event,) = [event for event in span.events if event.name == "exception"]
    return attrs(event)


class TestExceptions:
    """Failures carry an ``exception`` event, ``error.type`` and the HTTP status when known."""

    def test_failed_function(self, receiver: Receiver) -> None:
        record()
        flush_to(OTLPExporter(endpoint=receiver.url))
        broken = by_name(receiver.spans)["broken"]
        assert attrs(broken)["error.type"] == "ValueError"
        event = exception_event(broken)
        assert event["exception.type"] == "ValueError"
        assert event["exception.message"] == "no luck"
        assert 'raise ValueError("no luck")' in event["exception.stacktrace"]
        assert broken.start_time_unix_nano <= broken.events[0].time_unix_nano
        assert broken.events[0].time_unix_nano <= broken.end_time_unix_nano
        assert not by_name(receiver.spans)["pipeline"].events

    def test_failed_llm_call_with_http_status(self, receiver: Receiver) -> None:
        class RateLimitError(Exception):
            status_code = 429

        observer.observe()
        request = {"model": "gpt-4o", "messages": []}
        error = RateLimitError("slow down")
        llm_call("openai", "chat.completions.create", request, "chat", error=error)
        flush_to(OTLPExporter(endpoint=receiver.url))
        (span,) = receiver.spans
        values = attrs(span)
        assert values["error.type"].endswith("<locals>.RateLimitError")  # fully qualified
        assert values["http.response.status_code"] == 429
        event = exception_event(span)
        assert event["exception.type"] == values["error.type"]
        assert event["exception.message"] == "slow down"


@observe
def summarize(text: str, *, limit: int = 10) -> dict[str, Any]:
    """A module-level function, so that the exporter can find its own file and line."""
    with observer.span("cut") as span:
        span.set("limit", limit)
    observer.event("cache", data={"hit": True})
    return {"summary": text[:limit]}


SUMMARIZE_LINE = summarize.__wrapped__.__code__.co_firstlineno  # type: ignore[attr-defined]


class TestFunctionSpans:
    """Function spans describe the function itself and carry its data as opt-in content."""

    def test_code_attributes_describe_the_function(self, receiver: Receiver) -> None:
        observer.observe()
        summarize("A long text", limit=4)
        flush_to(OTLPExporter(endpoint=receiver.url))
        values = attrs(by_name(receiver.spans)["summarize"])
        assert values["code.function.name"] == f"{__name__}.summarize"
        assert values["code.file.path"] == __file__
        assert values["code.line.number"] == SUMMARIZE_LINE
        assert values["aiobs.callsite.function"] == "test_code_attributes_describe_the_function"
        assert not {"code.function", "code.filepath", "code.lineno"} & set(values)

    def test_spans_and_events_point_at_their_own_line(self, receiver: Receiver) -> None:
        observer.observe()
        summarize("A long text", limit=4)
        flush_to(OTLPExporter(endpoint=receiver.url))
        cut = attrs(by_name(receiver.spans)["cut"])
        assert cut["code.function.name"] == "summarize"
        assert cut["code.file.path"] == __file__
        assert SUMMARIZE_LINE < cut["code.line.number"] < SUMMARIZE_LINE + 5

    def test_content_with_the_switch(self, receiver: Receiver) -> None:
        observer.observe()
        summarize("A long text", limit=4)
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        spans = by_name(receiver.spans)
        values = attrs(spans["summarize"])
        assert json.loads(values["aiobs.function.arguments"]) == {
            "args": ["A long text"],
            "kwargs": {"limit": 4},
        }
        assert json.loads(values["aiobs.function.result"]) == {"summary": "A lo"}
        assert json.loads(attrs(spans["cut"])["aiobs.span.attributes"]) == {"limit": 4}
        assert json.loads(attrs(spans["cache"])["aiobs.span.attributes"]) == {"data": {"hit": True}}
        assert "input.value" not in values  # OpenInference names only with profile="phoenix"

    def test_no_content_without_the_switch(self, receiver: Receiver) -> None:
        observer.observe()
        summarize("A long text", limit=4)
        flush_to(OTLPExporter(endpoint=receiver.url))
        for span in receiver.spans:
            assert not {k for k in attrs(span) if k.startswith(("aiobs.function.", "aiobs.span."))}

    def test_content_is_redacted(self, receiver: Receiver) -> None:
        @observe
        def login(user: str, password: str) -> str:
            return "ok"

        observer.observe()
        login("ann", password="hunter2")
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        (span,) = receiver.spans
        assert "hunter2" not in attrs(span)["aiobs.function.arguments"]


class TestResourceAndProfile:
    """Service and resource attributes per exporter, and the Phoenix profile's additions."""

    def test_resource_attributes(self, receiver: Receiver) -> None:
        record()
        exporter = OTLPExporter(
            endpoint=receiver.url,
            service_name="support-bot",
            resource_attributes={"deployment.environment.name": "staging", "team": "ai"},
        )
        flush_to(exporter)
        resource = attrs(receiver.received[0].request.resource_spans[0].resource)
        assert resource["service.name"] == "support-bot"
        assert resource["deployment.environment.name"] == "staging"
        assert resource["team"] == "ai"
        assert resource["telemetry.sdk.name"] == "aiobs"
        assert "openinference.project.name" not in resource

    def test_service_name_from_resource_attributes(self, receiver: Receiver) -> None:
        record()
        exporter = OTLPExporter(endpoint=receiver.url, resource_attributes={"service.name": "x"})
        flush_to(exporter)
        resource = attrs(receiver.received[0].request.resource_spans[0].resource)
        assert resource["service.name"] == "x"

    def test_phoenix_profile(self, receiver: Receiver) -> None:
        record()
        exporter = OTLPExporter(
            endpoint=receiver.url, service_name="bot", profile="phoenix", capture_content=True
        )
        flush_to(exporter)
        resource = attrs(receiver.received[0].request.resource_spans[0].resource)
        assert resource["openinference.project.name"] == "bot"
        spans = by_name(receiver.spans)
        assert attrs(spans["chat gpt-4o-mini"])["openinference.span.kind"] == "LLM"
        ask = attrs(spans["ask"])
        assert ask["openinference.span.kind"] == "CHAIN"
        assert json.loads(ask["input.value"]) == {"args": ["Capital of France?"], "kwargs": {}}
        assert ask["input.mime_type"] == "application/json"
        assert json.loads(ask["output.value"]) == "Paris"
        assert ask["output.mime_type"] == "application/json"
        assert ask["aiobs.function.result"] == ask["output.value"]  # the standard stays

    def test_phoenix_project_name_can_be_set(self, receiver: Receiver) -> None:
        record()
        exporter = OTLPExporter(
            endpoint=receiver.url,
            profile="phoenix",
            resource_attributes={"openinference.project.name": "evals"},
        )
        flush_to(exporter)
        resource = attrs(receiver.received[0].request.resource_spans[0].resource)
        assert resource["openinference.project.name"] == "evals"
        assert "input.value" not in attrs(by_name(receiver.spans)["ask"])  # content is opt-in

    def test_unknown_profile(self) -> None:
        with pytest.raises(
            ValueError, match=r"profile must be None or 'phoenix' or 'langfuse', not 'jaeger'"
        ):
            OTLPExporter(profile="jaeger")


class TestApplicationTrace:
    """Inside an application's OpenTelemetry span, aiobs's spans continue its trace."""

    def test_one_trace_with_aiobs_under_the_application_span(self, receiver: Receiver) -> None:
        sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
        export = pytest.importorskip("opentelemetry.sdk.trace.export")
        in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
        finished = in_memory.InMemorySpanExporter()
        provider = sdk_trace.TracerProvider()
        provider.add_span_processor(export.SimpleSpanProcessor(finished))
        tracer = provider.get_tracer("app")
        try:
            with tracer.start_as_current_span("handle request"):
                record()
        finally:
            provider.shutdown()
        flush_to(OTLPExporter(endpoint=receiver.url))
        (app_span,) = finished.get_finished_spans()
        app_trace = app_span.context.trace_id.to_bytes(16, "big")
        app_id = app_span.context.span_id.to_bytes(8, "big")
        spans = by_name(receiver.spans)
        assert {span.trace_id for span in receiver.spans} == {app_trace}
        assert spans["pipeline"].parent_span_id == app_id
        assert spans["ask"].parent_span_id == spans["pipeline"].span_id
        assert spans["chat gpt-4o-mini"].parent_span_id == spans["ask"].span_id
        assert app_id not in {span.span_id for span in receiver.spans}


class TestSdkTypes:
    """Requests built from the SDKs' own types convert as their dict forms do."""

    def test_gemini_types(self, receiver: Receiver) -> None:
        types = pytest.importorskip("google.genai.types")
        from aiobs.providers.gemini import request_of

        contents = [
            types.Content(
                role="user",
                parts=[
                    types.Part.from_text(text="Hi"),
                    types.Part.from_function_response(name="w", response={"t": 1}),
                ],
            ),
            types.Content(role="model", parts=[types.Part.from_function_call(name="w", args={})]),
        ]
        config = types.GenerateContentConfig(system_instruction="Be brief.", temperature=0.2)
        observer.observe()
        request = request_of({"model": "m", "contents": contents, "config": config})
        llm_call("gemini", "models.generate_content", request, "generate_content", response={})
        values = export_one(receiver, capture_content=True)
        assert schema_valid("input-messages", values["gen_ai.input.messages"]) == [
            {
                "role": "user",
                "parts": [
                    {"type": "text", "content": "Hi"},
                    {"type": "tool_call_response", "id": None, "response": {"t": 1}},
                ],
            },
            {
                "role": "assistant",
                "parts": [{"type": "tool_call", "id": None, "name": "w", "arguments": {}}],
            },
        ]
        assert json.loads(values["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "Be brief."}
        ]
        assert values["gen_ai.request.temperature"] == 0.2


class TestRealSdks:
    """The SDKs' real calls, against the stand-in vendor server, exported as the conventions say."""

    def test_three_vendors_and_a_failure(self, receiver: Receiver) -> None:
        openai = pytest.importorskip("openai")
        anthropic = pytest.importorskip("anthropic")
        genai = pytest.importorskip("google.genai")
        from aiobs.standin import Reply, StandinServer

        with (
            StandinServer() as server,
            mock.patch.dict("os.environ", ANTHROPIC_OPEN_TELEMETRY="false"),
        ):
            observer.observe()
            chat = openai.OpenAI(base_url=server.openai_url, api_key="x", max_retries=0)
            chat.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Capital of France?"},
                ],
                temperature=0.3,
            )
            claude = anthropic.Anthropic(base_url=server.anthropic_url, api_key="x", max_retries=0)
            claude.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=50,
                system="You are terse.",
                messages=[{"role": "user", "content": "Hi"}],
            )
            gemini = genai.Client(api_key="x", http_options={"base_url": server.gemini_url})
            gemini.models.generate_content(
                model="gemini-2.5-flash",
                contents="Hello",
                config={"system_instruction": "Answer in French."},
            )
            server.fail_next(Reply.error(429, "slow down"))
            with pytest.raises(openai.RateLimitError):
                chat.chat.completions.create(model="gpt-4o-mini", messages=[])
            flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
            chat.close()
            claude.close()
        spans = [attrs(span) for span in receiver.spans]
        names = [(v["gen_ai.operation.name"], v["gen_ai.provider.name"]) for v in spans]
        assert names == [
            ("chat", "openai"),
            ("chat", "anthropic"),
            ("generate_content", "gcp.gemini"),
            ("chat", "openai"),
        ]
        systems = [json.loads(v["gen_ai.system_instructions"]) for v in spans[:3]]
        assert [parts[0]["content"] for parts in systems] == [
            "Be brief.",
            "You are terse.",
            "Answer in French.",
        ]
        for values in spans[:3]:
            schema_valid("input-messages", values["gen_ai.input.messages"])
            output = schema_valid("output-messages", values["gen_ai.output.messages"])
            assert output[0]["parts"][0]["type"] == "text"
        assert spans[0]["gen_ai.request.temperature"] == 0.3
        assert spans[1]["gen_ai.request.max_tokens"] == 50
        assert spans[3]["http.response.status_code"] == 429
        assert spans[3]["error.type"] == "openai.RateLimitError"
        failed = receiver.spans[3]
        assert exception_event(failed)["exception.type"] == "openai.RateLimitError"

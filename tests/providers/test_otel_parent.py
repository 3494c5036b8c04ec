"""LLM calls made under a recording OpenTelemetry span join its trace (as in aiobs 0.2)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
sampling = pytest.importorskip("opentelemetry.sdk.trace.sampling")

from aiobs import observe, observer  # noqa: E402
from aiobs.standin import StandinServer  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers.clients import async_openai_client, openai_client  # noqa: E402
from tests.providers.conftest import only_event, user  # noqa: E402

MODEL = "gpt-4o-mini"


@pytest.fixture
def tracer() -> Iterator[Any]:
    """A tracer of a real SDK TracerProvider (not made global)."""
    provider = sdk_trace.TracerProvider()
    yield provider.get_tracer("tests")
    provider.shutdown()


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Any]:
    with openai_client(standin) as made:
        yield made


def ids(span: Any) -> tuple[str, str]:
    context = span.get_span_context()
    return f"{context.span_id:016x}", f"{context.trace_id:032x}"


class TestLLMCallsUnderOpenTelemetry:
    """The OpenTelemetry span is the call's parent unless an aiobs span is open."""

    def test_sync_call(self, client: Any, tracer: Any) -> None:
        observer.observe()
        with tracer.start_as_current_span("request") as span:
            client.chat.completions.create(model=MODEL, messages=user("hi"))
        event = only_event()
        assert (event["parent_span_id"], event["trace_id"]) == ids(span)

    def test_async_call(self, standin: StandinServer, tracer: Any) -> None:
        observer.observe()

        async def main() -> tuple[str, str]:
            async with async_openai_client(standin) as made:
                with tracer.start_as_current_span("request") as span:
                    await made.chat.completions.create(model=MODEL, messages=user("hi"))
                return ids(span)

        assert asyncio.run(main()) == (
            (event := only_event())["parent_span_id"],
            event["trace_id"],
        )

    def test_call_inside_observed_function(self, client: Any, tracer: Any) -> None:
        @observe
        def answer() -> str:
            reply = client.chat.completions.create(model=MODEL, messages=user("hi"))
            return str(reply.choices[0].message.content)

        observer.observe()
        with tracer.start_as_current_span("request") as span:
            answer()
        document = flush_document()
        [function] = document["function_events"]
        [call] = document["events"]
        span_id, trace_id = ids(span)
        assert function["parent_span_id"] == span_id
        assert call["parent_span_id"] == function["span_id"]
        assert function["trace_id"] == call["trace_id"] == trace_id

    def test_non_recording_span_is_ignored(self, client: Any) -> None:
        tracer = sdk_trace.TracerProvider(sampler=sampling.ALWAYS_OFF).get_tracer("tests")
        observer.observe()
        with tracer.start_as_current_span("sampled out") as span:
            client.chat.completions.create(model=MODEL, messages=user("hi"))
        event = only_event()
        assert event["parent_span_id"] is None
        assert len(event["trace_id"]) == 32
        assert event["trace_id"] != ids(span)[1]  # a trace of its own

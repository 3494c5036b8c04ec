"""A recording OpenTelemetry span current when no aiobs span is open becomes the parent (0.2)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from tests.helpers import flush_document, tree_outline

trace = pytest.importorskip("opentelemetry.trace")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
sampling = pytest.importorskip("opentelemetry.sdk.trace.sampling")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spans() -> Any:
    """Where the tracer's finished spans go."""
    return in_memory.InMemorySpanExporter()


@pytest.fixture
def tracer(spans: Any) -> Iterator[Any]:
    """A tracer of a real SDK TracerProvider (not made global), keeping its spans in memory."""
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(spans))
    yield provider.get_tracer("tests")
    provider.shutdown()


def ids(span: Any) -> tuple[str, str]:
    """The OpenTelemetry span's ``(span id, trace id)`` in the document's hex formats."""
    context = span.get_span_context()
    return f"{context.span_id:016x}", f"{context.trace_id:032x}"


@observe
def leaf(x: int) -> int:
    return x + 1


@observe
def middle(x: int) -> int:
    return leaf(x) * 2


@observe
async def coroutine(x: int) -> int:
    await asyncio.sleep(0)
    return leaf(x)


@observe
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


@observe
async def async_numbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield leaf(i)


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {event["name"]: event for event in document["function_events"]}


class TestOpenTelemetryParent:
    """Function events join the trace of the OpenTelemetry span current when they start."""

    def test_function_takes_trace_and_parent_from_the_otel_span(self, tracer: Any) -> None:
        observer.observe()
        with tracer.start_as_current_span("request") as span:
            assert leaf(1) == 2
        [event] = flush_document()["function_events"]
        span_id, trace_id = ids(span)
        assert event["parent_span_id"] == span_id
        assert event["trace_id"] == trace_id
        assert event["span_id"] != span_id

    def test_nested_aiobs_spans_inherit_the_otel_trace(self, tracer: Any) -> None:
        observer.observe()
        with tracer.start_as_current_span("request") as span:
            middle(1)
            with observer.span("manual") as manual:
                leaf(2)
            observer.event("decided", choice="a")
        document = flush_document()
        span_id, trace_id = ids(span)
        events = document["function_events"]
        assert {event["trace_id"] for event in events} == {trace_id}
        parents = {event["name"]: event["parent_span_id"] for event in events}
        spans = {event["name"]: event["span_id"] for event in events}
        assert parents["middle"] == span_id
        assert parents["manual"] == span_id
        assert parents["decided"] == span_id
        assert manual.span_id == spans["manual"]
        leaves = [event for event in events if event["name"] == "leaf"]
        assert sorted(event["parent_span_id"] for event in leaves) == sorted(
            [spans["middle"], spans["manual"]]
        )
        # The OpenTelemetry span is not in the document: its children are the tree's roots.
        assert sorted(tree_outline(document["trace_tree"])) == sorted(
            [["middle", [["leaf", []]]], ["manual", [["leaf", []]]], ["decided", []]]
        )

    def test_each_otel_span_in_turn(self, tracer: Any) -> None:
        observer.observe()
        expected = []
        for name in ("first", "second"):
            with tracer.start_as_current_span(name) as span:
                leaf(1)
                leaf(2)
                with tracer.start_as_current_span(f"{name} child") as child:
                    leaf(3)
                leaf(4)
            expected += [ids(span), ids(span), ids(child), ids(span)]
        events = flush_document()["function_events"]
        assert [(event["parent_span_id"], event["trace_id"]) for event in events] == expected

    def test_an_aiobs_span_current_wins_over_the_otel_span(self, tracer: Any) -> None:
        observer.observe()
        with observer.span("outer"), tracer.start_as_current_span("inner otel"):
            leaf(1)
        events = by_name(flush_document())
        assert events["leaf"]["parent_span_id"] == events["outer"]["span_id"]
        assert events["leaf"]["trace_id"] == events["outer"]["trace_id"]
        assert events["outer"]["parent_span_id"] is None

    def test_coroutine_and_its_callees(self, tracer: Any) -> None:
        observer.observe()

        async def main() -> tuple[str, str]:
            with tracer.start_as_current_span("request") as span:
                results = await asyncio.gather(coroutine(1), coroutine(2))
                assert results == [2, 3]
                return ids(span)

        span_id, trace_id = asyncio.run(main())
        events = flush_document()["function_events"]
        assert len(events) == 4
        assert {event["trace_id"] for event in events} == {trace_id}
        outer = [event for event in events if event["name"] == "coroutine"]
        assert [event["parent_span_id"] for event in outer] == [span_id, span_id]
        inner_parents = {event["parent_span_id"] for event in events if event["name"] == "leaf"}
        assert inner_parents == {event["span_id"] for event in outer}

    def test_generators(self, tracer: Any) -> None:
        observer.observe()

        async def consume() -> list[int]:
            with tracer.start_as_current_span("stream"):
                return [item async for item in async_numbers(2)]

        with tracer.start_as_current_span("request") as span:
            assert list(numbers(3)) == [0, 1, 2]
        assert asyncio.run(consume()) == [1, 2]
        events = by_name(flush_document())
        span_id, trace_id = ids(span)
        assert events["numbers"]["parent_span_id"] == span_id
        assert events["numbers"]["trace_id"] == trace_id
        agen = events["async_numbers"]
        assert agen["parent_span_id"] is not None
        assert agen["parent_span_id"] != span_id
        assert events["leaf"]["parent_span_id"] == agen["span_id"]

    def test_non_recording_span_is_ignored(self) -> None:
        provider = sdk_trace.TracerProvider(sampler=sampling.ALWAYS_OFF)
        observer.observe()
        with provider.get_tracer("tests").start_as_current_span("sampled out") as span:
            assert not span.is_recording()
            assert span.get_span_context().is_valid
            leaf(1)
        with trace.use_span(trace.INVALID_SPAN):
            leaf(2)
        events = flush_document()["function_events"]
        for event in events:
            assert event["parent_span_id"] is None
            assert len(event["trace_id"]) == 32
            assert event["trace_id"] != ids(span)[1]  # a trace of its own
        assert len({event["trace_id"] for event in events}) == len(events)

    def test_outside_the_otel_span_events_are_roots_again(self, tracer: Any) -> None:
        observer.observe()
        with tracer.start_as_current_span("request"):
            pass
        leaf(1)
        [event] = flush_document()["function_events"]
        assert event["parent_span_id"] is None

    def test_aiobs_spans_are_not_opentelemetry_spans(self, tracer: Any, spans: Any) -> None:
        """Unlike 0.2, @observe opens no OpenTelemetry span: OTel spans inside skip it."""
        observer.observe()

        @observe
        def traced() -> None:
            with tracer.start_as_current_span("inside"):
                pass

        with tracer.start_as_current_span("request") as span:
            traced()
        finished = {item.name: item for item in spans.get_finished_spans()}
        assert sorted(finished) == ["inside", "request"]
        assert finished["inside"].parent.span_id == span.get_span_context().span_id
        [event] = flush_document()["function_events"]
        assert event["parent_span_id"] == ids(span)[0]

    def test_no_session_records_nothing(self, tracer: Any) -> None:
        with tracer.start_as_current_span("request"):
            assert leaf(1) == 2
        observer.observe()
        assert flush_document()["function_events"] == []

    def test_get_current_span_id_reads_the_otel_span(self, tracer: Any) -> None:
        observer.observe()
        assert observer.get_current_span_id() is None
        with tracer.start_as_current_span("request") as span:
            assert observer.get_current_span_id() == ids(span)[0]
            with observer.span("mine") as mine:
                assert observer.get_current_span_id() == mine.span_id

    def test_other_runtime_context(self, tracer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """A runtime context other than OpenTelemetry's default is read through its public API."""
        from opentelemetry import context as otel_context
        from opentelemetry.context.context import Context, _RuntimeContext

        from aiobs import _otel_parent

        class StackContext(_RuntimeContext):
            def __init__(self) -> None:
                self.stack: list[Context] = [Context()]

            def attach(self, context: Context) -> object:
                self.stack.append(context)
                return len(self.stack) - 1

            def get_current(self) -> Context:
                return self.stack[-1]

            def detach(self, token: object) -> None:
                del self.stack[int(token) :]  # type: ignore[call-overload]

        monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", StackContext())
        _otel_parent.reset()
        try:
            observer.observe()
            with tracer.start_as_current_span("request") as span:
                leaf(1)
            [event] = flush_document()["function_events"]
            assert event["parent_span_id"] == ids(span)[0]
        finally:
            _otel_parent.reset()


def test_opentelemetry_is_never_imported_by_aiobs(tmp_path: Path) -> None:
    """Recording, nested and async, leaves OpenTelemetry unimported when the program has not."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from aiobs import observe, observer

            @observe
            def leaf(x):
                return x

            @observe
            async def outer(x):
                with observer.span("manual"):
                    return leaf(x)

            observer.configure(flush_at_exit=False)
            observer.observe()
            asyncio.run(outer(1))
            observer.event("done")
            print(observer.get_current_span_id())
            print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:2] == ["None", "[]"]


def test_opentelemetry_imported_after_aiobs(tmp_path: Path) -> None:
    """A program that imports OpenTelemetry after aiobs (and after recording began) is seen."""
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys

            from aiobs import observe, observer
            from aiobs.exporters import InMemoryExporter

            def watching():
                return any(type(f).__name__ == "_ImportWatch" for f in sys.meta_path)

            print(watching())

            @observe
            def leaf(x):
                return x

            observer.configure(flush_at_exit=False)
            observer.observe()
            leaf(0)  # before the import: a root

            from opentelemetry.sdk.trace import TracerProvider

            tracer = TracerProvider().get_tracer("script")
            with tracer.start_as_current_span("request") as span:
                leaf(1)
            exporter = InMemoryExporter()
            observer.flush(exporter=exporter)
            first, second = exporter.documents[0]["function_events"]
            print(first["parent_span_id"])
            print(second["parent_span_id"] == f"{span.get_span_context().span_id:016x}")
            print(watching())  # no longer needed: removed
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:4] == ["True", "None", "True", "False"]

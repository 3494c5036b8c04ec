"""Manual spans (observer.span) and point events (observer.event)."""

from __future__ import annotations

import asyncio

import pytest

from aiobs import observe, observer
from tests.helpers import flush_document, tree_outline


@observe
def work() -> int:
    return 1


class TestSpan:
    """observer.span() is a parent for what runs inside it, sync or async."""

    def test_span_with_attributes_and_children(self) -> None:
        observer.observe()
        with observer.span("retrieve", k=5, api_key="sk-abcdefghijklmnopqrstuvwxyz") as span:
            work()
            span.set("hits", [1, 2, 3])
            span.set("k", 6)
            assert span.span_id is not None
        document = flush_document()
        spans = [e for e in document["function_events"] if e["name"] == "retrieve"]
        [record] = spans
        assert record["kind"] == "span"
        assert record["api"] == "retrieve"
        assert record["attributes"] == {"k": 6, "api_key": "[REDACTED]", "hits": [1, 2, 3]}
        assert record["span_id"] == span.span_id
        assert tree_outline(document["trace_tree"]) == [["retrieve", [["work", []]]]]

    def test_attribute_values_are_snapshotted_when_set(self) -> None:
        observer.observe()
        shared = ["before"]
        with observer.span("s") as span:
            span.set("value", shared)
            shared.append("after")
        [record] = flush_document()["function_events"]
        assert record["attributes"] == {"value": ["before"]}

    def test_exception_is_recorded_and_propagates(self) -> None:
        observer.observe()
        with pytest.raises(KeyError), observer.span("lookup"):
            raise KeyError("missing")
        [record] = flush_document()["function_events"]
        assert record["status"] == "error"
        assert record["error"] == "KeyError: 'missing'"

    def test_async_span(self) -> None:
        @observe
        async def fetch() -> int:
            await asyncio.sleep(0)
            return 2

        async def main() -> None:
            async with observer.span("batch"):
                await asyncio.gather(fetch(), fetch())

        observer.observe()
        asyncio.run(main())
        assert tree_outline(flush_document()["trace_tree"]) == [
            ["batch", [["fetch", []], ["fetch", []]]]
        ]

    def test_without_a_session_nothing_happens(self) -> None:
        with observer.span("idle") as span:
            span.set("ignored", 1)
            assert span.span_id is None
        assert flush_document()["function_events"] == []

    def test_misuse_is_reported(self) -> None:
        observer.observe()
        with pytest.raises(TypeError, match="non-empty string"):
            observer.span("")
        span = observer.span("once")
        with span, pytest.raises(RuntimeError, match="already open or used"), span:
            pass
        with observer.span("s") as open_span, pytest.raises(TypeError, match="must be strings"):
            open_span.set(1, "x")  # type: ignore[arg-type]


class TestEvent:
    """observer.event() records a zero-duration child of the current span."""

    def test_event_under_a_decorated_function(self) -> None:
        @observe
        def agent() -> None:
            observer.event("tool_call", tool="search", query="weather", token="t0ps3cret")

        observer.observe()
        agent()
        document = flush_document()
        event = next(e for e in document["function_events"] if e["name"] == "tool_call")
        parent = next(e for e in document["function_events"] if e["name"] == "agent")
        assert event["kind"] == "event"
        assert event["duration_ms"] == 0
        assert event["parent_span_id"] == parent["span_id"]
        assert event["attributes"] == {"tool": "search", "query": "weather", "token": "[REDACTED]"}
        assert tree_outline(document["trace_tree"]) == [["agent", [["tool_call", []]]]]

    def test_event_returns_its_id_or_none(self) -> None:
        assert observer.event("nowhere") is None
        observer.observe()
        event_id = observer.event("somewhere")
        [record] = flush_document()["function_events"]
        assert record["span_id"] == event_id
        assert record["parent_span_id"] is None

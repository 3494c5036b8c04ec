"""The provider core: a call becomes one event, streams complete once, totals add up."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs._context import suppress_instrumentation
from aiobs.providers.call import LLMCall
from aiobs.providers.streams import Outcome, record_async_iterator, record_iterator
from aiobs.usage import Usage
from tests.helpers import flush_document


class _HTTPError(Exception):
    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def _start(**request: Any) -> LLMCall | None:
    return LLMCall.start(
        "openai", "chat.completions.create", {"model": "gpt-4o", **request}, model="gpt-4o"
    )


def _events() -> list[dict[str, Any]]:
    return list(flush_document()["events"])


def test_nothing_is_recorded_without_a_session() -> None:
    assert _start() is None


def test_nothing_is_recorded_while_suppressed() -> None:
    observer.observe("s")
    with suppress_instrumentation():
        assert _start() is None
    assert _start() is not None


def test_calls_made_inside_a_recorded_call_are_not_recorded_again() -> None:
    observer.observe("s")
    outer = _start()
    assert outer is not None
    with outer.inside():
        assert _start() is None
    assert _start() is not None


def test_a_finished_call_is_one_event_with_the_callsite_and_cost() -> None:
    observer.observe("s")
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    line = sys._getframe().f_lineno + 1
    call = LLMCall.start("openai", "chat.completions.create", request, model="gpt-4o")
    assert call is not None
    call.finish(
        response={"id": "r1", "text": "hello"},
        usage=Usage(input_tokens=1000, output_tokens=100),
        response_model="gpt-4o-2024-08-06",
    )
    call.finish(response={"text": "again"})  # the first finish wins
    [event] = _events()
    assert event["provider"] == "openai"
    assert event["api"] == "chat.completions.create"
    assert event["operation"] == "chat"
    assert event["request"] == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert event["response"] == {"id": "r1", "text": "hello"}
    assert event["request_model"] == "gpt-4o"
    assert event["response_model"] == "gpt-4o-2024-08-06"
    assert event["status"] == "ok"
    assert event["error"] is None
    assert event["usage"]["total_tokens"] == 1100
    assert event["cost"] == {"input": 0.0025, "output": 0.001, "total": 0.0035}
    assert event["callsite"] == {
        "file": __file__,
        "line": line,
        "function": "test_a_finished_call_is_one_event_with_the_callsite_and_cost",
    }
    assert event["ended_at"] >= event["started_at"]
    assert "stream" not in event


def test_the_request_is_a_snapshot_with_secrets_hidden() -> None:
    observer.observe("s")
    messages = [{"role": "user", "content": "my key is sk-proj-abcdefghijklmnopqrstuvwxyz012345"}]
    call = _start(messages=messages, api_key="hunter2")
    assert call is not None
    messages.append({"role": "user", "content": "added after the call"})
    call.finish(response={"text": "ok"})
    [event] = _events()
    assert len(event["request"]["messages"]) == 1
    assert "sk-proj" not in event["request"]["messages"][0]["content"]
    assert event["request"]["api_key"] == "[REDACTED]"


def test_a_failed_call_keeps_the_error_and_its_http_status() -> None:
    observer.observe("s")
    call = _start()
    assert call is not None
    call.fail(_HTTPError("rate limited, key sk-abcdefghijklmnopqrstuvwx1234", 429))
    [event] = _events()
    assert event["status"] == "error"
    assert event["error"].startswith("_HTTPError: rate limited")
    assert "sk-abcdef" not in event["error"]
    assert event["exception"]["type"] == "tests.test_provider_core._HTTPError"
    assert event["exception"]["status_code"] == 429
    assert event["usage"] is None
    assert event["cost"] is None


def test_calls_are_children_of_the_current_span() -> None:
    observer.observe("s")

    @observe
    def pipeline() -> None:
        call = _start()
        assert call is not None
        call.finish(response={"text": "x"})

    pipeline()
    document = flush_document()
    [function_event] = document["function_events"]
    [event] = document["events"]
    assert event["parent_span_id"] == function_event["span_id"]
    assert event["trace_id"] == function_event["trace_id"]
    assert document["trace_tree"][0]["children"][0]["api"] == "chat.completions.create"


def test_sessions_carry_the_totals_of_their_calls() -> None:
    observer.observe("s")
    for usage, model in [
        (Usage(1000, 100, cached_input_tokens=200), "gpt-4o"),
        (Usage(10, 1, reasoning_tokens=1), "gpt-4o-mini"),
        (Usage(5, 5), "unknown-model"),
    ]:
        call = LLMCall.start("openai", "chat.completions.create", {}, model=model)
        assert call is not None
        call.finish(usage=usage)
    failed = _start()
    assert failed is not None
    failed.fail(RuntimeError("boom"))
    [session] = flush_document()["sessions"]
    assert session["llm_calls"] == 4
    assert session["llm_errors"] == 1
    assert session["usage"] == {
        "input_tokens": 1015,
        "output_tokens": 106,
        "total_tokens": 1121,
        "cached_input_tokens": 200,
        "reasoning_tokens": 1,
    }
    expected = (800 * 2.5 + 200 * 1.25 + 100 * 10 + 10 * 0.15 + 0.6) / 1e6
    assert session["cost"]["total"] == pytest.approx(expected)
    assert session["cost"]["unpriced_calls"] == 1


def test_costs_use_the_prices_in_force_when_the_call_finished() -> None:
    """Costs and totals are worked out at export, with the table the call finished under."""
    observer.configure(pricing={"openai": {"house-model": {"input": 1.0, "output": 2.0}}})
    observer.observe("s")
    call = LLMCall.start("openai", "chat.completions.create", {}, model="house-model")
    assert call is not None
    call.finish(usage=Usage(1_000_000, 1_000_000))
    observer.configure(pricing={"openai": {"house-model": {"input": 100.0, "output": 200.0}}})
    document = flush_document()
    [event] = document["events"]
    assert event["cost"] == {"input": 1.0, "output": 2.0, "total": 3.0}
    [session] = document["sessions"]
    assert session["cost"] == {"input": 1.0, "output": 2.0, "total": 3.0, "unpriced_calls": 0}


def test_totals_count_every_call_of_many_threads_between_flushes() -> None:
    """More calls than the totals keep pending, from several threads: each counted once."""
    observer.observe("s")

    def calls() -> None:
        for _ in range(700):
            call = LLMCall.start("openai", "chat.completions.create", {}, model="gpt-4o")
            assert call is not None
            call.finish(usage=Usage(3, 2))

    threads = [threading.Thread(target=calls) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = flush_document()["sessions"][0]
    assert first["llm_calls"] == 2100
    assert first["usage"]["total_tokens"] == 2100 * 5
    assert first["cost"]["total"] == pytest.approx(2100 * (3 * 2.5 + 2 * 10) / 1e6)
    calls()
    assert flush_document()["sessions"][0]["llm_calls"] == 2800


def test_sessions_without_calls_have_no_totals() -> None:
    observer.observe("s")
    [session] = flush_document()["sessions"]
    assert session["llm_calls"] == 0
    assert session["usage"] is None
    assert session["cost"] is None


class _TextAccumulator:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, chunk: Any) -> None:
        self.parts.append(str(chunk))

    def outcome(self) -> Outcome:
        return Outcome(
            response={"text": "".join(self.parts)},
            usage=Usage(1, len(self.parts)),
            response_model="gpt-4o",
        )


def _stream_call() -> LLMCall:
    call = LLMCall.start("openai", "chat.completions.create", {"stream": True}, model="gpt-4o")
    assert call is not None
    return call


def test_an_exhausted_stream_is_completed_with_everything_it_carried() -> None:
    observer.observe("s")
    seen = list(record_iterator(_stream_call(), iter("abc"), _TextAccumulator()))
    assert seen == ["a", "b", "c"]
    [event] = _events()
    assert event["response"]["text"] == "abc"
    assert event["status"] == "ok"
    assert event["stream"]["chunks"] == 3
    assert event["stream"]["status"] == "completed"
    assert 0 <= event["stream"]["ttft_ms"] <= event["duration_ms"]


def test_a_stream_closed_early_keeps_what_arrived() -> None:
    observer.observe("s")
    stream = record_iterator(_stream_call(), iter("abcdef"), _TextAccumulator())
    assert next(stream) == "a"
    assert next(stream) == "b"
    stream.close()
    [event] = _events()
    assert event["response"]["text"] == "ab"
    assert event["status"] == "closed"
    assert event["stream"] == {**event["stream"], "chunks": 2, "status": "closed"}


def test_a_stream_dropped_unfinished_is_completed_by_the_garbage_collector() -> None:
    observer.observe("s")
    stream = record_iterator(_stream_call(), iter("abcdef"), _TextAccumulator())
    next(stream)
    del stream
    gc.collect()
    [event] = _events()
    assert event["stream"]["status"] == "closed"
    assert event["response"]["text"] == "a"


def test_a_stream_that_fails_records_the_error_and_reraises_it() -> None:
    observer.observe("s")

    def chunks() -> Iterator[str]:
        yield "a"
        raise _HTTPError("connection reset", 500)

    error: _HTTPError | None = None
    seen = []
    try:
        seen.extend(record_iterator(_stream_call(), chunks(), _TextAccumulator()))
    except _HTTPError as exc:
        error = exc
    assert error is not None
    assert str(error) == "connection reset"
    assert seen == ["a"]
    [event] = _events()
    assert event["status"] == "error"
    assert event["stream"]["status"] == "error"
    assert event["exception"]["status_code"] == 500
    assert event["response"]["text"] == "a"


def test_hidden_chunks_are_recorded_but_not_delivered() -> None:
    observer.observe("s")
    seen = list(
        record_iterator(
            _stream_call(), iter("abZ"), _TextAccumulator(), hide=lambda chunk: chunk == "Z"
        )
    )
    assert seen == ["a", "b"]
    [event] = _events()
    assert event["response"]["text"] == "abZ"


def test_an_async_stream_is_recorded_the_same_way() -> None:
    async def chunks() -> AsyncIterator[str]:
        for chunk in "xyz":
            yield chunk

    async def main() -> list[str]:
        async with observer.session("async"):
            wrapped = record_async_iterator(_stream_call(), chunks(), _TextAccumulator())
            seen = [chunk async for chunk in wrapped]
            closed = record_async_iterator(_stream_call(), chunks(), _TextAccumulator())
            seen.append(await closed.__anext__())
            await closed.aclose()
            return seen

    assert asyncio.run(main()) == ["x", "y", "z", "x"]
    events = _events()
    assert [(e["response"]["text"], e["stream"]["status"]) for e in events] == [
        ("xyz", "completed"),
        ("x", "closed"),
    ]


def test_a_broken_accumulator_does_not_break_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiobs import _guard

    monkeypatch.setattr(_guard, "_raise_internal_errors", False)
    observer.observe("s")

    class Broken(_TextAccumulator):
        def add(self, chunk: Any) -> None:
            raise ValueError("bug in aiobs")

    assert list(record_iterator(_stream_call(), iter("ab"), Broken())) == ["a", "b"]
    [event] = _events()
    assert event["stream"]["chunks"] == 2


def test_buffered_provider_events_leave_little_for_the_garbage_collector() -> None:
    observer.observe("s")
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}

    def record(count: int) -> None:
        for _ in range(count):
            call = LLMCall.start("openai", "chat.completions.create", request, model="gpt-4o")
            assert call is not None
            call.finish(response={"text": "hello", "usage": {"total_tokens": 3}}, usage=Usage(1, 2))

    record(10)
    gc.collect()
    before = len(gc.get_objects())
    record(1000)
    gc.collect()
    tracked_per_event = (len(gc.get_objects()) - before) / 1000
    assert tracked_per_event <= 2.5, tracked_per_event
    assert len(flush_document()["events"]) == 1010


def test_requests_that_json_cannot_hold_are_still_captured() -> None:
    class Tool:
        def __repr__(self) -> str:
            return "<Tool search>"

    observer.observe("s")
    for request in (
        {"model": "gpt-4o", "tools": [Tool()]},
        {"model": "gpt-4o", "file": b"\xff\xfe not utf-8"},
    ):
        call = LLMCall.start("openai", "chat.completions.create", request, model="gpt-4o")
        assert call is not None
        call.finish(response={"text": "ok"})
    first, second = flush_document()["events"]
    assert first["request"]["model"] == "gpt-4o"
    assert "Tool" in str(first["request"]["tools"])
    assert second["request"]["model"] == "gpt-4o"
    assert second["request"]["file"]


def test_a_provider_record_is_built_alike_both_ways_and_buffered_at_a_records_width() -> None:
    from aiobs.pricing import Pricing
    from aiobs.providers.call import _MODEL_ROW_PADDING, ProviderRecord

    fields = ("openai", "chat.completions.create", "chat", b"{}", None, 1.0, 2.0, None, 1, None)
    fields += (2, "gpt-4o", "gpt-4o", "ok", (10, 5, 15, None, None, None, False), None, None)
    pricing = Pricing.default()
    built, made = ProviderRecord(fields, pricing), ProviderRecord.of(fields, pricing)
    for record in (built, made):
        assert record.data["usage"]["total_tokens"] == 15
        assert record.cost is not None
        assert record.is_function is False
        assert record.deferred == ("request", "response")
    assert built.data == made.data
    assert (made, *_MODEL_ROW_PADDING) == made.as_record()

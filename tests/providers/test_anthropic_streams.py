"""Anthropic streams: ``messages.create(stream=True)`` and the ``messages.stream()`` helper.

Each stream is one event, completed when it is read to the end, fails, or is closed early
(``close()``, the end of its ``with`` block, or the garbage collector).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")

from anthropic.lib.streaming import AsyncMessageStream, MessageStream  # noqa: E402
from anthropic.resources.messages import Messages  # noqa: E402

from aiobs import observe, observer, providers  # noqa: E402
from aiobs.providers.base import version_tuple  # noqa: E402
from aiobs.standin import Reply, StandinServer  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens, pieces  # noqa: E402
from aiobs.standin.anthropic import (  # noqa: E402
    build_message,
    error_event,
    error_reply,
    stream_events,
)
from tests.helpers import flush_document  # noqa: E402
from tests.providers import clients  # noqa: E402
from tests.providers.clients import (  # noqa: E402
    anthropic_client,
)
from tests.providers.clients import run_with_async_anthropic as run_async  # noqa: E402
from tests.providers.conftest import next_line, only_event, provider_events, user  # noqa: E402

SDK_VERSION = version_tuple(importlib.metadata.version("anthropic"))
MODEL = "claude-haiku-4-5"
SNAPSHOT = "claude-haiku-4-5-20251001"
SEARCH_TOOL = {
    "name": "search",
    "description": "Search the web.",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}

HAS_THINKING = "thinking" in inspect.signature(Messages.create).parameters
needs_thinking = pytest.mark.skipif(
    not HAS_THINKING, reason=f"anthropic {SDK_VERSION} has no extended thinking"
)


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Any]:
    """A client of the stand-in that raises at the first error (no retries)."""
    with anthropic_client(standin) as made:
        yield made


@pytest.fixture(autouse=True)
def session() -> str:
    """Each test records into a fresh default session."""
    return observer.observe("anthropic-stream-tests")


def stand_in_events(question: str, **body: Any) -> list[bytes]:
    """The events the stand-in streams for one user question."""
    request = {"model": MODEL, "max_tokens": 64, "messages": user(question), **body}
    return stream_events(build_message(request))


def raw_events_for(question: str) -> int:
    """How many events the SDK yields for a streamed text answer (pings are not yielded)."""
    # message_start, content_block_start, the words, content_block_stop, message_delta, stop
    return 5 + len(pieces(answer_for(question)))


def cost(input_tokens: int, output_tokens: int, read: int = 0, write: int = 0) -> dict[str, float]:
    """The cost of a haiku-4-5 call from the shipped pricing table, computed apart from aiobs."""
    whole_prompt = input_tokens + read + write
    return clients.expected_cost(
        "anthropic", MODEL, whole_prompt, output_tokens, cached=read, cache_write=write
    )


def dumped(events: list[Any]) -> list[dict[str, Any]]:
    """Stream events as plain data, for comparing two runs."""
    return [event.model_dump() for event in events]


# -- create(stream=True) ---------------------------------------------------------------------------


class TestCreateStream:
    """``messages.create(stream=True)``: the SDK's own stream, recorded as it is read."""

    def test_a_read_stream_is_one_complete_event(self, client: Any, session: str) -> None:
        question = "stream me an answer"

        @observe
        def ask() -> list[Any]:
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=user(question), stream=True
            )
            assert isinstance(stream, anthropic.Stream)
            return list(stream)

        events = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for(question)
        input_tokens, output_tokens = count_tokens(question), count_tokens(answer)

        assert [chunk.type for chunk in events[:2]] == ["message_start", "content_block_start"]
        assert len(events) == raw_events_for(question)
        assert event["api"] == "messages.create"
        assert event["operation"] == "chat"
        assert event["request"] == {
            "model": MODEL,
            "max_tokens": 64,
            "messages": user(question),
            "stream": True,
        }
        assert event["response_model"] == SNAPSHOT
        assert event["response"] == {
            "id": events[0].message.id,
            "model": SNAPSHOT,
            "text": answer,
            "finish_reasons": ["end_turn"],
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": output_tokens,
                "service_tier": "standard",
            },
        }
        # message_start said output_tokens=1 and both events carry input_tokens: latest wins
        assert event["usage"] == {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "cached_input_tokens": 0,
            "reasoning_tokens": None,
            "cache_write_tokens": 0,
        }
        assert event["cost"] == cost(input_tokens, output_tokens)
        assert event["status"] == "ok"
        assert event["stream"]["status"] == "completed"
        assert event["stream"]["chunks"] == len(events)
        assert 0 < event["stream"]["ttft_ms"] <= event["duration_ms"]
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session
        assert event["callsite"]["function"] == "ask"

    def test_the_stream_keeps_its_type_response_and_context_manager(self, client: Any) -> None:
        with client.messages.create(
            model=MODEL, max_tokens=64, messages=user("typed"), stream=True
        ) as stream:
            assert type(stream) is anthropic.Stream
            assert stream.response.status_code == 200
            first = next(stream)
            rest = list(stream)
        assert first.type == "message_start"
        assert rest[-1].type == "message_stop"
        assert only_event()["stream"]["status"] == "completed"

    def test_streamed_tool_calls_are_assembled(self, client: Any) -> None:
        stream = client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=user("weather in Rome"),
            tools=[SEARCH_TOOL],
            stream=True,
        )
        events = list(stream)
        start = next(e for e in events if e.type == "content_block_start")
        event = only_event()
        assert event["response"]["tool_calls"] == [
            {
                "id": start.content_block.id,
                "name": "search",
                "arguments": {"query": "weather in Rome"},
            }
        ]
        assert event["response"]["text"] == ""
        assert event["response"]["finish_reasons"] == ["tool_use"]
        assert event["request"]["tools"] == [SEARCH_TOOL]

    def test_streamed_cache_usage_is_taken_once(self, client: Any) -> None:
        list(
            client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=user("cached stream"),
                metadata={"standin_cache": {"read": 800, "write": 200}},
                stream=True,
            )
        )
        uncached = count_tokens("cached stream")
        output_tokens = count_tokens(answer_for("cached stream"))
        event = only_event()
        assert event["usage"] == {
            "input_tokens": uncached + 1000,
            "output_tokens": output_tokens,
            "total_tokens": uncached + 1000 + output_tokens,
            "cached_input_tokens": 800,
            "reasoning_tokens": None,
            "cache_write_tokens": 200,
        }
        assert event["cost"] == cost(uncached, output_tokens, read=800, write=200)

    @needs_thinking
    def test_streamed_thinking_is_output_but_not_text(self, client: Any) -> None:
        with client.messages.stream(
            model=MODEL,
            max_tokens=2048,
            messages=user("think aloud"),
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream:
            final = stream.get_final_message()
        thinking, text = final.content
        thinking_tokens = count_tokens(thinking.thinking)
        event = only_event()
        assert event["response"]["text"] == text.text == answer_for("think aloud")
        assert event["usage"]["reasoning_tokens"] == thinking_tokens
        assert event["usage"]["output_tokens"] == thinking_tokens + count_tokens(text.text)
        assert event["response"]["usage"]["output_tokens_details"] == {
            "thinking_tokens": thinking_tokens
        }

    def test_usage_from_message_start_when_message_delta_has_only_output(
        self, client: Any, standin: StandinServer
    ) -> None:
        events = stand_in_events("older wire format")
        delta = json.loads(events[-2].split(b"data: ", 1)[1])
        assert delta["type"] == "message_delta"
        delta["usage"] = {"output_tokens": 9}
        events[-2] = b"event: message_delta\ndata: " + json.dumps(delta).encode() + b"\n\n"
        standin.fail_next(Reply.sse(events))
        list(
            client.messages.create(
                model=MODEL, max_tokens=64, messages=user("older wire format"), stream=True
            )
        )
        event = only_event()
        assert event["usage"]["input_tokens"] == count_tokens("older wire format")
        assert event["usage"]["output_tokens"] == 9
        assert event["response"]["usage"]["output_tokens"] == 9

    def test_instrumented_streams_yield_what_the_sdk_yields(self, client: Any) -> None:
        def read() -> tuple[type, list[Any]]:
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=user("same"), stream=True
            )
            return type(stream), list(stream)

        recorded_type, recorded = read()
        providers.uninstrument()
        plain_type, plain = read()
        assert recorded_type is plain_type
        assert dumped(recorded) == dumped(plain)
        assert len(provider_events()) == 1

    def test_async_stream(self, standin: StandinServer, session: str) -> None:
        @observe
        async def ask(client: Any) -> tuple[Any, list[Any]]:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user("async stream"), stream=True
            )
            return stream, [chunk async for chunk in stream]

        stream, events = run_async(standin, ask)
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        assert type(stream) is anthropic.AsyncStream
        assert event["api"] == "messages.create"
        assert event["response"]["text"] == answer_for("async stream")
        assert event["response"]["id"] == events[0].message.id
        assert event["usage"]["output_tokens"] == count_tokens(answer_for("async stream"))
        assert event["stream"] == {
            "ttft_ms": event["stream"]["ttft_ms"],
            "chunks": len(events),
            "status": "completed",
        }
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_async_streams_yield_what_the_sdk_yields(self, standin: StandinServer) -> None:
        async def read(client: Any) -> list[Any]:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user("same"), stream=True
            )
            return [chunk async for chunk in stream]

        recorded = run_async(standin, read)
        providers.uninstrument()
        plain = run_async(standin, read)
        assert dumped(recorded) == dumped(plain)
        assert len(provider_events()) == 1


class TestClosedEarly:
    """A stream left before its end is recorded as ``closed`` with what arrived."""

    QUESTION = "a question with a long enough answer"

    def open(self, client: Any) -> Any:
        return client.messages.create(
            model=MODEL, max_tokens=64, messages=user(self.QUESTION), stream=True
        )

    def assert_closed_after(self, taken: int) -> None:
        event = only_event()
        words = pieces(answer_for(self.QUESTION))
        assert event["status"] == "closed"
        assert event["error"] is None
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == taken
        # message_start and content_block_start come before the words
        assert event["response"]["text"] == "".join(words[: taken - 2])
        assert event["response"]["id"].startswith("msg_")
        assert event["usage"]["input_tokens"] == count_tokens(self.QUESTION)
        assert event["usage"]["output_tokens"] == 1  # all that message_start reported
        assert "finish_reasons" not in event["response"]

    def test_break_then_close(self, client: Any) -> None:
        stream = self.open(client)
        for index, _ in enumerate(stream):
            if index == 3:
                break
        assert provider_events() == []  # still open: nothing recorded yet
        stream.close()
        self.assert_closed_after(4)

    def test_leaving_the_with_block(self, client: Any) -> None:
        with self.open(client) as stream:
            next(stream)
            next(stream)
            next(stream)
        self.assert_closed_after(3)

    def test_garbage_collection(self, client: Any) -> None:
        stream = self.open(client)
        next(stream)
        next(stream)
        next(stream)
        del stream
        gc.collect()
        self.assert_closed_after(3)

    def test_closing_a_finished_stream_changes_nothing(self, client: Any) -> None:
        stream = self.open(client)
        events = list(stream)
        stream.close()
        event = only_event()
        assert event["status"] == "ok"
        assert event["stream"]["status"] == "completed"
        assert event["stream"]["chunks"] == len(events)

    def test_async_break_then_close(self, standin: StandinServer) -> None:
        async def work(client: Any) -> None:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user(self.QUESTION), stream=True
            )
            taken = 0
            async for _ in stream:
                taken += 1
                if taken == 4:
                    break
            await stream.close()

        run_async(standin, work)
        self.assert_closed_after(4)

    def test_async_with_block(self, standin: StandinServer) -> None:
        async def work(client: Any) -> None:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user(self.QUESTION), stream=True
            )
            async with stream:
                await stream.__anext__()
                await stream.__anext__()
                await stream.__anext__()

        run_async(standin, work)
        self.assert_closed_after(3)

    def test_async_garbage_collection(self, standin: StandinServer) -> None:
        async def work(client: Any) -> None:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user(self.QUESTION), stream=True
            )
            await stream.__anext__()
            await stream.__anext__()
            await stream.__anext__()
            del stream
            gc.collect()
            for _ in range(5):  # the loop closes dropped async generators in its own time
                await asyncio.sleep(0)

        run_async(standin, work)
        self.assert_closed_after(3)


class TestStreamErrors:
    """A stream that fails is recorded as an error, with what arrived before."""

    def test_an_error_event_mid_stream(self, client: Any, standin: StandinServer) -> None:
        events = stand_in_events("breaks off")
        standin.fail_next(Reply.sse([*events[:5], error_event(529, "Overloaded")]))
        stream = client.messages.create(
            model=MODEL, max_tokens=64, messages=user("breaks off"), stream=True
        )
        received: list[Any] = []
        with pytest.raises(anthropic.APIStatusError) as caught:
            received.extend(stream)
        event = only_event()
        name = type(caught.value).__name__
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["stream"]["chunks"] == len(received) == 4  # the ping is not yielded
        assert event["response"]["text"] == "".join(pieces(answer_for("breaks off"))[:2])
        assert event["exception"]["type"] == f"{type(caught.value).__module__}.{name}"
        assert event["exception"]["message"] == str(caught.value)
        assert "Overloaded" in event["exception"]["message"]
        assert event["error"] == f"{name}: {caught.value}"

    def test_a_connection_dropped_mid_stream(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(Reply.sse(stand_in_events("dropped"), reset_after_events=4))
        stream = client.messages.create(
            model=MODEL, max_tokens=64, messages=user("dropped"), stream=True
        )
        received = []
        with pytest.raises(Exception, match="incomplete chunked read") as raised:
            received.extend(stream)
        event = only_event()
        assert [chunk.type for chunk in received][-1] == "content_block_delta"
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["exception"]["type"].endswith(type(raised.value).__name__)
        assert event["error"] == f"{type(raised.value).__name__}: {raised.value}"
        assert event["stream"]["chunks"] == len(received) == 3  # (the ping is not yielded)
        assert event["response"]["text"] == pieces(answer_for("dropped"))[0]
        assert "finish_reasons" not in event["response"]  # no message_delta arrived
        assert event["usage"]["output_tokens"] == 1  # message_start's count, all there is

    def test_an_error_before_the_stream_starts(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(429, "slow down"))
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"), stream=True)
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["status_code"] == 429
        assert "stream" not in event

    def test_async_error_event_mid_stream(self, standin: StandinServer) -> None:
        events = stand_in_events("async breaks off")
        standin.fail_next(Reply.sse([*events[:5], error_event(500, "boom")]))

        async def work(client: Any) -> None:
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user("async breaks off"), stream=True
            )
            async for _ in stream:
                pass

        with pytest.raises(anthropic.APIStatusError):
            run_async(standin, work)
        event = only_event()
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["stream"]["chunks"] == 4


# -- the messages.stream() helper ------------------------------------------------------------------


class TestStreamHelper:
    """``messages.stream()`` is one event (api ``messages.stream``), however it is read."""

    def test_text_stream_and_final_message(self, client: Any, session: str) -> None:
        question = "helper question"

        @observe
        def ask() -> tuple[str, Any, str]:
            nonlocal line
            line = next_line()
            with client.messages.stream(
                model=MODEL, max_tokens=64, system="Be brief.", messages=user(question)
            ) as stream:
                assert isinstance(stream, MessageStream)
                text = "".join(stream.text_stream)
                return text, stream.get_final_message(), stream.get_final_text()

        line = 0
        text, final, final_text = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for(question)
        input_tokens = count_tokens(f"Be brief.\n{question}")
        output_tokens = count_tokens(answer)

        assert text == final_text == answer
        assert event["api"] == "messages.stream"
        assert event["operation"] == "chat"
        assert event["provider"] == "anthropic"
        assert event["request"] == {
            "model": MODEL,
            "max_tokens": 64,
            "system": "Be brief.",
            "messages": user(question),
        }
        assert event["response"]["id"] == final.id
        assert event["response"]["model"] == SNAPSHOT
        assert event["response"]["text"] == answer
        assert event["response"]["finish_reasons"] == ["end_turn"]
        assert event["response"]["usage"]["output_tokens"] == output_tokens
        assert event["usage"]["input_tokens"] == input_tokens
        assert event["usage"]["output_tokens"] == output_tokens == final.usage.output_tokens
        assert event["cost"] == cost(input_tokens, output_tokens)
        assert event["status"] == "ok"
        assert event["stream"]["status"] == "completed"
        assert event["stream"]["chunks"] == raw_events_for(question)
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_until_done_and_the_snapshot(self, client: Any) -> None:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=user("until done")
        ) as stream:
            stream.until_done()
            snapshot = stream.current_message_snapshot
        event = only_event()
        assert snapshot.content[0].text == event["response"]["text"] == answer_for("until done")
        assert event["stream"]["status"] == "completed"

    def test_helper_tool_calls(self, client: Any) -> None:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=user("find cats"), tools=[SEARCH_TOOL]
        ) as stream:
            final = stream.get_final_message()
        (block,) = final.content
        event = only_event()
        assert event["response"]["tool_calls"] == [
            {"id": block.id, "name": "search", "arguments": {"query": "find cats"}}
        ]
        assert event["response"]["finish_reasons"] == ["tool_use"]

    def test_the_helper_returns_what_the_sdk_returns(self, client: Any) -> None:
        def read() -> tuple[type, list[dict[str, Any]], dict[str, Any]]:
            with client.messages.stream(
                model=MODEL, max_tokens=64, messages=user("same")
            ) as stream:
                events = dumped(list(stream))
                return type(stream), events, stream.get_final_message().model_dump()

        recorded = read()
        providers.uninstrument()
        plain = read()
        assert recorded == plain
        assert len(provider_events()) == 1

    def test_leaving_the_helper_early(self, client: Any) -> None:
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=user("leave early")
        ) as stream:
            for text in stream.text_stream:
                first_word = text
                break
        event = only_event()
        assert first_word == pieces(answer_for("leave early"))[0]
        assert event["api"] == "messages.stream"
        assert event["status"] == "closed"
        assert event["stream"]["status"] == "closed"
        assert event["response"]["text"] == first_word

    def test_closing_the_helper_stream(self, client: Any) -> None:
        manager = client.messages.stream(model=MODEL, max_tokens=64, messages=user("close it"))
        stream = manager.__enter__()
        next(iter(stream))
        stream.close()
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"]["chunks"] == 1
        manager.__exit__(None, None, None)
        assert provider_events() == []  # completed once only

    def test_a_dropped_helper_stream(self, client: Any) -> None:
        manager = client.messages.stream(model=MODEL, max_tokens=64, messages=user("dropped"))
        stream = manager.__enter__()
        next(iter(stream))
        del stream, manager
        gc.collect()
        event = only_event()
        assert event["status"] == "closed"
        assert event["api"] == "messages.stream"

    def test_a_helper_never_entered_records_nothing(
        self, client: Any, standin: StandinServer
    ) -> None:
        manager = client.messages.stream(model=MODEL, max_tokens=64, messages=user("unused"))
        del manager
        gc.collect()
        assert standin.requests == []
        assert provider_events() == []

    def test_a_failed_helper_request(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(500, "helper failed"))
        with (
            pytest.raises(anthropic.InternalServerError),
            client.messages.stream(model=MODEL, max_tokens=64, messages=user("fails")),
        ):
            pass
        event = only_event()
        assert event["api"] == "messages.stream"
        assert event["status"] == "error"
        assert event["exception"]["status_code"] == 500
        assert event["response"] is None

    def test_async_helper(self, standin: StandinServer, session: str) -> None:
        @observe
        async def ask(client: Any) -> tuple[str, Any]:
            async with client.messages.stream(
                model=MODEL, max_tokens=64, messages=user("async helper")
            ) as stream:
                assert isinstance(stream, AsyncMessageStream)
                text = "".join([piece async for piece in stream.text_stream])
                return text, await stream.get_final_message()

        text, final = run_async(standin, ask)
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        assert text == answer_for("async helper")
        assert event["api"] == "messages.stream"
        assert event["response"]["id"] == final.id
        assert event["response"]["text"] == text
        assert event["usage"]["output_tokens"] == final.usage.output_tokens
        assert event["stream"]["status"] == "completed"
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_async_helper_left_early(self, standin: StandinServer) -> None:
        async def work(client: Any) -> None:
            async with client.messages.stream(
                model=MODEL, max_tokens=64, messages=user("async leave")
            ) as stream:
                async for _ in stream:
                    break

        run_async(standin, work)
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_async_helpers_in_parallel_spans(self, standin: StandinServer) -> None:
        @observe
        async def ask(client: Any, question: str) -> str:
            async with client.messages.stream(
                model=MODEL, max_tokens=64, messages=user(question)
            ) as stream:
                return await stream.get_final_text()

        async def work(client: Any) -> list[str]:
            return await asyncio.gather(*(ask(client, f"parallel {n}") for n in range(3)))

        answers = run_async(standin, work)
        assert answers == [answer_for(f"parallel {n}") for n in range(3)]
        document = flush_document()
        spans = {event["args"][1]: event["span_id"] for event in document["function_events"]}
        assert len(document["events"]) == 3
        for event in document["events"]:
            question = event["request"]["messages"][0]["content"]
            assert event["parent_span_id"] == spans[question]
            assert event["response"]["text"] == answer_for(question)

"""Gemini streams: recorded as the program reads them, completed however they end."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
from typing import Any

import pytest

genai = pytest.importorskip("google.genai")

from google.genai import errors, types  # noqa: E402 - after the importorskip

from aiobs import observe, providers  # noqa: E402
from aiobs.standin import Reply, Request, StandinServer  # noqa: E402
from aiobs.standin import gemini as standin_gemini  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens, pieces  # noqa: E402
from aiobs.standin.gemini import error_reply  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers.conftest import only_event, provider_events  # noqa: E402
from tests.providers.test_gemini import (  # noqa: E402
    MODEL,
    client,
    expected_cost,
    next_line,
    public,
    pytestmark,
    reply_id,
    run_async,
    session,
)

__all__ = ["client", "pytestmark", "session"]  # shared with test_gemini

UNREADABLE_CHUNK: type[Exception] = getattr(errors, "UnknownApiResponseError", json.JSONDecodeError)
"""What the SDK raises on a chunk that is not JSON (older releases let json's error through)."""


def stream_reply(question: str, **options: Any) -> Reply:
    """The stand-in's own streamed reply to ``question``, with ``options`` changed."""
    body = {"contents": [{"role": "user", "parts": [{"text": question}]}]}
    request = Request(
        method="POST",
        path=f"/v1beta/models/{MODEL}:streamGenerateContent",
        query={"alt": ["sse"]},
        headers={},
        body=json.dumps(body).encode(),
    )
    reply = standin_gemini.handle(request)
    assert reply is not None
    return dataclasses.replace(reply, **options)


def broken_after(question: str, good_events: int) -> Reply:
    """The stand-in's stream for ``question``, cut by an unreadable event after a few good ones."""
    reply = stream_reply(question)
    assert reply.events is not None
    return dataclasses.replace(reply, events=[*reply.events[:good_events], b"data: {cut\r\n\r\n"])


def read_into(texts: list[str], stream: Any) -> None:
    """Read a stream to its end, keeping each chunk's text."""
    for chunk in stream:
        texts.append(chunk.text)  # noqa: PERF401 - the texts read before a failure are kept


async def read_async_into(texts: list[str], stream: Any) -> None:
    """Read an async stream to its end, keeping each chunk's text."""
    async for chunk in stream:
        texts.append(chunk.text)  # noqa: PERF401 - the texts read before a failure are kept


class TestSyncStreams:
    """``client.models.generate_content_stream``."""

    def test_every_field_of_a_streamed_event(self, client: Any, session: str) -> None:
        question = "stream a short answer"
        line = 0

        @observe
        def ask() -> list[Any]:
            nonlocal line
            line = next_line()
            stream = client.models.generate_content_stream(
                model=MODEL, contents=question, config={"temperature": 0.3}
            )
            return list(stream)

        chunks = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for(question)
        prompt, output = count_tokens(question), count_tokens(answer)

        assert [chunk.text for chunk in chunks] == pieces(answer)
        assert event["api"] == "models.generate_content_stream"
        assert event["operation"] == "generate_content"
        assert event["request"] == {
            "model": MODEL,
            "contents": question,
            "config": {"temperature": 0.3},
        }
        response = event["response"]
        assert response["id"] == reply_id(chunks[-1])
        assert response["model"] == "gemini-2.5-flash-001"
        assert response["text"] == answer
        assert response["finish_reasons"] == ["STOP"]
        assert response["usage"]["candidates_token_count"] == output
        assert event["usage"] == {
            "input_tokens": prompt,
            "output_tokens": output,
            "total_tokens": prompt + output,
            "cached_input_tokens": None,
            "reasoning_tokens": None,
        }
        assert event["cost"] == expected_cost(MODEL, prompt, output)
        assert event["stream"]["chunks"] == len(chunks)
        assert event["stream"]["status"] == "completed"
        assert 0 < event["stream"]["ttft_ms"] <= event["duration_ms"]
        assert event["status"] == "ok"
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["trace_id"] == function["trace_id"]
        assert event["session_id"] == session

    def test_cumulative_usage_is_taken_from_the_last_chunk(self, client: Any) -> None:
        question = "count my tokens please"
        chunks = list(client.models.generate_content_stream(model=MODEL, contents=question))
        event = only_event()
        seen = [chunk.usage_metadata.candidates_token_count for chunk in chunks]
        assert len(seen) > 2
        assert seen == sorted(seen)  # each chunk carries the total so far
        assert event["usage"]["output_tokens"] == seen[-1]
        assert event["usage"]["output_tokens"] != sum(seen)
        assert event["usage"]["input_tokens"] == count_tokens(question)
        assert event["usage"]["total_tokens"] == chunks[-1].usage_metadata.total_token_count

    def test_a_streamed_function_call(self, client: Any) -> None:
        config = types.GenerateContentConfig(
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(name="lookup", description="Look it up.")
                    ]
                )
            ]
        )
        chunks = list(
            client.models.generate_content_stream(
                model=MODEL, contents="look up aiobs", config=config
            )
        )
        event = only_event()
        (call,) = chunks[-1].function_calls
        assert event["response"]["tool_calls"] == [
            {"id": call.id, "name": "lookup", "arguments": {"query": "look up aiobs"}}
        ]
        assert event["response"]["text"] is None
        assert event["stream"]["status"] == "completed"

    def test_the_program_gets_the_same_stream(self, client: Any) -> None:
        recorded = client.models.generate_content_stream(model=MODEL, contents="same stream")
        recorded_chunks = list(recorded)
        providers.uninstrument()
        plain = client.models.generate_content_stream(model=MODEL, contents="same stream")
        assert type(recorded) is type(plain)
        assert [public(chunk) for chunk in recorded_chunks] == [public(chunk) for chunk in plain]
        assert len(provider_events()) == 1


class TestStreamEndings:
    """A stream's event completes when it is exhausted, closed early, dropped, or fails."""

    question = "a stream that will not be read to the end"

    def _assert_closed_after_two(self, event: dict[str, Any]) -> None:
        words = pieces(answer_for(self.question))
        assert event["status"] == "closed"
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 2
        assert event["response"]["text"] == "".join(words[:2])
        assert "finish_reasons" not in event["response"]
        assert event["usage"]["output_tokens"] == count_tokens("".join(words[:2]))
        assert event["error"] is None

    def test_break_and_close(self, client: Any) -> None:
        stream = client.models.generate_content_stream(model=MODEL, contents=self.question)
        for number, _chunk in enumerate(stream, start=1):
            if number == 2:
                break
        assert provider_events() == []  # still open
        stream.close()
        self._assert_closed_after_two(only_event())

    def test_with_block_exit(self, client: Any) -> None:
        stream = client.models.generate_content_stream(model=MODEL, contents=self.question)
        with contextlib.closing(stream) as chunks:
            next(chunks)
            next(chunks)
        self._assert_closed_after_two(only_event())

    def test_garbage_collection(self, client: Any) -> None:
        stream = client.models.generate_content_stream(model=MODEL, contents=self.question)
        next(stream)
        next(stream)
        del stream
        gc.collect()
        self._assert_closed_after_two(only_event())

    def test_an_unread_stream_is_closed_with_nothing(self, client: Any) -> None:
        stream = client.models.generate_content_stream(model=MODEL, contents=self.question)
        del stream
        gc.collect()
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"] == {"ttft_ms": None, "chunks": 0, "status": "closed"}
        assert event["response"] is None

    def test_a_broken_chunk_mid_stream(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(broken_after(self.question, 2))
        received: list[str] = []
        stream = client.models.generate_content_stream(model=MODEL, contents="x")
        with pytest.raises(UNREADABLE_CHUNK) as caught:
            read_into(received, stream)
        event = only_event()
        assert received == pieces(answer_for(self.question))[:2]
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["stream"]["chunks"] == 2
        assert event["response"]["text"] == "".join(received)
        assert event["exception"]["type"].endswith(type(caught.value).__name__)
        assert event["error"] == f"{type(caught.value).__name__}: {caught.value}"

    def test_an_http_error_before_the_first_chunk(
        self, client: Any, standin: StandinServer
    ) -> None:
        standin.fail_next(error_reply(503, "overloaded"))
        with pytest.raises(errors.ServerError) as caught:
            list(client.models.generate_content_stream(model=MODEL, contents="x"))
        assert caught.value.code == 503
        assert len(standin.requests) == 1
        event = only_event()
        assert event["status"] == "error"
        assert event["stream"] == {"ttft_ms": None, "chunks": 0, "status": "error"}
        assert event["exception"]["status_code"] == 503
        assert event["exception"]["type"] == "google.genai.errors.ServerError"


class TestAsyncStreams:
    """``await client.aio.models.generate_content_stream(...)`` gives a recorded async iterator."""

    question = "an async stream"

    def test_async_stream(self, client: Any) -> None:
        async def main() -> tuple[Any, list[Any]]:
            stream = await client.aio.models.generate_content_stream(
                model=MODEL, contents=self.question
            )
            return stream, [chunk async for chunk in stream]

        stream, chunks = run_async(client, main)
        event = only_event()
        assert hasattr(stream, "__anext__")
        assert "".join(chunk.text for chunk in chunks) == answer_for(self.question)
        assert event["api"] == "models.generate_content_stream"
        assert event["response"]["text"] == answer_for(self.question)
        assert event["stream"]["chunks"] == len(chunks)
        assert event["stream"]["status"] == "completed"
        assert event["usage"]["output_tokens"] == count_tokens(answer_for(self.question))

    def test_the_program_gets_the_same_async_stream(self, client: Any) -> None:
        async def main() -> tuple[Any, list[Any], Any, list[Any]]:
            recorded = await client.aio.models.generate_content_stream(model=MODEL, contents="a")
            recorded_chunks = [chunk async for chunk in recorded]
            providers.uninstrument()
            plain = await client.aio.models.generate_content_stream(model=MODEL, contents="a")
            return recorded, recorded_chunks, plain, [chunk async for chunk in plain]

        recorded, recorded_chunks, plain, plain_chunks = run_async(client, main)
        assert type(recorded) is type(plain)
        assert [public(chunk) for chunk in recorded_chunks] == [
            public(chunk) for chunk in plain_chunks
        ]
        assert len(provider_events()) == 1

    def test_break_and_aclose(self, client: Any) -> None:
        async def main() -> None:
            stream = await client.aio.models.generate_content_stream(
                model=MODEL, contents=self.question
            )
            async for _chunk in stream:
                break
            await stream.aclose()

        run_async(client, main)
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"]["chunks"] == 1
        assert event["response"]["text"] == pieces(answer_for(self.question))[0]

    def test_async_garbage_collection(self, client: Any) -> None:
        async def main() -> None:
            stream = await client.aio.models.generate_content_stream(
                model=MODEL, contents=self.question
            )
            await stream.__anext__()
            del stream
            gc.collect()
            for _ in range(5):  # the loop's finalizer closes the generator in a task
                await asyncio.sleep(0)

        run_async(client, main)
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_async_error_mid_stream(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(broken_after(self.question, 3))

        async def main() -> list[str]:
            received: list[str] = []
            stream = await client.aio.models.generate_content_stream(model=MODEL, contents="x")
            with pytest.raises(UNREADABLE_CHUNK):
                await read_async_into(received, stream)
            return received

        received = run_async(client, main)
        event = only_event()
        assert len(received) == 3
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["stream"]["chunks"] == 3

    def test_async_http_error(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(400, "bad request"))

        async def main() -> None:
            stream = await client.aio.models.generate_content_stream(model=MODEL, contents="x")
            async for _chunk in stream:
                pass

        with pytest.raises(errors.ClientError):
            run_async(client, main)
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["status_code"] == 400
        assert event["stream"]["chunks"] == 0

"""Streamed chat completions and the ``chat.completions.stream()`` helper, against the stand-in."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from pydantic import BaseModel  # noqa: E402

from aiobs import observe, observer  # noqa: E402
from aiobs.providers import estimate  # noqa: E402
from aiobs.standin import Reply, Request, StandinServer  # noqa: E402
from aiobs.standin import openai as standin_openai  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens, pieces  # noqa: E402
from aiobs.standin.server import sse_event  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers import clients  # noqa: E402
from tests.providers.clients import async_openai_client as async_client  # noqa: E402
from tests.providers.clients import dumps, openai_client  # noqa: E402
from tests.providers.conftest import next_line, only_event, provider_events, user  # noqa: E402

MODEL = "gpt-4o-mini"
DATED_MODEL = "gpt-4o-mini-2024-07-18"
TOOLS = [
    {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
]


class Capital(BaseModel):
    """A structured answer, for the helper's ``response_format``."""

    city: str


uninstrumented = functools.partial(clients.uninstrumented, "openai")


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Any]:
    """A synchronous client of the stand-in that raises at the first error (no retries)."""
    with openai_client(standin) as made:
        yield made


@pytest.fixture(autouse=True)
def session() -> str:
    """Each test records into a fresh default session."""
    return observer.observe("openai-stream-tests")


def stream_method(client: Any) -> Any:
    """``chat.completions.stream``, or ``beta.chat.completions.stream`` in releases before it."""
    completions = client.chat.completions
    if hasattr(completions, "stream"):
        return completions.stream
    return client.beta.chat.completions.stream


def usage_of(question: str) -> dict[str, Any]:
    """The normalized usage the stand-in reports for a one-message question."""
    prompt, output = count_tokens(question), count_tokens(answer_for(question))
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }


def chat_stream_reply(question: str, **body: Any) -> Reply:
    """The stand-in's own streamed reply to ``question``, to alter before it is sent."""
    payload = {"model": MODEL, "messages": user(question), "stream": True, **body}
    request = Request("POST", "/v1/chat/completions", {}, {}, json.dumps(payload).encode())
    reply = standin_openai.handle(request)
    assert reply is not None
    return reply


# -- create(stream=True) ---------------------------------------------------------------------------


class TestChatStream:
    """``create(stream=True)`` is recorded when the stream ends; the program sees every chunk."""

    def test_complete_stream(self, client: Any, session: str) -> None:
        question = "stream this please"

        @observe
        def ask() -> list[Any]:
            nonlocal line
            line = next_line()
            stream = client.chat.completions.create(
                model=MODEL, messages=user(question), stream=True
            )
            return list(stream)

        line = 0
        chunks = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == answer_for(
            question
        )
        assert event["api"] == "chat.completions.create"
        assert event["operation"] == "chat"
        assert event["request"] == {"model": MODEL, "messages": user(question), "stream": True}
        assert event["response"] == {
            "id": chunks[0].id,
            "model": DATED_MODEL,
            "text": answer_for(question),
            "usage": None,
            "finish_reasons": ["stop"],
        }
        assert event["response_model"] == DATED_MODEL
        assert event["usage"] is None
        assert event["cost"] is None
        assert event["status"] == "ok"
        assert event["stream"]["status"] == "completed"
        assert event["stream"]["chunks"] == len(chunks) == len(pieces(answer_for(question))) + 2
        assert 0 < event["stream"]["ttft_ms"] <= event["duration_ms"]
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_the_program_sees_the_same_chunks(self, client: Any) -> None:
        ask = {"model": MODEL, "messages": user("same chunks"), "stream": True}
        plain = uninstrumented(lambda: list(client.chat.completions.create(**ask)))
        stream = client.chat.completions.create(**ask)
        assert type(stream) is openai.Stream
        recorded = list(stream)
        assert dumps(recorded) == dumps(plain)

    def test_usage_asked_by_the_program_is_recorded_and_shown(self, client: Any) -> None:
        question = "with usage"
        options = {"include_usage": True}
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=user(question), stream=True, stream_options=options
            )
        )
        event = only_event()
        assert chunks[-1].choices == []
        assert chunks[-1].usage.completion_tokens == count_tokens(answer_for(question))
        assert event["request"]["stream_options"] == options
        assert event["usage"] == usage_of(question)
        assert event["response"]["usage"]["prompt_tokens"] == count_tokens(question)
        assert event["cost"]["total"] > 0
        assert event["stream"]["chunks"] == len(chunks)

    def test_opt_in_usage_is_hidden_from_the_program(
        self, client: Any, standin: StandinServer
    ) -> None:
        question = "usage please"
        ask = {"model": MODEL, "messages": user(question), "stream": True}
        plain = uninstrumented(lambda: list(client.chat.completions.create(**ask)))
        observer.configure(openai_stream_usage=True)
        recorded = list(client.chat.completions.create(**ask))
        event = only_event()
        assert dumps(recorded) == dumps(plain)
        assert all(chunk.choices for chunk in recorded)
        assert standin.requests[-1].json()["stream_options"] == {"include_usage": True}
        assert event["request"] == {"model": MODEL, "messages": user(question), "stream": True}
        assert event["usage"] == usage_of(question)
        assert event["response"]["text"] == answer_for(question)

    def test_opt_in_leaves_the_programs_own_options(
        self, client: Any, standin: StandinServer
    ) -> None:
        observer.configure(openai_stream_usage=True)
        options = {"include_usage": False}
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=user("mine"), stream=True, stream_options=options
            )
        )
        event = only_event()
        assert standin.requests[-1].json()["stream_options"] == options
        assert all(chunk.choices for chunk in chunks)
        assert event["usage"] is None

    def test_opt_in_through_the_environment(
        self, client: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AIOBS_OPENAI_STREAM_USAGE", "1")
        observer.reset()
        observer.configure(flush_at_exit=False)
        observer.observe("from the environment")
        chunks = list(
            client.chat.completions.create(model=MODEL, messages=user("env"), stream=True)
        )
        assert all(chunk.choices for chunk in chunks)
        assert only_event()["usage"] == usage_of("env")

    def test_tool_call_stream(self, client: Any) -> None:
        chunks = list(
            client.chat.completions.create(
                model=MODEL, messages=user("find it"), tools=TOOLS, stream=True
            )
        )
        event = only_event()
        first_call = chunks[0].choices[0].delta.tool_calls[0]
        assert event["response"]["tool_calls"] == [
            {"id": first_call.id, "name": "lookup", "arguments": '{"query": "find it"}'}
        ]
        assert event["response"]["finish_reasons"] == ["tool_calls"]
        assert event["response"]["text"] is None

    def test_two_choices(self, client: Any) -> None:
        list(client.chat.completions.create(model=MODEL, messages=user("two"), n=2, stream=True))
        event = only_event()
        answer = answer_for("two")
        assert event["response"]["text"] == f"{answer}\n{answer}"
        assert event["response"]["finish_reasons"] == ["stop", "stop"]

    def test_async_stream(self, standin: StandinServer) -> None:
        question = "async stream"

        async def main() -> list[Any]:
            async with async_client(standin) as aclient:
                stream = await aclient.chat.completions.create(
                    model=MODEL, messages=user(question), stream=True
                )
                assert type(stream) is openai.AsyncStream
                return [chunk async for chunk in stream]

        chunks = asyncio.run(main())
        event = only_event()
        assert event["response"]["text"] == answer_for(question)
        assert event["stream"]["status"] == "completed"
        assert event["stream"]["chunks"] == len(chunks)
        assert event["status"] == "ok"
        assert event["callsite"]["file"] == __file__

    def test_async_opt_in_usage(self, standin: StandinServer) -> None:
        observer.configure(openai_stream_usage=True)
        question = "async usage"

        async def main() -> list[Any]:
            async with async_client(standin) as aclient:
                stream = await aclient.chat.completions.create(
                    model=MODEL, messages=user(question), stream=True
                )
                return [chunk async for chunk in stream]

        chunks = asyncio.run(main())
        assert all(chunk.choices for chunk in chunks)
        assert only_event()["usage"] == usage_of(question)

    def test_error_in_the_middle_of_the_stream(self, client: Any, standin: StandinServer) -> None:
        reply = chat_stream_reply("broken")
        assert reply.events is not None
        error = {"error": {"message": "the model crashed", "type": "server_error"}}
        reply.events = [*reply.events[:3], sse_event(error)]
        standin.fail_next(reply)
        received: list[Any] = []

        def read_all() -> None:
            stream = client.chat.completions.create(
                model=MODEL, messages=user("broken"), stream=True
            )
            received.extend(stream)

        with pytest.raises(openai.APIError, match="the model crashed") as caught:
            read_all()
        event = only_event()
        assert len(received) == 3
        assert event["status"] == "error"
        assert event["stream"]["status"] == "error"
        assert event["stream"]["chunks"] == 3
        assert event["exception"]["type"] == "openai.APIError"
        assert event["error"] == f"APIError: {caught.value}"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in received)
        assert event["response"]["text"] == text

    def test_connection_dropped_mid_stream(self, client: Any, standin: StandinServer) -> None:
        reply = chat_stream_reply("dropped connection")
        reply.reset_after_events = 3
        standin.fail_next(reply)
        received: list[Any] = []

        def read_all() -> None:
            stream = client.chat.completions.create(
                model=MODEL, messages=user("dropped connection"), stream=True
            )
            received.extend(stream)

        # older openai releases let httpx's error through, newer ones raise APIConnectionError
        with pytest.raises(Exception) as caught:
            read_all()
        event = only_event()
        error_type = type(caught.value)
        assert len(received) == 3
        assert event["status"] == "error"
        assert event["stream"] == {
            "ttft_ms": event["stream"]["ttft_ms"],
            "chunks": 3,
            "status": "error",
        }
        assert event["exception"]["type"] == f"{error_type.__module__}.{error_type.__qualname__}"
        assert event["response"]["text"] == "".join(pieces(answer_for("dropped connection"))[:2])

    def test_error_before_the_stream(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(standin_openai.error_reply(429, "slow down"))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=MODEL, messages=user("x"), stream=True)
        event = only_event()
        assert event["status"] == "error"
        assert "stream" not in event


class TestEarlyEnd:
    """A stream the program stops reading is recorded with what arrived, as closed."""

    def test_break_and_close(self, client: Any) -> None:
        stream = client.chat.completions.create(
            model=MODEL, messages=user("stop early"), stream=True
        )
        received = []
        for chunk in stream:
            received.append(chunk)
            if len(received) == 3:
                break
        assert provider_events() == []  # still open: nothing recorded yet
        stream.close()
        event = only_event()
        assert event["status"] == "closed"
        assert event["stream"] == {
            "ttft_ms": event["stream"]["ttft_ms"],
            "chunks": 3,
            "status": "closed",
        }
        assert event["response"]["text"] == "".join(pieces(answer_for("stop early"))[:2])
        assert "finish_reasons" not in event["response"]

    def test_with_block_exit(self, client: Any) -> None:
        with client.chat.completions.create(
            model=MODEL, messages=user("in a with"), stream=True
        ) as s:
            next(iter(s))
        event = only_event()
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_garbage_collected(self, client: Any) -> None:
        stream = client.chat.completions.create(model=MODEL, messages=user("dropped"), stream=True)
        next(stream)
        next(stream)
        del stream
        gc.collect()
        event = only_event()
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 2

    def test_never_iterated(self, client: Any) -> None:
        stream = client.chat.completions.create(model=MODEL, messages=user("unread"), stream=True)
        del stream
        gc.collect()
        event = only_event()
        assert event["stream"] == {"ttft_ms": None, "chunks": 0, "status": "closed"}
        assert event["response"]["text"] is None

    def test_closed_after_the_end_stays_completed(self, client: Any) -> None:
        stream = client.chat.completions.create(model=MODEL, messages=user("all"), stream=True)
        list(stream)
        stream.close()
        assert only_event()["stream"]["status"] == "completed"

    def test_async_break_and_close(self, standin: StandinServer) -> None:
        async def main() -> None:
            async with async_client(standin) as aclient:
                stream = await aclient.chat.completions.create(
                    model=MODEL, messages=user("async early"), stream=True
                )
                async for _chunk in stream:
                    break
                await stream.close()

        asyncio.run(main())
        event = only_event()
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_async_garbage_collected(self, standin: StandinServer) -> None:
        async def main() -> list[dict[str, Any]]:
            async with async_client(standin) as aclient:
                stream = await aclient.chat.completions.create(
                    model=MODEL, messages=user("async dropped"), stream=True
                )
                await stream.__anext__()
                del stream
                gc.collect()
                return provider_events()

        (event,) = asyncio.run(main())
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 1


# -- usage estimates -------------------------------------------------------------------------------


@pytest.fixture
def tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """tiktoken's o200k_base, loaded offline the way aiobs loads it (skipped if unavailable)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    estimate.forget_encodings()
    encoding = estimate.encoding_for(MODEL)
    if encoding is None:
        pytest.skip("tiktoken or bpe-openai is not installed")
    yield encoding
    estimate.forget_encodings()


class TestEstimatedUsage:
    """With ``estimate_usage`` on, a stream that reported no usage gets a flagged estimate."""

    def test_stream_without_usage_is_estimated(self, client: Any, tokenizer: Any) -> None:
        observer.configure(estimate_usage=True)
        question = "estimate my tokens"
        list(client.chat.completions.create(model=MODEL, messages=user(question), stream=True))
        event = only_event()
        prompt = 3 + len(tokenizer.encode(question)) + 3
        output = len(tokenizer.encode(answer_for(question)))
        assert event["usage"] == {
            "input_tokens": prompt,
            "output_tokens": output,
            "total_tokens": prompt + output,
            "cached_input_tokens": None,
            "reasoning_tokens": None,
            "estimated": True,
        }
        assert event["cost"]["estimated"] is True
        assert event["response"]["usage"] is None

    def test_reported_usage_is_not_estimated(self, client: Any, tokenizer: Any) -> None:
        observer.configure(estimate_usage=True, openai_stream_usage=True)
        list(client.chat.completions.create(model=MODEL, messages=user("real"), stream=True))
        event = only_event()
        assert event["usage"] == usage_of("real")
        assert "estimated" not in event["cost"]
        assert tokenizer is not None

    def test_no_estimate_unless_asked(self, client: Any, tokenizer: Any) -> None:
        list(client.chat.completions.create(model=MODEL, messages=user("no guess"), stream=True))
        assert only_event()["usage"] is None
        assert tokenizer is not None

    def test_no_tokenizer_means_no_usage(
        self, client: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "tiktoken", None)
        estimate.forget_encodings()
        observer.configure(estimate_usage=True)
        list(client.chat.completions.create(model=MODEL, messages=user("blind"), stream=True))
        event = only_event()
        assert event["usage"] is None
        assert event["cost"] is None
        assert event["status"] == "ok"
        estimate.forget_encodings()


# -- the chat.completions.stream() helper ----------------------------------------------------------


class TestStreamHelper:
    """The helper's stream behaves as without aiobs, and its request is one event."""

    def test_one_event_named_after_the_helper(self, client: Any, session: str) -> None:
        question = "helper stream"
        line = next_line()
        with stream_method(client)(model=MODEL, messages=user(question)) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_completion()
        event = only_event()
        assert "content.delta" in kinds
        assert final.choices[0].message.content == answer_for(question)
        assert event["api"] == "chat.completions.stream"
        assert event["operation"] == "chat"
        assert event["request"] == {"model": MODEL, "messages": user(question), "stream": True}
        assert event["response"]["text"] == answer_for(question)
        assert event["response"]["finish_reasons"] == ["stop"]
        assert event["stream"]["status"] == "completed"
        assert event["status"] == "ok"
        assert event["callsite"]["file"] == __file__
        assert event["callsite"]["line"] == line
        assert event["session_id"] == session

    def test_behaves_as_without_aiobs(self, client: Any) -> None:
        def run_helper() -> tuple[list[Any], Any, Any]:
            ask = {"model": MODEL, "messages": user("same helper"), "response_format": Capital}
            with stream_method(client)(**ask) as stream:
                events = list(stream)
                final = stream.get_final_completion()
                snapshot = stream.current_completion_snapshot
            return events, final, snapshot

        plain_events, plain_final, plain_snapshot = uninstrumented(run_helper)
        events, final, snapshot = run_helper()
        assert dumps(events) == dumps(plain_events)
        assert final.model_dump(warnings=False) == plain_final.model_dump(warnings=False)
        assert final.choices[0].message.parsed == plain_final.choices[0].message.parsed
        assert snapshot.model_dump(warnings=False) == plain_snapshot.model_dump(warnings=False)
        assert len(provider_events()) == 1

    def test_until_done(self, client: Any) -> None:
        with stream_method(client)(model=MODEL, messages=user("until done")) as stream:
            assert stream.until_done() is stream
        event = only_event()
        assert event["stream"]["status"] == "completed"
        assert event["response"]["text"] == answer_for("until done")

    def test_left_early(self, client: Any) -> None:
        with stream_method(client)(model=MODEL, messages=user("leave early")) as stream:
            for _event in stream:
                break
            assert provider_events() == []
        event = only_event()
        assert event["api"] == "chat.completions.stream"
        assert event["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_closed_explicitly(self, client: Any) -> None:
        manager = stream_method(client)(model=MODEL, messages=user("close it"))
        stream = manager.__enter__()
        next(iter(stream))
        stream.close()
        event = only_event()
        assert event["stream"]["status"] == "closed"
        manager.__exit__(None, None, None)
        assert provider_events() == []  # recorded once

    def test_opt_in_usage_with_the_helper(self, client: Any) -> None:
        ask = {"model": MODEL, "messages": user("helper usage")}

        def final_completion() -> Any:
            with stream_method(client)(**ask) as stream:
                return stream.get_final_completion()

        plain = uninstrumented(final_completion)
        observer.configure(openai_stream_usage=True)
        recorded = final_completion()
        assert recorded.model_dump(warnings=False) == plain.model_dump(warnings=False)
        assert recorded.usage is None
        assert only_event()["usage"] == usage_of("helper usage")

    def test_async_helper(self, standin: StandinServer) -> None:
        question = "async helper"

        async def main() -> tuple[list[str], Any]:
            async with (
                async_client(standin) as aclient,
                stream_method(aclient)(model=MODEL, messages=user(question)) as stream,
            ):
                kinds = [event.type async for event in stream]
                return kinds, await stream.get_final_completion()

        kinds, final = asyncio.run(main())
        event = only_event()
        assert "content.done" in kinds
        assert final.choices[0].message.content == answer_for(question)
        assert event["api"] == "chat.completions.stream"
        assert event["response"]["text"] == answer_for(question)
        assert event["stream"]["status"] == "completed"

    def test_async_helper_left_early(self, standin: StandinServer) -> None:
        async def main() -> None:
            async with async_client(standin) as aclient:
                helper = stream_method(aclient)
                async with helper(model=MODEL, messages=user("async leave")) as stream:
                    async for _event in stream:
                        break

        asyncio.run(main())
        event = only_event()
        assert event["api"] == "chat.completions.stream"
        assert event["stream"]["status"] == "closed"

    def test_helper_under_a_span(self, client: Any) -> None:
        @observe
        def ask() -> str:
            with stream_method(client)(model=MODEL, messages=user("in a span")) as stream:
                return str(stream.get_final_completion().choices[0].message.content)

        assert ask() == answer_for("in a span")
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        assert event["parent_span_id"] == function["span_id"]

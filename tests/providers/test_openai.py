"""The OpenAI integration, run with the real openai SDK against the local stand-in.

Non-streamed calls, errors, raw responses, embeddings, installation and context propagation;
streams are in ``test_openai_streams.py``, the Responses API in ``test_openai_responses.py``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

openai = pytest.importorskip("openai")

from pydantic import BaseModel  # noqa: E402

from aiobs import observe, observer, providers  # noqa: E402
from aiobs.providers.base import WRAPPED_MARK, ProviderUnavailable, version_tuple  # noqa: E402
from aiobs.providers.openai import OpenAIProvider  # noqa: E402
from aiobs.standin import Reply, Request, StandinServer  # noqa: E402
from aiobs.standin import openai as standin_openai  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens  # noqa: E402
from aiobs.standin.openai import REASONING_TOKENS, error_reply, reply_model  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers import clients  # noqa: E402
from tests.providers.clients import async_openai_client as async_client  # noqa: E402
from tests.providers.clients import openai_client  # noqa: E402
from tests.providers.conftest import next_line, only_event, provider_events, user  # noqa: E402

T = TypeVar("T")
SDK_VERSION = version_tuple(importlib.metadata.version("openai"))
MODEL = "gpt-4o-mini"
DATED_MODEL = "gpt-4o-mini-2024-07-18"
EMBEDDING_MODEL = "text-embedding-3-small"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


class Capital(BaseModel):
    """A structured answer, for ``parse``."""

    city: str
    population: int


uninstrumented = functools.partial(clients.uninstrumented, "openai")

# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Any]:
    """A synchronous client of the stand-in that raises at the first error (no retries)."""
    with openai_client(standin) as made:
        yield made


@pytest.fixture(autouse=True)
def session() -> str:
    """Each test records into a fresh default session."""
    return observer.observe("openai-tests")


def expected_cost(
    input_tokens: int, output_tokens: int, cached: int = 0, model: str = MODEL
) -> Any:
    """The cost from the shipped pricing table, computed independently of aiobs.pricing."""
    return clients.expected_cost("openai", model, input_tokens, output_tokens, cached=cached)


def parse_method(client: Any) -> Any:
    """``chat.completions.parse``, or ``beta.chat.completions.parse`` in releases before it."""
    completions = client.chat.completions
    return (
        completions.parse if hasattr(completions, "parse") else client.beta.chat.completions.parse
    )


# -- one call, field by field ----------------------------------------------------------------------


class TestChatCompletion:
    """``chat.completions.create`` becomes one complete event."""

    def test_every_field_of_the_event(self, client: Any, session: str) -> None:
        messages = [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ]

        @observe
        def ask() -> Any:
            nonlocal line
            line = next_line()
            return client.chat.completions.create(model=MODEL, messages=messages, temperature=0.2)

        line = 0
        completion = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for("What is the capital of France?")
        prompt_tokens = count_tokens("Answer briefly. What is the capital of France?")
        completion_tokens = count_tokens(answer)

        assert completion.choices[0].message.content == answer
        assert event["provider"] == "openai"
        assert event["api"] == "chat.completions.create"
        assert event["operation"] == "chat"
        assert event["request"] == {"model": MODEL, "messages": messages, "temperature": 0.2}
        assert event["request_model"] == MODEL
        assert event["response_model"] == DATED_MODEL
        assert event["response"] == {
            "id": completion.id,
            "model": DATED_MODEL,
            "text": answer,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "finish_reasons": ["stop"],
        }
        assert event["usage"] == {
            "input_tokens": prompt_tokens,
            "output_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cached_input_tokens": 0,
            "reasoning_tokens": 0,
        }
        assert event["cost"] == expected_cost(prompt_tokens, completion_tokens)
        assert event["status"] == "ok"
        assert event["error"] is None
        assert "stream" not in event
        assert event["callsite"]["file"] == __file__
        assert event["callsite"]["line"] == line
        assert event["callsite"]["function"] == "ask"
        assert event["parent_span_id"] == function["span_id"]
        assert event["trace_id"] == function["trace_id"]
        assert event["span_id"] not in (None, function["span_id"])
        assert event["session_id"] == session
        assert event["duration_ms"] >= 0
        assert event["ended_at"] >= event["started_at"]

    def test_returns_what_the_sdk_returns(self, client: Any) -> None:
        ask = {"model": MODEL, "messages": user("same answer?"), "max_tokens": 20}
        plain = uninstrumented(lambda: client.chat.completions.create(**ask))
        recorded = client.chat.completions.create(**ask)
        assert type(recorded) is type(plain)
        assert recorded.model_dump() == plain.model_dump()
        assert len(provider_events()) == 1

    def test_async_call(self, standin: StandinServer, session: str) -> None:
        async def main() -> Any:
            async with async_client(standin) as aclient:
                return await aclient.chat.completions.create(model=MODEL, messages=user("async"))

        completion = asyncio.run(main())
        event = only_event()
        assert event["api"] == "chat.completions.create"
        assert event["response"]["text"] == completion.choices[0].message.content
        assert event["response"]["text"] == answer_for("async")
        assert event["usage"]["output_tokens"] == completion.usage.completion_tokens
        assert event["callsite"]["file"] == __file__
        assert event["session_id"] == session
        assert event["status"] == "ok"

    def test_tool_calls(self, client: Any) -> None:
        completion = client.chat.completions.create(
            model=MODEL, messages=user("weather in Paris"), tools=TOOLS, tool_choice="auto"
        )
        event = only_event()
        (call,) = completion.choices[0].message.tool_calls
        assert event["request"]["tools"] == TOOLS
        assert event["request"]["tool_choice"] == "auto"
        assert event["response"]["tool_calls"] == [
            {"id": call.id, "name": "lookup", "arguments": '{"query": "weather in Paris"}'}
        ]
        assert event["response"]["finish_reasons"] == ["tool_calls"]
        assert event["response"]["text"] is None

    def test_several_choices_are_joined(self, client: Any) -> None:
        client.chat.completions.create(model=MODEL, messages=user("twice"), n=2)
        event = only_event()
        answer = answer_for("twice")
        assert event["response"]["text"] == f"{answer}\n{answer}"
        assert event["response"]["finish_reasons"] == ["stop", "stop"]

    def test_cached_and_reasoning_tokens(self, client: Any) -> None:
        question = "a long prompt that the provider has partly seen before " * 4
        completion = client.chat.completions.create(
            model=MODEL,
            messages=user(question),
            # as extra_body: openai 1.40 has neither argument yet
            extra_body={"prompt_cache_key": "profile-1", "reasoning_effort": "low"},
        )
        event = only_event()
        prompt_tokens = count_tokens(question)
        cached = prompt_tokens // 2
        output = count_tokens(answer_for(question)) + REASONING_TOKENS
        assert completion.usage.model_dump()["prompt_tokens_details"]["cached_tokens"] == cached
        assert event["usage"] == {
            "input_tokens": prompt_tokens,
            "output_tokens": output,
            "total_tokens": prompt_tokens + output,
            "cached_input_tokens": cached,
            "reasoning_tokens": REASONING_TOKENS,
        }
        assert event["cost"] == expected_cost(prompt_tokens, output, cached=cached)

    def test_transport_arguments_are_left_out_and_extra_body_kept(
        self, client: Any, standin: StandinServer
    ) -> None:
        client.chat.completions.create(
            model=MODEL,
            messages=user("options"),
            extra_headers={"X-Trace": "abc"},
            extra_query={"debug": "1"},
            extra_body={"metadata": {"team": "search"}},
            timeout=30,
            seed=7,
        )
        event = only_event()
        assert event["request"] == {
            "model": MODEL,
            "messages": user("options"),
            "extra_body": {"metadata": {"team": "search"}},
            "seed": 7,
        }
        sent = standin.requests[-1]
        assert sent.headers["x-trace"] == "abc"
        assert sent.json()["metadata"] == {"team": "search"}

    def test_the_api_key_never_reaches_the_event(self, client: Any) -> None:
        client.chat.completions.create(model=MODEL, messages=user("secret?"))
        assert "sk-test" not in json.dumps(flush_document())

    def test_parse_is_one_event(self, client: Any) -> None:
        question = "capital of Italy"
        parsed = parse_method(client)(model=MODEL, messages=user(question), response_format=Capital)
        event = only_event()
        answer = parsed.choices[0].message.parsed
        assert isinstance(answer, Capital)
        assert answer.city == answer_for(question)
        assert event["api"] == "chat.completions.parse"
        assert event["operation"] == "chat"
        assert event["request"]["messages"] == user(question)
        assert "Capital" in json.dumps(event["request"]["response_format"])
        assert json.loads(event["response"]["text"]) == answer.model_dump()
        assert event["usage"]["input_tokens"] == parsed.usage.prompt_tokens
        assert event["callsite"]["file"] == __file__

    def test_parse_returns_what_the_sdk_returns(self, client: Any) -> None:
        ask = {"model": MODEL, "messages": user("parse me"), "response_format": Capital}
        plain = uninstrumented(lambda: parse_method(client)(**ask))
        recorded = parse_method(client)(**ask)
        assert type(recorded) is type(plain)
        assert recorded.choices[0].message.parsed == plain.choices[0].message.parsed
        assert recorded.model_dump(warnings=False) == plain.model_dump(warnings=False)

    def test_async_parse(self, standin: StandinServer) -> None:
        async def main() -> Any:
            async with async_client(standin) as aclient:
                method = parse_method(aclient)
                return await method(
                    model=MODEL, messages=user("async parse"), response_format=Capital
                )

        parsed = asyncio.run(main())
        event = only_event()
        assert event["api"] == "chat.completions.parse"
        assert event["response"]["text"] == parsed.choices[0].message.content


# -- errors ----------------------------------------------------------------------------------------


class TestErrors:
    """A failed call is recorded with the SDK's exception, which reaches the program unchanged."""

    @pytest.mark.parametrize(
        ("status", "exception"),
        [
            (400, "BadRequestError"),
            (429, "RateLimitError"),
            (500, "InternalServerError"),
        ],
    )
    def test_http_errors(
        self, client: Any, standin: StandinServer, status: int, exception: str
    ) -> None:
        standin.fail_next(error_reply(status, f"failure {status}"))
        line = next_line()
        with pytest.raises(getattr(openai, exception)) as caught:
            client.chat.completions.create(model=MODEL, messages=user("fail"))
        event = only_event()
        assert caught.value.status_code == status
        assert event["status"] == "error"
        assert event["error"] == f"{exception}: {caught.value}"
        assert f"failure {status}" in event["error"]
        assert event["exception"]["type"] == f"openai.{exception}"
        assert event["exception"]["status_code"] == status
        assert event["response"] is None
        assert event["usage"] is None
        assert event["cost"] is None
        assert event["request"]["messages"] == user("fail")
        assert event["callsite"]["line"] == line + 1

    def test_the_same_exception_object_reaches_the_program(
        self, client: Any, standin: StandinServer
    ) -> None:
        standin.fail_next(error_reply(400, "bad"), error_reply(400, "bad"))
        with pytest.raises(openai.BadRequestError) as plain:
            uninstrumented(lambda: client.chat.completions.create(model=MODEL, messages=user("x")))
        with pytest.raises(openai.BadRequestError) as recorded:
            client.chat.completions.create(model=MODEL, messages=user("x"))
        assert str(recorded.value) == str(plain.value)
        assert recorded.value.body == plain.value.body
        assert recorded.value.__cause__ is None
        frames = [frame.name for frame in recorded.traceback]
        assert "wrapper" in frames  # raised through the wrapper, not re-created by it

    def test_timeout(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(Reply(delay=1.0))
        with pytest.raises(openai.APITimeoutError):
            client.chat.completions.create(model=MODEL, messages=user("slow"), timeout=0.2)
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"] == "openai.APITimeoutError"
        assert event["request"] == {"model": MODEL, "messages": user("slow")}

    def test_connection_reset(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(Reply(reset=True))
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model=MODEL, messages=user("reset"))
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"] == "openai.APIConnectionError"
        assert "status_code" not in event["exception"]

    def test_async_error(self, standin: StandinServer) -> None:
        standin.fail_next(error_reply(429, "slow down"))

        async def main() -> None:
            async with async_client(standin) as aclient:
                await aclient.chat.completions.create(model=MODEL, messages=user("x"))

        with pytest.raises(openai.RateLimitError):
            asyncio.run(main())
        event = only_event()
        assert event["exception"]["status_code"] == 429
        assert event["status"] == "error"

    def test_error_totals_in_the_session(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(500, "boom"))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=MODEL, messages=user("x"))
        client.chat.completions.create(model=MODEL, messages=user("x"))
        (session,) = flush_document()["sessions"]
        assert session["llm_calls"] == 2
        assert session["llm_errors"] == 1


# -- raw responses ---------------------------------------------------------------------------------


class TestRawResponses:
    """``with_raw_response`` calls are recorded; ``with_streaming_response`` keeps working."""

    def test_with_raw_response(self, client: Any) -> None:
        raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("raw"))
        event = only_event()
        completion = raw.parse()
        assert completion is raw.parse()
        assert isinstance(completion, openai.types.chat.ChatCompletion)
        assert completion.choices[0].message.content == answer_for("raw")
        assert raw.headers["content-type"] == "application/json"
        assert event["api"] == "chat.completions.create"
        assert event["response"]["id"] == completion.id
        assert event["response"]["text"] == answer_for("raw")
        assert event["usage"]["input_tokens"] == completion.usage.prompt_tokens
        assert event["callsite"]["file"] == __file__

    def test_with_raw_response_returns_what_the_sdk_returns(self, client: Any) -> None:
        def call() -> Any:
            raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=user("r"))
            return raw.parse()

        plain = uninstrumented(call)
        assert call().model_dump() == plain.model_dump()

    def test_async_with_raw_response(self, standin: StandinServer) -> None:
        async def main() -> Any:
            async with async_client(standin) as aclient:
                create = aclient.chat.completions.with_raw_response.create
                raw = await create(model=MODEL, messages=user("async raw"))
                return raw.parse()

        completion = asyncio.run(main())
        event = only_event()
        assert event["response"]["text"] == completion.choices[0].message.content

    def test_with_streaming_response_keeps_working(self, client: Any) -> None:
        streaming = client.chat.completions.with_streaming_response
        with streaming.create(model=MODEL, messages=user("streamed raw")) as response:
            completion = response.parse()
        assert completion.choices[0].message.content == answer_for("streamed raw")
        event = only_event()
        assert event["api"] == "chat.completions.create"
        assert event["status"] == "ok"
        assert event["request"]["messages"] == user("streamed raw")
        assert event["response"] is None  # the body was the program's to read


# -- embeddings ------------------------------------------------------------------------------------


class TestEmbeddings:
    """``embeddings.create``: counts, sizes and usage, never the vectors."""

    def test_default_encoding(self, client: Any) -> None:
        result = client.embeddings.create(model=EMBEDDING_MODEL, input=["first", "second"])
        event = only_event()
        tokens = count_tokens("first") + count_tokens("second")
        assert len(result.data) == 2
        assert len(result.data[0].embedding) == 8
        assert event["api"] == "embeddings.create"
        assert event["operation"] == "embeddings"
        assert event["request"] == {"model": EMBEDDING_MODEL, "input": ["first", "second"]}
        assert event["response"] == {
            "model": EMBEDDING_MODEL,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "count": 2,
            "dimensions": 8,
        }
        assert event["usage"] == {
            "input_tokens": tokens,
            "output_tokens": None,
            "total_tokens": tokens,
            "cached_input_tokens": None,
            "reasoning_tokens": None,
        }
        assert event["cost"] == expected_cost(tokens, 0, model=EMBEDDING_MODEL)
        assert str(result.data[0].embedding[0]) not in json.dumps(event)

    @pytest.mark.parametrize("encoding", ["float", "base64"])
    def test_explicit_encoding_and_dimensions(self, client: Any, encoding: str) -> None:
        result = client.embeddings.create(
            model=EMBEDDING_MODEL, input="one", encoding_format=encoding, dimensions=4
        )
        event = only_event()
        assert event["request"]["encoding_format"] == encoding
        assert event["request"]["dimensions"] == 4
        assert event["response"]["dimensions"] == 4
        assert event["response"]["count"] == len(result.data) == 1

    def test_returns_what_the_sdk_returns(self, client: Any) -> None:
        plain = uninstrumented(lambda: client.embeddings.create(model=EMBEDDING_MODEL, input="x"))
        recorded = client.embeddings.create(model=EMBEDDING_MODEL, input="x")
        assert type(recorded) is type(plain)
        assert recorded.model_dump() == plain.model_dump()

    def test_async(self, standin: StandinServer) -> None:
        async def main() -> Any:
            async with async_client(standin) as aclient:
                return await aclient.embeddings.create(model=EMBEDDING_MODEL, input="async")

        result = asyncio.run(main())
        event = only_event()
        assert event["response"]["count"] == len(result.data) == 1
        assert event["usage"]["input_tokens"] == result.usage.prompt_tokens


# -- installation ----------------------------------------------------------------------------------


def _installed_classes() -> dict[tuple[type, str], Any]:
    """The SDK class attributes the provider has replaced, with their originals."""
    integration = providers.provider("openai")
    replaced = {}
    for patch in integration._patches or []:
        owner = patch.resolve()
        if owner is not None and patch.applied:
            current = owner.__dict__[patch.attribute]
            replaced[(owner, patch.attribute)] = getattr(current, WRAPPED_MARK)
    return replaced


class TestInstallation:
    """Installing wraps the SDK's classes once; uninstalling puts the originals back."""

    def test_uninstall_restores_the_original_functions(self) -> None:
        replaced = _installed_classes()
        assert len(replaced) >= 8
        providers.uninstrument("openai")
        for (owner, attribute), original in replaced.items():
            assert owner.__dict__[attribute] is original
            assert not hasattr(original, WRAPPED_MARK)

    def test_create_is_wrapped_sync_and_async(self) -> None:
        from openai.resources.chat import AsyncCompletions, Completions

        assert getattr(Completions.__dict__["create"], WRAPPED_MARK, None) is not None
        assert asyncio.iscoroutinefunction(AsyncCompletions.__dict__["create"])
        assert getattr(AsyncCompletions.__dict__["create"], WRAPPED_MARK, None) is not None

    def test_double_install_wraps_once(self, client: Any) -> None:
        before = _installed_classes()
        providers.instrument("openai")
        providers.instrument("openai")
        after = _installed_classes()
        assert after == before
        client.chat.completions.create(model=MODEL, messages=user("once"))
        assert len(provider_events()) == 1

    def test_nothing_is_recorded_after_uninstall(self, client: Any) -> None:
        providers.uninstrument("openai")
        completion = client.chat.completions.create(model=MODEL, messages=user("quiet"))
        assert completion.choices[0].message.content == answer_for("quiet")
        assert provider_events() == []

    def test_nothing_is_recorded_without_a_session(self, client: Any) -> None:
        observer.reset()
        observer.configure(flush_at_exit=False)
        providers.instrument("openai")
        completion = client.chat.completions.create(model=MODEL, messages=user("nobody"))
        assert completion.choices[0].message.content == answer_for("nobody")
        observer.observe("later")
        assert provider_events() == []

    def test_wrapped_apis(self) -> None:
        apis = providers.provider("openai").wrapped_apis()
        assert "Completions.create" in apis
        assert "AsyncCompletions.create" in apis
        assert "Embeddings.create" in apis
        assert "Stream.close" in apis

    def test_an_old_sdk_is_refused_with_a_hint(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(importlib.metadata, "version", lambda _name: "1.39.0")
        with pytest.raises(ProviderUnavailable, match=r"openai>=1\.40\.0"):
            OpenAIProvider().check_available()


# -- context ---------------------------------------------------------------------------------------


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function in a new event loop."""
    return asyncio.run(main())


class TestContext:
    """Concurrent calls are parented to the span and session they were made in."""

    def test_parallel_calls_under_different_spans(self, standin: StandinServer) -> None:
        async def main() -> list[str]:
            async with async_client(standin) as aclient:

                @observe
                async def ask(question: str) -> str:
                    completion = await aclient.chat.completions.create(
                        model=MODEL, messages=user(question)
                    )
                    return str(completion.choices[0].message.content)

                return await asyncio.gather(*(ask(f"question {n}") for n in range(4)))

        answers = run(main)
        assert answers == [answer_for(f"question {n}") for n in range(4)]
        document = flush_document()
        spans = {event["args"][0]: event for event in document["function_events"]}
        assert len(document["events"]) == 4
        for event in document["events"]:
            question = event["request"]["messages"][0]["content"]
            assert event["parent_span_id"] == spans[question]["span_id"]
            assert event["trace_id"] == spans[question]["trace_id"]
            assert event["response"]["text"] == answer_for(question)

    def test_parallel_sessions(self, standin: StandinServer) -> None:
        async def main() -> list[str]:
            async with async_client(standin) as aclient:

                async def in_session(name: str) -> str:
                    async with observer.session(name) as scoped:
                        await aclient.chat.completions.create(model=MODEL, messages=user(name))
                        return str(scoped.id)

                return await asyncio.gather(*(in_session(f"session {n}") for n in range(3)))

        ids = run(main)
        events = provider_events()
        assert len(set(ids)) == 3
        by_question = {event["request"]["messages"][0]["content"]: event for event in events}
        for n, session_id in enumerate(ids):
            event = by_question[f"session {n}"]
            assert event["session_id"] == session_id
            assert event["parent_span_id"] is None


# -- the stand-in ----------------------------------------------------------------------------------


def standin_reply(path: str, body: dict[str, Any]) -> Reply:
    """The stand-in's reply to a request, without HTTP."""
    reply = standin_openai.handle(Request("POST", path, {}, {}, json.dumps(body).encode()))
    assert reply is not None
    return reply


class TestStandin:
    """The stand-in speaks OpenAI's wire format."""

    def test_error_shape(self) -> None:
        reply = error_reply(429, "slow down")
        assert reply.status == 429
        assert reply.body == {
            "error": {
                "message": "slow down",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }

    def test_chat_stream_wire_format(self) -> None:
        body = {
            "model": MODEL,
            "messages": user("wire"),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        events = standin_reply("/v1/chat/completions", body).events
        assert events is not None
        assert all(event.startswith(b"data: ") and event.endswith(b"\n\n") for event in events)
        assert events[-1] == b"data: [DONE]\n\n"
        last = json.loads(events[-2][len(b"data: ") :])
        assert last["choices"] == []
        assert last["usage"]["prompt_tokens"] == count_tokens("wire")
        assert all(json.loads(event[6:])["usage"] is None for event in events[:-2])

    def test_responses_stream_is_numbered(self) -> None:
        body = {"model": MODEL, "input": "numbers", "stream": True}
        events = standin_reply("/v1/responses", body).events
        assert events is not None
        parsed = [json.loads(event.split(b"data: ", 1)[1]) for event in events]
        assert [event["sequence_number"] for event in parsed] == list(range(len(parsed)))
        assert parsed[0]["type"] == "response.created"
        assert parsed[-1]["type"] == "response.completed"
        assert parsed[-1]["response"]["usage"]["input_tokens"] == count_tokens("numbers")
        assert all(
            event.startswith(f"event: {p['type']}\n".encode())
            for event, p in zip(events, parsed, strict=True)
        )

    def test_unknown_path_and_bad_body(self) -> None:
        assert standin_openai.handle(Request("POST", "/v1/other", {}, {}, b"{}")) is None
        reply = standin_openai.handle(Request("POST", "/v1/chat/completions", {}, {}, b"[]"))
        assert reply is not None
        assert reply.status == 400
        assert reply.body["error"]["type"] == "invalid_request_error"

    def test_reply_model_is_dated(self) -> None:
        assert reply_model("gpt-4o-mini") == DATED_MODEL
        assert reply_model("gpt-4o-2024-05-13") == "gpt-4o-2024-05-13"

"""The Anthropic integration, run with the real anthropic SDK against the local stand-in.

Plain ``messages.create`` (and ``parse``), usage and cost, errors, installation and concurrency;
streams are in ``test_anthropic_streams.py``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")

from anthropic.lib.streaming import (  # noqa: E402 - after the importorskip
    AsyncMessageStream,
    AsyncMessageStreamManager,
    MessageStream,
    MessageStreamManager,
)
from anthropic.resources.messages import AsyncMessages, Messages  # noqa: E402

from aiobs import observe, observer, providers  # noqa: E402
from aiobs.providers.base import WRAPPED_MARK, version_tuple  # noqa: E402
from aiobs.standin import Reply, StandinServer  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens  # noqa: E402
from aiobs.standin.anthropic import error_reply, response_model  # noqa: E402
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
OVERLOADED = getattr(anthropic, "OverloadedError", anthropic.InternalServerError)

HAS_PARSE = hasattr(Messages, "parse")
CREATE_PARAMETERS = inspect.signature(Messages.create).parameters
HAS_THINKING = "thinking" in CREATE_PARAMETERS
HAS_SAMPLING = "temperature" in CREATE_PARAMETERS  # dropped from the signature in anthropic 2
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
    return observer.observe("anthropic-tests")


def prompt_tokens(*parts: str) -> int:
    """The stand-in's count of a prompt made of these parts (system, messages, tools)."""
    return count_tokens("\n".join(parts))


def wire_usage(
    input_tokens: int, output_tokens: int, read: int = 0, write: int = 0
) -> dict[str, Any]:
    """The usage object the stand-in sends, field for field."""
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def expected_cost(
    model: str, input_tokens: int, output_tokens: int, read: int = 0, write: int = 0
) -> dict[str, float]:
    """The cost from the shipped pricing table, computed apart from aiobs.pricing.

    ``input_tokens`` is the uncached part of the prompt, as Anthropic reports it.
    """
    whole_prompt = input_tokens + read + write
    return clients.expected_cost(
        "anthropic", model, whole_prompt, output_tokens, cached=read, cache_write=write
    )


SEARCH_TOOL = {
    "name": "search",
    "description": "Search the web.",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


# -- one call, field by field ----------------------------------------------------------------------


class TestCreate:
    """``client.messages.create`` becomes one complete event."""

    def test_every_field_of_the_event(self, client: Any, session: str) -> None:
        question = "What is the capital of France?"

        @observe
        def ask() -> Any:
            nonlocal line
            line = next_line()
            return client.messages.create(
                model=MODEL,
                max_tokens=256,
                system="Answer briefly.",
                messages=user(question),
                stop_sequences=["END"],
                metadata={"user_id": "u-1"},
            )

        line = 0
        message = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for(question)
        input_tokens = prompt_tokens("Answer briefly.", question)
        output_tokens = count_tokens(answer)

        assert message.content[0].text == answer
        assert event["provider"] == "anthropic"
        assert event["api"] == "messages.create"
        assert event["operation"] == "chat"
        assert event["request"] == {
            "model": MODEL,
            "max_tokens": 256,
            "system": "Answer briefly.",
            "messages": user(question),
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
        }
        assert event["request_model"] == MODEL
        assert event["response_model"] == SNAPSHOT
        assert event["response"] == {
            "id": message.id,
            "model": SNAPSHOT,
            "text": answer,
            "finish_reasons": ["end_turn"],
            "usage": wire_usage(input_tokens, output_tokens),
        }
        assert message.id.startswith("msg_")
        assert event["usage"] == {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "cached_input_tokens": 0,
            "reasoning_tokens": None,
            "cache_write_tokens": 0,
        }
        assert event["cost"] == expected_cost(MODEL, input_tokens, output_tokens)
        assert event["status"] == "ok"
        assert event["error"] is None
        assert "stream" not in event
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["trace_id"] == function["trace_id"]
        assert event["span_id"] != function["span_id"]
        assert event["session_id"] == session
        assert event["duration_ms"] > 0

    def test_system_blocks_tools_and_choices_are_recorded_as_given(self, client: Any) -> None:
        system = [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}]
        turns = [
            {"role": "user", "content": [{"type": "text", "text": "first"}]},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "second"},
        ]
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            system=system,
            messages=turns,
            tools=[SEARCH_TOOL],
            tool_choice={"type": "none"},
            metadata={"user_id": "u-2"},
        )
        request = only_event()["request"]
        assert request == {
            "model": MODEL,
            "max_tokens": 64,
            "system": system,
            "messages": turns,
            "tools": [SEARCH_TOOL],
            "tool_choice": {"type": "none"},
            "metadata": {"user_id": "u-2"},
        }

    def test_sampling_parameters_are_recorded(self, client: Any) -> None:
        sampling = {"temperature": 0.2, "top_k": 5, "top_p": 0.9}
        if HAS_SAMPLING:
            client.messages.create(model=MODEL, max_tokens=64, messages=user("x"), **sampling)
            expected = sampling
        else:  # anthropic 2 takes them through extra_body only
            client.messages.create(
                model=MODEL, max_tokens=64, messages=user("x"), extra_body=sampling
            )
            expected = {"extra_body": sampling}
        assert only_event()["request"] == {
            "model": MODEL,
            "max_tokens": 64,
            "messages": user("x"),
            **expected,
        }

    def test_transport_arguments_are_left_out_and_extra_body_kept(
        self, client: Any, standin: StandinServer
    ) -> None:
        client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=user("hi"),
            extra_headers={"x-custom": "1"},
            extra_query={"beta": "true"},
            extra_body={"top_k": 3},
            timeout=30,
        )
        assert only_event()["request"] == {
            "model": MODEL,
            "max_tokens": 64,
            "messages": user("hi"),
            "extra_body": {"top_k": 3},
        }
        (sent,) = standin.requests
        assert sent.headers["x-custom"] == "1"  # the SDK still got every argument
        assert sent.json()["top_k"] == 3

    def test_tool_use_blocks_are_tool_calls(self, client: Any) -> None:
        message = client.messages.create(
            model=MODEL, max_tokens=128, messages=user("weather in Paris"), tools=[SEARCH_TOOL]
        )
        (block,) = message.content
        event = only_event()
        assert event["response"]["tool_calls"] == [
            {"id": block.id, "name": "search", "arguments": {"query": "weather in Paris"}}
        ]
        assert block.id.startswith("toolu_")
        assert event["response"]["text"] == ""
        assert event["response"]["finish_reasons"] == ["tool_use"]
        assert event["usage"]["input_tokens"] == prompt_tokens(
            "weather in Paris", json.dumps([SEARCH_TOOL], sort_keys=True)
        )
        assert event["usage"]["output_tokens"] == count_tokens(
            json.dumps({"query": "weather in Paris"})
        )

    def test_a_tool_result_turn_gets_a_text_answer(self, client: Any) -> None:
        first = client.messages.create(
            model=MODEL, max_tokens=128, messages=user("weather in Oslo"), tools=[SEARCH_TOOL]
        )
        (call,) = first.content
        result = {"type": "tool_result", "tool_use_id": call.id, "content": "cold"}
        turns = [
            *user("weather in Oslo"),
            {"role": "assistant", "content": [call.model_dump()]},
            {"role": "user", "content": [result]},
        ]
        client.messages.create(model=MODEL, max_tokens=128, messages=turns, tools=[SEARCH_TOOL])
        first_event, second_event = provider_events()
        assert first_event["response"]["finish_reasons"] == ["tool_use"]
        assert "tool_calls" not in second_event["response"]
        assert second_event["response"]["text"] == answer_for("cold")
        assert second_event["request"]["messages"][2]["content"] == [result]

    def test_a_cut_answer_finishes_for_max_tokens(self, client: Any) -> None:
        message = client.messages.create(model=MODEL, max_tokens=3, messages=user("long"))
        event = only_event()
        assert message.stop_reason == "max_tokens"
        assert event["response"]["finish_reasons"] == ["max_tokens"]
        assert event["response"]["text"] == answer_for("long")[:12]
        assert event["usage"]["output_tokens"] == 3

    def test_instrumented_calls_return_what_the_sdk_returns(self, client: Any) -> None:
        recorded = client.messages.create(model=MODEL, max_tokens=64, messages=user("same"))
        assert len(provider_events()) == 1
        providers.uninstrument()
        plain = client.messages.create(model=MODEL, max_tokens=64, messages=user("same"))
        assert type(recorded) is type(plain)
        assert recorded.model_dump() == plain.model_dump()
        assert provider_events() == []

    def test_raw_responses_are_recorded_without_a_body(self, client: Any) -> None:
        raw = client.messages.with_raw_response.create(
            model=MODEL, max_tokens=64, messages=user("raw")
        )
        message = raw.parse()
        event = only_event()
        assert message.content[0].text == answer_for("raw")
        assert event["api"] == "messages.create"
        assert event["status"] == "ok"
        assert event["request"]["messages"] == user("raw")
        assert event["response"] is None
        assert event["usage"] is None


class TestUsage:
    """Anthropic's usage normalized: cache reads and writes are part of the prompt."""

    def test_cache_reads_and_writes_are_counted_and_priced(self, client: Any) -> None:
        message = client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=user("cached question"),
            metadata={"standin_cache": {"read": 1200, "write": 300}},
        )
        uncached = prompt_tokens("cached question")
        output_tokens = count_tokens(answer_for("cached question"))
        event = only_event()
        assert message.usage.cache_read_input_tokens == 1200
        assert message.usage.input_tokens == uncached
        assert event["response"]["usage"] == wire_usage(uncached, output_tokens, 1200, 300)
        assert event["usage"] == {
            "input_tokens": uncached + 1500,
            "output_tokens": output_tokens,
            "total_tokens": uncached + 1500 + output_tokens,
            "cached_input_tokens": 1200,
            "reasoning_tokens": None,
            "cache_write_tokens": 300,
        }
        cost = expected_cost(MODEL, uncached, output_tokens, read=1200, write=300)
        assert event["cost"] == cost
        # the cache prices differ from the input price, so the split matters
        assert cost != expected_cost(MODEL, uncached + 1500, output_tokens)

    @needs_thinking
    def test_thinking_is_output_but_not_text(self, client: Any) -> None:
        message = client.messages.create(
            model=MODEL,
            max_tokens=2048,
            messages=user("think first"),
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
        thinking, text = message.content
        assert thinking.type == "thinking"
        event = only_event()
        thinking_tokens = count_tokens(thinking.thinking)
        assert event["response"]["text"] == answer_for("think first")
        assert thinking.thinking not in event["response"]["text"]
        assert event["usage"]["output_tokens"] == thinking_tokens + count_tokens(text.text)
        assert event["usage"]["reasoning_tokens"] == thinking_tokens
        assert event["request"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}

    def test_a_model_without_a_price_has_no_cost(self, client: Any) -> None:
        client.messages.create(model="claude-unpriced-9", max_tokens=64, messages=user("x"))
        event = only_event()
        assert event["response_model"] == "claude-unpriced-9"
        assert event["usage"]["input_tokens"] == 1
        assert event["cost"] is None

    def test_a_latest_alias_is_answered_by_a_dated_model(self, client: Any) -> None:
        client.messages.create(model="claude-3-haiku-latest", max_tokens=64, messages=user("x"))
        event = only_event()
        assert event["request_model"] == "claude-3-haiku-latest"
        assert event["response_model"] == "claude-3-haiku-20250101"
        assert event["cost"] is not None  # priced as claude-3-haiku


@pytest.mark.skipif(not HAS_PARSE, reason=f"anthropic {SDK_VERSION} has no messages.parse")
class TestParse:
    """``client.messages.parse`` is recorded like ``create``, once."""

    def test_parse_is_one_event(self, client: Any) -> None:
        parsed = client.messages.parse(model=MODEL, max_tokens=64, messages=user("parse me"))
        event = only_event()
        assert event["api"] == "messages.parse"
        assert event["response"]["id"] == parsed.id
        assert event["response"]["text"] == answer_for("parse me")

    def test_async_parse_is_one_event(self, standin: StandinServer) -> None:
        async def work(client: Any) -> Any:
            return await client.messages.parse(
                model=MODEL, max_tokens=64, messages=user("parse me")
            )

        parsed = run_async(standin, work)
        event = only_event()
        assert event["api"] == "messages.parse"
        assert event["response"]["id"] == parsed.id


# -- errors ----------------------------------------------------------------------------------------


class TestErrors:
    """Failed calls are recorded with the SDK's exception, which reaches the program unchanged."""

    @pytest.mark.parametrize(
        ("status", "exception_type", "error_type"),
        [
            (400, anthropic.BadRequestError, "invalid_request_error"),
            (429, anthropic.RateLimitError, "rate_limit_error"),
            (500, anthropic.InternalServerError, "api_error"),
            (529, OVERLOADED, "overloaded_error"),
        ],
    )
    def test_http_errors(
        self,
        client: Any,
        standin: StandinServer,
        status: int,
        exception_type: type[Exception],
        error_type: str,
    ) -> None:
        standin.fail_next(error_reply(status, "stand-in says no"))
        line = next_line()
        with pytest.raises(exception_type) as caught:
            client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"))
        assert caught.value.status_code == status  # type: ignore[attr-defined]
        assert caught.value.body["error"]["type"] == error_type  # type: ignore[attr-defined]
        assert len(standin.requests) == 1  # raised at once: no retry
        event = only_event()
        name = type(caught.value).__name__
        assert event["status"] == "error"
        assert event["request"]["messages"] == user("hi")
        assert event["response"] is None
        assert event["usage"] is None
        assert event["cost"] is None
        assert event["exception"]["type"] == f"{type(caught.value).__module__}.{name}"
        assert event["exception"]["status_code"] == status
        assert event["exception"]["message"] == str(caught.value)
        assert "stand-in says no" in event["exception"]["message"]
        assert event["error"] == f"{name}: {caught.value}"
        assert event["callsite"]["line"] == line + 1

    def test_a_rate_limit_says_when_to_retry(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(429, "slow down"))
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"))
        assert caught.value.response.headers["retry-after"] == "1"
        assert only_event()["exception"]["status_code"] == 429

    def test_a_timeout(self, client: Any, standin: StandinServer) -> None:
        client = client.with_options(timeout=0.2)
        standin.fail_next(Reply(delay=1.0, body={}))
        with pytest.raises(anthropic.APITimeoutError) as caught:
            client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"))
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"] == "anthropic.APITimeoutError"
        assert event["error"] == f"APITimeoutError: {caught.value}"
        assert "status_code" not in event["exception"]
        assert 150 < event["duration_ms"] < 900

    def test_a_connection_reset(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(Reply(reset=True))
        with pytest.raises(anthropic.APIConnectionError) as caught:
            client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"))
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"] == f"anthropic.{type(caught.value).__name__}"
        assert event["error"] == f"{type(caught.value).__name__}: {caught.value}"

    def test_async_http_error(self, standin: StandinServer) -> None:
        standin.fail_next(error_reply(529, "overloaded"))

        async def work(client: Any) -> None:
            await client.messages.create(model=MODEL, max_tokens=64, messages=user("hi"))

        with pytest.raises(OVERLOADED):
            run_async(standin, work)
        event = only_event()
        assert event["exception"]["status_code"] == 529
        assert event["status"] == "error"

    def test_the_sdks_own_argument_errors_are_recorded_and_raised(self, client: Any) -> None:
        with pytest.raises(TypeError):
            client.messages.create(model=MODEL, messages=user("no max_tokens"))
        event = only_event()
        assert event["exception"]["type"] == "TypeError"
        assert event["request"] == {"model": MODEL, "messages": user("no max_tokens")}


# -- async -----------------------------------------------------------------------------------------


class TestAsync:
    """``AsyncAnthropic`` calls, alone and in parallel."""

    def test_async_create(self, standin: StandinServer, session: str) -> None:
        @observe
        async def ask(client: Any) -> Any:
            nonlocal line
            line = next_line()
            return await client.messages.create(
                model=MODEL, max_tokens=64, messages=user("async question")
            )

        line = 0
        message = run_async(standin, ask)
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        input_tokens = prompt_tokens("async question")
        output_tokens = count_tokens(answer_for("async question"))
        assert event["api"] == "messages.create"
        assert event["response"]["id"] == message.id
        assert event["response"]["text"] == answer_for("async question")
        assert event["response"]["usage"] == wire_usage(input_tokens, output_tokens)
        assert event["usage"]["input_tokens"] == input_tokens
        assert event["cost"] == expected_cost(MODEL, input_tokens, output_tokens)
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_async_returns_what_the_sdk_returns(self, standin: StandinServer) -> None:
        async def work(client: Any) -> Any:
            return await client.messages.create(model=MODEL, max_tokens=64, messages=user("same"))

        recorded = run_async(standin, work)
        providers.uninstrument()
        plain = run_async(standin, work)
        assert type(recorded) is type(plain)
        assert recorded.model_dump() == plain.model_dump()
        assert len(provider_events()) == 1

    def test_parallel_calls_are_children_of_their_own_spans(self, standin: StandinServer) -> None:
        @observe
        async def ask(client: Any, question: str) -> str:
            message = await client.messages.create(
                model=MODEL, max_tokens=64, messages=user(question)
            )
            return str(message.content[0].text)

        async def work(client: Any) -> list[str]:
            return await asyncio.gather(*(ask(client, f"question {n}") for n in range(4)))

        answers = run_async(standin, work)
        assert answers == [answer_for(f"question {n}") for n in range(4)]
        document = flush_document()
        spans = {event["args"][1]: event["span_id"] for event in document["function_events"]}
        assert len(document["events"]) == 4
        for event in document["events"]:
            question = event["request"]["messages"][0]["content"]
            assert event["parent_span_id"] == spans[question]
            assert event["response"]["text"] == answer_for(question)

    def test_parallel_sessions_get_their_own_calls(self, standin: StandinServer) -> None:
        async def in_session(client: Any, name: str) -> str:
            async with observer.session(name) as scoped:
                await client.messages.create(model=MODEL, max_tokens=64, messages=user(name))
                return scoped.id

        async def work(client: Any) -> list[str]:
            return await asyncio.gather(*(in_session(client, f"session {n}") for n in range(3)))

        ids = run_async(standin, work)
        events = provider_events()
        assert len(set(ids)) == 3
        by_question = {event["request"]["messages"][0]["content"]: event for event in events}
        assert len(by_question) == 3
        for n, session_id in enumerate(ids):
            event = by_question[f"session {n}"]
            assert event["session_id"] == session_id
            assert event["parent_span_id"] is None


# -- installation ----------------------------------------------------------------------------------


PATCHED: list[tuple[type, str]] = [
    (Messages, "create"),
    (AsyncMessages, "create"),
    (Messages, "stream"),
    (AsyncMessages, "stream"),
    (MessageStreamManager, "__enter__"),
    (AsyncMessageStreamManager, "__aenter__"),
    (anthropic.Stream, "close"),
    (anthropic.AsyncStream, "close"),
    (MessageStream, "close"),
    (AsyncMessageStream, "close"),
]
if HAS_PARSE:
    PATCHED += [(Messages, "parse"), (AsyncMessages, "parse")]


class TestInstallation:
    """Installing patches the SDK classes once; uninstalling puts the originals back."""

    def test_uninstall_restores_the_original_functions(self) -> None:
        wrapped = {key: key[0].__dict__[key[1]] for key in PATCHED}
        originals = {key: getattr(value, WRAPPED_MARK) for key, value in wrapped.items()}
        providers.uninstrument("anthropic")
        for owner, name in PATCHED:
            assert owner.__dict__[name] is originals[(owner, name)]
            assert not hasattr(owner.__dict__[name], WRAPPED_MARK)
        assert "anthropic" not in providers.installed()

    def test_installing_twice_wraps_once(self, client: Any) -> None:
        providers.instrument("anthropic")
        providers.instrument("anthropic")
        for owner, name in PATCHED:
            original = getattr(owner.__dict__[name], WRAPPED_MARK)
            assert not hasattr(original, WRAPPED_MARK)
        assert sorted(providers.provider("anthropic").wrapped_apis()) == sorted(
            f"{owner.__name__}.{name}" for owner, name in PATCHED
        )
        client.messages.create(model=MODEL, max_tokens=64, messages=user("once"))
        assert len(provider_events()) == 1

    def test_nothing_is_recorded_without_a_session(self, client: Any) -> None:
        observer.end()
        message = client.messages.create(model=MODEL, max_tokens=64, messages=user("unrecorded"))
        with client.messages.stream(
            model=MODEL, max_tokens=64, messages=user("unrecorded")
        ) as stream:
            text = stream.get_final_text()
        assert message.content[0].text == text == answer_for("unrecorded")
        observer.observe("after")
        assert provider_events() == []

    def test_the_provider_describes_its_sdk(self) -> None:
        integration = providers.provider("anthropic")
        assert (
            integration.name,
            integration.module,
            integration.distribution,
            integration.extra,
        ) == ("anthropic", "anthropic", "anthropic", "anthropic")
        assert version_tuple(integration.min_version) <= SDK_VERSION
        assert "anthropic>=0.40.0" in integration.install_hint()


# -- the stand-in ----------------------------------------------------------------------------------


class TestStandin:
    """The stand-in's Messages route answers like the API, errors included."""

    def post(self, standin: StandinServer, body: Any, method: str = "POST") -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{standin.anthropic_url}/v1/messages",
            data=json.dumps(body).encode(),
            method=method,
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())

    def test_an_invalid_request_gets_the_vendor_error_shape(self, standin: StandinServer) -> None:
        status, body = self.post(standin, {"model": MODEL, "messages": user("hi")})
        assert status == 400
        assert body["type"] == "error"
        assert body["error"] == {
            "type": "invalid_request_error",
            "message": "max_tokens: Field required",
        }
        assert body["request_id"].startswith("req_")

    def test_only_post_is_allowed(self, standin: StandinServer) -> None:
        status, body = self.post(standin, {}, method="PUT")
        assert status == 405
        assert body["type"] == "error"

    def test_error_replies_name_the_error_type(self) -> None:
        overloaded = error_reply(529, "busy")
        limited = error_reply(429, "slow down")
        assert overloaded.status == 529
        assert overloaded.body["error"] == {"type": "overloaded_error", "message": "busy"}
        assert "retry-after" not in overloaded.headers
        assert limited.headers["retry-after"] == "1"
        assert limited.body["error"]["type"] == "rate_limit_error"

    @pytest.mark.parametrize(
        ("asked", "answered"),
        [
            ("claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
            ("claude-haiku-4-5", "claude-haiku-4-5-20251001"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
            ("claude-next-latest", "claude-next-20250101"),
        ],
    )
    def test_aliases_are_answered_by_dated_models(self, asked: str, answered: str) -> None:
        assert response_model(asked) == answered

    def test_plain_answers_are_the_wire_format(self, standin: StandinServer) -> None:
        status, body = self.post(
            standin, {"model": MODEL, "max_tokens": 64, "messages": user("wire")}
        )
        assert status == 200
        assert body == {
            "id": body["id"],
            "type": "message",
            "role": "assistant",
            "model": SNAPSHOT,
            "content": [{"type": "text", "text": answer_for("wire")}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": wire_usage(count_tokens("wire"), count_tokens(answer_for("wire"))),
        }

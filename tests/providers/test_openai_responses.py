"""The Responses API (``responses.create``, ``.stream()``, ``.parse``), against the stand-in."""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib.metadata
import json
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from pydantic import BaseModel  # noqa: E402

from aiobs import observe, observer  # noqa: E402
from aiobs.providers.base import version_tuple  # noqa: E402
from aiobs.standin import StandinServer  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens, pieces  # noqa: E402
from aiobs.standin.openai import REASONING_TOKENS, error_reply  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers import clients  # noqa: E402
from tests.providers.clients import async_openai_client as async_client  # noqa: E402
from tests.providers.clients import dumps, openai_client, prices  # noqa: E402
from tests.providers.conftest import next_line, only_event, provider_events  # noqa: E402

SDK_VERSION = version_tuple(importlib.metadata.version("openai"))
pytestmark = pytest.mark.skipif(
    SDK_VERSION < (1, 66),
    reason=f"openai {'.'.join(map(str, SDK_VERSION))} predates the Responses API (1.66)",
)

MODEL = "gpt-4o-mini"
DATED_MODEL = "gpt-4o-mini-2024-07-18"
PRICES = prices("openai")
TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "strict": False,
    }
]


class Capital(BaseModel):
    """A structured answer, for ``parse`` and ``text_format``."""

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
    return observer.observe("openai-responses-tests")


def usage_of(question: str, instructions: str = "", cached: int = 0, reasoning: int = 0) -> Any:
    """The normalized usage the stand-in reports for a question."""
    prompt = count_tokens(question + (f" {instructions}" if instructions else ""))
    output = count_tokens(answer_for(question)) + reasoning
    return {
        "input_tokens": prompt,
        "output_tokens": output,
        "total_tokens": prompt + output,
        "cached_input_tokens": cached,
        "reasoning_tokens": reasoning,
    }


def expected_cost(usage: dict[str, Any]) -> dict[str, float]:
    """The cost from the shipped pricing table, computed independently of aiobs.pricing."""
    price = PRICES[MODEL]
    cached = usage["cached_input_tokens"]
    input_cost = (
        (usage["input_tokens"] - cached) * price["input"] + cached * price["cached_input"]
    ) / 1e6
    output_cost = usage["output_tokens"] * price["output"] / 1e6
    return {
        "input": round(input_cost, 8),
        "output": round(output_cost, 8),
        "total": round(input_cost + output_cost, 8),
    }


class TestCreate:
    """``responses.create`` becomes one event of operation ``responses``."""

    def test_every_field_of_the_event(self, client: Any, session: str) -> None:
        question = "Name a river."

        @observe
        def ask() -> Any:
            nonlocal line
            line = next_line()
            return client.responses.create(model=MODEL, input=question, instructions="Be brief.")

        line = 0
        response = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        usage = usage_of(question, "Be brief.")
        assert response.output_text == answer_for(question)
        assert event["provider"] == "openai"
        assert event["api"] == "responses.create"
        assert event["operation"] == "responses"
        assert event["request"] == {
            "model": MODEL,
            "input": question,
            "instructions": "Be brief.",
        }
        assert event["response"] == {
            "id": response.id,
            "model": DATED_MODEL,
            "text": answer_for(question),
            "usage": {
                "input_tokens": usage["input_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage["total_tokens"],
            },
            "finish_reasons": ["completed"],
        }
        assert event["usage"] == usage
        assert event["cost"] == expected_cost(usage)
        assert event["response_model"] == DATED_MODEL
        assert event["status"] == "ok"
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["session_id"] == session

    def test_returns_what_the_sdk_returns(self, client: Any) -> None:
        plain = uninstrumented(lambda: client.responses.create(model=MODEL, input="same"))
        recorded = client.responses.create(model=MODEL, input="same")
        assert type(recorded) is type(plain)
        assert recorded.model_dump(warnings=False) == plain.model_dump(warnings=False)

    def test_message_list_input(self, client: Any) -> None:
        conversation = [{"role": "user", "content": [{"type": "input_text", "text": "hi list"}]}]
        client.responses.create(model=MODEL, input=conversation)
        event = only_event()
        assert event["request"]["input"] == conversation
        assert event["response"]["text"] == answer_for("hi list")

    def test_function_call(self, client: Any) -> None:
        response = client.responses.create(model=MODEL, input="find Paris", tools=TOOLS)
        event = only_event()
        (call,) = response.output
        assert event["request"]["tools"] == TOOLS
        assert event["response"]["tool_calls"] == [
            {"id": call.call_id, "name": "lookup", "arguments": '{"query": "find Paris"}'}
        ]
        assert event["response"]["text"] is None

    def test_cached_and_reasoning_tokens(self, client: Any) -> None:
        question = "think about this long question " * 4
        client.responses.create(
            model=MODEL,
            input=question,
            reasoning={"effort": "low"},
            extra_body={"prompt_cache_key": "k"},  # not an argument before openai 1.9x
        )
        event = only_event()
        prompt = count_tokens(question)
        usage = usage_of(question, cached=prompt // 2, reasoning=REASONING_TOKENS)
        assert event["usage"] == usage
        assert event["cost"] == expected_cost(usage)

    def test_async(self, standin: StandinServer) -> None:
        async def main() -> Any:
            async with async_client(standin) as aclient:
                return await aclient.responses.create(model=MODEL, input="async response")

        response = asyncio.run(main())
        event = only_event()
        assert event["api"] == "responses.create"
        assert event["response"]["text"] == response.output_text

    def test_error(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(400, "bad input"))
        with pytest.raises(openai.BadRequestError):
            client.responses.create(model=MODEL, input="x")
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["status_code"] == 400
        assert event["operation"] == "responses"

    def test_parse(self, client: Any) -> None:
        parsed = client.responses.parse(model=MODEL, input="parse it", text_format=Capital)
        event = only_event()
        assert parsed.output_parsed == Capital(city=answer_for("parse it"))
        assert event["api"] == "responses.parse"
        assert event["operation"] == "responses"
        assert json.loads(event["response"]["text"]) == {"city": answer_for("parse it")}
        assert event["usage"]["input_tokens"] == parsed.usage.input_tokens


class TestStreams:
    """``responses.create(stream=True)`` and the ``responses.stream()`` helper."""

    def test_create_stream(self, client: Any) -> None:
        question = "stream a response"
        events = list(client.responses.create(model=MODEL, input=question, stream=True))
        event = only_event()
        assert events[-1].type == "response.completed"
        assert event["api"] == "responses.create"
        assert event["request"] == {"model": MODEL, "input": question, "stream": True}
        assert event["response"]["text"] == answer_for(question)
        assert event["response"]["id"] == events[0].response.id
        assert event["usage"] == usage_of(question)
        assert event["stream"]["chunks"] == len(events)
        assert event["stream"]["status"] == "completed"

    def test_create_stream_returns_the_same_events(self, client: Any) -> None:
        ask = {"model": MODEL, "input": "same events", "stream": True}
        plain = uninstrumented(lambda: list(client.responses.create(**ask)))
        assert dumps(list(client.responses.create(**ask))) == dumps(plain)

    def test_closed_early(self, client: Any) -> None:
        stream = client.responses.create(model=MODEL, input="stop soon", stream=True)
        received = [next(stream) for _ in range(6)]  # created ... two text deltas
        stream.close()
        event = only_event()
        deltas = [item.delta for item in received if item.type == "response.output_text.delta"]
        assert event["stream"]["status"] == "closed"
        assert (
            event["response"]["text"]
            == "".join(deltas)
            == "".join(pieces(answer_for("stop soon"))[:2])
        )
        assert event["response"]["id"] == received[0].response.id
        assert event["usage"] is None

    def test_function_call_stream(self, client: Any) -> None:
        list(client.responses.create(model=MODEL, input="stream a call", tools=TOOLS, stream=True))
        event = only_event()
        (call,) = event["response"]["tool_calls"]
        assert call["name"] == "lookup"
        assert call["arguments"] == '{"query": "stream a call"}'

    def test_function_call_stream_closed_early(self, client: Any) -> None:
        stream = client.responses.create(
            model=MODEL, input="partial call", tools=TOOLS, stream=True
        )
        received = [next(stream) for _ in range(5)]
        del stream
        gc.collect()
        event = only_event()
        deltas = [
            item.delta for item in received if item.type == "response.function_call_arguments.delta"
        ]
        (call,) = event["response"]["tool_calls"]
        assert call["name"] == "lookup"
        assert call["arguments"] == "".join(deltas)
        assert event["stream"]["status"] == "closed"

    def test_helper_is_one_event(self, client: Any, session: str) -> None:
        question = "helper response"
        line = next_line()
        with client.responses.stream(model=MODEL, input=question) as stream:
            deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
            final = stream.get_final_response()
        event = only_event()
        assert "".join(deltas) == final.output_text == answer_for(question)
        assert event["api"] == "responses.stream"
        assert event["operation"] == "responses"
        assert event["request"]["input"] == question
        assert event["response"]["text"] == answer_for(question)
        assert event["usage"] == usage_of(question)
        assert event["stream"]["status"] == "completed"
        assert event["callsite"]["line"] == line
        assert event["session_id"] == session

    def test_helper_behaves_as_without_aiobs(self, client: Any) -> None:
        def run_helper() -> tuple[list[Any], Any]:
            with client.responses.stream(model=MODEL, input="same helper", tools=TOOLS) as stream:
                events = list(stream)
                return events, stream.get_final_response()

        plain_events, plain_final = uninstrumented(run_helper)
        events, final = run_helper()
        assert dumps(events) == dumps(plain_events)
        assert final.model_dump(warnings=False) == plain_final.model_dump(warnings=False)
        assert len(provider_events()) == 1

    def test_helper_until_done_and_text_format(self, client: Any) -> None:
        with client.responses.stream(model=MODEL, input="shaped", text_format=Capital) as stream:
            stream.until_done()
            final = stream.get_final_response()
        event = only_event()
        assert final.output_parsed == Capital(city=answer_for("shaped"))
        assert event["api"] == "responses.stream"
        assert json.loads(event["response"]["text"]) == {"city": answer_for("shaped")}

    def test_helper_left_early(self, client: Any) -> None:
        with client.responses.stream(model=MODEL, input="leave") as stream:
            for _event in stream:
                break
        event = only_event()
        assert event["api"] == "responses.stream"
        assert event["stream"]["status"] == "closed"
        assert event["stream"]["chunks"] == 1

    def test_async_helper_and_stream(self, standin: StandinServer) -> None:
        async def main() -> tuple[str, list[Any]]:
            async with async_client(standin) as aclient:
                async with aclient.responses.stream(model=MODEL, input="async helper") as stream:
                    async for _event in stream:
                        pass
                    final = await stream.get_final_response()
                created = await aclient.responses.create(
                    model=MODEL, input="async create", stream=True
                )
                return final.output_text, [event async for event in created]

        text, events = asyncio.run(main())
        helper, plain = provider_events()
        assert text == answer_for("async helper")
        assert helper["api"] == "responses.stream"
        assert helper["response"]["text"] == text
        assert plain["api"] == "responses.create"
        assert plain["stream"]["chunks"] == len(events)
        assert plain["usage"] == usage_of("async create")

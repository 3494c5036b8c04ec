"""The Gemini integration, run with the real google-genai SDK against the local stand-in."""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.metadata
import importlib.util
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

genai = pytest.importorskip("google.genai")

from google.genai import errors, types  # noqa: E402 - after the importorskip

from aiobs import observe, observer, providers  # noqa: E402
from aiobs.providers.base import WRAPPED_MARK, version_tuple  # noqa: E402
from aiobs.providers.gemini import embedding_outcome  # noqa: E402
from aiobs.standin import Reply, StandinServer  # noqa: E402
from aiobs.standin.answers import answer_for, count_tokens  # noqa: E402
from aiobs.standin.gemini import error_reply  # noqa: E402
from tests.helpers import flush_document  # noqa: E402
from tests.providers import clients  # noqa: E402
from tests.providers.conftest import next_line, only_event, provider_events  # noqa: E402

T = TypeVar("T")
SDK_VERSION = version_tuple(importlib.metadata.version("google-genai"))
MODEL = "gemini-2.5-flash"
EMBEDDING_MODEL = "gemini-embedding-001"

HAS_RESPONSE_ID = "response_id" in types.GenerateContentResponse.model_fields
HAS_THOUGHTS = "thoughts_token_count" in types.GenerateContentResponseUsageMetadata.model_fields
HAS_TOOL_USE_PROMPT = (
    "tool_use_prompt_token_count" in types.GenerateContentResponseUsageMetadata.model_fields
)
HAS_EMBEDDING_USAGE = "usage_metadata" in types.EmbedContentResponse.model_fields
SDK_ON_REQUESTS = hasattr(importlib.import_module("google.genai._api_client"), "requests")
"""google-genai 1.0 sends with ``requests``; it calls pydantic's deprecated ``.dict()``, trips
pydantic's serializer over function declarations, and leaves a socket open when a stream is closed
early, with or without aiobs: those SDK warnings are silenced for it, nothing else."""
CHAT_RUNS_AFC = "get_function_map" in inspect.getsource(
    importlib.import_module("google.genai.chats").Chat.send_message
)
"""Newer releases run automatic function calling in the chat, one request per round trip; older
ones leave it to ``models.generate_content``, which runs the whole exchange in one call."""
SDK_ON_AIOHTTP = importlib.util.find_spec("aiohttp") is not None
"""With aiohttp installed, the async client uses it; the SDK subclasses its ``ClientSession``,
which aiohttp warns about."""
pytestmark = [
    *(
        [
            pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
            pytest.mark.filterwarnings("ignore::ResourceWarning"),
            pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
        ]
        if SDK_ON_REQUESTS
        else []
    ),
    *(
        [pytest.mark.filterwarnings("ignore:Inheritance class Aiohttp:DeprecationWarning")]
        if SDK_ON_AIOHTTP
        else []
    ),
]
needs_thoughts = pytest.mark.skipif(
    not HAS_THOUGHTS,
    reason=f"google-genai {SDK_VERSION} does not report thoughts_token_count",
)


# -- helpers ---------------------------------------------------------------------------------------


def make_client(standin: StandinServer, **options: Any) -> Any:
    """A client of the stand-in that raises at the first error (no retries)."""
    if hasattr(types, "HttpRetryOptions"):
        options.setdefault("retry_options", types.HttpRetryOptions(attempts=1))
    return genai.Client(
        api_key="x", http_options=types.HttpOptions(base_url=standin.gemini_url, **options)
    )


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Any]:
    """A google-genai client of the stand-in."""
    yield make_client(standin)
    if SDK_ON_REQUESTS:
        gc.collect()  # the sockets that release leaves open go while its warning is silenced


@pytest.fixture(autouse=True)
def session() -> str:
    """Each test records into a fresh default session."""
    return observer.observe("gemini-tests")


def expected_cost(
    model: str, input_tokens: int, output_tokens: int, cached: int = 0
) -> dict[str, float]:
    """The cost from the shipped pricing table, computed independently of aiobs.pricing."""
    return clients.expected_cost("gemini", model, input_tokens, output_tokens, cached=cached)


def reply_id(response: Any) -> str | None:
    """The response id (google-genai releases before it existed have none)."""
    return getattr(response, "response_id", None)


def run_async(client: Any, main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` in a new event loop, then close the client's async side in that loop."""

    async def runner() -> T:
        try:
            return await main()
        finally:
            aclose = getattr(client.aio, "aclose", None)  # older releases have none
            if aclose is not None:
                await aclose()

    return asyncio.run(runner())


def public(response: Any) -> dict[str, Any]:
    """A response's content, without the HTTP headers (their date changes between calls)."""
    data: dict[str, Any] = response.model_dump(exclude={"sdk_http_response"})
    return data


# -- one call, field by field ----------------------------------------------------------------------


class TestGenerateContent:
    """``client.models.generate_content`` becomes one complete event."""

    def test_every_field_of_the_event(self, client: Any, session: str) -> None:
        question = "What is the capital of France?"
        config = types.GenerateContentConfig(
            system_instruction="Answer briefly.", temperature=0.2, max_output_tokens=64
        )

        @observe
        def ask() -> Any:
            nonlocal line
            line = next_line()
            return client.models.generate_content(model=MODEL, contents=question, config=config)

        line = 0
        response = ask()
        document = flush_document()
        (event,) = document["events"]
        (function,) = document["function_events"]
        answer = answer_for(question)
        prompt_tokens = count_tokens("Answer briefly.\n" + question)
        output_tokens = count_tokens(answer)

        assert response.text == answer
        assert event["provider"] == "gemini"
        assert event["api"] == "models.generate_content"
        assert event["operation"] == "generate_content"
        assert event["request"] == {
            "model": MODEL,
            "contents": question,
            "config": {
                "system_instruction": "Answer briefly.",
                "temperature": 0.2,
                "max_output_tokens": 64,
            },
        }
        assert event["request_model"] == MODEL
        assert event["response_model"] == "gemini-2.5-flash-001"
        assert event["response"] == {
            "id": reply_id(response),
            "model": "gemini-2.5-flash-001",
            "text": answer,
            "finish_reasons": ["STOP"],
            "usage": {
                "prompt_token_count": prompt_tokens,
                "candidates_token_count": output_tokens,
                "total_token_count": prompt_tokens + output_tokens,
                **(
                    {"prompt_tokens_details": [{"modality": "TEXT", "token_count": prompt_tokens}]}
                    if "prompt_tokens_details"
                    in types.GenerateContentResponseUsageMetadata.model_fields
                    else {}
                ),
            },
        }
        assert event["usage"] == {
            "input_tokens": prompt_tokens,
            "output_tokens": output_tokens,
            "total_tokens": prompt_tokens + output_tokens,
            "cached_input_tokens": None,
            "reasoning_tokens": None,
        }
        assert event["cost"] == expected_cost(MODEL, prompt_tokens, output_tokens)
        assert event["status"] == "ok"
        assert event["error"] is None
        assert "stream" not in event
        assert event["callsite"] == {"file": __file__, "line": line, "function": "ask"}
        assert event["parent_span_id"] == function["span_id"]
        assert event["trace_id"] == function["trace_id"]
        assert event["span_id"] != function["span_id"]
        assert event["session_id"] == session
        assert event["duration_ms"] > 0

    @pytest.mark.skipif(not HAS_RESPONSE_ID, reason="this google-genai has no response_id")
    def test_the_response_id_is_the_one_the_api_sent(self, client: Any) -> None:
        response = client.models.generate_content(model=MODEL, contents="hello")
        assert response.response_id
        assert only_event()["response"]["id"] == response.response_id

    def test_contents_are_recorded_as_given(self, client: Any) -> None:
        dict_turns = [
            {"role": "user", "parts": [{"text": "first question"}]},
            {"role": "model", "parts": [{"text": "first answer"}]},
            {"role": "user", "parts": [{"text": "second question"}]},
        ]
        typed_turn = types.Content(role="user", parts=[types.Part(text="typed question")])
        client.models.generate_content(model=MODEL, contents=dict_turns)
        client.models.generate_content(model=MODEL, contents=[typed_turn])
        as_dicts, as_models = provider_events()
        assert as_dicts["request"]["contents"] == dict_turns
        (content,) = as_models["request"]["contents"]
        assert content["role"] == "user"
        assert content["parts"][0]["text"] == "typed question"
        assert as_models["response"]["text"] == answer_for("typed question")

    def test_config_dicts_are_kept_without_transport_options(self, client: Any) -> None:
        config = {
            "temperature": 0.7,
            "top_k": 3,
            "stop_sequences": ["END"],
            "http_options": {"headers": {"x-trace": "1"}},
        }
        client.models.generate_content(model=MODEL, contents="hi", config=config)
        assert only_event()["request"]["config"] == {
            "temperature": 0.7,
            "top_k": 3,
            "stop_sequences": ["END"],
        }
        assert "http_options" in config  # the caller's dict is left alone

    def test_function_calls_are_tool_calls(self, client: Any) -> None:
        tool = types.Tool(
            function_declarations=[
                types.FunctionDeclaration(name="search", description="Search the web.")
            ]
        )
        question = "weather in Paris"
        response = client.models.generate_content(
            model=MODEL, contents=question, config=types.GenerateContentConfig(tools=[tool])
        )
        event = only_event()
        (call,) = response.function_calls
        assert event["response"]["tool_calls"] == [
            {"id": call.id, "name": "search", "arguments": {"query": question}}
        ]
        assert call.id  # the stand-in sends ids, so the test sees them carried
        assert event["response"]["text"] is None
        assert event["response"]["finish_reasons"] == ["STOP"]
        (declared,) = event["request"]["config"]["tools"][0]["function_declarations"]
        assert declared["name"] == "search"

    def test_automatic_function_calling_is_one_event(
        self, client: Any, standin: StandinServer
    ) -> None:
        response = client.models.generate_content(
            model=MODEL, contents="find aiobs", config={"tools": [search_tool]}
        )
        event = only_event()
        assert len(standin.requests) == 2  # the function call, then the answer to its result
        assert response.text == answer_for("find aiobs")
        assert event["response"]["text"] == response.text
        assert "tool_calls" not in event["response"]  # the final response is the answer
        assert event["usage"]["output_tokens"] == response.usage_metadata.candidates_token_count
        assert "search_tool" in str(event["request"]["config"]["tools"])

    def test_instrumented_calls_return_what_the_sdk_returns(self, client: Any) -> None:
        recorded = client.models.generate_content(model=MODEL, contents="same question")
        assert len(provider_events()) == 1
        providers.uninstrument()
        plain = client.models.generate_content(model=MODEL, contents="same question")
        assert type(recorded) is type(plain)
        assert public(recorded) == public(plain)
        assert provider_events() == []


class TestUsage:
    """Gemini's usage metadata normalized: thoughts are output, streamed usage is cumulative."""

    @needs_thoughts
    def test_thinking_tokens_are_output_and_thought_text_is_not(self, client: Any) -> None:
        question = "think about this"
        config = types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_budget=256, include_thoughts=True)
        )
        response = client.models.generate_content(model=MODEL, contents=question, config=config)
        event = only_event()
        answer = answer_for(question)
        candidates, thoughts = count_tokens(answer), 2 * count_tokens(answer)
        prompt = count_tokens(question)
        assert response.usage_metadata.thoughts_token_count == thoughts
        assert event["response"]["text"] == answer
        assert event["usage"] == {
            "input_tokens": prompt,
            "output_tokens": candidates + thoughts,
            "total_tokens": prompt + candidates + thoughts,
            "cached_input_tokens": None,
            "reasoning_tokens": thoughts,
        }
        assert event["cost"] == expected_cost(MODEL, prompt, candidates + thoughts)

    def test_cached_and_tool_prompt_tokens(self, client: Any, standin: StandinServer) -> None:
        usage = {
            "promptTokenCount": 1000,
            "cachedContentTokenCount": 600,
            "candidatesTokenCount": 50,
            "totalTokenCount": 1050,
        }
        if HAS_TOOL_USE_PROMPT:
            usage.update(toolUsePromptTokenCount=200, totalTokenCount=1250)
        standin.fail_next(
            Reply.json(
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": [{"text": "cached"}]},
                            "finishReason": "MAX_TOKENS",
                        }
                    ],
                    "usageMetadata": usage,
                    "modelVersion": "gemini-2.5-flash-lite-001",
                }
            )
        )
        client.models.generate_content(model="gemini-2.5-flash-lite", contents="hi")
        event = only_event()
        prompt = 1200 if HAS_TOOL_USE_PROMPT else 1000
        assert event["usage"] == {
            "input_tokens": prompt,
            "output_tokens": 50,
            "total_tokens": usage["totalTokenCount"],
            "cached_input_tokens": 600,
            "reasoning_tokens": None,
        }
        assert event["response"]["finish_reasons"] == ["MAX_TOKENS"]
        assert event["response_model"] == "gemini-2.5-flash-lite-001"
        assert event["cost"] == expected_cost("gemini-2.5-flash-lite", prompt, 50, cached=600)

    def test_a_response_without_usage_has_none(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(
            Reply.json({"candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}}]})
        )
        client.models.generate_content(model=MODEL, contents="hi")
        event = only_event()
        assert event["usage"] is None
        assert event["cost"] is None
        assert event["response"]["usage"] is None
        assert event["response"]["text"] == "x"
        assert "finish_reasons" not in event["response"]

    def test_several_candidates_are_all_recorded(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(
            Reply.json(
                {
                    "candidates": [
                        {
                            "index": 0,
                            "content": {"role": "model", "parts": [{"text": "one"}]},
                            "finishReason": "STOP",
                        },
                        {
                            "index": 1,
                            "content": {"role": "model", "parts": [{"text": "two"}]},
                            "finishReason": "SAFETY",
                        },
                    ],
                    "modelVersion": "gemini-2.5-flash-001",
                }
            )
        )
        client.models.generate_content(model=MODEL, contents="hi", config={"candidate_count": 2})
        response = only_event()["response"]
        assert response["text"] == "one\ntwo"
        assert response["finish_reasons"] == ["STOP", "SAFETY"]

    def test_a_blocked_prompt_records_the_reason(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(
            Reply.json(
                {
                    "promptFeedback": {"blockReason": "SAFETY"},
                    "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4},
                    "modelVersion": "gemini-2.5-flash-001",
                }
            )
        )
        client.models.generate_content(model=MODEL, contents="something unsafe")
        event = only_event()
        assert event["response"]["block_reason"] == "SAFETY"
        assert event["response"]["text"] is None
        assert event["usage"]["input_tokens"] == 4
        assert event["usage"]["output_tokens"] is None


# -- failures --------------------------------------------------------------------------------------


class TestErrors:
    """Failed calls are recorded with the SDK's exception, which reaches the program unchanged."""

    @pytest.mark.parametrize(
        ("status", "exception_type", "rpc_status"),
        [
            (400, errors.ClientError, "INVALID_ARGUMENT"),
            (429, errors.ClientError, "RESOURCE_EXHAUSTED"),
            (500, errors.ServerError, "INTERNAL"),
        ],
    )
    def test_http_errors(
        self,
        client: Any,
        standin: StandinServer,
        status: int,
        exception_type: type[Exception],
        rpc_status: str,
    ) -> None:
        standin.fail_next(error_reply(status, "stand-in says no"))
        line = next_line()
        with pytest.raises(exception_type) as caught:
            client.models.generate_content(model=MODEL, contents="hi")
        assert caught.value.code == status  # type: ignore[attr-defined]
        assert caught.value.status == rpc_status  # type: ignore[attr-defined]
        assert len(standin.requests) == 1  # raised at once: no retry
        event = only_event()
        assert event["status"] == "error"
        assert event["response"] is None
        assert event["usage"] is None
        assert event["cost"] is None
        name = exception_type.__name__
        assert event["exception"]["type"] == f"google.genai.errors.{name}"
        assert event["exception"]["status_code"] == status
        assert event["exception"]["message"] == str(caught.value)
        assert "stand-in says no" in event["exception"]["message"]
        assert event["error"] == f"{name}: {caught.value}"
        assert event["callsite"]["line"] == line + 1

    def test_a_timeout(self, standin: StandinServer) -> None:
        client = make_client(standin, timeout=200)  # milliseconds
        standin.fail_next(Reply(delay=1.5, body={}))
        with pytest.raises(Exception) as caught:
            client.models.generate_content(model=MODEL, contents="hi")
        assert "timeout" in type(caught.value).__name__.lower()
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"].endswith(type(caught.value).__name__)
        assert "status_code" not in event["exception"]
        assert event["duration_ms"] < 1400

    def test_a_connection_reset(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(Reply(reset=True))
        with pytest.raises(Exception) as caught:
            client.models.generate_content(model=MODEL, contents="hi")
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["type"].endswith(type(caught.value).__name__)
        assert event["error"] == f"{type(caught.value).__name__}: {caught.value}"

    def test_async_http_error(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(429, "slow down"))

        async def main() -> None:
            await client.aio.models.generate_content(model=MODEL, contents="hi")

        with pytest.raises(errors.ClientError):
            run_async(client, main)
        event = only_event()
        assert event["exception"]["status_code"] == 429
        assert event["status"] == "error"


# -- async -----------------------------------------------------------------------------------------


class TestAsync:
    """``client.aio.models`` is recorded like the sync client."""

    def test_async_generate_content(self, client: Any, session: str) -> None:
        question = "async question"
        line = 0

        async def main() -> Any:
            nonlocal line
            line = next_line()
            return await client.aio.models.generate_content(model=MODEL, contents=question)

        response = run_async(client, main)
        event = only_event()
        assert response.text == answer_for(question)
        assert event["api"] == "models.generate_content"
        assert event["response"]["text"] == answer_for(question)
        assert event["response"]["id"] == reply_id(response)
        assert event["usage"]["output_tokens"] == count_tokens(answer_for(question))
        assert event["callsite"] == {"file": __file__, "line": line, "function": "main"}
        assert event["session_id"] == session
        assert event["status"] == "ok"

    def test_async_returns_what_the_sdk_returns(self, client: Any) -> None:
        async def main() -> tuple[Any, Any]:
            recorded = await client.aio.models.generate_content(model=MODEL, contents="same")
            providers.uninstrument()
            plain = await client.aio.models.generate_content(model=MODEL, contents="same")
            return recorded, plain

        recorded, plain = run_async(client, main)
        assert type(recorded) is type(plain)
        assert public(recorded) == public(plain)
        assert len(provider_events()) == 1

    def test_parallel_calls_are_children_of_their_own_spans(self, client: Any) -> None:
        @observe
        async def ask(question: str) -> str:
            response = await client.aio.models.generate_content(model=MODEL, contents=question)
            return str(response.text)

        async def main() -> list[str]:
            return await asyncio.gather(*(ask(f"question {n}") for n in range(4)))

        answers = run_async(client, main)
        assert answers == [answer_for(f"question {n}") for n in range(4)]
        document = flush_document()
        spans = {event["args"][0]: event["span_id"] for event in document["function_events"]}
        assert len(document["events"]) == 4
        for event in document["events"]:
            question = event["request"]["contents"]
            assert event["parent_span_id"] == spans[question]
            assert event["response"]["text"] == answer_for(question)

    def test_parallel_sessions_get_their_own_calls(self, client: Any) -> None:
        async def in_session(name: str) -> str:
            async with observer.session(name) as scoped:
                await client.aio.models.generate_content(model=MODEL, contents=name)
                return scoped.id

        async def main() -> list[str]:
            return await asyncio.gather(*(in_session(f"session {n}") for n in range(3)))

        ids = run_async(client, main)
        events = provider_events()
        assert len(set(ids)) == 3
        by_question = {event["request"]["contents"]: event for event in events}
        for n, session_id in enumerate(ids):
            event = by_question[f"session {n}"]
            assert event["session_id"] == session_id
            assert event["parent_span_id"] is None


# -- chats -----------------------------------------------------------------------------------------


class TestChats:
    """Each chat turn is one event, through the wrapped model methods."""

    def test_each_turn_is_one_event_with_the_history(self, client: Any) -> None:
        chat = client.chats.create(model=MODEL, config={"temperature": 0.1})
        first_line = next_line()
        first = chat.send_message("first turn")
        second = chat.send_message("second turn")
        one, two = provider_events()
        assert [one["api"], two["api"]] == ["models.generate_content"] * 2
        assert one["response"]["text"] == first.text == answer_for("first turn")
        assert two["response"]["text"] == second.text == answer_for("second turn")
        assert one["callsite"]["line"] == first_line
        assert two["callsite"]["line"] == first_line + 1
        assert one["callsite"]["file"] == __file__
        history = two["request"]["contents"]
        assert [turn["role"] for turn in history] == ["user", "model", "user"]
        assert [turn["parts"][0]["text"] for turn in history] == [
            "first turn",
            answer_for("first turn"),
            "second turn",
        ]
        assert two["request"]["config"]["temperature"] == 0.1
        assert "http_options" not in two["request"]["config"]

    def test_a_streamed_turn_is_one_event(self, client: Any) -> None:
        chat = client.chats.create(model=MODEL)
        line = next_line()
        pieces = [chunk.text for chunk in chat.send_message_stream("stream me")]
        event = only_event()
        assert "".join(pieces) == answer_for("stream me")
        assert event["api"] == "models.generate_content_stream"
        assert event["response"]["text"] == answer_for("stream me")
        assert event["stream"]["chunks"] == len(pieces)
        assert event["stream"]["status"] == "completed"
        assert event["callsite"]["line"] == line

    def test_async_chat_turns(self, client: Any) -> None:
        async def main() -> list[str]:
            chat = client.aio.chats.create(model=MODEL)
            first = await chat.send_message("async first")
            pieces = [chunk.text async for chunk in await chat.send_message_stream("async two")]
            return [first.text, "".join(pieces)]

        texts = run_async(client, main)
        plain, streamed = provider_events()
        assert plain["api"] == "models.generate_content"
        assert streamed["api"] == "models.generate_content_stream"
        assert [plain["response"]["text"], streamed["response"]["text"]] == texts
        assert texts == [answer_for("async first"), answer_for("async two")]
        assert len(streamed["request"]["contents"]) == 3

    def test_automatic_function_calling_in_a_chat(
        self, client: Any, standin: StandinServer
    ) -> None:
        chat = client.chats.create(model=MODEL, config={"tools": [search_tool]})
        response = chat.send_message("find aiobs")
        events = provider_events()
        assert response.text == answer_for("find aiobs")
        assert len(standin.requests) == 2  # the function call, then the answer to its result
        assert events[-1]["response"]["text"] == response.text
        if CHAT_RUNS_AFC:  # one event per request, each with its own usage
            assert len(events) == 2
            (call,) = events[0]["response"]["tool_calls"]
            assert call["arguments"] == {"query": "find aiobs"}
        else:
            assert len(events) == 1


def search_tool(query: str) -> str:
    """Search the web (a tool the SDK calls by itself)."""
    return f"results for {query}"


# Older releases cannot read postponed (string) annotations.
search_tool.__annotations__ = {"query": str, "return": str}


# -- embeddings ------------------------------------------------------------------------------------


class TestEmbeddings:
    """``embed_content`` records how many vectors of what size, never the vectors."""

    def test_embeddings(self, client: Any, session: str) -> None:
        line = next_line()
        response = client.models.embed_content(
            model=EMBEDDING_MODEL,
            contents=["first text", "second text", "third text"],
            config=types.EmbedContentConfig(output_dimensionality=16),
        )
        event = only_event()
        assert len(response.embeddings) == 3
        assert event["provider"] == "gemini"
        assert event["api"] == "models.embed_content"
        assert event["operation"] == "embeddings"
        assert event["request"] == {
            "model": EMBEDDING_MODEL,
            "contents": ["first text", "second text", "third text"],
            "config": {"output_dimensionality": 16},
        }
        assert event["response"] == {
            "model": EMBEDDING_MODEL,
            "count": 3,
            "dimensions": 16,
            "usage": None,
        }
        assert event["usage"] is None  # the Gemini API reports no tokens for embeddings
        assert event["cost"] is None
        assert event["request_model"] == EMBEDDING_MODEL
        assert event["callsite"]["line"] == line
        assert event["session_id"] == session
        assert event["status"] == "ok"

    @pytest.mark.skipif(
        not HAS_EMBEDDING_USAGE, reason="this google-genai has no usage for embeddings"
    )
    def test_embedding_usage_when_reported(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(
            Reply.json(
                {
                    "embeddings": [{"values": [0.1, 0.2, 0.3]}],
                    "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
                }
            )
        )
        client.models.embed_content(model=EMBEDDING_MODEL, contents="x")
        event = only_event()
        assert event["response"]["dimensions"] == 3
        assert event["usage"]["input_tokens"] == 7
        assert event["usage"]["total_tokens"] == 7
        assert event["response"]["usage"] == {"prompt_token_count": 7, "total_token_count": 7}
        assert event["cost"] == expected_cost(EMBEDDING_MODEL, 7, 0)

    def test_token_counts_from_vector_statistics(self) -> None:
        # Vertex AI reports tokens per vector; the Developer API (the stand-in's) does not.
        response = types.EmbedContentResponse(
            embeddings=[
                types.ContentEmbedding(
                    values=[0.1, 0.2], statistics=types.ContentEmbeddingStatistics(token_count=3)
                ),
                types.ContentEmbedding(
                    values=[0.3, 0.4], statistics=types.ContentEmbeddingStatistics(token_count=5)
                ),
            ]
        )
        outcome = embedding_outcome(EMBEDDING_MODEL, response)
        assert outcome.usage is not None
        assert outcome.usage.input_tokens == 8
        assert outcome.response == {
            "model": EMBEDDING_MODEL,
            "count": 2,
            "dimensions": 2,
            "usage": None,
        }
        response.embeddings[1].statistics = None
        assert embedding_outcome(EMBEDDING_MODEL, response).usage is None  # never a guess

    def test_async_embeddings(self, client: Any) -> None:
        async def main() -> Any:
            return await client.aio.models.embed_content(model=EMBEDDING_MODEL, contents="one")

        response = run_async(client, main)
        event = only_event()
        assert event["response"]["count"] == len(response.embeddings) == 1
        assert event["response"]["dimensions"] == len(response.embeddings[0].values) == 8
        assert event["api"] == "models.embed_content"

    def test_embedding_errors(self, client: Any, standin: StandinServer) -> None:
        standin.fail_next(error_reply(400, "bad input"))
        with pytest.raises(errors.ClientError):
            client.models.embed_content(model=EMBEDDING_MODEL, contents="x")
        event = only_event()
        assert event["status"] == "error"
        assert event["exception"]["status_code"] == 400


# -- installation ----------------------------------------------------------------------------------

PATCHED = [
    ("Models", "generate_content"),
    ("Models", "generate_content_stream"),
    ("Models", "embed_content"),
    ("AsyncModels", "generate_content"),
    ("AsyncModels", "generate_content_stream"),
    ("AsyncModels", "embed_content"),
]


def _attribute(owner: str, name: str) -> Any:
    from google.genai import models

    return getattr(models, owner).__dict__[name]


class TestInstallation:
    """Installing patches the SDK classes once; uninstalling puts the originals back."""

    def test_uninstall_restores_the_original_functions(self) -> None:
        wrapped = {key: _attribute(*key) for key in PATCHED}
        originals = {key: getattr(value, WRAPPED_MARK) for key, value in wrapped.items()}
        providers.uninstrument("gemini")
        for key in PATCHED:
            assert _attribute(*key) is originals[key]
            assert not hasattr(_attribute(*key), WRAPPED_MARK)
        assert "gemini" not in providers.installed()

    def test_installing_twice_wraps_once(self) -> None:
        providers.instrument("gemini")
        providers.instrument("gemini")
        for key in PATCHED:
            original = getattr(_attribute(*key), WRAPPED_MARK)
            assert not hasattr(original, WRAPPED_MARK)
        assert sorted(providers.provider("gemini").wrapped_apis()) == sorted(
            f"{owner}.{name}" for owner, name in PATCHED
        )

    def test_nothing_is_recorded_without_a_session(self, client: Any) -> None:
        observer.end()
        response = client.models.generate_content(model=MODEL, contents="unrecorded")
        assert response.text == answer_for("unrecorded")
        observer.observe("after")
        assert provider_events() == []

    def test_the_provider_describes_its_sdk(self) -> None:
        gemini = providers.provider("gemini")
        assert (gemini.name, gemini.module, gemini.distribution, gemini.extra) == (
            "gemini",
            "google.genai",
            "google-genai",
            "gemini",
        )
        assert version_tuple(gemini.min_version) <= SDK_VERSION
        assert "google-genai>=" in gemini.install_hint()

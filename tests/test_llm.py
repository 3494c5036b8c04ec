"""``aiobs.llm``: the adapters with the real SDKs against the local stand-in, and duck-typed fakes.

A judge's calls are aiobs's own work: they must not be recorded into the user's session, and
their tokens and cost are reported on the response.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from aiobs import observer
from aiobs.llm import LLM, AnthropicLLM, BaseLLM, GeminiLLM, LLMMessage, LLMResponse, OpenAILLM
from aiobs.standin import StandinServer
from aiobs.standin.answers import answer_for
from tests.helpers import flush_document

PROMPT = "Is the sky blue on a clear day?"


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinServer]:
    """A stand-in OpenAI/Anthropic/Gemini server on 127.0.0.1, stopped after the test."""
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    with StandinServer() as server:
        yield server


async def aclose(client: Any) -> None:
    """Close an async client inside its event loop (left open, it warns when the loop is gone)."""
    if hasattr(client, "aio"):
        await client.aio.aclose()
    else:
        await client.close()


def complete_in_new_loop(llm: BaseLLM, client: Any) -> LLMResponse:
    """``llm.complete_async(PROMPT)`` in a new event loop; genai's async half closed after."""

    async def complete() -> LLMResponse:
        try:
            return await llm.complete_async(PROMPT)
        finally:
            if hasattr(client, "aio"):  # a sync genai client completes through client.aio
                await client.aio.aclose()

    return asyncio.run(complete())


def make_client(vendor: str, standin: StandinServer, *, asynchronous: bool = False) -> Any:
    """A real SDK client of the stand-in (a sync one is closed with the stand-in's fixture)."""
    client = _new_client(vendor, standin, asynchronous=asynchronous)
    if not asynchronous:
        _open.append(client)
    return client


_open: list[Any] = []


@pytest.fixture(autouse=True)
def _close_sync_clients() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def _new_client(vendor: str, standin: StandinServer, *, asynchronous: bool) -> Any:
    if vendor == "openai":
        openai = pytest.importorskip("openai")
        kind = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        return kind(base_url=standin.openai_url, api_key="sk-test", max_retries=0)
    if vendor == "anthropic":
        anthropic = pytest.importorskip("anthropic")
        kind = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        return kind(base_url=standin.anthropic_url, api_key="x", max_retries=0)
    pytest.importorskip("google.genai")
    genai = importlib.import_module("google.genai")
    types = importlib.import_module("google.genai.types")
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=standin.gemini_url))


MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-20241022",
    "gemini": "gemini-2.0-flash",
}
ADAPTERS = {"openai": OpenAILLM, "anthropic": AnthropicLLM, "gemini": GeminiLLM}


def user_sessions_events() -> list[dict[str, Any]]:
    return list(flush_document()["events"])


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "gemini"])
class TestRealClients:
    """``LLM.from_client`` recognises each SDK's client and completes through it."""

    def test_sync_completion_with_tokens_and_cost(
        self, vendor: str, standin: StandinServer
    ) -> None:
        client = make_client(vendor, standin)
        llm = LLM.from_client(client, model=MODELS[vendor])
        assert type(llm) is ADAPTERS[vendor]
        response = llm.complete(PROMPT, system_prompt="Answer briefly.")
        assert isinstance(response, LLMResponse)
        assert response.content == answer_for(PROMPT)
        assert response.usage is not None
        assert response.usage["prompt_tokens"] > 0
        assert response.usage["completion_tokens"] > 0
        assert response.usage["total_tokens"] == (
            response.usage["prompt_tokens"] + response.usage["completion_tokens"]
        )
        assert response.cost is not None
        assert response.cost["total"] > 0
        assert standin.requests[-1].json()  # the SDK really sent a request

    def test_async_completion(self, vendor: str, standin: StandinServer) -> None:
        client = make_client(vendor, standin, asynchronous=True)
        llm = LLM.from_client(client, model=MODELS[vendor])

        async def complete() -> LLMResponse:
            try:
                return await llm.complete_async(PROMPT)
            finally:
                await aclose(client)

        response = asyncio.run(complete())
        assert response.content == answer_for(PROMPT)
        assert response.usage is not None
        assert response.usage["completion_tokens"] > 0

    def test_sync_client_from_async_code(self, vendor: str, standin: StandinServer) -> None:
        client = make_client(vendor, standin)
        llm = LLM.from_client(client, model=MODELS[vendor])
        response = complete_in_new_loop(llm, client)
        assert response.content == answer_for(PROMPT)

    def test_messages(self, vendor: str, standin: StandinServer) -> None:
        llm = LLM.from_client(make_client(vendor, standin), model=MODELS[vendor])
        response = llm.complete_messages(
            [
                LLMMessage(role="system", content="Be brief."),
                LLMMessage(role="user", content=PROMPT),
            ]
        )
        assert response.content == answer_for(PROMPT)

    def test_judge_calls_are_not_recorded(self, vendor: str, standin: StandinServer) -> None:
        client = make_client(vendor, standin)
        llm = LLM.from_client(client, model=MODELS[vendor])
        observer.observe("user-session")
        llm.complete(PROMPT)
        complete_in_new_loop(llm, client)
        assert user_sessions_events() == []
        # The same client used by the program itself is still recorded.
        observer.observe("user-session")
        if vendor == "openai":
            client.chat.completions.create(
                model=MODELS[vendor], messages=[{"role": "user", "content": PROMPT}]
            )
        elif vendor == "anthropic":
            client.messages.create(
                model=MODELS[vendor], max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
            )
        else:
            client.models.generate_content(model=MODELS[vendor], contents=PROMPT)
        assert len(user_sessions_events()) == 1


class TestAsyncClientMisuse:
    """``complete()`` given an async client says to use ``complete_async``."""

    def test_clear_error(self, standin: StandinServer) -> None:
        client = make_client("openai", standin, asynchronous=True)
        llm = LLM.from_client(client, model="gpt-4o-mini")
        with pytest.raises(TypeError, match="async client: call complete_async"):
            llm.complete(PROMPT)
        asyncio.run(aclose(client))


def fake_openai_client(answer: str) -> Any:
    """What users' tests pass: ``client.chat.completions.create`` returning attribute objects."""
    calls: list[dict[str, Any]] = []

    def create(**kwargs: Any) -> Any:
        calls.append(kwargs)
        message = SimpleNamespace(content=answer)
        usage = SimpleNamespace(prompt_tokens=3, completion_tokens=2, total_tokens=5)
        return SimpleNamespace(
            choices=[SimpleNamespace(message=message)], model="fake-model", usage=usage
        )

    return SimpleNamespace(
        chat=SimpleNamespace(completions=SimpleNamespace(create=create)), calls=calls
    )


class TestDuckTypedFakes:
    """Fakes shaped like a client are recognised as that client, as in 0.2."""

    def test_openai_shaped_fake(self) -> None:
        client = fake_openai_client("4")
        llm = LLM.from_client(client, model="gpt-4o", max_tokens=10)
        assert isinstance(llm, OpenAILLM)
        response = llm.complete("2+2?", system_prompt="math")
        assert (response.content, response.model) == ("4", "fake-model")
        assert response.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        assert response.cost is None  # no price for "fake-model"
        assert client.calls == [
            {
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": "math"},
                    {"role": "user", "content": "2+2?"},
                ],
                "temperature": 0.0,
                "max_tokens": 10,
            }
        ]

    def test_fake_from_async_code(self) -> None:
        response = asyncio.run(
            LLM.from_client(fake_openai_client("ok"), model="m").complete_async("x")
        )
        assert response.content == "ok"

    def test_async_def_fake(self) -> None:
        async def create(**kwargs: Any) -> Any:
            return SimpleNamespace(
                choices=[SimpleNamespace(message=SimpleNamespace(content="async ok"))],
                model="m",
                usage=None,
            )

        client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
        response = asyncio.run(LLM.from_client(client, model="m").complete_async("x"))
        assert (response.content, response.usage) == ("async ok", None)

    def test_anthropic_and_gemini_shapes(self) -> None:
        messages = SimpleNamespace(create=lambda **kw: None)
        models = SimpleNamespace(generate_content=lambda **kw: None)
        assert isinstance(
            LLM.from_client(SimpleNamespace(messages=messages), model="m"), AnthropicLLM
        )
        assert isinstance(LLM.from_client(SimpleNamespace(models=models), model="m"), GeminiLLM)

    def test_unrecognised_client(self) -> None:
        with pytest.raises(
            ValueError, match=r"Unrecognized client type: builtins\.object.*instance"
        ):
            LLM.from_client(object(), model="m")

    def test_explicit_constructors_and_defaults(self) -> None:
        client = fake_openai_client("x")
        assert LLM.openai(client).model == "gpt-4o-mini"
        assert LLM.gemini(client).model == "gemini-2.0-flash"
        anthropic = LLM.anthropic(client, max_tokens=None)
        assert (anthropic.model, anthropic.max_tokens) == ("claude-3-sonnet-20240229", 1024)
        assert repr(LLM.openai(client)) == "OpenAILLM(model='gpt-4o-mini', provider='openai')"
        assert issubclass(OpenAILLM, BaseLLM)

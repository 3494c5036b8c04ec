"""SDK methods replaced by a test's fake (as aiobs 0.2 users' suites do) are still recorded.

The fake returns ``types.SimpleNamespace`` objects or plain dicts shaped like the SDK's types; aiobs
wraps it when it instruments the SDK after the fake was put in place, reads its result by field
name, and puts the fake itself back when uninstrumented. A fake put over aiobs's wrapper (after
aiobs instrumented the SDK) replaces the recording until the next session starts, which wraps
whatever replaced aiobs's wrappers (a fake, or the SDK's method put back); uninstrumenting leaves
a fake put over a wrapper where it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from types import SimpleNamespace as NS  # noqa: N814 - reads like the fakes users write
from typing import Any

import pytest

from aiobs import observer, providers
from aiobs.providers.base import WRAPPED_MARK
from tests.providers.conftest import only_event, provider_events, user

MODEL = "gpt-4o-mini"
CLAUDE = "claude-3-5-haiku-latest"
GEMINI = "gemini-2.0-flash"


def sdk(name: str) -> Any:
    return pytest.importorskip(name)


class Fakes:
    """Puts fakes in place of SDK methods before aiobs instruments the SDK, as in a 0.2 suite.

    That is a 0.2 user's test: the fake first, then ``observer.observe()``, which instruments the
    SDK (it is uninstrumented first, as in a new process). Afterwards the SDK's own methods go
    back in the order that leaves aiobs's patches consistent for the next test: aiobs's wrappers
    removed (the fakes come back), then the SDK's methods, then aiobs instruments again.
    """

    def __init__(self) -> None:
        self.replaced: list[tuple[type, str, Any]] = []

    def put(self, vendor: str, owner: type, method: str, fake: Callable[..., Any]) -> None:
        providers.uninstrument(vendor)
        self.replaced.append((owner, method, owner.__dict__[method]))
        setattr(owner, method, fake)

    def observe(self) -> None:
        observer.observe()
        for owner, method, _ in self.replaced:
            assert getattr(owner.__dict__[method], WRAPPED_MARK, None) is not None

    def undo(self) -> None:
        providers.uninstrument()
        for owner, method, original in reversed(self.replaced):
            setattr(owner, method, original)
        providers.instrument()


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    made = Fakes()
    yield made
    made.undo()


def assert_restores(vendor: str, owner: type, method: str, fake: Callable[..., Any]) -> None:
    observer.uninstrument(vendor)
    assert owner.__dict__[method] is fake


def chat_namespace(**_: Any) -> Any:
    return NS(
        id="chatcmpl-fake",
        model=MODEL,
        choices=[NS(index=0, finish_reason="stop", message=NS(role="assistant", content="Hi!"))],
        usage=NS(prompt_tokens=5, completion_tokens=2, total_tokens=7),
    )


def chat_dict(**_: Any) -> Any:
    return {
        "id": "chatcmpl-dict",
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "From a dict."}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


class TestOpenAIFakes:
    """chat.completions, responses and embeddings, sync and async."""

    @pytest.fixture
    def openai(self) -> Any:
        return sdk("openai")

    def test_chat_simple_namespace(self, openai: Any, fakes: Fakes) -> None:
        from openai.resources.chat.completions import Completions

        reply = chat_namespace()

        def fake(self: Any, **kwargs: Any) -> Any:
            return reply

        fakes.put("openai", Completions, "create", fake)
        fakes.observe()
        client = openai.OpenAI(api_key="sk-test")
        got = client.chat.completions.create(model=MODEL, messages=user("hello"))
        assert got is reply
        event = only_event()
        assert event["api"] == "chat.completions.create"
        assert event["request"] == {"model": MODEL, "messages": user("hello")}
        assert event["response"]["text"] == "Hi!"
        assert event["response"]["id"] == "chatcmpl-fake"
        assert event["response"]["usage"] == {
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
        }
        assert event["response"]["finish_reasons"] == ["stop"]
        assert event["usage"]["input_tokens"] == 5
        assert event["usage"]["output_tokens"] == 2
        assert event["usage"]["total_tokens"] == 7
        assert event["response_model"] == MODEL
        assert event["status"] == "ok"
        assert event["cost"] is not None
        assert_restores("openai", Completions, "create", fake)

    def test_chat_dict_async(self, openai: Any, fakes: Fakes) -> None:
        from openai.resources.chat.completions import AsyncCompletions

        async def fake(self: Any, **kwargs: Any) -> Any:
            return chat_dict()

        fakes.put("openai", AsyncCompletions, "create", fake)
        fakes.observe()

        async def main() -> Any:
            client = openai.AsyncOpenAI(api_key="sk-test")
            return await client.chat.completions.create(model=MODEL, messages=user("hello"))

        assert asyncio.run(main()) == chat_dict()
        event = only_event()
        assert event["response"]["text"] == "From a dict."
        assert event["usage"]["input_tokens"] == 3
        assert event["usage"]["output_tokens"] == 4
        assert_restores("openai", AsyncCompletions, "create", fake)

    def test_responses(self, openai: Any, fakes: Fakes) -> None:
        responses = pytest.importorskip(
            "openai.resources.responses", reason="this openai predates the Responses API (1.66)"
        )

        def fake(self: Any, **kwargs: Any) -> Any:
            return NS(
                id="resp-fake",
                model=MODEL,
                output_text="Short answer.",
                usage=NS(input_tokens=6, output_tokens=3, total_tokens=9),
            )

        async def afake(self: Any, **kwargs: Any) -> Any:
            return fake(self, **kwargs)

        fakes.put("openai", responses.Responses, "create", fake)
        fakes.put("openai", responses.AsyncResponses, "create", afake)
        fakes.observe()
        client = openai.OpenAI(api_key="sk-test")
        assert client.responses.create(model=MODEL, input="q").output_text == "Short answer."

        async def main() -> Any:
            return await openai.AsyncOpenAI(api_key="sk-test").responses.create(
                model=MODEL, input="q"
            )

        asyncio.run(main())
        events = provider_events()
        assert [event["api"] for event in events] == ["responses.create"] * 2
        for event in events:
            assert event["request"] == {"model": MODEL, "input": "q"}
            assert event["response"]["text"] == "Short answer."
            assert event["usage"]["input_tokens"] == 6
            assert event["usage"]["output_tokens"] == 3
        assert_restores("openai", responses.Responses, "create", fake)
        assert responses.AsyncResponses.__dict__["create"] is afake

    def test_embeddings(self, openai: Any, fakes: Fakes) -> None:
        from openai.resources.embeddings import AsyncEmbeddings, Embeddings

        def fake(self: Any, **kwargs: Any) -> Any:
            return NS(
                model="text-embedding-3-small",
                data=[NS(index=0, embedding=[0.1, 0.2, 0.3])],
                usage=NS(prompt_tokens=4, total_tokens=4),
            )

        async def afake(self: Any, **kwargs: Any) -> Any:
            return {
                "model": "text-embedding-3-small",
                "data": [{"index": 0, "embedding": [0.5, 0.5]}],
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }

        fakes.put("openai", AsyncEmbeddings, "create", afake)
        fakes.put("openai", Embeddings, "create", fake)
        fakes.observe()
        openai.OpenAI(api_key="sk-test").embeddings.create(model="m", input="text")
        asyncio.run(openai.AsyncOpenAI(api_key="sk-test").embeddings.create(model="m", input="t"))
        sync_event, async_event = provider_events()
        assert sync_event["response"]["count"] == 1
        assert sync_event["response"]["dimensions"] == 3
        assert sync_event["usage"]["input_tokens"] == 4
        assert async_event["response"]["dimensions"] == 2
        assert async_event["usage"]["input_tokens"] == 2
        assert_restores("openai", Embeddings, "create", fake)
        assert AsyncEmbeddings.__dict__["create"] is afake

    def test_a_result_without_fields_is_recorded_without_response(
        self, openai: Any, fakes: Fakes
    ) -> None:
        from openai.resources.chat.completions import Completions

        def fake(self: Any, **kwargs: Any) -> Any:
            return ["not", "a", "completion"]

        fakes.put("openai", Completions, "create", fake)
        fakes.observe()
        got = openai.OpenAI(api_key="sk-test").chat.completions.create(
            model=MODEL, messages=user("x")
        )
        assert got == ["not", "a", "completion"]
        event = only_event()
        assert event["request"]["model"] == MODEL
        assert event["response"] is None
        assert event["status"] == "ok"

    def test_a_fake_put_over_the_wrapper_is_not_recorded_nor_clobbered(
        self, openai: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from openai.resources.chat.completions import Completions

        observer.observe()  # instruments the SDK: aiobs's wrapper is in place
        wrapper = Completions.__dict__["create"]
        sdk_method = getattr(wrapper, WRAPPED_MARK)

        def fake(self: Any, **kwargs: Any) -> Any:
            return chat_namespace()

        try:
            with monkeypatch.context() as patcher:
                patcher.setattr(Completions, "create", fake)
                client = openai.OpenAI(api_key="sk-test")
                assert client.chat.completions.create(model=MODEL, messages=[]).id == (
                    "chatcmpl-fake"
                )
                assert provider_events() == []
                observer.uninstrument("openai")
                assert Completions.__dict__["create"] is fake
            # monkeypatch put back what it replaced: aiobs's wrapper, though uninstrumented
            assert Completions.__dict__["create"] is wrapper
        finally:
            Completions.create = sdk_method  # type: ignore[method-assign]
            providers.instrument("openai")


class TestDocumentedPatterns:
    """What docs/guide.md ("Testing with fakes of SDK methods") tells 0.2 users to do."""

    def test_each_test_fake_recorded_with_the_fixture(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        openai = sdk("openai")
        from openai.resources.chat.completions import Completions

        sdk_method = getattr(Completions.__dict__["create"], WRAPPED_MARK)
        client = openai.OpenAI(api_key="sk-test")
        for text in ("first test", "second test"):
            reply = chat_namespace()
            reply.choices[0].message.content = text

            def fake(self: Any, reply: Any = reply, **kwargs: Any) -> Any:
                return reply

            with monkeypatch.context() as patcher:  # one test, with the guide's fixture
                observer.uninstrument("openai")
                patcher.setattr(Completions, "create", fake)
                observer.instrument("openai")
                observer.observe()
                client.chat.completions.create(model=MODEL, messages=user("hello"))
                assert only_event()["response"]["text"] == text
                observer.uninstrument("openai")
                assert Completions.__dict__["create"] is fake
            assert Completions.__dict__["create"] is sdk_method
        observer.instrument("openai")
        assert getattr(Completions.__dict__["create"], WRAPPED_MARK) is sdk_method

    def test_sdk_method_put_back_under_aiobs(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """monkeypatch restoring the SDK's method removes aiobs's wrapper of the fake with it;
        the next session start wraps the SDK's method again."""
        sdk("openai")
        from openai.resources.chat.completions import Completions

        observer.uninstrument("openai")
        sdk_method = Completions.__dict__["create"]
        with monkeypatch.context() as patcher:
            patcher.setattr(Completions, "create", lambda self, **kwargs: chat_namespace())
            observer.instrument("openai")
        assert Completions.__dict__["create"] is sdk_method  # aiobs's wrapper went with the fake
        observer.observe()
        assert getattr(Completions.__dict__["create"], WRAPPED_MARK) is sdk_method
        observer.observe()  # in place: left alone, not wrapped twice
        assert getattr(Completions.__dict__["create"], WRAPPED_MARK) is sdk_method

    def test_each_test_fake_recorded_without_uninstrumenting(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A 0.2 suite as written: aiobs instrumented by an earlier test, a fake, observe()."""
        openai = sdk("openai")
        from openai.resources.chat.completions import Completions

        observer.instrument("openai")
        wrapper = Completions.__dict__["create"]
        sdk_method = getattr(wrapper, WRAPPED_MARK)
        client = openai.OpenAI(api_key="sk-test")
        for text in ("first test", "second test"):
            reply = chat_namespace()
            reply.choices[0].message.content = text

            def fake(self: Any, reply: Any = reply, **kwargs: Any) -> Any:
                return reply

            with monkeypatch.context() as patcher:
                patcher.setattr(Completions, "create", fake)
                observer.observe()
                client.chat.completions.create(model=MODEL, messages=user("hello"))
                assert only_event()["response"]["text"] == text
                assert getattr(Completions.__dict__["create"], WRAPPED_MARK) is fake
            assert Completions.__dict__["create"] is wrapper  # monkeypatch put back aiobs's own
            observer.observe()  # adopted as it is
            assert Completions.__dict__["create"] is wrapper
        observer.uninstrument("openai")
        assert Completions.__dict__["create"] is sdk_method
        observer.instrument("openai")


class TestAnthropicFakes:
    """messages.create, sync and async."""

    @pytest.fixture
    def anthropic(self) -> Any:
        return sdk("anthropic")

    def test_sync_and_async(self, anthropic: Any, fakes: Fakes) -> None:
        from anthropic.resources.messages import AsyncMessages, Messages

        def fake(self: Any, **kwargs: Any) -> Any:
            return NS(
                id="msg-fake",
                model=CLAUDE,
                role="assistant",
                content=[NS(type="text", text="Hello from Claude.")],
                stop_reason="end_turn",
                usage=NS(input_tokens=8, output_tokens=4),
            )

        async def afake(self: Any, **kwargs: Any) -> Any:
            return {
                "id": "msg-dict",
                "model": CLAUDE,
                "content": [{"type": "text", "text": "From a dict."}],
                "usage": {"input_tokens": 2, "output_tokens": 1},
            }

        fakes.put("anthropic", AsyncMessages, "create", afake)
        fakes.put("anthropic", Messages, "create", fake)
        fakes.observe()
        request = {"model": CLAUDE, "max_tokens": 64, "messages": user("hello")}
        anthropic.Anthropic(api_key="sk-test").messages.create(**request)
        asyncio.run(anthropic.AsyncAnthropic(api_key="sk-test").messages.create(**request))
        sync_event, async_event = provider_events()
        assert sync_event["request"] == request
        assert sync_event["response"]["text"] == "Hello from Claude."
        assert sync_event["response"]["finish_reasons"] == ["end_turn"]
        assert (sync_event["usage"]["input_tokens"], sync_event["usage"]["output_tokens"]) == (
            8,
            4,
        )
        assert sync_event["response_model"] == CLAUDE
        assert async_event["response"]["text"] == "From a dict."
        assert async_event["usage"]["input_tokens"] == 2
        assert_restores("anthropic", Messages, "create", fake)
        assert AsyncMessages.__dict__["create"] is afake


class TestGeminiFakes:
    """models.generate_content and embed_content, sync and async."""

    @pytest.fixture
    def genai(self) -> Any:
        return sdk("google.genai")

    @pytest.fixture
    def client(self, genai: Any) -> Iterator[Any]:
        made = genai.Client(api_key="test-key")
        yield made
        close = getattr(made, "close", None)  # google-genai before 1.29 has no close()
        if close is not None:
            close()

    def test_generate_content(self, genai: Any, client: Any, fakes: Fakes) -> None:
        from google.genai.models import AsyncModels, Models

        def fake(self: Any, *, model: str, contents: Any, config: Any = None) -> Any:
            return NS(
                text="Gemini says hi.",
                model_version=GEMINI,
                candidates=[
                    NS(content=NS(parts=[NS(text="Gemini says hi.")]), finish_reason="STOP")
                ],
                usage_metadata=NS(
                    prompt_token_count=3, candidates_token_count=4, total_token_count=7
                ),
            )

        async def afake(self: Any, *, model: str, contents: Any, config: Any = None) -> Any:
            # only the convenience property a program reads, as many fakes do
            return NS(text="Async only text.", usage_metadata={"prompt_token_count": 1})

        fakes.put("gemini", AsyncModels, "generate_content", afake)
        fakes.put("gemini", Models, "generate_content", fake)
        fakes.observe()
        assert client.models.generate_content(model=GEMINI, contents="hi").text == (
            "Gemini says hi."
        )
        asyncio.run(client.aio.models.generate_content(model=GEMINI, contents="hi"))
        sync_event, async_event = provider_events()
        assert sync_event["api"] == "models.generate_content"
        assert sync_event["request"]["contents"] == "hi"
        assert sync_event["response"]["text"] == "Gemini says hi."
        assert sync_event["response"]["finish_reasons"] == ["STOP"]
        assert sync_event["response"]["usage"] == {
            "prompt_token_count": 3,
            "candidates_token_count": 4,
            "total_token_count": 7,
        }
        assert sync_event["usage"]["input_tokens"] == 3
        assert sync_event["usage"]["output_tokens"] == 4
        assert sync_event["response_model"] == GEMINI
        assert async_event["response"]["text"] == "Async only text."
        assert async_event["usage"]["input_tokens"] == 1
        assert_restores("gemini", Models, "generate_content", fake)
        assert AsyncModels.__dict__["generate_content"] is afake

    def test_embed_content(self, genai: Any, client: Any, fakes: Fakes) -> None:
        from google.genai.models import Models

        def fake(self: Any, *, model: str, contents: Any, config: Any = None) -> Any:
            return NS(embeddings=[NS(values=[0.1, 0.2]), NS(values=[0.3, 0.4])])

        fakes.put("gemini", Models, "embed_content", fake)
        fakes.observe()
        client.models.embed_content(model="text-embedding-004", contents=["a", "b"])
        event = only_event()
        assert event["response"]["count"] == 2
        assert event["response"]["dimensions"] == 2
        assert_restores("gemini", Models, "embed_content", fake)

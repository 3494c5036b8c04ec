"""aiobs 0.2's classifier API: its names, models, base class and the OpenAI classifier."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

import aiobs
from aiobs.standin import Reply, Request, StandinServer

NAMES = (
    "BaseClassifier",
    "ClassificationConfig",
    "ClassificationInput",
    "ClassificationResult",
    "ClassificationVerdict",
    "OpenAIClassifier",
)


class TestNames:
    """The classifier names of 0.2's ``aiobs.__all__`` import from aiobs, cheaply."""

    def test_importable_from_aiobs_and_its_modules(self) -> None:
        from aiobs import classifier
        from aiobs.classifier.base import BaseClassifier
        from aiobs.classifier.models import ClassificationVerdict
        from aiobs.classifier.models.classification import ClassificationConfig
        from aiobs.classifier.openai import OpenAIClassifier
        from aiobs.classifier.openai.classifier import OpenAIClassifier as Same

        for name in NAMES:
            assert name in aiobs.__all__
            assert getattr(aiobs, name) is getattr(classifier, name)
        assert OpenAIClassifier is Same is aiobs.OpenAIClassifier
        assert (BaseClassifier, ClassificationVerdict, ClassificationConfig) == (
            aiobs.BaseClassifier,
            aiobs.ClassificationVerdict,
            aiobs.ClassificationConfig,
        )
        assert set(NAMES) <= set(dir(aiobs))

    def test_import_aiobs_does_not_import_openai(self) -> None:
        code = (
            "import sys, aiobs\n"
            "before = 'aiobs.classifier' in sys.modules\n"
            "from aiobs import OpenAIClassifier, ClassificationConfig\n"
            "OpenAIClassifier(api_key='x')\n"
            "print(before, 'openai' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.split() == ["False", "False"]

    def test_unknown_names_still_raise_attribute_error(self) -> None:
        with pytest.raises(AttributeError, match="no attribute 'Nope'"):
            aiobs.Nope  # noqa: B018


class TestModels:
    """0.2's fields, defaults and validation."""

    def test_config_defaults(self) -> None:
        config = aiobs.ClassificationConfig()
        assert config.model_dump() == {
            "model": "gpt-4o-mini",
            "temperature": 0.0,
            "max_tokens": 1024,
            "classification_prompt": None,
            "confidence_threshold": 0.7,
        }

    @pytest.mark.parametrize(
        "bad", [{"temperature": 2.5}, {"temperature": -0.1}, {"confidence_threshold": 1.5}]
    )
    def test_config_bounds(self, bad: dict[str, float]) -> None:
        with pytest.raises(pydantic.ValidationError):
            aiobs.ClassificationConfig(**bad)

    def test_result_confidence_is_between_0_and_1(self) -> None:
        with pytest.raises(pydantic.ValidationError):
            aiobs.ClassificationResult(verdict="good", confidence=1.2)
        result = aiobs.ClassificationResult(verdict="bad", confidence=0.5)
        assert result.verdict is aiobs.ClassificationVerdict.BAD
        assert result.model_dump() == {
            "verdict": aiobs.ClassificationVerdict.BAD,
            "confidence": 0.5,
            "reasoning": None,
            "categories": None,
            "raw_response": None,
            "metadata": None,
        }

    def test_input_needs_user_input_and_model_output(self) -> None:
        with pytest.raises(pydantic.ValidationError):
            aiobs.ClassificationInput(user_input="q")  # type: ignore[call-arg]
        item = aiobs.ClassificationInput(user_input="q", model_output="a")
        assert (item.system_prompt, item.context) == (None, None)

    def test_verdict_is_a_string_enum(self) -> None:
        assert [v.value for v in aiobs.ClassificationVerdict] == ["good", "bad", "uncertain"]
        assert aiobs.ClassificationVerdict.GOOD == "good"


class Echo(aiobs.BaseClassifier):
    """A classifier that calls everything good: the base class's helpers at work."""

    name = "echo"

    def classify(
        self, user_input: str, model_output: str, system_prompt: str | None = None, **kwargs: Any
    ) -> aiobs.ClassificationResult:
        prompt = self._format_prompt(
            self._create_input(user_input, model_output, system_prompt, **kwargs)
        )
        return aiobs.ClassificationResult(
            verdict=self._parse_verdict(" GOOD "), confidence=1.0, raw_response=prompt
        )

    async def classify_async(
        self, user_input: str, model_output: str, system_prompt: str | None = None, **kwargs: Any
    ) -> aiobs.ClassificationResult:
        return self.classify(user_input, model_output, system_prompt, **kwargs)

    def classify_batch(
        self, inputs: list[aiobs.ClassificationInput], **kwargs: Any
    ) -> list[aiobs.ClassificationResult]:
        return [self.classify(i.user_input, i.model_output, i.system_prompt) for i in inputs]

    async def classify_batch_async(
        self, inputs: list[aiobs.ClassificationInput], **kwargs: Any
    ) -> list[aiobs.ClassificationResult]:
        return self.classify_batch(inputs)


class TestBaseClassifier:
    """Abstract, with 0.2's helpers for templates and verdicts."""

    def test_is_abstract(self) -> None:
        with pytest.raises(TypeError):
            aiobs.BaseClassifier()  # type: ignore[abstract]

    def test_a_subclass_gets_config_and_helpers(self) -> None:
        echo = Echo()
        assert echo.config == aiobs.ClassificationConfig()
        assert Echo.is_available() is True
        result = echo.classify("What is 2+2?", "4", system_prompt="Be brief.")
        assert result.verdict is aiobs.ClassificationVerdict.GOOD
        assert "Be brief." in result.raw_response
        assert "What is 2+2?" in result.raw_response
        assert "{{" not in result.raw_response
        assert "{%" not in result.raw_response

    def test_a_custom_template_in_02_syntax(self) -> None:
        template = (
            "{%- if system_prompt %}S={{ system_prompt }};{% endif %}"
            "U={{ user_input }};O={{ model_output }}"
        )
        echo = Echo(aiobs.ClassificationConfig(classification_prompt=template))
        assert echo.classify("q", "a").raw_response == "U=q;O=a"
        assert echo.classify("q", "a", system_prompt="s").raw_response == "S=s;U=q;O=a"

    def test_unknown_verdicts_are_uncertain(self) -> None:
        assert Echo()._parse_verdict("maybe") is aiobs.ClassificationVerdict.UNCERTAIN


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
    }


class Judge:
    """A stand-in judge: answers chat completions with the verdict queued for it."""

    def __init__(self) -> None:
        self.answers: list[str] = []

    def __call__(self, request: Request) -> Reply | None:
        if request.path != "/v1/chat/completions":
            return None
        answer = self.answers.pop(0) if self.answers else '{"verdict": "good", "confidence": 0.9}'
        return Reply.json(completion(answer))


@pytest.fixture
def judge() -> Iterator[tuple[StandinServer, Judge]]:
    handler = Judge()
    with StandinServer(handlers=[handler]) as server:
        yield server, handler


class TestOpenAIClassifier:
    """The real openai SDK against the stand-in server."""

    @pytest.fixture(autouse=True)
    def _clients(self) -> Iterator[None]:
        pytest.importorskip("openai")
        self.clients: list[Any] = []
        yield
        for client in self.clients:
            client.close()

    def classifier(self, server: StandinServer, **options: Any) -> aiobs.OpenAIClassifier:
        from openai import OpenAI

        self.clients.append(OpenAI(base_url=server.openai_url, api_key="x", max_retries=0))
        return aiobs.OpenAIClassifier(client=self.clients[-1], **options)

    def test_classify(self, judge: tuple[StandinServer, Judge]) -> None:
        server, handler = judge
        handler.answers.append(
            json.dumps(
                {"verdict": "bad", "confidence": 0.8, "reasoning": "wrong", "categories": ["x"]}
            )
        )
        result = self.classifier(server).classify("2+2?", "5", system_prompt="math")
        assert result.verdict is aiobs.ClassificationVerdict.BAD
        assert (result.confidence, result.reasoning, result.categories) == (0.8, "wrong", ["x"])
        assert result.metadata == {
            "model": "gpt-4o-mini",
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        }
        body = server.requests[-1].json()
        assert body["model"] == "gpt-4o-mini"
        assert body["response_format"] == {"type": "json_object"}
        assert (body["temperature"], body["max_tokens"]) == (0.0, 1024)
        assert "2+2?" in body["messages"][1]["content"]
        assert "math" in body["messages"][1]["content"]

    def test_an_answer_that_is_not_json_is_uncertain(
        self, judge: tuple[StandinServer, Judge]
    ) -> None:
        server, handler = judge
        handler.answers.append("I think it is fine")
        result = self.classifier(server).classify("q", "a")
        assert result.verdict is aiobs.ClassificationVerdict.UNCERTAIN
        assert result.confidence == 0.0
        assert result.raw_response == "I think it is fine"
        assert result.metadata is not None
        assert "parse_error" in result.metadata

    def test_a_failed_call_is_uncertain_not_raised(
        self, judge: tuple[StandinServer, Judge]
    ) -> None:
        server, _ = judge
        server.fail_next(Reply.error(500, "down"))
        result = self.classifier(server).classify("q", "a")
        assert result.verdict is aiobs.ClassificationVerdict.UNCERTAIN
        assert result.metadata is not None
        assert result.metadata["error_type"] == "InternalServerError"

    def test_batches(self, judge: tuple[StandinServer, Judge]) -> None:
        server, _ = judge
        classifier = self.classifier(
            server, config=aiobs.ClassificationConfig(model="judge-1", temperature=0.5)
        )
        inputs = [aiobs.ClassificationInput(user_input=f"q{i}", model_output="a") for i in range(3)]
        assert [r.verdict for r in classifier.classify_batch(inputs)] == [
            aiobs.ClassificationVerdict.GOOD
        ] * 3

        async def judged() -> list[aiobs.ClassificationResult]:
            from openai import AsyncOpenAI

            async with AsyncOpenAI(
                base_url=server.openai_url, api_key="x", max_retries=0
            ) as client:
                classifier._async_client = client
                return await classifier.classify_batch_async(inputs)

        results = asyncio.run(judged())
        assert [r.confidence for r in results] == [0.9] * 3
        assert {r.json()["model"] for r in server.requests} == {"judge-1"}
        assert len(server.requests) == 6

    def test_is_available(self) -> None:
        assert aiobs.OpenAIClassifier.is_available() is True

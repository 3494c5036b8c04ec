""":class:`OpenAIClassifier`: a chat model as the judge, through the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ..base import BaseClassifier
from ..models import (
    ClassificationConfig,
    ClassificationInput,
    ClassificationResult,
    ClassificationVerdict,
)

_JUDGE_INSTRUCTION = "You judge AI responses. Answer with valid JSON only."


class OpenAIClassifier(BaseClassifier):
    """Asks an OpenAI chat model (``config.model``, JSON mode) to judge each response.

    Failures never raise: a call that fails, or an answer that is not the expected JSON, gives an
    ``UNCERTAIN`` result with confidence 0 and the reason in ``reasoning`` and ``metadata``.

    Args:
        api_key: the OpenAI key (else ``OPENAI_API_KEY``, read by the SDK).
        config: the judge model and its settings.
        client: an ``openai.OpenAI`` client to use (a base URL, proxies, tests).
        async_client: an ``openai.AsyncOpenAI`` client to use.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str | None = None,
        config: ClassificationConfig | None = None,
        client: Any | None = None,
        async_client: Any | None = None,
    ) -> None:
        super().__init__(config)
        self._api_key = api_key
        self._client = client
        self._async_client = async_client

    @classmethod
    def is_available(cls) -> bool:
        """Whether the ``openai`` SDK is installed."""
        try:
            import openai  # noqa: F401
        except ImportError:
            return False
        return True

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(api_key=self._api_key) if self._api_key else OpenAI()
        return self._client

    def _get_async_client(self) -> Any:
        if self._async_client is None:
            from openai import AsyncOpenAI

            self._async_client = (
                AsyncOpenAI(api_key=self._api_key) if self._api_key else AsyncOpenAI()
            )
        return self._async_client

    def _request(self, prompt: str) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": _JUDGE_INSTRUCTION},
                {"role": "user", "content": prompt},
            ],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "response_format": {"type": "json_object"},
        }

    def _parse_response(self, content: str) -> ClassificationResult:
        """The judge's JSON answer as a result (a fenced code block is unwrapped)."""
        text = content.strip()
        if text.startswith("```"):
            text = "\n".join(text.split("\n")[1:-1])
        try:
            answer = json.loads(text)
            verdict = self._parse_verdict(answer.get("verdict", "uncertain"))
            confidence = min(max(float(answer.get("confidence", 0.5)), 0.0), 1.0)
            categories = answer.get("categories")
            return ClassificationResult(
                verdict=verdict,
                confidence=confidence,
                reasoning=answer.get("reasoning"),
                categories=categories or None,
                raw_response=content,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return ClassificationResult(
                verdict=ClassificationVerdict.UNCERTAIN,
                confidence=0.0,
                reasoning=f"Failed to parse classification response: {exc}",
                raw_response=content,
                metadata={"parse_error": str(exc)},
            )

    def _result(self, response: Any) -> ClassificationResult:
        result = self._parse_response(response.choices[0].message.content or "")
        usage = response.usage
        result.metadata = {
            **(result.metadata or {}),
            "model": self.config.model,
            "usage": {
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "total_tokens": usage.total_tokens if usage else None,
            },
        }
        return result

    @staticmethod
    def _failed(exc: Exception) -> ClassificationResult:
        return ClassificationResult(
            verdict=ClassificationVerdict.UNCERTAIN,
            confidence=0.0,
            reasoning=f"Classification failed: {exc}",
            metadata={"error": str(exc), "error_type": type(exc).__name__},
        )

    def classify(
        self,
        user_input: str,
        model_output: str,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> ClassificationResult:
        """Judge one response with one chat completion."""
        prompt = self._format_prompt(
            self._create_input(user_input, model_output, system_prompt, **kwargs)
        )
        client = self._get_client()
        try:
            return self._result(client.chat.completions.create(**self._request(prompt)))
        except Exception as exc:  # noqa: BLE001 - a failed judgement is a result, not a crash
            return self._failed(exc)

    async def classify_async(
        self,
        user_input: str,
        model_output: str,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> ClassificationResult:
        """Judge one response with one chat completion, asynchronously."""
        prompt = self._format_prompt(
            self._create_input(user_input, model_output, system_prompt, **kwargs)
        )
        client = self._get_async_client()
        try:
            return self._result(await client.chat.completions.create(**self._request(prompt)))
        except Exception as exc:  # noqa: BLE001 - a failed judgement is a result, not a crash
            return self._failed(exc)

    def classify_batch(
        self, inputs: list[ClassificationInput], **kwargs: Any
    ) -> list[ClassificationResult]:
        """Judge the inputs one after the other."""
        return [
            self.classify(
                user_input=item.user_input,
                model_output=item.model_output,
                system_prompt=item.system_prompt,
                context=item.context,
                **kwargs,
            )
            for item in inputs
        ]

    async def classify_batch_async(
        self, inputs: list[ClassificationInput], **kwargs: Any
    ) -> list[ClassificationResult]:
        """Judge the inputs concurrently."""
        return list(
            await asyncio.gather(
                *(
                    self.classify_async(
                        user_input=item.user_input,
                        model_output=item.model_output,
                        system_prompt=item.system_prompt,
                        context=item.context,
                        **kwargs,
                    )
                    for item in inputs
                )
            )
        )

"""The adapter for google-genai clients (``client.models.generate_content``)."""

from __future__ import annotations

from typing import Any

from .base import BaseLLM, LLMMessage, LLMResponse, usage_dict


class GeminiLLM(BaseLLM):
    """Content generation through ``client.models.generate_content`` (``client.aio`` when async).

    Example::

        llm = LLM.from_client(genai.Client(), model="gemini-2.0-flash")
    """

    provider: str = "gemini"

    def __init__(
        self,
        client: Any,
        model: str,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(client, model, temperature, max_tokens)

    @classmethod
    def is_compatible(cls, client: Any) -> bool:
        """Whether ``client`` has ``models.generate_content``."""
        return hasattr(getattr(client, "models", None), "generate_content")

    def _arguments(
        self, contents: Any, system_prompt: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens is not None:
            config["max_output_tokens"] = self.max_tokens
        config.update(kwargs.pop("generation_config", {}))
        if system_prompt:
            config["system_instruction"] = system_prompt
        arguments: dict[str, Any] = {"model": self.model, "contents": contents, "config": config}
        arguments.update(kwargs)
        return arguments

    def _parse_response(self, response: Any) -> LLMResponse:
        content = ""
        if hasattr(response, "text"):
            content = response.text or ""
        elif getattr(response, "candidates", None):
            parts = getattr(getattr(response.candidates[0], "content", None), "parts", None)
            if parts:
                content = parts[0].text or ""
        counts = getattr(response, "usage_metadata", None)
        usage = (
            usage_dict(
                getattr(counts, "prompt_token_count", None),
                getattr(counts, "candidates_token_count", None),
                getattr(counts, "total_token_count", None) or 0,
            )
            if counts
            else None
        )
        return self._response(content, self.model, usage, response)

    def complete(self, prompt: str, system_prompt: str | None = None, **kwargs: Any) -> LLMResponse:
        """Generate a completion synchronously."""
        arguments = self._arguments(prompt, system_prompt, kwargs)
        return self._parse_response(self._call(self._generate, arguments))

    async def complete_async(
        self, prompt: str, system_prompt: str | None = None, **kwargs: Any
    ) -> LLMResponse:
        """Generate a completion asynchronously (``client.aio`` when the client has it)."""
        arguments = self._arguments(prompt, system_prompt, kwargs)
        models = self.client.models
        method = getattr(models, "generate_content_async", None)
        if method is None:
            aio_models = getattr(getattr(self.client, "aio", None), "models", None)
            method = getattr(aio_models, "generate_content", None) or models.generate_content
        return self._parse_response(await self._call_async(method, arguments))

    def complete_messages(self, messages: list[LLMMessage], **kwargs: Any) -> LLMResponse:
        """Generate a completion from a list of messages (assistant turns become ``model``)."""
        system_prompt = None
        contents = []
        for message in messages:
            if message.role == "system":
                system_prompt = message.content
            else:
                role = "user" if message.role == "user" else "model"
                contents.append({"role": role, "parts": [{"text": message.content}]})
        arguments = self._arguments(contents, system_prompt, kwargs)
        return self._parse_response(self._call(self._generate, arguments))

    def _generate(self, **arguments: Any) -> Any:
        return self.client.models.generate_content(**arguments)

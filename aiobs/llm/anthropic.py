"""The adapter for Anthropic clients (``client.messages.create``)."""

from __future__ import annotations

from typing import Any

from .base import BaseLLM, LLMMessage, LLMResponse, accepts, usage_dict


class AnthropicLLM(BaseLLM):
    """Messages through ``client.messages.create`` (sync or async client); ``max_tokens`` 1024.

    Example::

        llm = LLM.from_client(Anthropic(), model="claude-3-5-haiku-latest")
    """

    provider: str = "anthropic"

    def __init__(
        self,
        client: Any,
        model: str,
        temperature: float = 0.0,
        max_tokens: int | None = 1024,
    ) -> None:
        super().__init__(client, model, temperature, max_tokens or 1024)  # Anthropic requires it

    @classmethod
    def is_compatible(cls, client: Any) -> bool:
        """Whether ``client`` has ``messages.create``."""
        return hasattr(getattr(client, "messages", None), "create")

    def _arguments(
        self, messages: list[dict[str, str]], system_prompt: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if system_prompt:
            arguments["system"] = system_prompt
        if not accepts(self.client.messages.create, "temperature"):
            # anthropic 2.x's Messages.create has no temperature parameter any more.
            del arguments["temperature"]
        arguments.update(kwargs)
        return arguments

    def _parse_response(self, response: Any) -> LLMResponse:
        blocks = getattr(response, "content", None) or []
        content = "".join(block.text for block in blocks if hasattr(block, "text"))
        counts = getattr(response, "usage", None)
        usage = (
            usage_dict(
                getattr(counts, "input_tokens", None), getattr(counts, "output_tokens", None)
            )
            if counts
            else None
        )
        model = getattr(response, "model", None)
        return self._response(
            content, model if isinstance(model, str) else self.model, usage, response
        )

    def complete(self, prompt: str, system_prompt: str | None = None, **kwargs: Any) -> LLMResponse:
        """Generate a completion synchronously."""
        arguments = self._arguments([{"role": "user", "content": prompt}], system_prompt, kwargs)
        return self._parse_response(self._call(self._create, arguments))

    async def complete_async(
        self, prompt: str, system_prompt: str | None = None, **kwargs: Any
    ) -> LLMResponse:
        """Generate a completion asynchronously (async client awaited, sync one threaded)."""
        arguments = self._arguments([{"role": "user", "content": prompt}], system_prompt, kwargs)
        messages = self.client.messages
        method = getattr(messages, "acreate", None) or messages.create
        return self._parse_response(await self._call_async(method, arguments))

    def complete_messages(self, messages: list[LLMMessage], **kwargs: Any) -> LLMResponse:
        """Generate a completion from a list of messages; system messages become ``system``."""
        system_prompt = None
        api_messages = []
        for message in messages:
            if message.role == "system":
                system_prompt = message.content
            else:
                api_messages.append({"role": message.role, "content": message.content})
        arguments = self._arguments(api_messages, system_prompt, kwargs)
        return self._parse_response(self._call(self._create, arguments))

    def _create(self, **arguments: Any) -> Any:
        return self.client.messages.create(**arguments)

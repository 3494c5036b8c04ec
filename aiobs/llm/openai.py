"""The adapter for OpenAI clients and every client shaped like them (Azure, Groq, test fakes)."""

from __future__ import annotations

from typing import Any

from .base import BaseLLM, LLMMessage, LLMResponse, usage_dict


class OpenAILLM(BaseLLM):
    """Chat completions through ``client.chat.completions.create`` (sync or async client).

    Example::

        llm = LLM.from_client(OpenAI(), model="gpt-4o-mini")
        print(llm.complete("What is 2+2?").content)
    """

    provider: str = "openai"

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
        """Whether ``client`` has ``chat.completions.create``."""
        chat = getattr(client, "chat", None)
        return hasattr(getattr(chat, "completions", None), "create")

    def _arguments(self, messages: list[dict[str, str]], kwargs: dict[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            arguments["max_tokens"] = self.max_tokens
        arguments.update(kwargs)
        return arguments

    @staticmethod
    def _messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": prompt})
        return messages

    def _parse_response(self, response: Any) -> LLMResponse:
        content = response.choices[0].message.content or ""
        counts = getattr(response, "usage", None)
        usage = (
            usage_dict(
                getattr(counts, "prompt_tokens", None),
                getattr(counts, "completion_tokens", None),
                getattr(counts, "total_tokens", None),
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
        arguments = self._arguments(self._messages(prompt, system_prompt), kwargs)
        return self._parse_response(self._call(self._create, arguments))

    async def complete_async(
        self, prompt: str, system_prompt: str | None = None, **kwargs: Any
    ) -> LLMResponse:
        """Generate a completion asynchronously (async client awaited, sync one threaded)."""
        arguments = self._arguments(self._messages(prompt, system_prompt), kwargs)
        completions = self.client.chat.completions
        method = getattr(completions, "acreate", None) or completions.create
        return self._parse_response(await self._call_async(method, arguments))

    def complete_messages(self, messages: list[LLMMessage], **kwargs: Any) -> LLMResponse:
        """Generate a completion from a list of messages, sent as they are."""
        api_messages = [{"role": m.role, "content": m.content} for m in messages]
        return self._parse_response(self._call(self._create, self._arguments(api_messages, kwargs)))

    def _create(self, **arguments: Any) -> Any:
        return self.client.chat.completions.create(**arguments)

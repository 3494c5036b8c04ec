"""``LLM``: an adapter for whatever client the user has, recognised by its shape."""

from __future__ import annotations

from typing import Any

from .anthropic import AnthropicLLM
from .base import BaseLLM
from .gemini import GeminiLLM
from .openai import OpenAILLM

_ADAPTERS: tuple[type[OpenAILLM] | type[GeminiLLM] | type[AnthropicLLM], ...] = (
    OpenAILLM,
    GeminiLLM,
    AnthropicLLM,
)
"""Tried in this order, as in aiobs 0.2: the first whose ``is_compatible`` accepts the client."""


class LLM:
    """Factory of LLM adapters.

    Example::

        llm = LLM.from_client(OpenAI(), model="gpt-4o-mini")   # or genai.Client(), Anthropic()
        response = llm.complete("What is 2+2?")
        response.content, response.usage, response.cost
    """

    @staticmethod
    def from_client(
        client: Any,
        model: str,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> BaseLLM:
        """The adapter for ``client``, recognised by its methods (fakes of that shape too).

        Raises:
            ValueError: ``client`` has none of the shapes (not a client instance?).
        """
        for adapter in _ADAPTERS:
            if adapter.is_compatible(client):
                return adapter(
                    client=client, model=model, temperature=temperature, max_tokens=max_tokens
                )
        kind = type(client)
        raise ValueError(
            f"Unrecognized client type: {kind.__module__}.{kind.__name__}. "
            "Supported clients: OpenAI, Google GenAI (Gemini), Anthropic. "
            "Make sure you're passing the client instance, not the module. "
            "(aiobs recognises a client by client.chat.completions.create, "
            "client.models.generate_content or client.messages.create.)"
        )

    @staticmethod
    def openai(
        client: Any,
        model: str = "gpt-4o-mini",
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> OpenAILLM:
        """An OpenAI adapter, without recognising the client."""
        return OpenAILLM(client=client, model=model, temperature=temperature, max_tokens=max_tokens)

    @staticmethod
    def gemini(
        client: Any,
        model: str = "gemini-2.0-flash",
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> GeminiLLM:
        """A Gemini adapter, without recognising the client."""
        return GeminiLLM(client=client, model=model, temperature=temperature, max_tokens=max_tokens)

    @staticmethod
    def anthropic(
        client: Any,
        model: str = "claude-3-sonnet-20240229",
        temperature: float = 0.0,
        max_tokens: int | None = 1024,
    ) -> AnthropicLLM:
        """An Anthropic adapter, without recognising the client."""
        return AnthropicLLM(
            client=client, model=model, temperature=temperature, max_tokens=max_tokens
        )

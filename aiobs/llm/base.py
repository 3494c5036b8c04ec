"""What every LLM adapter offers: ``complete`` / ``complete_async`` and one response model.

The evaluators that ask a model (a "judge") go through these adapters, so they work with any
client the user already has. A judge's calls are the evaluator's own work, not the user's: the
adapters make them with aiobs's instrumentation suppressed, so they never appear in the user's
sessions, and report their tokens (and cost, when the model has a price) on the response.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from .._context import suppress_instrumentation
from ..pricing import Pricing
from ..usage import Usage


class LLMMessage(BaseModel):
    """A message in a conversation."""

    role: str = Field(description="Role: 'system', 'user', or 'assistant'")
    content: str = Field(description="Message content")


class LLMResponse(BaseModel):
    """Response from an LLM completion."""

    content: str = Field(description="The generated text content")
    model: str = Field(description="Model that generated the response")
    usage: dict[str, int] | None = Field(
        default=None,
        description="Token usage: prompt_tokens, completion_tokens, total_tokens",
    )
    raw_response: Any | None = Field(
        default=None, description="Raw response object from the provider"
    )
    cost: dict[str, Any] | None = Field(
        default=None,
        description="Cost of the call in USD ({'input', 'output', 'total'}) when the model "
        "has a price in aiobs's pricing table",
    )


_pricing: Pricing | None = None


def _cost(provider: str, model: str, usage: dict[str, int] | None) -> dict[str, Any] | None:
    global _pricing  # noqa: PLW0603 - the shipped table, read once on first use
    if not usage:
        return None
    if _pricing is None:
        _pricing = Pricing.default()
    counts = Usage(
        input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")
    )
    return _pricing.cost(provider, model, counts)


def _count(value: Any) -> int:
    """A token count read from a response; anything that is not an integer counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def split_messages(messages: list[LLMMessage]) -> tuple[str | None, str]:
    """The system prompt (the last system message) and the rest as ``role: content`` lines."""
    system_prompt = None
    lines = []
    for message in messages:
        if message.role == "system":
            system_prompt = message.content
        else:
            lines.append(f"{message.role}: {message.content}")
    return system_prompt, "\n".join(lines)


class BaseLLM(ABC):
    """Abstract base class for LLM adapters: a client, a model and sampling settings."""

    provider: str = "base"

    def __init__(
        self,
        client: Any,
        model: str,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens

    @abstractmethod
    def complete(self, prompt: str, system_prompt: str | None = None, **kwargs: Any) -> LLMResponse:
        """Generate a completion synchronously."""
        raise NotImplementedError

    @abstractmethod
    async def complete_async(
        self, prompt: str, system_prompt: str | None = None, **kwargs: Any
    ) -> LLMResponse:
        """Generate a completion asynchronously."""
        raise NotImplementedError

    def complete_messages(self, messages: list[LLMMessage], **kwargs: Any) -> LLMResponse:
        """Generate a completion from a list of messages."""
        system_prompt, prompt = split_messages(messages)
        return self.complete(prompt, system_prompt=system_prompt, **kwargs)

    async def complete_messages_async(
        self, messages: list[LLMMessage], **kwargs: Any
    ) -> LLMResponse:
        """Generate a completion from a list of messages, asynchronously."""
        system_prompt, prompt = split_messages(messages)
        return await self.complete_async(prompt, system_prompt=system_prompt, **kwargs)

    def _response(
        self, content: str, model: str, usage: dict[str, int] | None, raw: Any
    ) -> LLMResponse:
        return LLMResponse(
            content=content,
            model=model,
            usage=usage,
            raw_response=raw,
            cost=_cost(self.provider, model, usage),
        )

    def _call(self, method: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """Call the client's method, unrecorded; refuse an async client's coroutine clearly."""
        with suppress_instrumentation():
            result = method(**arguments)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                f"{type(self.client).__name__} is an async client: call "
                f"complete_async() (or pass a synchronous client to complete())"
            )
        return result

    async def _call_async(self, method: Callable[..., Any], arguments: dict[str, Any]) -> Any:
        """Await an async client's method, or run a sync client's in a thread; unrecorded."""
        with suppress_instrumentation():
            if inspect.iscoroutinefunction(method):
                return await method(**arguments)
            # to_thread copies the context, so the suppression holds in the thread too.
            result = await asyncio.to_thread(method, **arguments)
            if inspect.isawaitable(result):
                result = await result
            return result

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(model={self.model!r}, provider={self.provider!r})"


def usage_dict(prompt: Any, completion: Any, total: Any = None) -> dict[str, int]:
    """0.2's usage shape from a response's counts."""
    prompt_tokens, completion_tokens = _count(prompt), _count(completion)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": _count(total) if total is not None else prompt_tokens + completion_tokens,
    }


def accepts(method: Any, name: str) -> bool:
    """Whether ``method`` takes a keyword argument ``name`` (true when it cannot be told)."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)

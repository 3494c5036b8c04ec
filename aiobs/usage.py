"""Token usage in one shape for every provider.

Each provider reports usage in its own words (``prompt_tokens``, ``input_tokens``,
``promptTokenCount``...). An event's ``usage`` field normalizes them to :class:`Usage`, with these
meanings whatever the provider:

- ``input_tokens``: every token of the prompt, cached or not (Anthropic reports cache reads and
  cache writes apart from ``input_tokens``; they are added back here);
- ``output_tokens``: every generated token, reasoning included (Gemini reports its thoughts apart
  from the candidates; they are added here, as OpenAI and Anthropic count them);
- ``total_tokens``: as reported, else input plus output;
- ``cached_input_tokens``: prompt tokens read from the provider's cache (cheaper);
- ``reasoning_tokens``: the part of ``output_tokens`` spent on reasoning, when reported;
- ``cache_write_tokens``: prompt tokens written to the cache (Anthropic), when reported.

A number the provider did not report is ``None``, never guessed. ``estimated`` marks usage counted
by a local tokenizer because the provider reported none (see :mod:`aiobs.providers.estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._format import (
    USAGE_CACHE_WRITE_TOKENS,
    USAGE_CACHED_INPUT_TOKENS,
    USAGE_ESTIMATED,
    USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
    USAGE_REASONING_TOKENS,
    USAGE_TOTAL_TOKENS,
)


@dataclass(slots=True)
class Usage:
    """Normalized token counts of one call (see the module docs for their meaning)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = None
    estimated: bool = False

    def __post_init__(self) -> None:
        if self.total_tokens is None and (
            self.input_tokens is not None or self.output_tokens is not None
        ):
            self.total_tokens = (self.input_tokens or 0) + (self.output_tokens or 0)

    def as_tuple(
        self,
    ) -> tuple[int | None, int | None, int | None, int | None, int | None, int | None, bool]:
        """The fields in order: ``Usage(*usage.as_tuple())`` rebuilds it."""
        return (
            self.input_tokens,
            self.output_tokens,
            self.total_tokens,
            self.cached_input_tokens,
            self.reasoning_tokens,
            self.cache_write_tokens,
            self.estimated,
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``usage`` field of an event: the five counts always, the others when known."""
        data: dict[str, Any] = {
            USAGE_INPUT_TOKENS: self.input_tokens,
            USAGE_OUTPUT_TOKENS: self.output_tokens,
            USAGE_TOTAL_TOKENS: self.total_tokens,
            USAGE_CACHED_INPUT_TOKENS: self.cached_input_tokens,
            USAGE_REASONING_TOKENS: self.reasoning_tokens,
        }
        if self.cache_write_tokens is not None:
            data[USAGE_CACHE_WRITE_TOKENS] = self.cache_write_tokens
        if self.estimated:
            data[USAGE_ESTIMATED] = True
        return data


def count(value: Any) -> int | None:
    """A token count as reported (int-like), or ``None`` for anything else."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def field(source: Any, *names: str) -> Any:
    """The first of ``names`` present on ``source`` (an SDK object or a dict), else ``None``."""
    if source is None:
        return None
    for name in names:
        value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
        if value is not None:
            return value
    return None


def add(first: int | None, second: int | None) -> int | None:
    """Sum of two optional counts; ``None`` only when both are unknown."""
    if first is None and second is None:
        return None
    return (first or 0) + (second or 0)

"""What the provider tests of one vendor share across their files.

Clients of the stand-in server that raise at the first error (no retries), the shipped price
table, and running a call with the vendor's patches removed to compare against. SDKs are
imported when used, so that a test file skipped for a missing SDK never imports it here.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiobs import providers
from aiobs.standin import StandinServer

T = TypeVar("T")

PRICING = Path(__file__).resolve().parents[2] / "aiobs" / "data" / "pricing.json"


@functools.cache
def prices(vendor: str) -> dict[str, Any]:
    """The vendor's part of the shipped pricing table, read independently of aiobs.pricing."""
    table: dict[str, Any] = json.loads(PRICING.read_text())[vendor]
    return table


def uninstrumented(vendor: str, make: Callable[[], T]) -> T:
    """What ``make()`` returns with the vendor's patches removed."""
    providers.uninstrument(vendor)
    try:
        return make()
    finally:
        providers.instrument(vendor)


def dumps(items: list[Any]) -> list[Any]:
    """SDK objects as plain data, for comparing what two runs gave the program."""
    return [item.model_dump(warnings=False) for item in items]


@contextmanager
def openai_client(standin: StandinServer) -> Iterator[Any]:
    """A synchronous OpenAI client of the stand-in, closed afterwards."""
    openai = importlib.import_module("openai")
    with openai.OpenAI(base_url=standin.openai_url, api_key="sk-test", max_retries=0) as made:
        yield made


def async_openai_client(standin: StandinServer, **options: Any) -> Any:
    """An asynchronous OpenAI client of the stand-in (use it with ``async with``)."""
    openai = importlib.import_module("openai")
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=standin.openai_url, api_key="sk-test", **options)


@contextmanager
def anthropic_client(standin: StandinServer) -> Iterator[Any]:
    """A synchronous Anthropic client of the stand-in, closed afterwards."""
    anthropic = importlib.import_module("anthropic")
    with anthropic.Anthropic(base_url=standin.anthropic_url, api_key="x", max_retries=0) as made:
        yield made


def run_with_async_anthropic(standin: StandinServer, work: Callable[[Any], Awaitable[T]]) -> T:
    """``work(client)`` in a new event loop, with an async Anthropic client closed after."""
    anthropic = importlib.import_module("anthropic")

    async def main() -> T:
        async with anthropic.AsyncAnthropic(
            base_url=standin.anthropic_url, api_key="x", max_retries=0
        ) as client:
            return await work(client)

    return asyncio.run(main())


def expected_cost(
    vendor: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cached: int = 0,
    cache_write: int = 0,
) -> dict[str, float]:
    """The cost from the shipped price table (USD per million tokens), as aiobs should record it.

    ``input_tokens`` is the whole prompt, of which ``cached`` were read from the cache and
    ``cache_write`` written to it. Computed here, independently of ``aiobs.pricing``.
    """
    price = prices(vendor)[model]
    uncached = input_tokens - cached - cache_write
    input_cost = (
        uncached * price["input"]
        + cached * price.get("cached_input", price["input"])
        + cache_write * price.get("cache_write", price["input"])
    ) / 1e6
    output_cost = output_tokens * price["output"] / 1e6
    return {
        "input": round(input_cost, 8),
        "output": round(output_cost, 8),
        "total": round(input_cost + output_cost, 8),
    }

"""Model prices and the cost of a call.

Prices come from a table shipped with aiobs (``aiobs/data/pricing.json``, dated by its
``version``), in US dollars per million tokens, per provider and model. Users extend or override it
with their own table, as a dict or a JSON file of the same shape::

    observer.configure(pricing={"openai": {"my-finetune": {"input": 3.0, "output": 12.0}}})
    observer.configure(pricing="prices.json")          # or AIOBS_PRICING_FILE=prices.json

A model entry has ``input`` and ``output`` prices, optionally ``cached_input`` (prompt tokens read
from cache; defaults to ``input``), ``cache_write`` (prompt tokens written to cache; defaults to
``input``) and ``above``: a second set of prices for prompts of more than ``above.tokens`` input
tokens (long-context pricing).

A model is found by its exact name, else with a ``models/`` prefix removed, else by its longest
dash-separated prefix in the table (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``). A
model that is not found has no cost: ``None``, never zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._format import COST_ESTIMATED, COST_INPUT, COST_OUTPUT, COST_TOTAL
from .usage import Usage

PER_TOKENS = 1_000_000
"""Prices in the table are per this many tokens."""

_PRICE_FIELDS = ("input", "output", "cached_input", "cache_write")


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices per million tokens for one band of prompt sizes."""

    input: float
    output: float
    cached_input: float
    cache_write: float


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """A model's prices: the base band and, optionally, a long-prompt band."""

    base: Rates
    above_tokens: int | None = None
    above: Rates | None = None

    def rates_for(self, input_tokens: int) -> Rates:
        """The band that applies to a prompt of ``input_tokens`` tokens."""
        if (
            self.above is not None
            and self.above_tokens is not None
            and input_tokens > self.above_tokens
        ):
            return self.above
        return self.base


class PricingError(ValueError):
    """A pricing table is malformed; the message names the entry and what is wrong."""


class Pricing:
    """A pricing table: look up a model's prices and compute the cost of a call."""

    def __init__(self, models: Mapping[str, Mapping[str, ModelPrice]], version: str) -> None:
        self.version = version
        self._models = {provider: dict(table) for provider, table in models.items()}
        self._cache: dict[tuple[str, str], ModelPrice | None] = {}

    @classmethod
    def default(cls) -> Pricing:
        """The table shipped with aiobs."""
        text = resources.files("aiobs").joinpath("data/pricing.json").read_text(encoding="utf-8")
        return cls.from_mapping(json.loads(text), source="aiobs/data/pricing.json")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "pricing") -> Pricing:
        """A table from its JSON form: ``{"version": ..., "openai": {"model": {...}}, ...}``.

        Raises:
            PricingError: an entry is not a mapping of non-negative prices.
        """
        if not isinstance(data, Mapping):
            raise PricingError(f"{source}: a pricing table must be a JSON object")
        version = str(data.get("version", "custom"))
        models: dict[str, dict[str, ModelPrice]] = {}
        for provider, table in data.items():
            if provider in ("version", "currency", "unit", "notes"):
                continue
            if not isinstance(table, Mapping):
                raise PricingError(
                    f"{source}: {provider!r} must map model names to prices, "
                    f'e.g. {{"{provider}": {{"model": {{"input": 1.0, "output": 2.0}}}}}}'
                )
            models[provider] = {
                str(model): _model_price(entry, f"{source}: {provider}/{model}")
                for model, entry in table.items()
            }
        return cls(models, version)

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> Pricing:
        """A table from a dict or a JSON file.

        Raises:
            PricingError: the file cannot be read or parsed, or an entry is malformed.
        """
        if isinstance(source, Mapping):
            return cls.from_mapping(source)
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PricingError(f"cannot read pricing file {str(path)!r}: {exc}") from exc
        return cls.from_mapping(data, source=str(path))

    def extended(self, other: Pricing) -> Pricing:
        """This table with ``other``'s models added, replacing entries of the same name."""
        models = {provider: dict(table) for provider, table in self._models.items()}
        for provider, table in other._models.items():
            models.setdefault(provider, {}).update(table)
        return Pricing(models, f"{self.version}+{other.version}")

    def price(self, provider: str, model: str | None) -> ModelPrice | None:
        """The prices of ``model`` at ``provider``, or ``None`` when the table has no entry."""
        if not model:
            return None
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._find(self._models.get(provider, {}), model)
        if len(self._cache) < 4096:
            self._cache[key] = found
        return found

    @staticmethod
    def _find(table: Mapping[str, ModelPrice], model: str) -> ModelPrice | None:
        name = model.removeprefix("models/")
        if name in table:
            return table[name]
        parts = name.split("-")
        for end in range(len(parts) - 1, 0, -1):
            candidate = "-".join(parts[:end])
            if candidate in table:
                return table[candidate]
        return None

    def cost(self, provider: str, model: str | None, usage: Usage | None) -> dict[str, Any] | None:
        """The cost of a call in USD: ``{"input", "output", "total"}``, or ``None`` if unknown.

        Unknown means the model has no price, or the usage has no token counts at all.
        """
        if usage is None:
            return None
        prompt = usage.input_tokens
        output = usage.output_tokens
        if prompt is None and output is None:
            return None
        price = self.price(provider, model)
        if price is None:
            return None
        prompt = prompt or 0
        rates = price.base if price.above is None else price.rates_for(prompt)
        cached = usage.cached_input_tokens
        written = usage.cache_write_tokens
        if cached or written:
            cached = min(cached or 0, prompt)
            written = min(written or 0, prompt - cached)
            plain = prompt - cached - written
            input_cost = (
                plain * rates.input + cached * rates.cached_input + written * rates.cache_write
            ) / PER_TOKENS
        else:  # the common case, without the cache arithmetic
            input_cost = prompt * rates.input / PER_TOKENS
        output_cost = (output or 0) * rates.output / PER_TOKENS
        cost: dict[str, Any] = {
            COST_INPUT: round(input_cost, _DIGITS),
            COST_OUTPUT: round(output_cost, _DIGITS),
            COST_TOTAL: round(input_cost + output_cost, _DIGITS),
        }
        if usage.estimated:
            cost[COST_ESTIMATED] = True
        return cost


_DIGITS = 8
"""Dollar amounts are rounded to a millionth of a cent (no float noise)."""


def _rates(entry: Mapping[str, Any], where: str, fallback: Rates | None = None) -> Rates:
    values: dict[str, float] = {}
    for name in _PRICE_FIELDS:
        raw = entry.get(name)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise PricingError(
                f"{where}: {name} must be a number of USD per 1M tokens, got {raw!r}"
            )
        if raw < 0:
            raise PricingError(f"{where}: {name} must not be negative, got {raw!r}")
        values[name] = float(raw)
    for required in ("input", "output"):
        if required not in values:
            if fallback is None:
                raise PricingError(
                    f"{where}: missing {required!r} (USD per 1M tokens), "
                    'e.g. {"input": 2.5, "output": 10.0}'
                )
            values[required] = getattr(fallback, required)
    return Rates(
        input=values["input"],
        output=values["output"],
        cached_input=values.get("cached_input", values["input"]),
        cache_write=values.get("cache_write", values["input"]),
    )


def _model_price(entry: Any, where: str) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise PricingError(f'{where}: prices must be an object like {{"input": 1, "output": 2}}')
    unknown = set(entry) - {*_PRICE_FIELDS, "above", "notes"}
    if unknown:
        raise PricingError(
            f"{where}: unknown field(s) {sorted(unknown)}; "
            f"expected {list(_PRICE_FIELDS)} or 'above'"
        )
    base = _rates(entry, where)
    above = entry.get("above")
    if above is None:
        return ModelPrice(base)
    if not isinstance(above, Mapping) or not isinstance(above.get("tokens"), int):
        raise PricingError(
            f"{where}: 'above' must be an object with 'tokens' (an int) and prices, "
            'e.g. {"tokens": 200000, "input": 2.5, "output": 15.0}'
        )
    return ModelPrice(base, above_tokens=above["tokens"], above=_rates(above, where, base))

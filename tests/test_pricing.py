"""The pricing table: lookup by model name, cost arithmetic, user overrides and bad tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiobs import observer
from aiobs.pricing import Pricing, PricingError
from aiobs.usage import Usage


@pytest.fixture(scope="module")
def table() -> Pricing:
    return Pricing.default()


def test_shipped_table_has_a_version_date_and_the_three_providers(table: Pricing) -> None:
    assert len(table.version) == 10
    assert table.version[4] == "-"
    assert table.price("openai", "gpt-4o") is not None
    assert table.price("anthropic", "claude-sonnet-4-5") is not None
    assert table.price("gemini", "gemini-2.5-flash") is not None


@pytest.mark.parametrize(
    ("provider", "model", "expected_input_price"),
    [
        ("openai", "gpt-4o", 2.5),
        ("openai", "gpt-4o-2024-08-06", 2.5),  # dated snapshot -> its family
        ("openai", "gpt-4o-mini-2024-07-18", 0.15),  # the longest known prefix wins
        ("anthropic", "claude-3-5-haiku-20241022", 0.8),
        ("gemini", "models/gemini-2.5-flash", 0.3),  # the models/ prefix of the Gemini API
        ("gemini", "gemini-2.5-flash-lite-001", 0.1),
    ],
)
def test_model_names_are_matched_by_family(
    table: Pricing, provider: str, model: str, expected_input_price: float
) -> None:
    price = table.price(provider, model)
    assert price is not None
    assert price.base.input == expected_input_price


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "my-own-model"),
        ("openai", "ft:gpt-4o-mini:acme::abc"),  # fine-tunes are priced differently
        ("anthropic", "gpt-4o"),  # prices are per provider
        ("nobody", "gpt-4o"),
        ("openai", None),
        ("openai", ""),
    ],
)
def test_unknown_models_have_no_price(table: Pricing, provider: str, model: str | None) -> None:
    assert table.price(provider, model) is None
    assert table.cost(provider, model, Usage(100, 10)) is None


def test_cost_is_input_plus_output_at_the_listed_rates(table: Pricing) -> None:
    cost = table.cost("openai", "gpt-4o", Usage(input_tokens=1_000_000, output_tokens=500_000))
    assert cost == {"input": 2.5, "output": 5.0, "total": 7.5}


def test_cached_prompt_tokens_are_billed_at_the_cached_rate(table: Pricing) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=400_000)
    cost = table.cost("openai", "gpt-4o", usage)
    assert cost is not None
    assert cost["input"] == pytest.approx(0.6 * 2.5 + 0.4 * 1.25)


def test_cache_writes_are_billed_at_the_cache_write_rate(table: Pricing) -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cached_input_tokens=500_000,
        cache_write_tokens=250_000,
    )
    cost = table.cost("anthropic", "claude-3-5-haiku-20241022", usage)
    assert cost is not None
    assert cost["input"] == pytest.approx(0.25 * 0.8 + 0.5 * 0.08 + 0.25 * 1.0)
    assert cost["output"] == pytest.approx(4.0)
    assert cost["total"] == pytest.approx(cost["input"] + cost["output"])


def test_long_prompts_use_the_long_context_rates(table: Pricing) -> None:
    short = table.cost("gemini", "gemini-2.5-pro", Usage(200_000, 1_000_000))
    long = table.cost("gemini", "gemini-2.5-pro", Usage(200_001, 1_000_000))
    assert short is not None
    assert long is not None
    assert short["output"] == pytest.approx(10.0)
    assert long["output"] == pytest.approx(15.0)
    assert long["input"] == pytest.approx(200_001 * 2.5 / 1e6)


def test_usage_without_counts_has_no_cost(table: Pricing) -> None:
    assert table.cost("openai", "gpt-4o", None) is None
    assert table.cost("openai", "gpt-4o", Usage()) is None


def test_estimated_usage_gives_an_estimated_cost(table: Pricing) -> None:
    cost = table.cost("openai", "gpt-4o", Usage(10, 10, estimated=True))
    assert cost is not None
    assert cost["estimated"] is True


def test_embedding_models_cost_only_their_input(table: Pricing) -> None:
    cost = table.cost("openai", "text-embedding-3-small", Usage(input_tokens=1_000_000))
    assert cost == {"input": 0.02, "output": 0.0, "total": 0.02}


def test_user_prices_extend_and_override_the_shipped_ones(table: Pricing) -> None:
    mine = Pricing.load(
        {
            "version": "mine",
            "openai": {
                "gpt-4o": {"input": 1.0, "output": 2.0},
                "house-model": {"input": 3, "output": 4},
            },
        }
    )
    merged = table.extended(mine)
    assert merged.cost("openai", "gpt-4o", Usage(1_000_000, 0)) == {
        "input": 1.0,
        "output": 0.0,
        "total": 1.0,
    }
    assert merged.price("openai", "house-model") is not None
    assert merged.price("openai", "gpt-4o-mini") == table.price("openai", "gpt-4o-mini")
    assert merged.version == f"{table.version}+mine"


def test_observer_takes_pricing_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"anthropic": {"house-claude": {"input": 1, "output": 1}}}))
    observer.configure(pricing=path)
    assert observer.pricing.price("anthropic", "house-claude") is not None
    assert observer.pricing.price("openai", "gpt-4o") is not None  # still the shipped table


def test_pricing_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gemini": {"house-gemini": {"input": 1, "output": 1}}}))
    monkeypatch.setenv("AIOBS_PRICING_FILE", str(path))
    observer.reset()
    assert observer.pricing.price("gemini", "house-gemini") is not None


@pytest.mark.parametrize(
    ("table_data", "message"),
    [
        ({"openai": {"m": {"input": 1}}}, "missing 'output'"),
        ({"openai": {"m": {"input": -1, "output": 1}}}, "must not be negative"),
        ({"openai": {"m": {"input": "cheap", "output": 1}}}, "must be a number"),
        ({"openai": {"m": {"input": 1, "output": 1, "outptu": 2}}}, "unknown field"),
        ({"openai": ["gpt-4o"]}, "must map model names"),
        ({"openai": {"m": {"input": 1, "output": 1, "above": {"input": 2}}}}, "'above'"),
        ({"openai": {"m": 3}}, "prices must be an object"),
    ],
)
def test_malformed_tables_say_what_is_wrong(table_data: dict[str, object], message: str) -> None:
    with pytest.raises(PricingError, match=message):
        Pricing.load(table_data)


def test_unreadable_pricing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(PricingError, match=r"broken\.json"):
        observer.configure(pricing=str(path))

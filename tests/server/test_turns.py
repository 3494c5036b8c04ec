"""Large uploads take turns; a wait too long is answered 503, and a turn is always given back."""

from __future__ import annotations

import asyncio
import time

import pytest

from aiobs.server.budget import MemoryBudget, ServerBusyError, UploadTooLargeForBudgetError
from aiobs.server.turns import Turns


def test_one_turn_at_a_time_and_a_long_wait_is_refused() -> None:
    turns = Turns(slots=1, wait=0.2)

    async def scenario() -> list[str]:
        events: list[str] = []

        async def first() -> None:
            async with turns.turn():
                events.append("first in")
                await asyncio.sleep(0.5)
            events.append("first out")

        async def second() -> None:
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(ServerBusyError):
                async with turns.turn():
                    events.append("second in")  # pragma: no cover - must not happen
            assert 0.15 < time.monotonic() - started < 0.4
            events.append("second refused")

        await asyncio.gather(first(), second())
        async with turns.turn():  # given back: the next one gets it at once
            events.append("third in")
        return events

    assert asyncio.run(scenario()) == ["first in", "second refused", "first out", "third in"]


def test_the_budget_refuses_beyond_its_capacity_and_takes_back_what_was_held() -> None:
    budget = MemoryBudget(1000)
    with budget.hold() as first:
        first.take(600)
        with budget.hold() as second:
            second.take(300)
            with pytest.raises(ServerBusyError):
                second.take(200)  # 1,100 of 1,000
        assert budget.used == 600
        with pytest.raises(UploadTooLargeForBudgetError):
            first.take(500)  # this upload alone would need 1,100
    assert budget.used == 0

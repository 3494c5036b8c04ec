"""Retry waits: growth, bounds, and no effect on the user's ``random`` state."""

from __future__ import annotations

import random

from aiobs.exporters._backoff import backoff_delay


def test_the_wait_doubles_per_attempt_within_the_upper_half_of_its_ceiling() -> None:
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        waits = [backoff_delay(attempt, 0.5, 30.0) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert max(waits) - min(waits) > ceiling / 10  # jittered, not constant


def test_the_wait_never_exceeds_the_maximum() -> None:
    assert all(3.0 <= backoff_delay(40, 0.5, 6.0) <= 6.0 for _ in range(100))


def test_retries_leave_the_seeded_random_sequence_of_the_program_alone() -> None:
    random.seed(1234)
    expected = [random.random() for _ in range(3)]
    random.seed(1234)
    first = random.random()
    for attempt in range(1, 6):
        backoff_delay(attempt, 0.5, 30.0)
    assert [first, random.random(), random.random()] == expected

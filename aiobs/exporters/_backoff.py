"""Waits between delivery attempts: exponential backoff with jitter.

The jitter comes from a generator of its own, so that a retry (often in a background thread)
never advances the ``random`` module's shared state, which the user's program may have seeded.
"""

from __future__ import annotations

import random

_jitter = random.Random()  # noqa: S311 - spreads retries, not a secret


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based).

    The ceiling doubles from ``initial`` with each attempt up to ``maximum``; the wait is a random
    point in the upper half of it, so that clients that failed together do not retry together.
    """
    ceiling = min(maximum, initial * 2.0 ** (attempt - 1))
    return ceiling * _jitter.uniform(0.5, 1.0)

"""Helpers for testing code that uses aiobs: predictable ids and clocks.

Usage::

    from aiobs.testing import deterministic

    def test_pipeline():
        with deterministic():
            observer.observe(session_name="t")
            run_pipeline()
            observer.flush(exporter=exporter)
        # span ids are 0000000000000001, 0000000000000002, ...; each clock read advances 1 ms

``deterministic()`` restores random ids and real clocks when the block exits.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import _ids


class FakeClock:
    """A clock that starts at ``start`` and advances ``step`` seconds at every reading."""

    def __init__(self, start: float = 1_700_000_000.0, step: float = 0.001) -> None:
        self._lock = threading.Lock()
        self._ticks = 0
        self._start = start
        self._step = step

    def _tick(self) -> int:
        with self._lock:
            self._ticks += 1
            return self._ticks

    def wall(self) -> float:
        """Epoch seconds: ``start + n * step`` for the n-th reading of either clock."""
        return self._start + self._tick() * self._step

    def monotonic_ns(self) -> int:
        """Nanoseconds on the same timeline as :meth:`wall`."""
        return round(self._tick() * self._step * 1e9)


@contextmanager
def deterministic(clock: FakeClock | None = None) -> Iterator[FakeClock]:
    """Sequential span, trace and session ids and a fake clock, inside the block."""
    spans = itertools.count(1)
    traces = itertools.count(1)
    sessions = itertools.count(1)
    prompts = itertools.count(1)
    fake = clock or FakeClock()
    _ids.configure(
        span_id=lambda: next(spans),
        trace_id=lambda: next(traces),
        session_id=lambda: f"session-{next(sessions)}",
        enh_prompt_id=lambda: f"enh-prompt-{next(prompts)}",
        wall=fake.wall,
        monotonic=fake.monotonic_ns,
    )
    try:
        yield fake
    finally:
        _ids.reset()

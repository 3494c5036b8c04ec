"""Identifiers and clocks, swappable so that tests produce stable, readable documents.

Span ids are 64-bit integers, kept as ``int`` while recording and written as 16 lowercase hex
digits at export. They count up from a random start drawn from a private generator (recording
never advances the user's ``random`` state); a forked child draws a new start, so parent and child
never share ids. A trace is named after its root span: its id is the root's span id, written as
32 hex digits as in OpenTelemetry (drawing a separate id would cost time and memory per root).
Session ids are UUID4 strings, as in aiobs 0.2.

``aiobs.testing.deterministic()`` swaps in counters and a fake clock through :func:`configure`.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections.abc import Callable

_rng = random.Random()  # noqa: S311 - ids need uniqueness, not secrecy


def _counter(bits: int) -> Callable[[], int]:
    # Ids count up from a random start, leaving room for 2**40 ids before the top bit: unique in
    # the process, and two processes' ranges overlap with negligible probability. next() runs in
    # C without a Python frame, which matters on the hot path.
    return itertools.count(_rng.getrandbits(bits - 1) + 1).__next__


_random_span_id: Callable[[], int] = _counter(64)


def _random_uuid() -> str:
    return str(uuid.uuid4())


new_span_id: Callable[[], int] = _random_span_id
"""A new span id (non-zero 64-bit integer)."""

new_session_id: Callable[[], str] = _random_uuid
"""A new session id (UUID4 string)."""

new_enh_prompt_id: Callable[[], str] = _random_uuid
"""A new id for a traced call marked ``enh_prompt=True``."""

wall_clock: Callable[[], float] = time.time
"""Wall-clock time in epoch seconds, for ``started_at``/``ended_at``."""

monotonic_ns: Callable[[], int] = time.perf_counter_ns
"""Monotonic nanoseconds, for durations."""


def configure(
    *,
    span_id: Callable[[], int] | None = None,
    session_id: Callable[[], str] | None = None,
    enh_prompt_id: Callable[[], str] | None = None,
    wall: Callable[[], float] | None = None,
    monotonic: Callable[[], int] | None = None,
) -> None:
    """Replace some of the id sources and clocks; the others stay as they are."""
    global new_span_id, new_session_id, new_enh_prompt_id  # noqa: PLW0603
    global wall_clock, monotonic_ns  # noqa: PLW0603 - module-level for a cheap hot-path lookup
    if span_id is not None:
        new_span_id = span_id
    if session_id is not None:
        new_session_id = session_id
    if enh_prompt_id is not None:
        new_enh_prompt_id = enh_prompt_id
    if wall is not None:
        wall_clock = wall
    if monotonic is not None:
        monotonic_ns = monotonic


def reset() -> None:
    """Restore random ids and the real clocks."""
    configure(
        span_id=_random_span_id,
        session_id=_random_uuid,
        enh_prompt_id=_random_uuid,
        wall=time.time,
        monotonic=time.perf_counter_ns,
    )


def _reseed_after_fork() -> None:
    global _random_span_id  # noqa: PLW0603 - a new sequence for the child
    _rng.seed()
    fresh = _counter(64)
    if new_span_id is _random_span_id:
        configure(span_id=fresh)
    _random_span_id = fresh


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)

"""Identifiers and clocks, swappable so that tests produce stable, readable documents.

Ids follow W3C Trace Context, so that the ids in aiobs's own documents are the ones an
OpenTelemetry backend shows. Span ids are 64-bit integers, kept as ``int`` while recording and
written as 16 lowercase hex digits at export: a Weyl sequence (a random start, then a large odd
step, modulo 2**64) that looks random, is unique for 2**63 spans of a process and never zero, at
the cost of one C addition. Trace ids are random 128-bit integers (W3C level 2 "random"), drawn
once per root span and written as 32 hex digits: from xoshiro256** in C, seeded from a private
``random.Random``, or from that generator itself where the C module ``aiobs._speedups`` is not
built (``AIOBS_PURE_PYTHON=1`` turns it off). Recording never advances the user's ``random``
state; a forked child draws new starts and seeds, so parent and child never share ids. Session
ids are UUID4 strings, as in aiobs 0.2.

``aiobs.testing.deterministic()`` swaps in counters and a fake clock through :func:`configure`.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import cast

from . import _native

_rng = random.Random()  # noqa: S311 - ids need uniqueness, not secrecy


_MASK64 = (1 << 64) - 1
_WEYL_STEP = 0x9E3779B97F4A7C15  # odd (2**64 / golden ratio): n -> start + n * step is a bijection


_speedups = _native.speedups  # ids made in C where it is built


def _span_id_sequence() -> Callable[[], int]:
    """A new Weyl sequence of span ids, taken in C (the C wrapper of @observe even inlines it)."""
    # The one n whose id is 0 is drawn in [2**63, 2**64) and the start derived from it, so the
    # first 2**63 ids are distinct and none is zero.
    zero_at = _rng.getrandbits(63) | 1 << 63
    start = -zero_at * _WEYL_STEP & _MASK64
    if _speedups is not None:
        return cast("Callable[[], int]", _speedups.SpanIds(start, _WEYL_STEP))
    return map(_MASK64.__and__, itertools.count(start, _WEYL_STEP)).__next__


def _python_trace_id() -> int:
    return _rng.getrandbits(128) or 1  # 0 is W3C's invalid id


def _trace_id_source() -> Callable[[], int]:
    """A new source of random trace ids: xoshiro256** in C seeded from ``_rng``, or ``_rng``."""
    if _speedups is not None:
        seed = [_rng.getrandbits(64) for _ in range(4)]
        seed[0] |= 1  # never all zero
        return cast("Callable[[], int]", _speedups.TraceIds(*seed))
    return _python_trace_id


_random_trace_id: Callable[[], int] = _trace_id_source()


_random_span_id: Callable[[], int] = _span_id_sequence()


def _random_uuid() -> str:
    return str(uuid.uuid4())


new_span_id: Callable[[], int] = _random_span_id
"""A new span id (non-zero 64-bit integer)."""

new_trace_id: Callable[[], int] = _random_trace_id
"""A new trace id (non-zero 128-bit integer), drawn only for a root span."""

new_session_id: Callable[[], str] = _random_uuid
"""A new session id (UUID4 string)."""

new_enh_prompt_id: Callable[[], str] = _random_uuid
"""A new id for a traced call marked ``enh_prompt=True``."""

wall_clock: Callable[[], float] = time.time
"""Wall-clock time in epoch seconds, for ``started_at``/``ended_at``."""

monotonic_ns: Callable[[], int] = time.perf_counter_ns
"""Monotonic nanoseconds, for durations."""


CLOCK_STEP_SECONDS = 0.1
"""How far the wall clock may move against the monotonic one before the anchor follows it."""

_anchor: tuple[float, int] | None = None


def clock_anchor(wall: float, monotonic: int) -> tuple[float, int]:
    """The process's ``(wall, monotonic)`` pair, given a reading of both clocks taken now.

    Epoch times of spans are derived from their monotonic times through this one pair, so that
    a parent and its child agree to the nanosecond whichever flush exports them (a new pair at
    every flush would move by the clocks' disagreement, a few microseconds). The pair follows
    the wall clock only when it has been set by more than :data:`CLOCK_STEP_SECONDS` (an NTP
    step, a suspended machine): from then on, new times follow the new wall clock.
    """
    global _anchor  # noqa: PLW0603 - one anchor per process, replaced only on a clock step
    anchor = _anchor
    if anchor is None or abs(wall - anchor[0] - (monotonic - anchor[1]) / 1e9) > CLOCK_STEP_SECONDS:
        anchor = _anchor = (wall, monotonic)
    return anchor


def configure(
    *,
    span_id: Callable[[], int] | None = None,
    trace_id: Callable[[], int] | None = None,
    session_id: Callable[[], str] | None = None,
    enh_prompt_id: Callable[[], str] | None = None,
    wall: Callable[[], float] | None = None,
    monotonic: Callable[[], int] | None = None,
) -> None:
    """Replace some of the id sources and clocks; the others stay as they are."""
    global new_span_id, new_trace_id, new_session_id, new_enh_prompt_id  # noqa: PLW0603
    global wall_clock, monotonic_ns, _anchor  # noqa: PLW0603 - module-level for a cheap lookup
    if span_id is not None:
        new_span_id = span_id
    if trace_id is not None:
        new_trace_id = trace_id
    if session_id is not None:
        new_session_id = session_id
    if enh_prompt_id is not None:
        new_enh_prompt_id = enh_prompt_id
    if wall is not None:
        wall_clock = wall
    if monotonic is not None:
        monotonic_ns = monotonic
    if wall is not None or monotonic is not None:
        _anchor = None  # new clocks, a new anchor


def reset() -> None:
    """Restore random ids and the real clocks."""
    configure(
        span_id=_random_span_id,
        trace_id=_random_trace_id,
        session_id=_random_uuid,
        enh_prompt_id=_random_uuid,
        wall=time.time,
        monotonic=time.perf_counter_ns,
    )


def _reseed_after_fork() -> None:
    global _random_span_id, _random_trace_id  # noqa: PLW0603 - new sources for the child
    _rng.seed()
    fresh = _span_id_sequence()
    if new_span_id is _random_span_id:
        configure(span_id=fresh)
    _random_span_id = fresh
    fresh_traces = _trace_id_source()
    if new_trace_id is _random_trace_id:
        configure(trace_id=fresh_traces)
    _random_trace_id = fresh_traces


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_after_fork)

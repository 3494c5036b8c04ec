"""Cost of recording with aiobs, against the same code without it and against OpenTelemetry.

Measures, in one run on one machine:

* time added per call by ``@observe`` (arguments captured, not captured, nested three deep, and
  on a coroutine function and a generator function, each against its undecorated self),
  next to the undecorated function and to the OpenTelemetry SDK's ``start_as_current_span`` with
  a no-op exporter;
* memory retained per buffered event;
* flush time per event, for 10,000 and 100,000 events written to a file;
* this machine's primitives, in the same loop: a ContextVar set and reset, a clock read, a
  ContextVar get, a list append, an empty call with the workload's arguments, and a function
  taking ``*args, **kwargs`` that passes them on (what any decorator pays).

Usage::

    python bench/bench_observe.py            # full run, checks the budgets, exit 1 if one fails
    python bench/bench_observe.py --quick    # a few seconds, no budget check (smoke test)

Timings interleave the variants over many rounds and report medians, so that a noisy neighbour
slows all of them alike.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from aiobs import observe, observer

BUDGET_ADDED_NS = 1_000  # per decorated call with small arguments captured
BUDGET_OTEL_RATIO = 20.0  # an OpenTelemetry SDK span adds at least this many times more
BUDGET_BYTES_PER_EVENT = 600
BUDGET_FLUSH_US_PER_EVENT = 5.0


# -- the code under test ----------------------------------------------------------------------


def work(a: int, b: str, c: float = 0.0) -> int:
    return a


observed_work = observe(work)
observed_work_no_capture = observe(capture_args=False, capture_result=False)(work)


def leaf(a: int, b: str, c: float = 0.0) -> int:
    return a


def middle(a: int, b: str, c: float = 0.0) -> int:
    return leaf(a, b, c=c)


def top(a: int, b: str, c: float = 0.0) -> int:
    return middle(a, b, c=c)


@observe
def o_leaf(a: int, b: str, c: float = 0.0) -> int:
    return a


@observe
def o_middle(a: int, b: str, c: float = 0.0) -> int:
    return o_leaf(a, b, c=c)


@observe
def o_top(a: int, b: str, c: float = 0.0) -> int:
    return o_middle(a, b, c=c)


async def awork(a: int, b: str, c: float = 0.0) -> int:
    return a


def gwork(a: int, b: str, c: float = 0.0) -> Iterator[int]:
    yield a


def _driving_coroutine(coroutine_function: Callable[..., Any]) -> Callable[..., int]:
    """Call a coroutine function and run the coroutine to its end (no event loop: send(None))."""

    def drive(a: int, b: str, c: float = 0.0) -> int:
        coroutine = coroutine_function(a, b, c=c)
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return int(stop.value)
        raise RuntimeError("the coroutine suspended")

    return drive


def _draining_generator(generator_function: Callable[..., Any]) -> Callable[..., int]:
    """Call a generator function and take its one item."""

    def drain(a: int, b: str, c: float = 0.0) -> int:
        for item in generator_function(a, b, c=c):
            value = item
        return int(value)

    return drain


KINDS: dict[str, tuple[Callable[..., int], Callable[..., int]]] = {
    "coroutine": (_driving_coroutine(awork), _driving_coroutine(observe(awork))),
    "generator": (_draining_generator(gwork), _draining_generator(observe(gwork))),
}
"""Per kind: the undecorated and the decorated function, each driven to its end by a plain call."""


def otel_variants() -> dict[str, Callable[..., int]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class NoOpExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:  # noqa: ARG002
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoOpExporter()))
    tracer = provider.get_tracer("bench")

    @tracer.start_as_current_span("work")
    def otel_work(a: int, b: str, c: float = 0.0) -> int:
        return a

    @tracer.start_as_current_span("leaf")
    def t_leaf(a: int, b: str, c: float = 0.0) -> int:
        return a

    @tracer.start_as_current_span("middle")
    def t_middle(a: int, b: str, c: float = 0.0) -> int:
        return t_leaf(a, b, c=c)

    @tracer.start_as_current_span("top")
    def t_top(a: int, b: str, c: float = 0.0) -> int:
        return t_middle(a, b, c=c)

    def observe_in_otel_span(a: int, b: str, c: float = 0.0) -> int:
        # A root @observe call made while an OpenTelemetry span is current: it takes that span as
        # its parent. The span is opened once, outside the timed calls' own cost.
        return observed_work(a, b, c=c)

    return {"otel": otel_work, "otel_nested": t_top, "observe_otel_parent": observe_in_otel_span}


# -- measurements -----------------------------------------------------------------------------


def time_per_call(fn: Callable[..., int], calls: int) -> float:
    start = time.perf_counter_ns()
    for i in range(calls):
        fn(i, "small", c=2.5)
    return (time.perf_counter_ns() - start) / calls


_var: ContextVar[Any] = ContextVar("bench", default=None)
_appended: list[int] = []


def p_contextvar_set_reset(a: int, b: str, c: float = 0.0) -> int:
    _var.reset(_var.set(a))
    return a


def p_clock(a: int, b: str, c: float = 0.0) -> int:
    time.perf_counter_ns()
    return a


def p_contextvar_get(a: int, b: str, c: float = 0.0) -> int:
    _var.get()
    return a


def p_append(a: int, b: str, c: float = 0.0) -> int:
    _appended.append(a)
    return a


def _forwarding(fn: Callable[..., int]) -> Callable[..., int]:
    def forward(*args: Any, **kwargs: Any) -> int:
        return fn(*args, **kwargs)

    return forward


p_forwarding = _forwarding(work)

PRIMITIVES: dict[str, Callable[..., int]] = {
    "prim_contextvar_set_reset": p_contextvar_set_reset,
    "prim_clock": p_clock,
    "prim_contextvar_get": p_contextvar_get,
    "prim_append": p_append,
    "prim_forwarding_wrapper": p_forwarding,
}
"""Each costs the bare function plus one primitive: subtract ``bare`` to get the primitive."""


def call_overhead(rounds: int, calls: int, otel: bool = True) -> dict[str, float]:
    """Median ns per call of each variant, interleaved round by round.

    ``otel=False`` leaves OpenTelemetry unimported, as in a program that does not use it (with it
    imported, every root @observe call also looks for a current OpenTelemetry span).
    """
    variants: dict[str, tuple[Callable[..., int], bool]] = {
        "bare": (work, False),
        "observe_no_session": (observed_work, False),
        "observe_capture": (observed_work, True),
        "observe_no_capture": (observed_work_no_capture, True),
        "bare_nested": (top, False),
        "observe_nested": (o_top, True),
        **{f"bare_{kind}": (pair[0], False) for kind, pair in KINDS.items()},
        **{f"observe_{kind}": (pair[1], True) for kind, pair in KINDS.items()},
        **{name: (fn, False) for name, fn in PRIMITIVES.items()},
    }
    otel_span: Any = None
    if otel:
        try:
            from opentelemetry.sdk.trace import TracerProvider

            otel_span = TracerProvider().get_tracer("bench").start_as_current_span
            made = otel_variants()
            variants.update({name: (fn, False) for name, fn in made.items()})
            variants["observe_otel_parent"] = (made["observe_otel_parent"], True)
        except ImportError:
            print("opentelemetry-sdk is not installed: skipping the OpenTelemetry comparison")
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (fn, in_session) in variants.items():
            if in_session:
                observer.observe(session_name="bench")
            if name == "observe_otel_parent":
                with otel_span("request"):
                    samples[name].append(time_per_call(fn, calls))
            else:
                samples[name].append(time_per_call(fn, calls))
            if in_session:
                observer.end()
                observer.flush(persist=False)
            _appended.clear()
    return {name: statistics.median(values) for name, values in samples.items()}


def retained_bytes_per_event(events: int) -> float:
    observer.observe(session_name="memory")
    observer.flush(persist=False)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(events):
        observed_work(i, "small", c=2.5)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    observer.end()
    observer.flush(persist=False)
    return grown / events


def flush_us_per_event(events: int, directory: str, repeats: int) -> float:
    """Median flush time per event over ``repeats`` flushes, after one warm-up flush.

    The warm-up matters on virtual machines, where memory the process has never touched is
    slow to hand out the first time; a long-running program flushes into memory it has used
    before.
    """
    samples = []
    for attempt in range(repeats + 1):
        observer.observe(session_name="flush")
        for i in range(events):
            observed_work(i, "small", c=2.5)
        observer.end()
        path = os.path.join(directory, f"flush-{events}-{attempt}.json")
        start = time.perf_counter()
        written = observer.flush(path)
        elapsed = time.perf_counter() - start
        assert written == path, written
        with open(path, "rb") as stream:
            exported = len(json.load(stream)["function_events"])
        assert exported == events, (exported, events)
        os.remove(path)
        if attempt:
            samples.append(elapsed / events * 1e6)
    return statistics.median(samples)


def calibration_us() -> float:
    """How fast this machine runs plain Python now: best time of ``sum(range(1000))``, in µs.

    Virtual machines slow down and speed up with their neighbours; compare runs by this too.
    """
    best = float("inf")
    for _ in range(200):
        start = time.perf_counter_ns()
        sum(range(1000))
        best = min(best, time.perf_counter_ns() - start)
    return best / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, no budget check")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--no-otel", action="store_true", help="leave OpenTelemetry unimported (no comparison)"
    )
    options = parser.parse_args()

    observer.configure(flush_at_exit=False, max_buffered_events=1_000_000)
    rounds, calls = (5, 2_000) if options.quick else (31, 20_000)
    flush_sizes = (2_000,) if options.quick else (10_000, 100_000)

    calibration = calibration_us()
    timings = call_overhead(rounds, calls, otel=not options.no_otel)
    memory = retained_bytes_per_event(2_000 if options.quick else 20_000)
    with tempfile.TemporaryDirectory() as directory:
        flushes = {
            n: flush_us_per_event(n, directory, 1 if options.quick else 3) for n in flush_sizes
        }

    bare = timings["bare"]
    added = timings["observe_capture"] - bare
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"opentelemetry imported: {'opentelemetry.trace' in sys.modules}")
    print(
        f"calibration: sum(range(1000)) takes {calibration:.1f} µs before the run, "
        f"{calibration_us():.1f} µs after"
    )
    print()
    print("| variant | ns per call | added vs bare |")
    print("|---|---:|---:|")
    for name, value in timings.items():
        base = bare
        for kind in ("nested", *KINDS):
            if name.endswith(kind):
                base = timings[f"bare_{kind}"]
        print(f"| {name} | {value:,.0f} | {value - base:+,.0f} |")
    print()
    ratio = None
    if "otel" in timings:
        ratio = (timings["otel"] - bare) / added
        print(f"an OpenTelemetry SDK span costs {ratio:.1f} times what @observe adds")
    print(f"retained memory: {memory:,.0f} bytes per event")
    for n, value in flushes.items():
        print(f"flush: {value:.2f} µs per event ({n:,} events)")

    results = {
        "python": platform.python_version(),
        "calibration_us": calibration,
        "ns_per_call": timings,
        "added_ns_per_call": added,
        "bytes_per_event": memory,
        "flush_us_per_event": flushes,
    }
    if options.json:
        with open(options.json, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2)
    if options.quick:
        return 0
    failures = []
    if added > BUDGET_ADDED_NS:
        failures.append(f"@observe adds {added:,.0f} ns per call (budget {BUDGET_ADDED_NS:,})")
    if ratio is not None and ratio < BUDGET_OTEL_RATIO:
        failures.append(
            f"an OpenTelemetry span adds only {ratio:.1f} times what @observe adds"
            f" (budget {BUDGET_OTEL_RATIO:.0f})"
        )
    if memory > BUDGET_BYTES_PER_EVENT:
        failures.append(f"{memory:,.0f} bytes per event (budget {BUDGET_BYTES_PER_EVENT})")
    for n, value in flushes.items():
        if value > BUDGET_FLUSH_US_PER_EVENT:
            failures.append(f"flush of {n:,} events: {value:.2f} µs per event (budget 5)")
    print()
    print("budgets: " + ("all met" if not failures else "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

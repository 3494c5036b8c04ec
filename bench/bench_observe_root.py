"""A root ``@observe`` call in one short process: for comparing two checkouts back to back.

Usage (one process per figure; alternate the checkouts, several times each)::

    PYTHONPATH=<checkout> .venv/bin/python bench/bench_observe_root.py none     # no OpenTelemetry
    PYTHONPATH=<checkout> .venv/bin/python bench/bench_observe_root.py imported # imported, unused
    PYTHONPATH=<checkout> .venv/bin/python bench/bench_observe_root.py span     # under a span

Prints the median ns per call of ``work(i, "small", c=2.5)`` (small arguments captured) over 15
rounds of 20,000 calls, each round in a new session.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from typing import Any

MODES = ("none", "imported", "span")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "none"
    if mode not in MODES:
        print(f"usage: bench_observe_root.py {'|'.join(MODES)}", file=sys.stderr)
        return 2
    span: Any = contextlib.nullcontext()
    if mode != "none":
        from opentelemetry.sdk.trace import TracerProvider

        if mode == "span":
            span = TracerProvider().get_tracer("bench").start_as_current_span("request")

    import aiobs
    from aiobs import observe, observer

    observer.configure(flush_at_exit=False, max_buffered_events=1_000_000)

    @observe
    def work(a: int, b: str, c: float = 0.0) -> int:
        return a

    samples = []
    with span:
        for _ in range(15):
            observer.observe()
            start = time.perf_counter_ns()
            for i in range(20_000):
                work(i, "small", c=2.5)
            samples.append((time.perf_counter_ns() - start) / 20_000)
            observer.end()
            observer.flush(persist=False)
    print(f"{aiobs.__file__}\t{mode}\t{statistics.median(samples):,.0f} ns per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())

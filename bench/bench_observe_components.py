"""What each step of a decorated call costs, next to this machine's primitives.

``@observe`` on a sync function does, per call: forward ``*args, **kwargs``; find the session;
draw a span id and read the parent; take the caller's code object and instruction offset; set and
reset the span context variable; read the clock twice; check the arguments and the result for the
plain case; build the record and append it to the session's buffer. This script builds the
wrapper up one step at a time (each variant is the previous one plus one step, the last one being
the steps of ``aiobs.observe``'s own wrapper) and measures each against the undecorated function
in the same loop, with the primitives the steps are made of: a ContextVar set and reset, a clock
read, a ContextVar get, a list append.

Usage::

    python bench/bench_observe_components.py            # interleaved timings, medians
    python bench/bench_observe_components.py --quick    # a smoke run
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
        --dump-after=functools_reduce --callgrind-out-file=cg.out \\
        python bench/bench_observe_components.py --callgrind 5000   # one dump per variant

The variants copy the pure-Python wrapper's steps for measurement only; ``aiobs.observe`` is the
product, measured next to them: its C wrapper (``aiobs._speedups``, where built) and its
pure-Python wrapper.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aiobs import _ids, observe, observer
from aiobs import _otel_parent as _otel
from aiobs._context import span_var
from aiobs._recording import capture_inputs, capture_result
from aiobs._session import default, session_var

_getframe = sys._getframe
_var: ContextVar[Any] = ContextVar("bench", default=None)
_appended: list[int] = []


def work(a: int, b: str, c: float = 0.0) -> int:
    return a


def forwarding(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def with_session(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        return fn(*args, **kwargs)

    return wrapper


def with_ids(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = None
        trace_id = span_id if parent is None else parent[1]
        return fn(*args, **kwargs), session, trace_id

    return wrapper


def with_caller(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = None
        trace_id = span_id if parent is None else parent[1]
        caller = _getframe(1)
        code, lasti = caller.f_code, caller.f_lasti
        return fn(*args, **kwargs), session, trace_id, code, lasti

    return wrapper


def with_context(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = None
        trace_id = span_id if parent is None else parent[1]
        caller = _getframe(1)
        code, lasti = caller.f_code, caller.f_lasti
        token = span_var.set((span_id, trace_id))
        result = fn(*args, **kwargs)
        span_var.reset(token)
        return result, session, code, lasti

    return wrapper


def with_clocks(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = None
        trace_id = span_id if parent is None else parent[1]
        caller = _getframe(1)
        code, lasti = caller.f_code, caller.f_lasti
        token = span_var.set((span_id, trace_id))
        start = _ids.monotonic_ns()
        result = fn(*args, **kwargs)
        duration = _ids.monotonic_ns() - start
        span_var.reset(token)
        return result, session, code, lasti, duration

    return wrapper


def with_record(fn: Callable[..., Any], capture: bool) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = session_var.get()
        if session is None:
            session = default.session
        span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = None
        parent_id, trace_id = (None, span_id) if parent is None else parent
        caller = _getframe(1)
        code, lasti = caller.f_code, caller.f_lasti
        buffer = session.buffer
        capturer = buffer.settings.capturer
        cargs = ckwargs = None
        if capture:
            cargs, ckwargs = capture_inputs(capturer, _INFO, args, kwargs)
        token = span_var.set((span_id, trace_id))
        start = _ids.monotonic_ns()
        result = fn(*args, **kwargs)
        duration = _ids.monotonic_ns() - start
        span_var.reset(token)
        captured = capture_result(capturer, result) if capture else None
        record = (
            _STATIC,
            span_id,
            parent_id,
            trace_id,
            start,
            duration,
            code,
            lasti,
            cargs,
            ckwargs,
            captured,
            None,
            None,
        )
        buffer.places.pop()
        session.records.extend(record)
        return result

    return wrapper


def _function_info() -> Any:
    from aiobs._records import KIND_FUNCTION, FunctionInfo

    return FunctionInfo.for_function(
        work,
        kind=KIND_FUNCTION,
        name=None,
        capture_args=True,
        capture_result=True,
        enh_prompt=False,
        auto_enhance_after=None,
        redact=(),
    )


_INFO = _function_info()
_STATIC = _INFO.static


def python_observe(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``observe(**options)`` with the pure-Python function wrapper, where the C one is built."""
    module = sys.modules["aiobs.observe"]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        c_wrapper, module.ObservedFunction = module.ObservedFunction, None
        try:
            return observe(**options)(fn)
        finally:
            module.ObservedFunction = c_wrapper

    return decorate


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


VARIANTS: dict[str, tuple[Callable[..., Any], bool]] = {
    "bare function": (work, False),
    "primitive: ContextVar set + reset": (p_contextvar_set_reset, False),
    "primitive: clock read": (p_clock, False),
    "primitive: ContextVar get": (p_contextvar_get, False),
    "primitive: list append": (p_append, False),
    "step 1: *args, **kwargs forwarding": (forwarding(work), True),
    "step 2: + session lookup": (with_session(work), True),
    "step 3: + span id, parent, trace id": (with_ids(work), True),
    "step 4: + caller's code and offset": (with_caller(work), True),
    "step 5: + span context set and reset": (with_context(work), True),
    "step 6: + two clock reads": (with_clocks(work), True),
    "step 7: + record buffered (no capture)": (with_record(work, capture=False), True),
    "step 8: + arguments and result captured": (with_record(work, capture=True), True),
    "@observe, capture off": (observe(capture_args=False, capture_result=False)(work), True),
    "@observe, arguments and result captured": (observe(work), True),
    "@observe in Python, capture off": (
        python_observe(capture_args=False, capture_result=False)(work),
        True,
    ),
    "@observe in Python, arguments and result captured": (python_observe()(work), True),
}


def time_per_call(fn: Callable[..., Any], calls: int) -> float:
    start = time.perf_counter_ns()
    for i in range(calls):
        fn(i, "small", c=2.5)
    return (time.perf_counter_ns() - start) / calls


def timings(rounds: int, calls: int) -> dict[str, float]:
    """Median ns per call of each variant, interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        for name, (fn, in_session) in VARIANTS.items():
            if in_session:
                observer.observe(session_name="components")
            samples[name].append(time_per_call(fn, calls))
            if in_session:
                observer.end()
                observer.flush(persist=False)
            _appended.clear()
    return {name: statistics.median(values) for name, values in samples.items()}


def callgrind_sections(calls: int) -> None:
    """Each variant's calls inside one ``functools.reduce`` call: one callgrind dump each."""
    for name, (fn, in_session) in VARIANTS.items():
        if in_session:
            observer.observe(session_name="components")
        fn(0, "small", c=2.5)
        functools.reduce(lambda _done, i, fn=fn: fn(i, "small", c=2.5), range(calls), None)  # type: ignore[misc]
        if in_session:
            observer.end()
            observer.flush(persist=False)
        print(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run")
    parser.add_argument("--callgrind", type=int, metavar="CALLS", help="sections for callgrind")
    parser.add_argument("--json", metavar="PATH", help="also write the medians as JSON")
    options = parser.parse_args()
    observer.configure(flush_at_exit=False, max_buffered_events=1_000_000)
    if options.callgrind:
        callgrind_sections(options.callgrind)
        return 0
    rounds, calls = (3, 2_000) if options.quick else (21, 20_000)
    medians = timings(rounds, calls)
    bare = medians["bare function"]
    previous = bare
    print(f"{'variant':44} {'ns/call':>8} {'added':>8} {'step':>8}")
    for name, value in medians.items():
        step = value - previous if name.startswith("step") else float("nan")
        if name.startswith("step"):
            previous = value
        print(f"{name:44} {value:8.0f} {value - bare:8.0f} {step:8.0f}")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as stream:
            json.dump({"ns_per_call": medians}, stream, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Would one shared recording path for the @observe wrappers cost more than 5 % per call?

The function and coroutine wrappers of ``aiobs.observe`` inline span opening and buffer admission
(a copy each). This measures the alternative the copies were kept against: the same steps in two
helper functions (open, close) shared by both wrappers, built here from the same private pieces,
timed interleaved with the inlined ``@observe`` and the bare function in one process.

Usage::

    python bench/bench_observe_shared_path.py      # prints the added ns per call of each
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

from aiobs import _ids, observe, observer
from aiobs._guard import report_internal_error
from aiobs._recording import capture_inputs, capture_result
from aiobs._records import KIND_FUNCTION, FunctionInfo, SpanRecord
from aiobs._session import RecordingSession, default
from aiobs.observe import (
    _BIG_INT,
    _PLAIN_RESULTS,
    _getframe,
    _session_get,
    _span_get,
    _span_reset,
    _span_set,
)

State = tuple[Any, int, "int | None", int, Any, Any, Any, Any, Any, int]


def _open(
    session: RecordingSession, info: FunctionInfo, args: tuple[Any, ...], kwargs: Any, caller: Any
) -> State:
    span_id = _ids.new_span_id()
    parent = _span_get()
    parent_id, trace_id = (None, span_id) if parent is None else parent
    capturer = session.buffer.settings.capturer
    if info.capture_args:
        cargs, ckwargs = capture_inputs(capturer, info, args, kwargs)
    else:
        cargs = ckwargs = None
    extra = {"enh_prompt_id": _ids.new_enh_prompt_id()} if info.enh_prompt else None
    token = _span_set((span_id, trace_id))
    code, lasti = caller.f_code, caller.f_lasti
    return (token, span_id, parent_id, trace_id, code, lasti, cargs, ckwargs, extra,
            _ids.monotonic_ns())  # fmt: skip


def _close(session: RecordingSession, info: FunctionInfo, state: State, result: Any) -> None:
    token, span_id, parent_id, trace_id, code, lasti, cargs, ckwargs, extra, start = state
    duration = _ids.monotonic_ns() - start
    _span_reset(token)
    try:
        buffer = session.buffer
        captured = None
        if info.capture_result:
            kind = type(result)
            if (
                kind in _PLAIN_RESULTS
                or (kind is str and len(result) <= buffer.settings.capturer.fast_string)
                or (kind is int and -_BIG_INT < result < _BIG_INT)
            ):
                captured = result
            else:
                captured = capture_result(buffer.settings.capturer, result)
        record: SpanRecord = (info.static, span_id, parent_id, trace_id, start, duration, code,
                              lasti, cargs, ckwargs, captured, None, extra)  # fmt: skip
        buffer.admit(session, record)
    except Exception as exc:
        report_internal_error("recording a span", exc)


def shared_observe(fn: Callable[..., Any]) -> Callable[..., Any]:
    info = FunctionInfo.for_function(
        fn, kind=KIND_FUNCTION, name=None, capture_args=True, capture_result=True,
        enh_prompt=False, auto_enhance_after=None, redact=(),
    )  # fmt: skip

    @functools.wraps(fn)
    def observed(*args: Any, **kwargs: Any) -> Any:
        session = _session_get()
        if session is None:
            session = default.session
            if session is None:
                return fn(*args, **kwargs)
        try:
            state = _open(session, info, args, kwargs, _getframe(1))
        except Exception as exc:
            report_internal_error("starting a span", exc)
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            _span_reset(state[0])
            raise
        _close(session, info, state, result)
        return result

    return observed


def work(a: int, b: str, c: float = 0.0) -> int:
    return a


def per_call(fn: Callable[..., Any], calls: int = 20_000) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn(1, "x", c=2.0)
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    variants = {"bare": work, "inlined": observe(work), "shared": shared_observe(work)}
    observer.configure(flush_at_exit=False, max_buffered_events=1_000_000)
    observer.observe("shared-path")
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(60):
        for name, fn in variants.items():
            samples[name].append(per_call(fn))
        if round_ % 10 == 9:
            observer.flush(persist=False)
    median = {name: statistics.median(values) for name, values in samples.items()}
    inlined = median["inlined"] - median["bare"]
    shared = median["shared"] - median["bare"]
    print(f"added per call: inlined {inlined:,.0f} ns, shared path {shared:,.0f} ns "
          f"({100 * (shared / inlined - 1):+.1f} %)")  # fmt: skip


if __name__ == "__main__":
    main()

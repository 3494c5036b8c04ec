"""``@observe``: record each call of a function, coroutine, generator or async generator.

Usage::

    from aiobs import observe

    @observe
    def retrieve(query: str) -> list[str]: ...

    @observe(name="answer", capture_result=False, redact=["customer_email"])
    async def answer(question: str, customer_email: str) -> str: ...

A call is recorded when a session is current (``observer.observe()`` or ``with
observer.session()``); otherwise the original function runs directly. The decorated function keeps
its signature for type checkers and for ``inspect``, returns exactly what the original returns and
raises exactly what it raises. A generator is one span from its first item to its exhaustion,
close or error.

A plain (synchronous) function is wrapped in C where the optional extension ``aiobs._speedups``
is built (it is, on CPython with a C compiler at install time): an ``ObservedFunction`` that
records the same thing as the pure-Python wrapper, binds as a method like a function, carries the
original's name, docs and ``__wrapped__``, and pickles by reference. A coroutine function keeps
a Python ``async def`` wrapper whose span the same C code opens and closes around the await.
``AIOBS_PURE_PYTHON=1`` keeps the pure-Python wrappers everywhere.
"""

from __future__ import annotations

import functools
import inspect
import sys
import time
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from typing import Any, ParamSpec, TypeVar, cast, overload

from . import _ids, _native
from . import _otel_parent as _otel
from ._buffer import RecordBuffer
from ._capture import Capturer
from ._context import span_var
from ._format import FUNCTION_ENH_PROMPT_ID, FUNCTION_YIELDED
from ._guard import report_internal_error
from ._otel_parent import otel_parent
from ._recording import (
    _BIG_INT,
    _PLAIN_RESULTS,
    OpenSpan,
    append_error,
    capture_inputs,
    capture_result,
)
from ._records import CLOSED, KIND_FUNCTION, KIND_GENERATOR, FunctionInfo, SpanRecord
from ._session import RecordingSession, default, session_var
from .models import Callsite as Callsite  # noqa: PLC0414 - aiobs 0.2 exposed it here
from .models import FunctionEvent as FunctionEvent  # noqa: PLC0414 - aiobs 0.2 exposed it here

P = ParamSpec("P")
R = TypeVar("R")

_session_get = session_var.get
_span_get = span_var.get
_span_set = span_var.set
_span_reset = span_var.reset
_getframe = sys._getframe


def _load_c_wrapper() -> Callable[..., Callable[..., Any]] | None:
    """The C wrapper's type, handed what it needs; ``None`` if not built or turned off."""
    _speedups = _native.speedups
    if _speedups is None:
        return None
    _speedups.setup(
        session_var=session_var,
        span_var=span_var,
        default=default,
        ids=vars(_ids),
        otel=vars(_otel),
        otel_parent=otel_parent,
        capture_inputs=capture_inputs,
        capture_result=capture_result,
        append_error=append_error,
        report_internal_error=report_internal_error,
        big_int=_BIG_INT,
        perf_counter_ns=time.perf_counter_ns,
        session_type=RecordingSession,
        buffer_type=RecordBuffer,
        capturer_type=Capturer,
    )
    return cast("Callable[..., Callable[..., Any]]", _speedups.ObservedFunction)


ObservedFunction = _load_c_wrapper()
"""The C wrapper's type (``aiobs._speedups.ObservedFunction``), or ``None`` when the pure-Python
wrapper is used."""


@overload
def observe(func: Callable[P, R]) -> Callable[P, R]: ...


@overload
def observe(
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    enh_prompt: bool = False,
    auto_enhance_after: int | None = None,
    redact: Iterable[str] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def observe(
    func: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    enh_prompt: bool = False,
    auto_enhance_after: int | None = None,
    redact: Iterable[str] = (),
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of the decorated function as a span of the current session.

    Works bare (``@observe``) or with options (``@observe(name=...)``).

    Args:
        func: the function, when used bare.
        name: display name; defaults to the function's ``__name__``.
        capture_args: record the arguments (bounded and redacted snapshots).
        capture_result: record the return value (for generators, their return value).
        enh_prompt: mark the calls for prompt enhancement; each gets an ``enh_prompt_id`` listed
            in the document's ``enh_prompt_traces`` (aiobs 0.2 option).
        auto_enhance_after: recorded with each call for the prompt enhancer (aiobs 0.2 option).
        redact: more argument names whose values are replaced by ``[REDACTED]``.

    Raises:
        TypeError: the decorated object is not callable, or an option has the wrong type.
    """
    if isinstance(redact, str):
        raise TypeError(f"redact takes a list of argument names, not the string {redact!r}")
    if auto_enhance_after is not None and (
        type(auto_enhance_after) is not int or auto_enhance_after <= 0
    ):
        raise TypeError(f"auto_enhance_after must be a positive int, got {auto_enhance_after!r}")
    hidden = tuple(redact)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if isinstance(fn, (staticmethod, classmethod)):
            inner = decorate(fn.__func__)
            return cast("Callable[P, R]", type(fn)(inner))
        if not callable(fn):
            raise TypeError(f"@observe needs a function, got {type(fn).__name__}")
        if inspect.isasyncgenfunction(fn):
            kind, wrap = KIND_GENERATOR, _wrap_async_generator
        elif inspect.isgeneratorfunction(fn):
            kind, wrap = KIND_GENERATOR, _wrap_generator
        elif inspect.iscoroutinefunction(fn):
            kind, wrap = KIND_FUNCTION, _wrap_coroutine
        else:
            kind, wrap = KIND_FUNCTION, _wrap_function
        info = FunctionInfo.for_function(
            fn,
            kind=kind,
            name=name,
            capture_args=capture_args,
            capture_result=capture_result,
            enh_prompt=enh_prompt,
            auto_enhance_after=auto_enhance_after,
            redact=hidden,
        )
        return cast("Callable[P, R]", wrap(fn, info))

    if func is not None:
        return decorate(func)
    return decorate


def _active_session() -> RecordingSession | None:
    session = _session_get()
    return session if session is not None else default.session


def _wrap_function(fn: Callable[..., Any], info: FunctionInfo) -> Callable[..., Any]:
    """The wrapper of a plain function: in C where built, else in Python (same records)."""
    if ObservedFunction is None or info.enh_prompt:  # enh_prompt adds an id: Python only
        return _wrap_function_python(fn, info)
    observed = ObservedFunction(fn, info, info.static, info.capture_args, info.capture_result)
    return functools.update_wrapper(observed, fn)


# The sync and async wrappers below are the hot path: they inline the steps of OpenSpan and of
# RecordBuffer.admit (keep them in step; tests/test_observe_paths.py holds them to it), build the
# record tuple directly, and keep aiobs's own work inside try blocks that never let an internal
# error reach the caller.


def _wrap_function_python(  # noqa: PLR0915 - the hot path, inlined on purpose
    fn: Callable[..., Any], info: FunctionInfo
) -> Callable[..., Any]:
    keep_args = info.capture_args
    keep_result = info.capture_result
    enh_prompt = info.enh_prompt
    static = info.static

    @functools.wraps(fn)
    def observed(*args: Any, **kwargs: Any) -> Any:  # noqa: PLR0912, PLR0915 - hot path
        session = _session_get()
        if session is None:
            session = default.session
            if session is None:
                return fn(*args, **kwargs)
        try:
            span_id = _ids.new_span_id()
            parent = _span_get()
            if parent is None and _otel.current is not None and _otel.current():
                parent = otel_parent()  # something is set in OpenTelemetry's context
            if parent is None:  # a root: it starts a new trace
                parent_id = None
                trace_id = _ids.new_trace_id()
            else:
                parent_id, trace_id = parent
            caller = _getframe(1)
            code, lasti = caller.f_code, caller.f_lasti
            buffer = session.buffer
            capturer = buffer.settings.capturer
            cargs = ckwargs = None
            if keep_args:
                # capture_inputs' test for plain arguments, inlined: a call costs more than it
                most = capturer.fast_items
                if len(args) <= most and len(kwargs) <= most:
                    limit = capturer.fast_string
                    for value in args:
                        kind = type(value)
                        if kind is str:
                            if len(value) > limit:
                                break
                        elif kind is int:
                            if not (
                                -0x3FFF_FFFF < value < 0x3FFF_FFFF or -_BIG_INT < value < _BIG_INT
                            ):
                                break
                        elif kind is float:
                            if value - value:
                                break
                        elif kind is not bool and value is not None:
                            break
                    else:
                        for key, value in kwargs.items():
                            kind = type(value)
                            if len(key) > limit:
                                break
                            if kind is str:
                                if len(value) > limit:
                                    break
                            elif kind is int:
                                if not (
                                    -0x3FFF_FFFF < value < 0x3FFF_FFFF
                                    or -_BIG_INT < value < _BIG_INT
                                ):
                                    break
                            elif kind is float:
                                if value - value:
                                    break
                            elif kind is not bool and value is not None:
                                break
                        else:
                            cargs, ckwargs = args, (kwargs or None)
                if cargs is None:
                    cargs, ckwargs = capture_inputs(capturer, info, args, kwargs)
            extra = {FUNCTION_ENH_PROMPT_ID: _ids.new_enh_prompt_id()} if enh_prompt else None
            token = _span_set((span_id, trace_id))
            start = _ids.monotonic_ns()
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("starting a span", exc)
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            duration = _ids.monotonic_ns() - start
            _span_reset(token)
            append_error(
                session,
                (
                    static,
                    span_id,
                    parent_id,
                    trace_id,
                    start,
                    duration,
                    code,
                    lasti,
                    cargs,
                    ckwargs,
                    None,
                    None,
                    extra,
                ),
                error,
            )
            raise
        duration = _ids.monotonic_ns() - start
        _span_reset(token)
        try:
            captured = None
            if keep_result:
                kind = type(result)
                if (
                    kind in _PLAIN_RESULTS
                    or (kind is str and len(result) <= capturer.fast_string)
                    or (
                        kind is int
                        and (-0x3FFF_FFFF < result < 0x3FFF_FFFF or -_BIG_INT < result < _BIG_INT)
                    )
                ):
                    captured = result
                else:
                    captured = capture_result(capturer, result)
            record: SpanRecord = (
                static,
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
                extra,
            )
            try:  # RecordBuffer.admit, inlined
                buffer.places.pop()
            except IndexError:
                buffer.reject(session)
            else:
                session.records.extend(record)
                if session.released:
                    buffer.reattach(session)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("recording a span", exc)
        return result

    return observed


def _wrap_coroutine(fn: Callable[..., Any], info: FunctionInfo) -> Callable[..., Any]:
    """The wrapper of a coroutine function: its span opened and closed in C where built."""
    if ObservedFunction is None or info.enh_prompt:  # enh_prompt adds an id: Python only
        return _wrap_coroutine_python(fn, info)
    recorder: Any = ObservedFunction(fn, info, info.static, info.capture_args, info.capture_result)
    open_span, close_span = recorder.open, recorder.close

    @functools.wraps(fn)
    async def observed(*args: Any, **kwargs: Any) -> Any:
        span = open_span(args, kwargs)  # None: no session (or aiobs's own error, reported)
        if span is None:
            return await fn(*args, **kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            close_span(span, None, error)
            raise
        close_span(span, result, None)
        return result

    return observed


def _wrap_coroutine_python(  # noqa: PLR0915 - the hot path, inlined on purpose
    fn: Callable[..., Any], info: FunctionInfo
) -> Callable[..., Any]:
    keep_args = info.capture_args
    keep_result = info.capture_result
    enh_prompt = info.enh_prompt
    static = info.static

    @functools.wraps(fn)
    async def observed(*args: Any, **kwargs: Any) -> Any:  # noqa: PLR0912, PLR0915 - hot path
        session = _session_get()
        if session is None:
            session = default.session
            if session is None:
                return await fn(*args, **kwargs)
        try:
            span_id = _ids.new_span_id()
            parent = _span_get()
            if parent is None and _otel.current is not None and _otel.current():
                parent = otel_parent()  # something is set in OpenTelemetry's context
            if parent is None:  # a root: it starts a new trace
                parent_id = None
                trace_id = _ids.new_trace_id()
            else:
                parent_id, trace_id = parent
            caller = _getframe(1)
            code, lasti = caller.f_code, caller.f_lasti
            buffer = session.buffer
            capturer = buffer.settings.capturer
            cargs = ckwargs = None
            if keep_args:
                # capture_inputs' test for plain arguments, inlined: a call costs more than it
                most = capturer.fast_items
                if len(args) <= most and len(kwargs) <= most:
                    limit = capturer.fast_string
                    for value in args:
                        kind = type(value)
                        if kind is str:
                            if len(value) > limit:
                                break
                        elif kind is int:
                            if not (
                                -0x3FFF_FFFF < value < 0x3FFF_FFFF or -_BIG_INT < value < _BIG_INT
                            ):
                                break
                        elif kind is float:
                            if value - value:
                                break
                        elif kind is not bool and value is not None:
                            break
                    else:
                        for key, value in kwargs.items():
                            kind = type(value)
                            if len(key) > limit:
                                break
                            if kind is str:
                                if len(value) > limit:
                                    break
                            elif kind is int:
                                if not (
                                    -0x3FFF_FFFF < value < 0x3FFF_FFFF
                                    or -_BIG_INT < value < _BIG_INT
                                ):
                                    break
                            elif kind is float:
                                if value - value:
                                    break
                            elif kind is not bool and value is not None:
                                break
                        else:
                            cargs, ckwargs = args, (kwargs or None)
                if cargs is None:
                    cargs, ckwargs = capture_inputs(capturer, info, args, kwargs)
            extra = {FUNCTION_ENH_PROMPT_ID: _ids.new_enh_prompt_id()} if enh_prompt else None
            token = _span_set((span_id, trace_id))
            start = _ids.monotonic_ns()
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("starting a span", exc)
            return await fn(*args, **kwargs)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            duration = _ids.monotonic_ns() - start
            _span_reset(token)
            append_error(
                session,
                (
                    static,
                    span_id,
                    parent_id,
                    trace_id,
                    start,
                    duration,
                    code,
                    lasti,
                    cargs,
                    ckwargs,
                    None,
                    None,
                    extra,
                ),
                error,
            )
            raise
        duration = _ids.monotonic_ns() - start
        _span_reset(token)
        try:
            captured = None
            if keep_result:
                kind = type(result)
                if (
                    kind in _PLAIN_RESULTS
                    or (kind is str and len(result) <= capturer.fast_string)
                    or (
                        kind is int
                        and (-0x3FFF_FFFF < result < 0x3FFF_FFFF or -_BIG_INT < result < _BIG_INT)
                    )
                ):
                    captured = result
                else:
                    captured = capture_result(capturer, result)
            record: SpanRecord = (
                static,
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
                extra,
            )
            try:  # RecordBuffer.admit, inlined
                buffer.places.pop()
            except IndexError:
                buffer.reject(session)
            else:
                session.records.extend(record)
                if session.released:
                    buffer.reattach(session)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("recording a span", exc)
        return result

    return observed


def _wrap_generator(fn: Callable[..., Any], info: FunctionInfo) -> Callable[..., Any]:
    @functools.wraps(fn)
    def observed(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        inner = fn(*args, **kwargs)
        session = _active_session()
        if session is None:
            return (yield from inner)
        try:
            span = OpenSpan(session, info, _getframe(1), args, kwargs)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("starting a span", exc)
            return (yield from inner)
        return (yield from _drive(inner, span))

    return observed


def _drive(inner: Generator[Any, Any, Any], span: OpenSpan) -> Generator[Any, Any, Any]:
    """Step ``inner`` with its span current during each step, and only then; finish the span."""
    produced = 0
    to_send: Any = None
    to_throw: BaseException | None = None
    while True:
        token = span.activate()
        try:
            if to_throw is None:
                item = inner.send(to_send)
            else:
                pending, to_throw = to_throw, None
                item = inner.throw(pending)
        except StopIteration as stop:
            _span_reset(token)
            span.set_extra(FUNCTION_YIELDED, produced)
            span.finish(stop.value)
            return stop.value
        except BaseException as error:
            _span_reset(token)
            span.set_extra(FUNCTION_YIELDED, produced)
            span.finish(error=error)
            raise
        _span_reset(token)
        produced += 1
        try:
            to_send = yield item
        except GeneratorExit:
            token = span.activate()
            try:
                inner.close()
            finally:
                _span_reset(token)
                span.set_extra(FUNCTION_YIELDED, produced)
                span.finish(outcome=CLOSED)
            raise
        except BaseException as thrown:  # noqa: BLE001 - passed into the inner generator next step
            to_throw = thrown
            to_send = None


def _wrap_async_generator(  # noqa: PLR0915 - one faithful proxy of the async generator protocol
    fn: Callable[..., Any], info: FunctionInfo
) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def observed(  # noqa: PLR0912, PLR0915 - see _wrap_async_generator
        *args: Any, **kwargs: Any
    ) -> AsyncGenerator[Any, Any]:
        inner = fn(*args, **kwargs)
        session = _active_session()
        span: OpenSpan | None = None
        if session is not None:
            try:
                span = OpenSpan(session, info, _getframe(1), args, kwargs)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
                report_internal_error("starting a span", exc)
        produced = 0
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = span.activate() if span is not None else None
            try:
                if to_throw is None:
                    item = await inner.asend(to_send)
                else:
                    pending, to_throw = to_throw, None
                    item = await inner.athrow(pending)
            except StopAsyncIteration:
                if span is not None and token is not None:
                    _span_reset(token)
                    span.set_extra(FUNCTION_YIELDED, produced)
                    span.finish()
                return
            except BaseException as error:
                if span is not None and token is not None:
                    _span_reset(token)
                    span.set_extra(FUNCTION_YIELDED, produced)
                    span.finish(error=error)
                raise
            if token is not None:
                _span_reset(token)
            produced += 1
            try:
                to_send = yield item
            except GeneratorExit:
                token = span.activate() if span is not None else None
                try:
                    await inner.aclose()
                finally:
                    if span is not None and token is not None:
                        _span_reset(token)
                        span.set_extra(FUNCTION_YIELDED, produced)
                        span.finish(outcome=CLOSED)
                raise
            except BaseException as thrown:  # noqa: BLE001 - passed into the inner generator
                to_throw = thrown
                to_send = None

    return observed

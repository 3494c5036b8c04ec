"""Spans in progress and the buffer they end in.

The sync and async function wrappers in :mod:`aiobs.observe` inline these steps for speed; the
generator wrappers, manual spans and point events use :class:`OpenSpan`. Nothing here formats,
serializes or locks on the way in: opening a span reads the clocks, draws an id, snapshots the
arguments and sets the context variable; finishing it reads the clock again, snapshots the result
and appends a record tuple to the session's buffer.
"""

from __future__ import annotations

from contextvars import Token
from types import FrameType
from typing import Any

from . import _ids
from . import _otel_parent as _otel
from ._capture import Capturer
from ._context import SpanContext, span_var
from ._format import FUNCTION_ENH_PROMPT_ID
from ._guard import report_internal_error
from ._otel_parent import otel_parent
from ._records import ErrorInfo, FunctionInfo, SpanRecord
from ._session import RecordingSession

_PLAIN_RESULTS = frozenset({type(None), bool})
"""Results kept without further checks; any other result goes through capture_result()."""

_BIG_INT = 1 << 64
"""The bound of a plain integer. The checks test ``-0x3FFF_FFFF < value < 0x3FFF_FFFF`` first:
comparisons with a one-digit int are the interpreter's fast path, with 1 << 64 the generic one
(two of those cost more than the rest of an argument's check); written as literals, the bounds
are constants, where ``-_SMALL_INT`` would be a global read and a negation on every check."""


def capture_inputs(  # noqa: PLR0912 - hot path: the checks are inlined on purpose
    capturer: Capturer, info: FunctionInfo, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any]:
    """Arguments as stored: the call's own tuple and dict when plain, else a bounded snapshot.

    Plain means at most ``capturer.fast_items`` positional and as many keyword arguments, each
    ``None``, a boolean, an integer of less than 64 bits, a finite float or a string of at most
    ``capturer.fast_string`` characters (keyword names too): immutable values that cannot exceed
    a limit and serialize as they are, so they are kept by reference and redacted at export.
    """
    limit = capturer.fast_string
    most = capturer.fast_items
    if len(args) <= most and len(kwargs) <= most:
        # Two copies of one loop (positional, then keyword) rather than a helper: this runs on
        # every call, and a function call per argument list costs more than the checks.
        for value in args:
            kind = type(value)
            if kind is str:
                if len(value) > limit:
                    break
            elif kind is int:
                if not (-0x3FFF_FFFF < value < 0x3FFF_FFFF or -_BIG_INT < value < _BIG_INT):
                    break
            elif kind is float:
                if value - value:  # NaN for infinities and NaN: a snapshot makes them strings
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
                    if not (-0x3FFF_FFFF < value < 0x3FFF_FFFF or -_BIG_INT < value < _BIG_INT):
                        break
                elif kind is float:
                    if value - value:
                        break
                elif kind is not bool and value is not None:
                    break
            else:
                # The dict is the wrapper's own, made for this call: no one else can change it,
                # and with only scalars in it the garbage collector does not track it.
                return args, (kwargs or None)
    return capturer.inputs(args, kwargs, info.secret_positions(capturer), info.secret_names)


def capture_result(capturer: Capturer, result: Any) -> Any:
    """A return value as stored: itself when plain (see capture_inputs), else a snapshot."""
    kind = type(result)
    if kind is str:
        plain = len(result) <= capturer.fast_string
    elif kind is int:
        plain = -0x3FFF_FFFF < result < 0x3FFF_FFFF or -_BIG_INT < result < _BIG_INT
    elif kind is float:
        plain = not result - result
    else:
        plain = kind is bool or result is None
    return result if plain else capturer.output(result)


def append_error(session: RecordingSession, record: SpanRecord, error: BaseException) -> None:
    """Buffer ``record`` (built with no result) marked as failed with ``error``; never raises."""
    try:
        (
            info,
            span_id,
            parent_id,
            trace_id,
            start,
            duration,
            code,
            lasti,
            args,
            kwargs,
            _,
            _,
            extra,
        ) = record
        failed: SpanRecord = (
            info,
            span_id,
            parent_id,
            trace_id,
            start,
            duration,
            code,
            lasti,
            args,
            kwargs,
            None,
            ErrorInfo(error),
            extra,
        )
        session.buffer.admit(session, failed)
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the traced call
        report_internal_error("recording a failed span", exc)


class OpenSpan:
    """A span that has started and not yet finished (generators, manual spans, point events)."""

    __slots__ = (
        "args",
        "code",
        "extra",
        "info",
        "kwargs",
        "lasti",
        "parent_id",
        "session",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(
        self,
        session: RecordingSession,
        info: FunctionInfo,
        frame: FrameType | None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        self.info = info
        self.span_id = _ids.new_span_id()
        parent = span_var.get()
        if parent is None and _otel.current is not None and _otel.current():
            parent = otel_parent()  # something is set in OpenTelemetry's context
        if parent is None:  # a root: it starts a new trace
            self.parent_id: int | None = None
            self.trace_id = _ids.new_trace_id()
        else:
            self.parent_id, self.trace_id = parent
        self.code = frame.f_code if frame is not None else None
        self.lasti = frame.f_lasti if frame is not None else None
        self.args: Any = None
        self.kwargs: dict[str, Any] | None = None
        if info.capture_args:
            self.args, self.kwargs = capture_inputs(
                session.buffer.settings.capturer, info, args, kwargs or {}
            )
        self.extra: dict[str, Any] | None = (
            {FUNCTION_ENH_PROMPT_ID: _ids.new_enh_prompt_id()} if info.enh_prompt else None
        )
        self.start_ns = _ids.monotonic_ns()

    @property
    def context(self) -> SpanContext:
        """The value that makes this span the parent of spans opened under it."""
        return (self.span_id, self.trace_id)

    def activate(self) -> Token[SpanContext | None]:
        """Make this span current; reset the returned token to undo."""
        return span_var.set((self.span_id, self.trace_id))

    def set_extra(self, key: str, value: Any) -> None:
        """Attach a field that only some records carry (attributes, items yielded)."""
        if self.extra is None:
            self.extra = {}
        self.extra[key] = value

    def finish(
        self,
        result: Any = None,
        error: BaseException | None = None,
        outcome: Any = None,
        *,
        instant: bool = False,
    ) -> None:
        """Record the span as ended now (``instant``: with zero duration); never raises."""
        duration = 0 if instant else _ids.monotonic_ns() - self.start_ns
        try:
            if error is not None:
                outcome, result = ErrorInfo(error), None
            elif self.info.capture_result:
                result = capture_result(self.session.buffer.settings.capturer, result)
            else:
                result = None
            record: SpanRecord = (
                self.info.static,
                self.span_id,
                self.parent_id,
                self.trace_id,
                self.start_ns,
                duration,
                self.code,
                self.lasti,
                self.args,
                self.kwargs,
                result,
                outcome,
                self.extra,
            )
            self.session.buffer.admit(self.session, record)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the traced code
            report_internal_error("recording a span", exc)

"""The OpenTelemetry span current here, as the parent of a root aiobs span (as in aiobs 0.2).

When no aiobs span is open and the program has a *recording* OpenTelemetry span current, a new
aiobs span (``@observe``, ``observer.span``, an LLM call) joins that span's trace: its trace id is
the OpenTelemetry trace id and its parent span id the OpenTelemetry span id. Spans opened under it
inherit both through aiobs's own context, as usual.

aiobs never imports OpenTelemetry. The hot path asks first whether the program has
(``loaded(OTEL_TRACE) is not None``: one dictionary lookup in C) and only then calls
:func:`otel_parent`::

    parent = span_var.get()
    if parent is None and loaded(OTEL_TRACE) is not None:
        parent = otel_parent()
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ._context import SpanContext
from ._guard import report_internal_error

OTEL_TRACE = "opentelemetry.trace"
"""The module whose presence in ``sys.modules`` means OpenTelemetry may have a span current."""

loaded = sys.modules.get
"""``loaded(OTEL_TRACE)``: the module if the program imported it, else ``None``."""

Reader = Callable[[], SpanContext | None]

_reader: Reader | None = None


def otel_parent() -> SpanContext | None:
    """``(span_id, trace_id)`` of the recording OpenTelemetry span current here, or ``None``.

    ``None`` too when OpenTelemetry is not imported (or still being imported), or its span is
    not recording or invalid. Never raises (internal errors are reported).
    """
    read = _reader
    if read is None:
        read = _make_reader()
        if read is None:
            return None
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
        report_internal_error("reading the current OpenTelemetry span", exc)
        return None


def _make_reader() -> Reader | None:
    """Build the reader once OpenTelemetry's modules are fully imported (``None`` before)."""
    global _reader  # noqa: PLW0603 - built once per process, then only read
    trace: Any = sys.modules.get(OTEL_TRACE)
    context: Any = sys.modules.get("opentelemetry.context")
    get_span = getattr(trace, "get_current_span", None)
    get_current = getattr(context, "get_current", None)
    if get_span is None or get_current is None:
        return None  # not imported, or its import has not finished yet
    # get_current() returns the value of a context variable of OpenTelemetry's default runtime
    # context; reading that variable directly is a C call instead of two Python frames, which
    # matters for programs that import OpenTelemetry without using it (anthropic imports it).
    # Any other runtime context (OTEL_PYTHON_CONTEXT) is read through the public function.
    variable = getattr(getattr(context, "_RUNTIME_CONTEXT", None), "_current_context", None)
    current: Callable[[], Any] = variable.get if isinstance(variable, ContextVar) else get_current

    def read() -> SpanContext | None:
        values = current()
        if not values:  # nothing is set in OpenTelemetry's context: the common case
            return None
        span = get_span(values)
        if not span.is_recording():
            return None
        span_context = span.get_span_context()
        if not span_context.is_valid:
            return None
        return (span_context.span_id, span_context.trace_id)

    _reader = read
    return read


def reset() -> None:
    """Forget the reader (tests that swap OpenTelemetry's runtime context)."""
    global _reader  # noqa: PLW0603 - see _make_reader
    _reader = None

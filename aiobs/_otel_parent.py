"""The OpenTelemetry span current here, as the parent of a root aiobs span (as in aiobs 0.2).

When no aiobs span is open and the program has a *recording* OpenTelemetry span current, a new
aiobs span (``@observe``, ``observer.span``, an LLM call) joins that span's trace: its trace id is
the OpenTelemetry trace id and its parent span id the OpenTelemetry span id. Spans opened under it
inherit both through aiobs's own context, as usual.

aiobs never imports OpenTelemetry, and a program that does not import it pays one attribute
check per root span. :data:`current` stays ``None`` until the program imports OpenTelemetry's
context module (a finder on ``sys.meta_path`` notices the import; it finds nothing itself); from
then on it reads OpenTelemetry's current context, which is empty unless something is set there,
so only then does :func:`otel_parent` look at the span::

    parent = span_var.get()
    if parent is None and _otel_parent.current is not None and _otel_parent.current():
        parent = otel_parent()
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from ._context import SpanContext
from ._guard import report_internal_error

OTEL_CONTEXT = "opentelemetry.context"
OTEL_TRACE = "opentelemetry.trace"

current: Callable[[], Any] | None = None
"""OpenTelemetry's current context (a dict, empty when nothing is set), once it is imported."""

_reader: Callable[[], SpanContext | None] | None = None


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


def _loaded(name: str) -> Any:
    """The module ``name`` if it is imported and its import has finished, else ``None``."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return None if module is None or getattr(spec, "_initializing", False) else module


def _context_getter() -> Callable[[], Any] | None:
    """How to read OpenTelemetry's current context, once its module is imported."""
    context = _loaded(OTEL_CONTEXT)
    get_current = getattr(context, "get_current", None)
    if get_current is None:
        return None
    # get_current() returns the value of a context variable of OpenTelemetry's default runtime
    # context; reading that variable directly is a C call instead of two Python frames, which
    # matters for programs that import OpenTelemetry without using it (anthropic imports it).
    # Any other runtime context (OTEL_PYTHON_CONTEXT) is read through the public function.
    variable = getattr(getattr(context, "_RUNTIME_CONTEXT", None), "_current_context", None)
    if isinstance(variable, ContextVar):
        return variable.get
    return get_current  # type: ignore[no-any-return]


def _resolve() -> Any:
    """:data:`current` from the start of OpenTelemetry's import until its module is usable."""
    global current  # noqa: PLW0603 - replaced by the real getter once, then only read
    getter = _context_getter()
    if getter is None:
        return None
    current = getter
    with contextlib.suppress(ValueError):  # another thread may have removed it already
        sys.meta_path.remove(_WATCH)  # not while an import runs: this is called from recording
    return getter()


def _make_reader() -> Callable[[], SpanContext | None] | None:
    """Build the span reader once OpenTelemetry's modules are imported (``None`` before)."""
    global _reader  # noqa: PLW0603 - built once per process, then only read
    get_span = getattr(_loaded(OTEL_TRACE), "get_current_span", None)
    get_context = _context_getter()
    if get_span is None or get_context is None:
        return None

    last: tuple[Any, SpanContext | None] = (None, None)

    def read() -> SpanContext | None:
        nonlocal last
        values = get_context()
        if not values:  # nothing is set in OpenTelemetry's context
            return None
        # OpenTelemetry's contexts are immutable: the same one holds the same span. Calls made
        # one after another under one span (a loop) read it once.
        seen, found = last
        if values is seen:
            return found
        found = None
        span = get_span(values)
        if span.is_recording():
            span_context = span.get_span_context()
            if span_context.is_valid:
                found = (span_context.span_id, span_context.trace_id)
        last = (values, found)
        return found

    _reader = read
    return read


class _ImportWatch(importlib.abc.MetaPathFinder):
    """Finds nothing: notes that the program has started importing OpenTelemetry's context."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 - the finder protocol's signature
        target: ModuleType | None = None,  # noqa: ARG002 - the same
    ) -> importlib.machinery.ModuleSpec | None:
        global current  # noqa: PLW0603 - see _resolve
        if fullname == OTEL_CONTEXT and current is None:
            current = _resolve
        return None


def reset() -> None:
    """Start over: read OpenTelemetry's modules afresh (tests that swap its runtime context)."""
    global current, _reader  # noqa: PLW0603 - see _resolve
    _reader = None
    current = _resolve if OTEL_CONTEXT in sys.modules else None
    if current is None and _WATCH not in sys.meta_path:
        sys.meta_path.insert(0, _WATCH)


_WATCH = _ImportWatch()
reset()

"""Where "now" lives for spans: the current span, and whether instrumentation is suppressed.

Both are context variables, so each thread and each asyncio task sees its own values, and
``asyncio.create_task``/``gather`` carry them into child tasks. The current *session* lives next to
the session type, in :mod:`aiobs._session`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SpanContext = tuple[int, int]
"""What the span context variable holds for an open span: ``(span_id, trace_id)``."""

span_var: ContextVar[SpanContext | None] = ContextVar("aiobs_span", default=None)
"""``(span_id, trace_id)`` of the innermost open span here; new spans take it as their parent."""

suppressed_var: ContextVar[bool] = ContextVar("aiobs_instrumentation_suppressed", default=False)
"""True inside :func:`suppress_instrumentation`: nothing is recorded from provider SDKs."""


@contextmanager
def suppress_instrumentation() -> Iterator[None]:
    """Run a block whose provider SDK calls are not recorded (exporters use it for their I/O)."""
    token = suppressed_var.set(True)
    try:
        yield
    finally:
        suppressed_var.reset(token)


def current_span() -> SpanContext | None:
    """``(span_id, trace_id)`` of the innermost open span in this context, or ``None``."""
    return span_var.get()

"""Where "now" lives: the current session and the current span.

Both are context variables, so each thread and each asyncio task sees its own values, and
``asyncio.create_task``/``gather`` carry them into child tasks. When no session is set in the
context, the process-wide default session (started by ``observer.observe()``) applies; when neither
exists nothing is recorded, and finding that out costs one context-variable read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._records import SpanContext
    from ._session import RecordingSession

session_var: ContextVar[RecordingSession | None] = ContextVar("aiobs_session", default=None)
"""The session set by ``with observer.session()`` in this context, if any."""

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


class _DefaultSlot:
    """Holds the process-wide default session (one slot, shared by all threads)."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: RecordingSession | None = None


default = _DefaultSlot()


def current_session() -> RecordingSession | None:
    """The session that a span starting here would record into, or ``None``."""
    session = session_var.get()
    return session if session is not None else default.session


def current_span() -> SpanContext | None:
    """``(span_id, trace_id)`` of the innermost open span in this context, or ``None``."""
    return span_var.get()

"""aiobs 0.2's tracer helpers, kept so that 0.2 code and test fixtures run unchanged.

aiobs 0.2 recorded through an OpenTelemetry tracer with in-memory exporters, and its users' test
fixtures call these functions (``reset_tracer()`` between tests, ``is_initialized()``). This
package records without OpenTelemetry, so they hold no state of their own and need no
OpenTelemetry SDK: ``get_tracer()`` is OpenTelemetry's API tracer when ``opentelemetry-api`` is
installed, else a tracer whose spans do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "clear_logs",
    "clear_spans",
    "get_finished_logs",
    "get_finished_spans",
    "get_tracer",
    "init_tracer",
    "is_initialized",
    "reset_tracer",
]

_initialized = False


def init_tracer() -> None:
    """Mark the tracer initialized (aiobs records without OpenTelemetry: nothing else to do)."""
    global _initialized  # noqa: PLW0603 - 0.2's module-level flag, read by is_initialized()
    _initialized = True


def is_initialized() -> bool:
    """Whether :func:`init_tracer` was called since the last :func:`reset_tracer`."""
    return _initialized


def reset_tracer() -> None:
    """Back to the uninitialized state (0.2 test fixtures call it between tests)."""
    global _initialized  # noqa: PLW0603 - see init_tracer
    _initialized = False


def get_tracer() -> Any:
    """An OpenTelemetry tracer named ``aiobs``; a no-op tracer without ``opentelemetry-api``."""
    try:
        from opentelemetry import trace
    except ImportError:
        return _NoOpTracer()
    return trace.get_tracer("aiobs")


def get_finished_spans() -> list[Any]:
    """Always empty: aiobs keeps its own records (flush them with ``observer.flush()``)."""
    return []


def clear_spans() -> None:
    """Nothing to clear (see :func:`get_finished_spans`)."""


def get_finished_logs() -> list[Any]:
    """Always empty: aiobs keeps no OpenTelemetry logs."""
    return []


def clear_logs() -> None:
    """Nothing to clear (see :func:`get_finished_logs`)."""


class _NoOpSpan:
    """A span that records nothing (``with tracer.start_as_current_span(...) as span``)."""

    def __enter__(self) -> _NoOpSpan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def set_attribute(self, key: str, value: Any) -> None:
        """Ignored."""

    def is_recording(self) -> bool:
        """Never."""
        return False

    def end(self) -> None:
        """Ignored."""


class _NoOpTracer:
    """What :func:`get_tracer` gives without ``opentelemetry-api``: spans that do nothing."""

    @contextmanager
    def start_as_current_span(self, name: str, **options: Any) -> Iterator[_NoOpSpan]:  # noqa: ARG002 - the tracer API
        """A span that records nothing."""
        yield _NoOpSpan()

    def start_span(self, name: str, **options: Any) -> _NoOpSpan:  # noqa: ARG002 - the tracer API
        """A span that records nothing."""
        return _NoOpSpan()

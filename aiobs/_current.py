"""The collector's methods that act on the current session and span, whatever the collector.

They read the context (:mod:`aiobs._context`) and never the collector's own state, so they live
apart from it: :class:`CurrentContext` is a base class of :class:`aiobs.Collector`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ._context import span_var
from ._guard import guard
from ._legacy import model_record
from ._otel_parent import otel_parent
from ._session import RecordingSession, current_session
from ._spans import Span, point_event
from .models import Event, FunctionEvent


class CurrentContext:
    """Labels of the current session, manual spans and point events, the current span id."""

    __slots__ = ()

    def current_session(self) -> RecordingSession | None:
        """The session that recording would use here and now, or ``None``."""
        return current_session()

    def _require_session(self) -> RecordingSession:
        session = current_session()
        if session is None:
            raise RuntimeError(
                "No active session: call observer.observe() or enter "
                "'with observer.session():' first"
            )
        return session

    # -- labels (of the current session) -----------------------------------------------------------

    def set_labels(self, labels: Mapping[str, str], merge: bool = True) -> None:
        """Merge labels into the current session's, or replace its user labels (``merge=False``).

        Raises:
            RuntimeError: no session is current.
            ValueError: a label is invalid or the session would exceed 64 labels.
        """
        self._require_session().set_labels(
            dict(labels) if isinstance(labels, Mapping) else labels, merge
        )

    def add_label(self, key: str, value: str) -> None:
        """Add or overwrite one label of the current session.

        Raises:
            RuntimeError: no session is current.
            ValueError: the key or value is invalid, or the session already has 64 labels.
        """
        self._require_session().add_label(key, value)

    def remove_label(self, key: str) -> None:
        """Remove a label from the current session.

        Raises:
            RuntimeError: no session is current.
            ValueError: ``key`` is a system label.
        """
        self._require_session().remove_label(key)

    def get_labels(self) -> dict[str, str]:
        """The current session's labels, system labels included.

        Raises:
            RuntimeError: no session is current.
        """
        return self._require_session().get_labels()

    # -- spans and events --------------------------------------------------------------------------

    def span(self, name: str, **attributes: Any) -> Span:
        """A manual span for ``with``/``async with``; ``span.set(key, value)`` adds attributes."""
        return Span(name, attributes)

    def event(self, name: str, **data: Any) -> str | None:
        """Record a point event (a tool call, a decision) under the current span.

        Returns the event's span id, or ``None`` when no session is current.
        """
        return point_event(name, data, sys._getframe(1))

    def get_current_span_id(self) -> str | None:
        """Hex id of the innermost open span here, or ``None`` (aiobs 0.2 API).

        With no aiobs span open, that of the recording OpenTelemetry span current here, if any.
        """
        span = span_var.get()
        if span is None:
            span = otel_parent()
        return f"{span[0]:016x}" if span is not None else None

    def _record_event(self, payload: Event | FunctionEvent | Mapping[str, Any]) -> None:
        """Record an event given as an aiobs 0.2 model or dict into the current session."""
        session = current_session()
        if session is None:
            return
        with guard("recording an event"):
            record = model_record(payload, session.settings.capturer).as_record()
            session.buffer.admit(session, record)

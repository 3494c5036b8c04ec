"""aiobs: local-first observability for LLM applications.

Three lines record every ``@observe``-decorated call (and, with the provider integrations, every
LLM call) of a session into one JSON document::

    from aiobs import observer, observe

    observer.observe(session_name="demo", labels={"env": "dev"})

    @observe
    def answer(question: str) -> str: ...

    answer("What is aiobs?")
    observer.flush()          # -> <session-id>.json

No API key, network or server is needed. See ``docs/`` for sessions, spans, exporters and the
document's schema.
"""

from ._capture import CaptureLimits
from ._session import RecordingSession
from ._spans import Span
from ._version import __version__
from .collector import Collector, SessionScope
from .exporters import BaseExporter, ExportError, ExportResult
from .models import (
    Callsite,
    Event,
    FunctionEvent,
    ObservabilityExport,
    ObservedEvent,
    ObservedFunctionEvent,
    Session,
    SessionMeta,
)
from .observe import observe
from .redaction import Redaction

observer = Collector()
"""The process's default collector: ``observer.observe()``, ``observer.flush()`` and friends."""

__all__ = [
    "BaseExporter",
    "Callsite",
    "CaptureLimits",
    "Collector",
    "Event",
    "ExportError",
    "ExportResult",
    "FunctionEvent",
    "ObservabilityExport",
    "ObservedEvent",
    "ObservedFunctionEvent",
    "RecordingSession",
    "Redaction",
    "Session",
    "SessionMeta",
    "SessionScope",
    "Span",
    "__version__",
    "observe",
    "observer",
]

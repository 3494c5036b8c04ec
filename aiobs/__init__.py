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

from typing import TYPE_CHECKING, Any

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
from .providers.base import BaseProvider
from .redaction import Redaction

if TYPE_CHECKING:
    from .classifier import (
        BaseClassifier,
        ClassificationConfig,
        ClassificationInput,
        ClassificationResult,
        ClassificationVerdict,
        OpenAIClassifier,
    )

observer = Collector()
"""The process's default collector: ``observer.observe()``, ``observer.flush()`` and friends."""

_CLASSIFIER_NAMES = frozenset(
    {
        "BaseClassifier",
        "ClassificationConfig",
        "ClassificationInput",
        "ClassificationResult",
        "ClassificationVerdict",
        "OpenAIClassifier",
    }
)
"""aiobs 0.2's classifier names, imported from :mod:`aiobs.classifier` on first use."""


def __getattr__(name: str) -> Any:
    if name in _CLASSIFIER_NAMES:
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'aiobs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLASSIFIER_NAMES)


__all__ = [
    "BaseClassifier",
    "BaseExporter",
    "BaseProvider",
    "Callsite",
    "CaptureLimits",
    "ClassificationConfig",
    "ClassificationInput",
    "ClassificationResult",
    "ClassificationVerdict",
    "Collector",
    "Event",
    "ExportError",
    "ExportResult",
    "FunctionEvent",
    "ObservabilityExport",
    "ObservedEvent",
    "ObservedFunctionEvent",
    "OpenAIClassifier",
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

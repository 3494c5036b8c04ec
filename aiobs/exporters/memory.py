"""An exporter that keeps documents in memory, for tests and for inspecting a flush."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._format import DOC_FUNCTION_EVENTS, DOC_SESSIONS
from .base import BaseExporter, ExportResult

if TYPE_CHECKING:
    from ..models import ObservabilityExport
    from .document import ExportDocument


class InMemoryExporter(BaseExporter):
    """Collects every exported document in :attr:`documents` (JSON-ready dicts).

    Usage::

        exporter = InMemoryExporter()
        observer.flush(exporter=exporter)
        assert exporter.documents[-1]["function_events"]

    Args:
        fail: when true, every export fails (to test that data is kept for retry).
    """

    name = "memory"

    def __init__(self, *, fail: bool = False) -> None:
        self.documents: list[dict[str, Any]] = []
        self.fail = fail

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Keep the document (or refuse it when :attr:`fail` is set)."""
        if self.fail:
            return ExportResult(False, destination="memory", error="refused: fail=True")
        self.documents.append(document.data)
        return ExportResult(True, destination="memory", metadata={"events": document.event_count})

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Keep a model-shaped document, for callers that hand over models directly."""
        if self.fail:
            return ExportResult(False, destination="memory", error="refused: fail=True")
        self.documents.append(data.model_dump(mode="json"))
        return ExportResult(True, destination="memory")

    @property
    def function_events(self) -> list[dict[str, Any]]:
        """Function events of every kept document, in order."""
        return [event for doc in self.documents for event in doc[DOC_FUNCTION_EVENTS]]

    @property
    def sessions(self) -> list[dict[str, Any]]:
        """Sessions of every kept document, in order."""
        return [session for doc in self.documents for session in doc[DOC_SESSIONS]]

    def clear(self) -> None:
        """Forget the kept documents."""
        self.documents.clear()

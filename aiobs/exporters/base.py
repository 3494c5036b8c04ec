"""The exporter interface: one method that sends a document somewhere and says how it went.

Compatible with aiobs 0.2: a subclass that implements ``export(data: ObservabilityExport)``
keeps working. ``flush()`` calls :meth:`BaseExporter.export_document`, which exporters that write
JSON override to skip building pydantic models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import ObservabilityExport
    from .document import ExportDocument


class ExportResult:
    """What an export did.

    Attributes:
        success: whether the data reached its destination; on ``False`` ``flush()`` keeps the data
            buffered for the next attempt.
        destination: where the data went (a path, a URL).
        bytes_written: size of what was written, if known.
        metadata: anything else the exporter wants to report.
        error: what went wrong, when ``success`` is ``False``.
    """

    def __init__(
        self,
        success: bool,
        destination: str | None = None,
        bytes_written: int | None = None,
        metadata: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        self.success = success
        self.destination = destination
        self.bytes_written = bytes_written
        self.metadata = metadata or {}
        self.error = error

    def __repr__(self) -> str:
        if self.success:
            return (
                f"ExportResult(success=True, destination={self.destination!r}, "
                f"bytes={self.bytes_written})"
            )
        return f"ExportResult(success=False, error={self.error!r})"


class ExportError(Exception):
    """Raised by an exporter that could not deliver; ``flush()`` keeps the data for a retry."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class BaseExporter:
    """Sends export documents to one destination.

    Implement :meth:`export` (receives the pydantic model, as in aiobs 0.2) or
    :meth:`export_document` (receives the document as JSON bytes or a dict; cheaper for large
    flushes), or both.

    Raises:
        TypeError: (when a subclass is defined) it implements neither method.
    """

    name: str = "base"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if (
            cls.export is BaseExporter.export
            and cls.export_document is BaseExporter.export_document
        ):
            raise TypeError(
                f"{cls.__name__} must implement export(data, **kwargs) or "
                "export_document(document, **kwargs)"
            )

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Send ``data``; return an :class:`ExportResult` or raise :class:`ExportError`.

        By default hands the models' JSON to :meth:`export_document`.
        """
        from .document import ExportDocument

        return self.export_document(ExportDocument(data=data.model_dump(mode="json")), **kwargs)

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        """Send a document; by default validates it into models and calls :meth:`export`."""
        return self.export(document.model(), **kwargs)

    def validate(self, data: ObservabilityExport) -> bool:  # noqa: ARG002 - aiobs 0.2 hook
        """Check data before export; aiobs 0.2 hook, accepts everything by default."""
        return True

    def force_flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - for subclasses
        """Deliver anything the exporter still holds, waiting at most ``timeout`` seconds.

        Returns whether everything was delivered. Exporters that send synchronously (all of
        aiobs's own) hold nothing, so the default returns ``True`` at once.
        """
        return True

    def shutdown(self) -> None:
        """Release resources; called by the owner when the exporter is no longer needed."""

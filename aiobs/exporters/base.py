"""The exporter interface: one method that sends a document somewhere and says how it went.

Compatible with aiobs 0.2: a subclass that implements ``export(data: ObservabilityExport)``
keeps working, and a subclass that implements neither method cannot be instantiated (the same
``TypeError`` as 0.2's abstract class). ``flush()`` calls :meth:`BaseExporter.export_document`,
which exporters that write JSON override to skip building pydantic models.
"""

from __future__ import annotations

from abc import ABC, ABCMeta
from typing import TYPE_CHECKING, Any

from ..models import ObservabilityExport

if TYPE_CHECKING:
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


class _ExporterType(ABCMeta):
    """``ABCMeta`` for which implementing either export method makes a class concrete.

    A class that implements neither has ``export`` as an abstract method, so instantiating it
    raises aiobs 0.2's ``TypeError``. (The methods carry no ``@abstractmethod``: type checkers
    would then call every class that implements only ``export_document`` abstract.)
    """

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, **kwargs: Any
    ) -> _ExporterType:
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if all(
            getattr(getattr(cls, method, None), "_aiobs_default", False)
            for method in ("export", "export_document")
        ):
            cls.__abstractmethods__ = frozenset({"export", *cls.__abstractmethods__})
        return cls


class BaseExporter(ABC, metaclass=_ExporterType):
    """Sends export documents to one destination.

    Implement :meth:`export` (receives the pydantic model, as in aiobs 0.2) or
    :meth:`export_document` (receives the document as JSON bytes or a dict; cheaper for large
    flushes), or both. A class that implements neither is abstract: instantiating it raises
    ``TypeError``.
    """

    name: str = "base"

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Send ``data``; return an :class:`ExportResult` or raise :class:`ExportError`.

        By default hands the models' JSON to :meth:`export_document`.
        """
        return self.export_document(document_of(data), **kwargs)

    export._aiobs_default = True  # type: ignore[attr-defined]  # see _ExporterType

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        """Send a document; by default validates it into models and calls :meth:`export`."""
        return self.export(document.model(), **kwargs)

    export_document._aiobs_default = True  # type: ignore[attr-defined]  # see _ExporterType

    def validate(self, data: ObservabilityExport) -> bool:  # noqa: ARG002 - aiobs 0.2 hook
        """Check data before export (aiobs 0.2 hook): return ``True`` or raise.

        Accepts everything by default. aiobs's own exporters call it before each export, as 0.2
        did, and let what it raises through.
        """
        return True

    def force_flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - for subclasses
        """Deliver anything the exporter still holds, waiting at most ``timeout`` seconds.

        Returns whether everything was delivered. Exporters that send synchronously (all of
        aiobs's own) hold nothing, so the default returns ``True`` at once.
        """
        return True

    def shutdown(self) -> None:
        """Release resources; called by the owner when the exporter is no longer needed."""


def document_of(data: ObservabilityExport) -> ExportDocument:
    """``data`` as a document whose :meth:`~ExportDocument.model` is ``data`` itself.

    So an exporter handed the models by the program passes the very same object on (to a
    handler, to the exporters of a composite), as aiobs 0.2 did.
    """
    from .document import ExportDocument

    document = ExportDocument(data=data.model_dump(mode="json"))
    document._model = data  # its own package's cache, filled with what it would build
    return document


def overrides(exporter: object, owner: type, method: str) -> bool:
    """Whether ``exporter``'s class replaces ``owner``'s ``method`` (a subclass's own code)."""
    return getattr(type(exporter), method, None) is not getattr(owner, method)


def wants_models(exporter: object, owner: type) -> bool:
    """A subclass of ``owner`` that overrides ``export`` only: written for aiobs 0.2.

    ``owner``'s ``export_document`` (what ``flush()`` calls) must then go through that
    ``export``, or the subclass's code would be skipped.
    """
    return overrides(exporter, owner, "export") and not overrides(
        exporter, owner, "export_document"
    )


def wants_documents(exporter: object, owner: type) -> bool:
    """A subclass of ``owner`` that overrides ``export_document`` only; ``export`` goes there."""
    return overrides(exporter, owner, "export_document") and not overrides(
        exporter, owner, "export"
    )


def validates(exporter: object) -> bool:
    """Whether ``exporter`` has a ``validate`` of its own (else checking costs nothing to skip)."""
    return overrides(exporter, BaseExporter, "validate")

"""Send each document to several destinations, as in aiobs 0.2.

::

    observer.flush(exporter=CompositeExporter([FileExporter("run.json"), GCSExporter.from_env()]))

Every exporter gets the document (``stop_on_error=True`` stops at the first failure). The export
succeeds only if every destination succeeded; otherwise the data stays buffered and the next
flush offers it to all of them again, so a destination that already has it may receive it twice.
The result's ``metadata["results"]`` lists each destination's own result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import BaseExporter, ExportError, ExportResult
from .document import ExportDocument


class CompositeExporter(BaseExporter):
    """Exports to every exporter of ``exporters``, in order.

    Raises:
        ValueError: ``exporters`` is empty.
        TypeError: one of them is not a :class:`BaseExporter`.
    """

    name = "composite"

    def __init__(self, exporters: Iterable[BaseExporter], stop_on_error: bool = False) -> None:
        self.exporters = list(exporters)
        if not self.exporters:
            raise ValueError("CompositeExporter needs at least one exporter")
        for exporter in self.exporters:
            if not isinstance(exporter, BaseExporter):
                raise TypeError(
                    f"CompositeExporter takes aiobs exporters, got {type(exporter).__name__}"
                )
        self.stop_on_error = stop_on_error

    def __repr__(self) -> str:
        return f"CompositeExporter({self.exporters!r}, stop_on_error={self.stop_on_error})"

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        """Export to each destination; succeed only if all did."""
        results: list[ExportResult] = []
        for exporter in self.exporters:
            result = _one(exporter, document, kwargs)
            results.append(result)
            if not result.success and self.stop_on_error:
                break
        failed = [
            f"{_label(exporter)}: {result.error}"
            for exporter, result in zip(self.exporters, results, strict=False)
            if not result.success
        ]
        skipped = len(self.exporters) - len(results)
        if skipped:
            failed.append(f"{skipped} later exporter(s) skipped (stop_on_error)")
        written = [result.bytes_written for result in results if result.bytes_written]
        return ExportResult(
            not failed,
            destination=", ".join(str(r.destination) for r in results if r.destination) or None,
            bytes_written=sum(written) if written else None,
            metadata={"results": results},
            error="; ".join(failed) or None,
        )

    def force_flush(self, timeout: float | None = None) -> bool:
        """Flush every destination; ``True`` only if all flushed."""
        flushed = [exporter.force_flush(timeout) for exporter in self.exporters]  # every one
        return all(flushed)

    def shutdown(self) -> None:
        """Shut every destination down."""
        for exporter in self.exporters:
            exporter.shutdown()


def _label(exporter: BaseExporter) -> str:
    return getattr(exporter, "name", None) or type(exporter).__name__


def _one(exporter: BaseExporter, document: ExportDocument, kwargs: dict[str, Any]) -> ExportResult:
    try:
        result: object = exporter.export_document(document, **kwargs)
    except ExportError as exc:
        return ExportResult(False, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one destination's failure must not stop the others
        return ExportResult(False, error=f"{type(exc).__name__}: {exc}")
    if isinstance(result, ExportResult):
        return result
    return ExportResult(True, metadata={"returned": result})

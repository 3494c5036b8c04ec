"""Send each document to several destinations, as in aiobs 0.2.

::

    exporter = CompositeExporter([FileExporter("run.json"), GCSExporter("my-bucket")])
    exporter.add(CustomExporter(to_queue))
    observer.flush(exporter=exporter)

Every exporter gets the document, in order, with the same options. The export succeeds only if
every one succeeded; otherwise ``flush()`` keeps the data and the next flush offers it to all of
them again, so a destination that already has it may receive it twice. ``metadata`` holds
``exporters_count`` and ``results``, one dict per exporter that ran (``exporter``, ``success``,
``destination``, ``bytes_written``, ``metadata``, ``error``; its fields can also be read as
attributes, ``results[0].metadata``); ``error`` joins the failures as ``"<name>: <error>"``.

An exporter that raises :class:`ExportError` counts as failed and the others still run, unless
``stop_on_error=True``: then that very exception is raised at once. (A failure *returned* as an
unsuccessful result never stops the others, as in 0.2.) An exporter that raises any other
exception counts as failed in the same way, here; aiobs 0.2 let it escape at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ..models import ObservabilityExport
from .base import BaseExporter, ExportError, ExportResult, document_of, validates, wants_models
from .document import ExportDocument


class CompositeExporter(BaseExporter):
    """Exports to every exporter of ``exporters``, in order.

    Args:
        exporters: the destinations (a list is kept as it is: :meth:`add` appends to it).
        stop_on_error: raise the first :class:`ExportError` instead of running the others.

    Raises:
        ValueError: ``exporters`` is empty.
        TypeError: one of them is not an exporter (has no ``export()`` method).
    """

    name: str = "composite"

    def __init__(
        self, exporters: list[BaseExporter] | Iterable[BaseExporter], stop_on_error: bool = False
    ) -> None:
        listed = exporters if isinstance(exporters, list) else list(exporters)
        if not listed:
            raise ValueError("At least one exporter is required")
        for exporter in listed:
            _check(exporter)
        self._exporters: list[BaseExporter] = listed
        self._stop_on_error = stop_on_error

    @property
    def exporters(self) -> list[BaseExporter]:
        """The destinations, in order."""
        return self._exporters

    @property
    def stop_on_error(self) -> bool:
        """Whether the first :class:`ExportError` is raised instead of running the others."""
        return self._stop_on_error

    @stop_on_error.setter
    def stop_on_error(self, value: bool) -> None:
        self._stop_on_error = value

    def __repr__(self) -> str:
        return f"CompositeExporter({self._exporters!r}, stop_on_error={self._stop_on_error})"

    def add(self, exporter: BaseExporter) -> CompositeExporter:
        """Add a destination at the end; returns the composite, for chaining.

        Raises:
            TypeError: ``exporter`` is not an exporter.
        """
        _check(exporter)
        self._exporters.append(exporter)
        return self

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Export ``data`` to each destination; succeed only if all did.

        Raises:
            ExportError: with ``stop_on_error``, the first one an exporter raised.
        """
        self.validate(data)
        return self._export_all(document_of(data), kwargs)

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        """Export ``document`` to each destination; succeed only if all did."""
        if wants_models(self, CompositeExporter):
            return self.export(document.model(), **kwargs)
        if validates(self):
            self.validate(document.model())
        return self._export_all(document, kwargs)

    def _export_all(self, document: ExportDocument, kwargs: dict[str, Any]) -> ExportResult:
        results: list[ExporterOutcome] = []
        errors: list[str] = []
        for exporter in self._exporters:
            label = _label(exporter)
            try:
                result = _send(exporter, document, kwargs)
                entry = ExporterOutcome(
                    exporter=label,
                    success=result.success,
                    destination=result.destination,
                    bytes_written=result.bytes_written,
                    metadata=result.metadata,
                    error=result.error,
                )
            except Exception as exc:
                # ExportError as in 0.2; anything else too (0.2 let it escape, skipping the rest).
                error = str(exc) if isinstance(exc, ExportError) else f"{type(exc).__name__}: {exc}"
                errors.append(f"{label}: {error}")
                results.append(ExporterOutcome(exporter=label, success=False, error=error))
                if self._stop_on_error:
                    raise
                continue
            results.append(entry)
            if not result.success and result.error:
                errors.append(f"{label}: {result.error}")
        return ExportResult(
            success=all(entry["success"] for entry in results),
            metadata={"exporters_count": len(self._exporters), "results": results},
            error="; ".join(errors) if errors else None,
        )

    def force_flush(self, timeout: float | None = None) -> bool:
        """Flush every destination; ``True`` only if all flushed."""
        flushed = [
            exporter.force_flush(timeout)
            for exporter in self._exporters
            if hasattr(exporter, "force_flush")
        ]
        return all(flushed)

    def shutdown(self) -> None:
        """Shut every destination down."""
        for exporter in self._exporters:
            if hasattr(exporter, "shutdown"):
                exporter.shutdown()


class ExporterOutcome(dict[str, Any]):
    """One exporter's part of a composite export: a dict as in aiobs 0.2, read also by attribute.

    An exporter that raised has only ``exporter``, ``success`` and ``error`` (as in 0.2); read as
    attributes, its ``destination`` and ``bytes_written`` are ``None`` and its ``metadata`` is
    empty, as on an :class:`ExportResult`.
    """

    _DEFAULTS: ClassVar[dict[str, Any]] = {"destination": None, "bytes_written": None}

    def __getattr__(self, name: str) -> Any:
        if name in self:
            return self[name]
        if name == "metadata":
            return {}
        if name in self._DEFAULTS:
            return self._DEFAULTS[name]
        raise AttributeError(name)


def _check(exporter: object) -> None:
    if not isinstance(exporter, BaseExporter) and not callable(getattr(exporter, "export", None)):
        raise TypeError(
            "CompositeExporter takes aiobs exporters (or objects with an export() method), "
            f"got {type(exporter).__name__}"
        )


def _label(exporter: object) -> str:
    return getattr(exporter, "name", None) or type(exporter).__name__


def _send(exporter: object, document: ExportDocument, kwargs: dict[str, Any]) -> ExportResult:
    """One destination's export: the document's path for aiobs exporters, models for others."""
    if isinstance(exporter, BaseExporter):
        return exporter.export_document(document, **kwargs)
    result: ExportResult = exporter.export(document.model(), **kwargs)  # type: ignore[attr-defined]
    return result

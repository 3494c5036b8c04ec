"""Destinations for export documents.

``observer.flush()`` writes a file by default; pass ``exporter=`` to send the document elsewhere::

    from aiobs.exporters import FileExporter
    observer.flush(exporter=FileExporter("traces/run.json"))

Every exporter implements :class:`BaseExporter`. :class:`FileExporter` writes JSON or JSON Lines,
optionally gzipped; :class:`CustomExporter` turns a function into an exporter;
:class:`CompositeExporter` sends to several; :class:`InMemoryExporter` keeps documents in memory
for tests. :class:`~aiobs.exporters.gcs.GCSExporter` and :class:`~aiobs.exporters.otlp.OTLPExporter`
live in their own modules (they need the ``gcs`` and ``otel`` extras).
"""

from .base import BaseExporter, ExportError, ExportResult
from .composite import CompositeExporter
from .custom import CustomExporter
from .document import ExportDocument
from .file import FileExporter
from .memory import InMemoryExporter

__all__ = [
    "BaseExporter",
    "CompositeExporter",
    "CustomExporter",
    "ExportDocument",
    "ExportError",
    "ExportResult",
    "FileExporter",
    "InMemoryExporter",
]

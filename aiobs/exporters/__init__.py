"""Destinations for export documents.

``observer.flush()`` writes a file by default; pass ``exporter=`` to send the document elsewhere::

    from aiobs.exporters import FileExporter
    observer.flush(exporter=FileExporter("traces/run.json"))

Every exporter implements :class:`BaseExporter`; :class:`InMemoryExporter` keeps documents in
memory for tests.
"""

from .base import BaseExporter, ExportError, ExportResult
from .document import ExportDocument
from .file import FileExporter
from .memory import InMemoryExporter

__all__ = [
    "BaseExporter",
    "ExportDocument",
    "ExportError",
    "ExportResult",
    "FileExporter",
    "InMemoryExporter",
]

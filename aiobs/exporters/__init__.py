"""Destinations for export documents.

``observer.flush()`` writes a file by default; pass ``exporter=`` to send the document elsewhere::

    from aiobs.exporters import FileExporter
    observer.flush(exporter=FileExporter("traces/run.json"))

Every exporter implements :class:`BaseExporter`. :class:`FileExporter` writes JSON or JSON Lines,
optionally gzipped; :class:`CustomExporter` turns a function into an exporter;
:class:`CompositeExporter` sends to several; :class:`InMemoryExporter` keeps documents in memory
for tests. :class:`GCSExporter` and :class:`OTLPExporter` (extras ``gcs`` and ``otel``) are
imported from their modules on first use, as aiobs 0.2 did for ``GCSExporter``: importing
``aiobs.exporters`` imports neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import BaseExporter, ExportError, ExportResult
from .composite import CompositeExporter
from .custom import CustomExporter
from .document import ExportDocument
from .file import FileExporter
from .memory import InMemoryExporter

if TYPE_CHECKING:
    from .gcs import GCSExporter
    from .otlp import OTLPExporter

_LAZY = {"GCSExporter": ".gcs", "OTLPExporter": ".otlp"}
"""Exporters imported from their module when first asked for."""

__all__ = [
    "BaseExporter",
    "CompositeExporter",
    "CustomExporter",
    "ExportDocument",
    "ExportError",
    "ExportResult",
    "FileExporter",
    "GCSExporter",
    "InMemoryExporter",
    "OTLPExporter",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

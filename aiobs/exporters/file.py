"""Write the export document to a local JSON file, atomically.

The document is written to a temporary file in the destination directory, flushed to disk, and
renamed over the destination, so a reader (or a crash) never sees half a file. With ``merge=True``
an existing aiobs document at the path is combined with the new one (sessions by id, events
appended, trace tree rebuilt), which is how repeated flushes to one path within a process
accumulate instead of overwriting each other. Files are created readable by their owner only.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic_core

from .base import BaseExporter, ExportError, ExportResult
from .document import ExportDocument

if TYPE_CHECKING:
    from ..models import ObservabilityExport

logger = logging.getLogger("aiobs")


class FileExporter(BaseExporter):
    """Writes each export to ``path`` as JSON.

    Args:
        path: destination file; missing parent directories are created.
        indent: JSON indentation; ``None`` (the default) writes the compact form, which is
            several times faster to write and read than an indented file.
        merge: combine with an aiobs document already at ``path`` instead of replacing it.
        fsync: also force the file to disk before renaming it into place, so that it survives a
            crash of the operating system, not only of the process. Off by default: it costs
            far more than the rest of a large flush.
    """

    name = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        indent: int | None = None,
        merge: bool = False,
        fsync: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.indent = indent
        self.merge = merge
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"FileExporter({self.path!r}, merge={self.merge})"

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Write ``document`` (merged with the file's current content if ``merge``)."""
        if self.merge:
            document = self._merged_with_existing(document)
        size = self._write_atomically(document)
        return ExportResult(True, destination=self.path, bytes_written=size)

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Write a model-shaped document (aiobs 0.2 interface)."""
        return self.export_document(ExportDocument(data=data.model_dump(mode="json")), **kwargs)

    def _write_atomically(self, document: ExportDocument) -> int:
        target = Path(self.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
        except OSError as exc:
            raise ExportError(f"cannot write {self.path}: {exc}", cause=exc) from exc
        try:
            with os.fdopen(handle, "wb") as stream:
                size = document.write_to(stream, indent=self.indent)
                stream.flush()
                if self.fsync:
                    os.fsync(stream.fileno())
            os.replace(temporary, target)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise ExportError(f"cannot write {self.path}: {exc}", cause=exc) from exc
        return size

    def _merged_with_existing(self, document: ExportDocument) -> ExportDocument:
        try:
            with open(self.path, "rb") as stream:
                existing = pydantic_core.from_json(stream.read())
        except FileNotFoundError:
            return document
        except (OSError, ValueError) as exc:
            aside = f"{self.path}.unreadable"
            logger.warning(
                "aiobs: %s is not a readable export (%s); moved to %s", self.path, exc, aside
            )
            os.replace(self.path, aside)
            return document
        if not isinstance(existing, dict) or "sessions" not in existing:
            return document
        from .._document import assemble  # the document writer imports this package

        new = document.data
        sessions = {s["id"]: s for s in existing.get("sessions") or []}
        sessions.update({s["id"]: s for s in new["sessions"]})
        return assemble(
            list(sessions.values()),
            [*(existing.get("events") or []), *new["events"]],
            [*(existing.get("function_events") or []), *new["function_events"]],
            include_trace_tree=new["trace_tree"] is not None,
            generated_at=new["generated_at"],
        )

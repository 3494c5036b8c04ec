"""Write the export document to a local file: JSON (atomically) or JSON Lines, optionally gzipped.

JSON: the document is written to a temporary file in the destination directory, flushed to disk,
and renamed over the destination, so a reader (or a crash) never sees half a file. With
``merge=True`` an existing aiobs document at the path is combined with the new one (sessions by
id, events appended, trace tree rebuilt), which is how repeated flushes to one path within a
process accumulate instead of overwriting each other. Files are created readable by their owner
only.

JSON Lines (``format="jsonl"``, or a path ending in ``.jsonl`` / ``.jsonl.gz``): each flush
*appends* one line per session, provider event and function event, each an object with a
``"record"`` field (``"session"``, ``"event"`` or ``"function_event"``) and the same fields as in
the JSON document. Appending costs only what the flush adds, however large the file grows, which
suits long-running services that flush often. A session appears again in every flush that
exports it (its latest line is its current state); the trace tree is not written (every event
carries its ``parent_span_id``). A crash during an append can leave an incomplete last line,
which readers should skip.

Compression: ``compress=True`` (or a path ending in ``.gz``) gzips the file; JSON Lines appends
one gzip member per flush, which every gzip reader reads as one stream.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

import pydantic_core

from .._format import (
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    SESSION_ID,
)
from .base import BaseExporter, ExportError, ExportResult
from .document import GZIP_LEVEL, ExportDocument, assemble

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
        format: ``"json"`` (one document) or ``"jsonl"`` (lines appended at each flush); by
            default ``"jsonl"`` for paths ending in ``.jsonl`` or ``.jsonl.gz``, else ``"json"``.
        compress: gzip the file; by default when the path ends in ``.gz``.

    Raises:
        ValueError: ``format`` is not ``"json"`` or ``"jsonl"``, or ``merge`` is asked for a
            JSON Lines file (which is appended to anyway).
    """

    name = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        indent: int | None = None,
        merge: bool = False,
        fsync: bool = False,
        format: Literal["json", "jsonl"] | None = None,
        compress: bool | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.indent = indent
        self.fsync = fsync
        name = self.path.lower()
        self.compress = name.endswith(".gz") if compress is None else compress
        if format is None:
            format = "jsonl" if name.removesuffix(".gz").endswith(".jsonl") else "json"
        if format not in ("json", "jsonl"):
            raise ValueError(f'FileExporter format must be "json" or "jsonl", got {format!r}')
        if merge and format == "jsonl":
            raise ValueError(
                "merge=True applies to JSON files; a JSON Lines file is appended to at each flush"
            )
        self.format = format
        self.merge = merge

    def __repr__(self) -> str:
        return f"FileExporter({self.path!r}, format={self.format!r}, merge={self.merge})"

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Write ``document`` (merged with the file's current content if ``merge``)."""
        if self.format == "jsonl":
            size = self._append_lines(document)
            return ExportResult(True, destination=self.path, bytes_written=size)
        if self.merge:
            document = self._merged_with_existing(document)
        size = self._write_atomically(document)
        return ExportResult(True, destination=self.path, bytes_written=size)

    def _append_lines(self, document: ExportDocument) -> int:
        target = Path(self.path)
        lines = b"".join(document.json_lines())
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(handle, "ab") as stream:
                payload = gzip.compress(lines, GZIP_LEVEL, mtime=0) if self.compress else lines
                stream.write(payload)
                stream.flush()
                if self.fsync:
                    os.fsync(stream.fileno())
        except OSError as exc:
            raise ExportError(f"cannot append to {self.path}: {exc}", cause=exc) from exc
        return len(payload)

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
                if self.compress:
                    with gzip.GzipFile(
                        fileobj=stream, mode="wb", compresslevel=GZIP_LEVEL, mtime=0
                    ) as packed:
                        document.write_to(cast(BinaryIO, packed), indent=self.indent)
                    size = stream.tell()
                else:
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
            with _open_for_reading(self.path, self.compress) as stream:
                existing = pydantic_core.from_json(stream.read())
        except FileNotFoundError:
            return document
        except (OSError, ValueError, EOFError) as exc:
            aside = f"{self.path}.unreadable"
            logger.warning(
                "aiobs: %s is not a readable export (%s); moved to %s", self.path, exc, aside
            )
            os.replace(self.path, aside)
            return document
        if not isinstance(existing, dict) or DOC_SESSIONS not in existing:
            return document
        new = document.data
        sessions = {s[SESSION_ID]: s for s in existing.get(DOC_SESSIONS) or []}
        sessions.update({s[SESSION_ID]: s for s in new[DOC_SESSIONS]})
        return assemble(
            list(sessions.values()),
            [*(existing.get(DOC_EVENTS) or []), *new[DOC_EVENTS]],
            [*(existing.get(DOC_FUNCTION_EVENTS) or []), *new[DOC_FUNCTION_EVENTS]],
            include_trace_tree=new[DOC_TRACE_TREE] is not None,
            generated_at=new[DOC_GENERATED_AT],
        )


def _open_for_reading(path: str, compressed: bool) -> BinaryIO:
    if compressed:
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")

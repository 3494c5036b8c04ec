"""Write the export document to a local file: JSON (atomically) or JSON Lines, optionally gzipped.

JSON: the document is written to a temporary file in the destination directory, flushed to disk,
and renamed over the destination, so a reader (or a crash) never sees half a file. A crash can
leave that temporary file behind (``.<name>.<pid>.<random>.tmp``); the first write to a path in a
process removes those of its leftovers that are provably stale: their writer's process is gone,
or they have not changed for an hour. With
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
carries its ``parent_span_id``). A crash during an append can leave an incomplete last line;
the next append removes it first (under an exclusive ``flock`` that every append holds, so it is
never a line another process is writing), and readers should skip one until then.

Compression: ``compress=True`` (or a path ending in ``.gz``) gzips the file; JSON Lines appends
one gzip member per flush, which every gzip reader reads as one stream. An incomplete last member
would make the rest of the file unreadable, so the first append of a process to a path reads back
the file's last member (found by its header, which aiobs writes the same every time) and cuts
what a crash left of one; a tail that is not a member aiobs wrote is left as it is.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import sys
import tempfile
import time
import zlib
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

if sys.platform != "win32":  # on Windows appends are not locked, and torn tails are not cut
    import fcntl

STALE_AFTER_SECONDS = 3600
"""A temporary file of a live (or unknown) writer that has not changed for this long is stale."""

_TAIL_BLOCK = 1 << 16
_MEMBER_HEAD = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
"""How every gzip member aiobs appends starts: magic, deflate, no flags, mtime 0."""

_swept: set[str] = set()
"""Paths whose stale temporary files this process has removed."""
_members_checked: set[str] = set()
"""Gzipped JSON Lines paths whose last member this process has checked."""


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
        payload = gzip.compress(lines, GZIP_LEVEL, mtime=0) if self.compress else lines
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:  # reading too: the tail is checked before appending
                handle = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
                readable = True
            except PermissionError:  # a file we may only write to: append as it is
                handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                readable = False
            with os.fdopen(handle, "ab") as stream:
                if _lock(handle) and readable:  # the lock is released when the file is closed
                    self._cut_torn_tail(handle)
                stream.write(payload)
                stream.flush()
                if self.fsync:
                    os.fsync(stream.fileno())
        except OSError as exc:
            raise ExportError(f"cannot append to {self.path}: {exc}", cause=exc) from exc
        return len(payload)

    def _cut_torn_tail(self, handle: int) -> None:
        """Remove what an interrupted append left at the end of the file (see the module)."""
        size = os.fstat(handle).st_size
        if not size:
            return
        if self.compress:
            if self.path in _members_checked:
                return
            _members_checked.add(self.path)
            keep = _complete_members_end(handle, size)
        elif os.pread(handle, 1, size - 1) == b"\n":
            return
        else:
            keep = _last_line_end(handle, size)
        if keep is not None and keep < size:
            logger.warning(
                "aiobs: %s ended with %d bytes of an interrupted append; removed them",
                self.path,
                size - keep,
            )
            os.ftruncate(handle, keep)

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Write a model-shaped document (aiobs 0.2 interface)."""
        return self.export_document(ExportDocument(data=data.model_dump(mode="json")), **kwargs)

    def _write_atomically(self, document: ExportDocument) -> int:
        target = Path(self.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if str(target) not in _swept:
                _swept.add(str(target))
                remove_stale_temporaries(target)
            handle, temporary = tempfile.mkstemp(
                prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
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


def remove_stale_temporaries(target: Path) -> list[str]:
    """Remove the temporary files that interrupted writes of ``target`` left; never raises.

    Only files named as this module names them (``.<name>.<pid>.<random>.tmp``, or
    ``.<name>.<random>.tmp`` as earlier versions did) are considered, and only stale ones are
    removed: their writer's process is gone, or they have not changed for
    :data:`STALE_AFTER_SECONDS` (the process id may have been reused). The process check assumes
    that no other machine writes to the directory; if one does, the worst case is that its write
    fails and its data waits for its next flush. Returns the names removed.
    """
    pattern = re.compile(
        re.escape(f".{target.name}.") + r"(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}" + re.escape(".tmp")
    )
    removed: list[str] = []
    now = time.time()
    try:
        with os.scandir(target.parent) as found:
            entries = list(found)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = match["pid"]
            writer_gone = pid is not None and int(pid) != os.getpid() and not _alive(int(pid))
            stale = writer_gone or age > STALE_AFTER_SECONDS
            if not stale or not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove
        removed.append(entry.name)
    if removed:
        logger.warning(
            "aiobs: removed %d temporary files left by interrupted writes of %s: %s",
            len(removed),
            target,
            ", ".join(removed),
        )
    return removed


LOCK_WAIT_SECONDS = 10.0
"""How long an append waits for another process's append to the same file to finish."""


def _lock(handle: int) -> bool:
    """Take the exclusive append lock of an open file; ``False`` if that is not possible.

    Every append holds it while it writes, so a tail found incomplete under it is one whose
    writer died. After :data:`LOCK_WAIT_SECONDS` (a writer stopped mid-append) the append goes
    ahead unlocked, as it would where ``flock`` does not exist, and leaves the tail alone.
    """
    if sys.platform == "win32":
        return False
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # noqa: PERF203 - a wait, not a hot loop
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        except OSError:  # a file system without locks
            return False
        else:
            return True


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists here (``True`` when that cannot be known)."""
    if os.name != "posix":  # os.kill would terminate it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it exists
        return True
    return True


def _last_line_end(handle: int, size: int) -> int:
    """The offset just past the file's last newline (0 if it has none)."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        found = os.pread(handle, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _complete_members_end(handle: int, size: int) -> int | None:
    """Where the file's last complete gzip member ends, or ``None`` to leave the file alone.

    The last member aiobs wrote is found by its header, searching back from the end, and read:
    if it is incomplete, the file is cut where it starts; if bytes follow it (the start of a
    member whose header was cut), after it. A tail aiobs cannot read as its own is left alone.
    """
    start = _last_member_start(handle, size)
    if start is None:
        head = os.pread(handle, len(_MEMBER_HEAD), 0)
        return 0 if size < len(_MEMBER_HEAD) and _MEMBER_HEAD.startswith(head) else None
    reader = zlib.decompressobj(wbits=31)
    offset = start
    try:
        while offset < size and not reader.eof:
            block = os.pread(handle, min(_TAIL_BLOCK, size - offset), offset)
            offset += len(block)
            while block and not reader.eof:  # bounded output: the member may be large
                reader.decompress(block, _TAIL_BLOCK)
                block = reader.unconsumed_tail
    except zlib.error:
        return None
    if not reader.eof:
        return start
    return offset - len(reader.unused_data)


def _last_member_start(handle: int, size: int) -> int | None:
    """The offset of the last gzip member header aiobs writes, searching back from the end."""
    end = size
    overlap = len(_MEMBER_HEAD) - 1
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        found = os.pread(handle, min(size, end + overlap) - start, start).rfind(_MEMBER_HEAD)
        if found >= 0:
            return start + found
        end = start
    return None


def _open_for_reading(path: str, compressed: bool) -> BinaryIO:
    if compressed:
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")

"""The flush pipeline: snapshot the buffer, build the document, export it, then commit.

Recording never waits for a flush: the buffer is only read here (each session's length is noted
and that prefix serialized; slicing with a stop is atomic), and trimmed only when the export
succeeded. A failed export marks the sessions changed and keeps every record for the next flush.
A lock keeps two flushes from exporting the same records, and a flush started from inside an
exporter is refused (its records are not released yet).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from . import _env, _ids
from ._buffer import RecordBuffer
from ._context import suppress_instrumentation
from ._document import build_document, session_dict
from ._guard import report_internal_error
from ._session import RecordingSession, default
from .exporters.base import BaseExporter, ExportError, ExportResult
from .exporters.document import ExportDocument
from .exporters.file import FileExporter

logger = logging.getLogger("aiobs")

DEFAULT_FILE_NAME = "llm_observability.json"

Snapshot = list[tuple[RecordingSession, int, int]]
"""Sessions being exported, each with the number of buffer entries and of scores taken."""

Destination = tuple[str | None, BaseExporter | None, dict[str, Any]]
"""``(path, exporter, exporter options)`` of a flush, as the program gave them."""


class FlushPipeline:
    """Exports a collector's buffer; remembers what it wrote, for merges and the exit flush."""

    def __init__(self, buffer: RecordBuffer[RecordingSession]) -> None:
        self.buffer = buffer
        self.last_destination: Destination | None = None
        """Where the last successful flush went; background and exit flushes go there too."""
        self.forked = False
        """Set in a forked child: its default file name gets the child's pid."""
        self._lock = threading.Lock()
        self._flushing_thread: int | None = None
        self._paths_written: set[str] = set()

    def flush(
        self,
        path: str | os.PathLike[str] | None,
        include_trace_tree: bool,
        exporter: BaseExporter | None,
        persist: bool,
        options: dict[str, Any],
    ) -> tuple[str | ExportResult | None, ExportDocument | None]:
        """Run one flush; never raises (internal errors are reported).

        Returns what ``Collector.flush`` returns, and the document when it was exported
        successfully (for delivery to a flush server), else ``None``.
        """
        if self._flushing_thread == threading.get_ident():
            logger.warning("aiobs: flush() called during a flush (from an exporter?); ignored")
            return None, None
        with self._lock:
            self._flushing_thread = threading.get_ident()
            try:
                return self._flush(path, include_trace_tree, exporter, persist, options)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the program
                report_internal_error("flushing", exc)
                return None, None
            finally:
                self._flushing_thread = None

    def _flush(
        self,
        path: str | os.PathLike[str] | None,
        include_trace_tree: bool,
        exporter: BaseExporter | None,
        persist: bool,
        options: dict[str, Any],
    ) -> tuple[str | ExportResult | None, ExportDocument | None]:
        snapshot, document, unwritable = self._snapshot(include_trace_tree)
        if self.buffer.settings.evaluators and (exporter is not None or persist):
            document = self._evaluated(document)
        if exporter is None and not persist:
            _release(self.buffer, snapshot)
            return None, None
        target: str | None = None
        try:
            if exporter is None:
                target = self.default_path(path, snapshot)
                merge = os.path.abspath(target) in self._paths_written
                destination: BaseExporter = FileExporter(target, merge=merge)
            else:
                destination = exporter
            result = export(destination, document, options)
        except BaseException:
            _mark_changed(snapshot)
            raise
        if not result.success:
            _mark_changed(snapshot)
            logger.warning(
                "aiobs: export to %s failed (%s); %d events kept for the next flush",
                result.destination or getattr(destination, "name", destination),
                result.error,
                document.event_count,
            )
            return (None if exporter is None else result), None
        _release(self.buffer, snapshot)
        _count_unwritable(self.buffer, snapshot, unwritable)
        if target is not None:
            self._paths_written.add(os.path.abspath(target))
        self.last_destination = (os.fspath(path) if path is not None else None, exporter, options)
        return (target if exporter is None else result), document

    def _snapshot(
        self, include_trace_tree: bool
    ) -> tuple[Snapshot, ExportDocument, dict[str, int]]:
        snapshot: Snapshot = []
        unwritable: dict[str, int] = {}
        session_dicts: list[dict[str, Any]] = []
        batches: list[tuple[str, tuple[float, int], list[Any], int]] = []
        scores: dict[str, list[dict[str, Any]]] = {}
        for session in self.buffer.to_export():
            session.dirty = False  # a change made during the flush sets it again
            count = len(session.records)
            scored = len(session.scores)
            if scored:
                scores[session.id] = session.scores[:scored]
            snapshot.append((session, count, scored))
            batches.append((session.id, session.clock_anchor, session.records, count))
            session.reanchor()
            session_dicts.append(_session_fields(session))
        try:
            with _collection_paused():
                document = build_document(
                    session_dicts,
                    batches,
                    capturer=self.buffer.settings.capturer,
                    include_trace_tree=include_trace_tree,
                    generated_at=_ids.wall_clock(),
                    unwritable=unwritable,
                    scores=scores,
                )
        except BaseException:
            _mark_changed(snapshot)  # nothing was exported: export these sessions next time
            raise
        return snapshot, document, unwritable

    def _evaluated(self, document: ExportDocument) -> ExportDocument:
        """The document with the configured evaluators' results on its events, as scores.

        A failure is aiobs's own: reported, and the document exported without them.
        """
        if document.event_count == 0:
            return document
        settings = self.buffer.settings
        try:
            # Imported only when evaluators are set: aiobs.evals is not imported by aiobs.
            from .evals.documents import evaluate

            data = document.data
            # A judge's own LLM calls are never recorded (aiobs.llm suppresses them).
            evaluate(data, settings.evaluators, attach=True, sample_rate=settings.eval_sample_rate)
            return ExportDocument(data=data)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the program
            report_internal_error("running evaluators at flush", exc)
            return document

    def preview(self) -> ExportDocument:
        """The document of everything buffered now, changing nothing (no trace tree).

        For aiobs 0.2's read-only views (``observer._events``); never on the recording path.
        """
        session_dicts: list[dict[str, Any]] = []
        batches: list[tuple[str, tuple[float, int], list[Any], int]] = []
        with self.buffer.lock:
            sessions = list(self.buffer.sessions.values())
        scores = {session.id: list(session.scores) for session in sessions if session.scores}
        for session in sessions:
            batches.append(
                (session.id, session.clock_anchor, session.records, len(session.records))
            )
            session_dicts.append(_session_fields(session))
        return build_document(
            session_dicts,
            batches,
            capturer=self.buffer.settings.capturer,
            include_trace_tree=False,
            generated_at=_ids.wall_clock(),
            scores=scores,
        )

    def default_path(self, path: str | os.PathLike[str] | None, snapshot: Snapshot) -> str:
        """The file a flush without an exporter writes (see ``Collector.flush``)."""
        if path is not None:
            return os.fspath(path)
        # A forked child never takes the parent's default file: its name gets the child's pid.
        suffix = f"-{os.getpid()}" if self.forked else ""
        from_env = os.environ.get(_env.OUTPUT_PATH)
        if from_env:
            if not suffix:
                return from_env
            stem, extension = os.path.splitext(from_env)
            return f"{stem}{suffix}{extension}"
        own_default = default.session
        if own_default is not None and own_default.buffer is not self.buffer:
            own_default = None
        chosen_id = (
            own_default.id if own_default is not None else (snapshot[0][0].id if snapshot else None)
        )
        if chosen_id is None:
            return DEFAULT_FILE_NAME
        return f"{chosen_id}{suffix}.json"

    def reset(self) -> None:
        """Forget where earlier flushes went."""
        self.last_destination = None
        self._paths_written.clear()
        self.forked = False

    def after_fork_in_child(self) -> None:
        """The parent writes its files; the child starts clean, with new locks."""
        self._lock = threading.Lock()
        self._flushing_thread = None
        self.forked = True
        self.last_destination = None
        self._paths_written = set()


def export(
    destination: BaseExporter, document: ExportDocument, options: dict[str, Any]
) -> ExportResult:
    """Hand ``document`` to ``destination``; its failure becomes an unsuccessful result."""
    try:
        # An exporter's own HTTP calls (cloud SDKs, OTLP) must never become events.
        with suppress_instrumentation():
            result: object = destination.export_document(document, **options)
    except ExportError as exc:
        return ExportResult(False, error=str(exc))
    except Exception as exc:
        logger.debug("aiobs: exporter %r raised", destination, exc_info=True)
        return ExportResult(False, error=f"{type(exc).__name__}: {exc}")
    if not isinstance(result, ExportResult):
        return ExportResult(True, metadata={"returned": repr(result)})
    return result


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a flush builds its document.

    Building it makes a few short-lived objects per event; with the collector running, each batch
    of them triggers a pass over every tracked object in the process, which costs more than the
    building itself. Nothing is lost: cycles made meanwhile are collected afterwards. The export
    (file or network) runs with the collector on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _release(buffer: RecordBuffer[RecordingSession], snapshot: Snapshot) -> None:
    """After an export: delete the exported scores, then the records (see ``release``)."""
    for session, _, scored in snapshot:
        if scored:
            del session.scores[:scored]
    buffer.release([(session, entries) for session, entries, _ in snapshot])


def _count_unwritable(
    buffer: RecordBuffer[RecordingSession], snapshot: Snapshot, unwritable: dict[str, int]
) -> None:
    """Count the records left out of an exported document as dropped events of their session.

    Only once the export succeeded: the records go with the exported prefix, whereas after a
    failed export they are left out again (and counted in that document) at the next flush.
    """
    for session, _, _ in snapshot:
        for _ in range(unwritable.get(session.id, 0)):
            buffer.reject(session)


def _mark_changed(snapshot: Snapshot) -> None:
    for session, _, _ in snapshot:
        session.dirty = True


def _session_fields(session: RecordingSession) -> dict[str, Any]:
    """A session's entry in the document, from its state now."""
    return session_dict(
        session_id=session.id,
        name=session.name,
        started_at=session.started_at,
        ended_at=session.ended_at,
        pid=session.pid,
        cwd=session.cwd,
        labels=session.labels,
        dropped=session.dropped,
        llm=session.llm.as_fields(),
    )

"""The document a flush hands to an exporter."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

import pydantic_core

from .._format import (
    DOC_ENH_PROMPT_TRACES,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    DOC_VERSION,
    FORMAT_VERSION,
    RECORD,
    RECORD_EVENT,
    RECORD_FUNCTION_EVENT,
    RECORD_SESSION,
    SESSION_ID,
    TYPE_FUNCTION,
    TYPE_PROVIDER,
)
from ..models import ObservabilityExport
from ..tree import build_trace_tree, enh_prompt_ids

Document = dict[str, Any]

GZIP_LEVEL = 6
"""Compression level of gzipped exports: zlib's default. Level 9 costs several times the time
for a few percent smaller documents, which repeat themselves a lot anyway."""


class ExportDocument:
    """One flush's worth of data: JSON bytes, with the dict and the models made on demand.

    The document follows ``docs/schema/export.schema.json``. Exporters that write JSON call
    :meth:`write_to` or :meth:`to_json`; those that work on data read :attr:`data`; those written
    against aiobs 0.2 receive :meth:`model`.
    """

    __slots__ = ("_chunks", "_data", "_json", "_lines", "_model", "event_count", "session_ids")

    def __init__(
        self,
        *,
        chunks: Callable[[], Iterator[bytes]] | None = None,
        data: Document | None = None,
        session_ids: list[str] | None = None,
        event_count: int | None = None,
        lines: Callable[[], Iterator[bytes]] | None = None,
    ) -> None:
        if chunks is None and data is None:
            raise ValueError("an ExportDocument needs its JSON chunks or its data")
        self._chunks = chunks
        self._lines = lines
        self._json: bytes | None = None
        self._data = data
        self._model: ObservabilityExport | None = None
        if data is not None:
            session_ids = [session[SESSION_ID] for session in data[DOC_SESSIONS]]
            event_count = len(data[DOC_EVENTS]) + len(data[DOC_FUNCTION_EVENTS])
        self.session_ids: list[str] = session_ids or []
        """Ids of the sessions in the document, in order."""
        self.event_count: int = event_count or 0
        """Provider events plus function events."""

    @classmethod
    def from_json(cls, payload: bytes) -> ExportDocument:
        """A document from its JSON bytes, whose :meth:`to_json` gives back exactly those bytes.

        Raises:
            ValueError: ``payload`` is not an export document.
        """
        try:
            parsed = json.loads(payload)
            session_ids = [session[SESSION_ID] for session in parsed[DOC_SESSIONS]]
            event_count = len(parsed[DOC_EVENTS]) + len(parsed[DOC_FUNCTION_EVENTS])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not an aiobs export document: {exc}") from exc
        return cls(
            chunks=lambda: iter((payload,)), session_ids=session_ids, event_count=event_count
        )

    def __repr__(self) -> str:
        return f"<ExportDocument sessions={len(self.session_ids)} events={self.event_count}>"

    @property
    def data(self) -> Document:
        """The document as a JSON-ready dict (parsed once, on first use)."""
        if self._data is None:
            self._data = json.loads(self.to_json())
        return self._data

    def model(self) -> ObservabilityExport:
        """The document as validated pydantic models (built once, on first use)."""
        if self._model is None:
            if self._data is None:
                self._model = ObservabilityExport.model_validate_json(self.to_json())
            else:
                self._model = ObservabilityExport.model_validate(self._data)
        return self._model

    def to_json(self, *, indent: int | None = None) -> bytes:
        """The document as UTF-8 JSON, compact unless ``indent`` is given."""
        if indent is not None:
            return pydantic_core.to_json(self.data, indent=indent, inf_nan_mode="strings")
        if self._json is None:
            if self._chunks is not None:
                self._json = b"".join(self._chunks())
            else:
                self._json = pydantic_core.to_json(self._data, inf_nan_mode="strings")
        return self._json

    def json_lines(self) -> Iterator[bytes]:
        """The document as JSON Lines, in pieces.

        One object per session, provider event and function event, each tagged with
        ``"record"`` (``"session"``, ``"event"`` or ``"function_event"``) and ending in a
        newline; the trace tree is left out.
        """
        if self._lines is not None:
            return self._lines()
        return _lines_of(self.data)

    def write_to(self, stream: BinaryIO, *, indent: int | None = None) -> int:
        """Write the JSON to a binary stream a chunk at a time; return the size.

        The document is never held whole in memory on this path.
        """
        if indent is None and self._json is None and self._chunks is not None:
            size = 0
            for chunk in self._chunks():
                stream.write(chunk)
                size += len(chunk)
            return size
        payload = self.to_json(indent=indent)
        stream.write(payload)
        return len(payload)


_KINDS = (
    (RECORD_SESSION, DOC_SESSIONS),
    (RECORD_EVENT, DOC_EVENTS),
    (RECORD_FUNCTION_EVENT, DOC_FUNCTION_EVENTS),
)


def _lines_of(data: Document) -> Iterator[bytes]:
    """JSON Lines made from the document's data (see :meth:`ExportDocument.json_lines`)."""
    for record, key in _KINDS:
        for item in data.get(key) or []:
            yield pydantic_core.to_json({RECORD: record, **item}, inf_nan_mode="strings") + b"\n"


def assemble(
    sessions: Sequence[dict[str, Any]],
    events: list[dict[str, Any]],
    function_events: list[dict[str, Any]],
    *,
    include_trace_tree: bool,
    generated_at: float,
) -> ExportDocument:
    """A document from event dicts (used to merge documents); builds the trace tree if asked."""
    trace_tree: list[dict[str, Any]] | None = None
    enh_traces: list[str] | None = None
    if include_trace_tree:
        pairs = [(event, TYPE_PROVIDER) for event in events]
        pairs.extend((event, TYPE_FUNCTION) for event in function_events)
        trace_tree = build_trace_tree(pairs)
        enh_traces = enh_prompt_ids(trace_tree) or None
    return ExportDocument(
        data={
            DOC_SESSIONS: list(sessions),
            DOC_EVENTS: events,
            DOC_FUNCTION_EVENTS: function_events,
            DOC_TRACE_TREE: trace_tree,
            DOC_ENH_PROMPT_TRACES: enh_traces,
            DOC_GENERATED_AT: generated_at,
            DOC_VERSION: FORMAT_VERSION,
        }
    )

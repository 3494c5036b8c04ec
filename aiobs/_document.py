"""Build the export document from sessions and their records, once per flush.

The records of each session are written as event JSON (:mod:`aiobs._events_json`); the document
joins those texts into its event lists and, reusing the same bytes, into the trace tree, so the
document costs one pass however the events nest. The result is an :class:`ExportDocument`, which
exporters take as bytes, as a dict or as :class:`~aiobs.models.ObservabilityExport` models.

Session names and label values are redacted like captured values, and all the text of a session
made valid UTF-8 (:func:`aiobs._capture.valid_text`). A record that cannot be written at all is
left out and counted in its session's ``dropped_events``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ._capture import Capturer, repaired, valid_text
from ._events_json import Output, Writer, to_json_safe
from ._format import (
    DOC_ENH_PROMPT_TRACES,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    DOC_VERSION,
    EVENT_SCORES,
    FORMAT_VERSION,
    META_CWD,
    META_PID,
    NODE_CHILDREN,
    NODE_DEPTH_TRUNCATED,
    NODE_EVENT_TYPE,
    RECORD,
    RECORD_EVENT,
    RECORD_FUNCTION_EVENT,
    RECORD_SESSION,
    SCORE_SPAN_ID,
    SESSION_DROPPED_EVENTS,
    SESSION_ENDED_AT,
    SESSION_ID,
    SESSION_LABELS,
    SESSION_META,
    SESSION_NAME,
    SESSION_SCORES,
    SESSION_STARTED_AT,
    TYPE_FUNCTION,
    TYPE_PROVIDER,
)
from ._records import RECORD_WIDTH, read_records
from .exporters.document import ExportDocument
from .tree import TreeShape, link, preorder

_NODE_TAIL = {
    kind.encode(): f',"{NODE_EVENT_TYPE}":"{kind}","{NODE_CHILDREN}":['.encode()
    for kind in (TYPE_FUNCTION, TYPE_PROVIDER)
}
"""What a node with children adds to its event's open text, by event type."""
_LEAF_TAIL = {kind: tail + b"]}" for kind, tail in _NODE_TAIL.items()}
"""What a node without children adds to its event's open text, closing it."""
_SCORES_FIELD = f',"{EVENT_SCORES}":'.encode()
_DEPTH_TRUNCATED_FIELD = f',"{NODE_DEPTH_TRUNCATED}":true'.encode()

_DOCUMENT_HEAD = f'{{"{DOC_SESSIONS}":'.encode()
_EVENTS_OPEN = f',"{DOC_EVENTS}":['.encode()
_FUNCTION_EVENTS_OPEN = f'],"{DOC_FUNCTION_EVENTS}":['.encode()
_TRACE_TREE_OPEN = f'],"{DOC_TRACE_TREE}":'.encode()
_DOCUMENT_TAIL = (
    f',"{DOC_ENH_PROMPT_TRACES}":%s,"{DOC_GENERATED_AT}":%s,"{DOC_VERSION}":%d}}'.encode()
)

_SESSION_LINE = f'{{"{RECORD}":"{RECORD_SESSION}",%s\n'.encode()
"""A session's JSON Lines line, from its JSON without the opening brace."""
_EVENT_LINE = f'{{"{RECORD}":"{RECORD_EVENT}",'.encode()
_FUNCTION_EVENT_LINE = f'{{"{RECORD}":"{RECORD_FUNCTION_EVENT}",'.encode()


def session_dict(
    *,
    session_id: str,
    name: str,
    started_at: float,
    ended_at: float | None,
    pid: int,
    cwd: str,
    labels: dict[str, str],
    dropped: int,
    llm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A session as it appears in the document's ``sessions`` list.

    ``llm`` holds the provider calls' totals (``llm_calls``, ``llm_errors``, ``usage``, ``cost``).
    """
    return {
        SESSION_ID: session_id,
        SESSION_NAME: name,
        SESSION_STARTED_AT: started_at,
        SESSION_ENDED_AT: ended_at,
        SESSION_META: {META_PID: pid, META_CWD: cwd},
        SESSION_LABELS: dict(labels) if labels else None,
        SESSION_DROPPED_EVENTS: dropped,
        **(llm or {}),
    }


def exported_session(session: Mapping[str, Any], capturer: Capturer) -> dict[str, Any]:
    """A session dict as written: name and label values redacted, all its text valid UTF-8."""
    redact = capturer.redaction.redact_text
    exported = {**session, SESSION_NAME: redact(valid_text(session[SESSION_NAME]))}
    labels = session.get(SESSION_LABELS)
    if labels:
        exported[SESSION_LABELS] = {
            valid_text(key): redact(valid_text(value)) for key, value in labels.items()
        }
    meta = session.get(SESSION_META)
    if meta and isinstance(meta.get(META_CWD), str):
        exported[SESSION_META] = {**meta, META_CWD: valid_text(meta[META_CWD])}
    return exported


def build_document(
    sessions: Sequence[dict[str, Any]],
    records: Iterable[tuple[str, tuple[float, int], list[Any], int]],
    *,
    capturer: Capturer,
    include_trace_tree: bool,
    generated_at: float,
    unwritable: dict[str, int] | None = None,
    scores: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> ExportDocument:
    """Write a document from session dicts and each session's buffer.

    ``records`` gives, per session, ``(session_id, clock_anchor, buffer, entries)``: the first
    ``entries`` entries of the buffer are exported. Records that cannot be written are left out
    and counted in their session's ``dropped_events`` in this document, and in ``unwritable``
    (by session id) for the caller to keep count of once the export succeeded.

    ``scores`` gives each session's scores (``SCORE_`` dicts) by session id: a score goes on its
    span's event when that event is in this document, else on its session.
    """
    sessions = [exported_session(session, capturer) for session in sessions]
    writer = Writer(capturer)
    out = Output()
    width = RECORD_WIDTH
    for session_id, anchor, buffer, entries in records:
        # Slicing with a stop is atomic: records appended meanwhile are left for the next flush.
        # Batches keep each column pass within the processor's caches.
        for start in range(0, entries, _BATCH * width):
            stop = min(entries, start + _BATCH * width)
            columns, whole = read_records(buffer, start, stop)
            for record in whole:
                out.model_event(record, session_id, capturer)
            writer.spans(columns, session_id, anchor, out)
    if scores:
        _place_scores(sessions, scores, out)
    if out.unwritable:
        for session in sessions:
            lost = out.unwritable.get(session[SESSION_ID], 0)
            session[SESSION_DROPPED_EVENTS] = (session.get(SESSION_DROPPED_EVENTS) or 0) + lost
        if unwritable is not None:
            unwritable.update(out.unwritable)
    try:
        sessions_json = to_json_safe(sessions)
    except Exception:  # noqa: BLE001 - text that the session's own cleaning missed
        sessions = repaired(sessions, capturer.redaction.redact_text)
        sessions_json = to_json_safe(sessions)
    shape = link(out.starts, out.span_ids, out.parent_ids) if include_trace_tree else None
    enh_traces: list[str] = []
    if shape is not None and any(out.enh_ids):
        enh_ids = out.enh_ids
        enh_traces = [enh_ids[index] for index in preorder(shape) if enh_ids[index]]  # type: ignore[misc]

    def chunks() -> Iterator[bytes]:
        yield _DOCUMENT_HEAD + sessions_json + _EVENTS_OPEN
        yield from _joined(out.provider_json)
        yield _FUNCTION_EVENTS_OPEN
        yield from _joined(out.function_json)
        yield _TRACE_TREE_OPEN
        if shape is None:
            yield b"null"
        else:
            yield from _tree_chunks(shape, out.node_texts(), out.types)
        yield _DOCUMENT_TAIL % (
            to_json_safe(enh_traces or None),
            to_json_safe(generated_at),
            FORMAT_VERSION,
        )

    def lines() -> Iterator[bytes]:
        if sessions:
            yield b"".join(_SESSION_LINE % to_json_safe(session)[1:] for session in sessions)
        yield from _lines(_EVENT_LINE, out.provider_json)
        yield from _lines(_FUNCTION_EVENT_LINE, out.function_json)

    return ExportDocument(
        chunks=chunks,
        lines=lines,
        session_ids=[session[SESSION_ID] for session in sessions],
        event_count=len(out.provider_json) + len(out.function_json),
    )


def _place_scores(
    sessions: list[dict[str, Any]],
    scores: Mapping[str, Sequence[dict[str, Any]]],
    out: Output,
) -> None:
    """Put each score on its span's event if written here, else on its session."""
    by_span: dict[bytes, list[dict[str, Any]]] = {}
    for session_scores in scores.values():
        for score in session_scores:
            span_id = score.get(SCORE_SPAN_ID)
            if span_id:
                by_span.setdefault(b'"%s"' % span_id.encode(), []).append(score)
    found = out.attach_scores(_SCORES_FIELD, by_span) if by_span else set()
    for session in sessions:
        left = [
            score
            for score in scores.get(session[SESSION_ID], ())
            if not score.get(SCORE_SPAN_ID) or b'"%s"' % score[SCORE_SPAN_ID].encode() not in found
        ]
        if left:
            session[SESSION_SCORES] = [*(session.get(SESSION_SCORES) or ()), *left]


_BATCH = 2048
"""Records turned into JSON per pass of the column-wise writer."""

_CHUNK = 96
"""Events joined into one chunk for writing. About 50 KB: small enough for the allocator to reuse
memory from chunk to chunk (large blocks are mapped and unmapped each time, and touching freshly
mapped memory is slow, on virtual machines especially)."""


def _joined(texts: list[bytes]) -> Iterator[bytes]:
    """The open event texts, closed and separated by commas, in chunks."""
    for start in range(0, len(texts), _CHUNK):
        piece = b"},".join(texts[start : start + _CHUNK]) + b"}"
        yield piece if start == 0 else b"," + piece


def _lines(head: bytes, texts: list[bytes]) -> Iterator[bytes]:
    """Open event texts as JSON Lines: ``head`` replaces each one's opening brace."""
    cut = memoryview  # slicing a memoryview copies nothing
    for start in range(0, len(texts), _CHUNK):
        yield b"".join(b"%s%s}\n" % (head, cut(text)[1:]) for text in texts[start : start + _CHUNK])


def _tree_chunks(shape: TreeShape, texts: list[bytes], types: list[bytes]) -> Iterator[bytes]:
    """The trace tree's JSON, reusing each event's open bytes."""
    children, truncated = shape.children, shape.truncated
    truncated_field = _DEPTH_TRUNCATED_FIELD
    count = len(texts)
    close = count  # stack entries: i < count opens event i; count closes a children list;
    comma = count + 1  # i > count writes a comma, then opens event i - count - 1
    tails = [
        (_NODE_TAIL if kids else _LEAF_TAIL)[kind]
        for kids, kind in zip(children, types, strict=True)
    ]
    pending: list[bytes] = [b"["]
    append = pending.append
    stack = [root + comma for root in reversed(shape.roots)]
    if stack:
        stack[-1] -= comma
    pop = stack.pop
    while stack:
        if len(pending) >= 8 * _CHUNK:
            yield b"".join(pending)
            pending.clear()
        index = pop()
        if index >= count:
            if index == close:
                append(b"]}")
                continue
            append(b",")
            index -= comma
        append(texts[index])
        if truncated and index in truncated:
            append(truncated_field)
        append(tails[index])
        kids = children[index]
        if kids:
            stack.append(close)
            stack.extend([kid + comma for kid in reversed(kids)])
            stack[-1] -= comma
    append(b"]")
    yield b"".join(pending)

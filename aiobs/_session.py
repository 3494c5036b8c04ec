"""A session while it records, and which session is current.

:class:`RecordingSession` holds a session's identity, labels and records not yet exported. The
current session is a context variable (:data:`session_var`), so each thread and asyncio task sees
its own; when none is set there, the process-wide default session (:data:`default`, started by
``observer.observe()``) applies; when neither exists nothing is recorded, and finding that out
costs one context-variable read. :class:`SessionScope` is what ``observer.session()`` returns: the
session is current only inside its ``with`` / ``async with`` block.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from . import _ids, labels
from ._buffer import RecordBuffer
from ._config import Settings
from ._context import span_var
from ._format import (
    SCORE_COMMENT,
    SCORE_CREATED_AT,
    SCORE_EVALUATOR,
    SCORE_NAME,
    SCORE_SOURCE,
    SCORE_SPAN_ID,
    SCORE_VALUE,
    SOURCE_API,
    SOURCE_EVAL,
)
from ._records import RECORD_WIDTH
from ._score_rules import check_score, check_score_comment
from ._totals import FinishedCall, LLMTotals


class RecordingSession:
    """A live session: what ``observer.session()`` yields and ``observer.observe()`` starts.

    Records are appended without a lock (``list.append`` is atomic); ``flush()`` exports a prefix
    of the buffer and deletes exactly that prefix, so records appended meanwhile stay for the next
    flush. Label changes replace the labels dict as a whole, so a flush always sees a consistent
    set.
    """

    __slots__ = (
        "_lock",
        "buffer",
        "clock_anchor",
        "cwd",
        "dirty",
        "dropped",
        "ended_at",
        "id",
        "labels",
        "llm",
        "name",
        "pid",
        "records",
        "released",
        "scores",
        "started_at",
    )

    def __init__(
        self,
        buffer: RecordBuffer[RecordingSession],
        name: str | None,
        merged_labels: dict[str, str],
    ) -> None:
        self.buffer = buffer
        self.id = _ids.new_session_id()
        self.name = name or self.id
        self.started_at = _ids.wall_clock()
        self.clock_anchor = _ids.clock_anchor(self.started_at, _ids.monotonic_ns())
        self.ended_at: float | None = None
        self.labels = merged_labels
        self.pid = os.getpid()
        self.cwd = os.getcwd()
        self.records: list[Any] = []
        self.scores: list[dict[str, Any]] = []
        """Scores not exported yet (``SCORE_`` fields); a flush exports and deletes a prefix."""
        self.dropped = 0
        self.llm = LLMTotals()
        self.dirty = True
        self.released = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "ended" if self.ended_at is not None else "open"
        buffered = len(self.records) // RECORD_WIDTH
        return f"<RecordingSession {self.name!r} id={self.id} {state} buffered={buffered}>"

    @property
    def settings(self) -> Settings:
        """The settings of the collector this session records for, as they are now."""
        return self.buffer.settings

    def reanchor(self) -> None:
        """Check the clocks at a flush: the process's anchor follows a step of the wall clock."""
        self.clock_anchor = _ids.clock_anchor(_ids.wall_clock(), _ids.monotonic_ns())

    def end(self) -> None:
        """Mark the session ended (idempotent); it is exported, then released, at the next flush."""
        if self.ended_at is None:
            self.ended_at = _ids.wall_clock()
            self.dirty = True

    # -- labels ---------------------------------------------------------------------------------

    def get_labels(self) -> dict[str, str]:
        """A copy of the session's labels, system labels included."""
        return dict(self.labels)

    def set_labels(self, new_labels: dict[str, str], merge: bool = True) -> None:
        """Merge ``new_labels`` into the user labels, or replace them all (``merge=False``).

        System labels (``aiobs_*``) are always kept.

        Raises:
            ValueError: a label is invalid or the result would exceed 64 labels.
        """
        checked = labels.validate_labels(new_labels)
        with self._lock:
            if merge:
                updated = dict(self.labels)
            else:
                updated = {
                    k: v for k, v in self.labels.items() if k.startswith(labels.RESERVED_PREFIX)
                }
            updated.update(checked)
            labels.check_count(updated)
            self.labels = updated
            self.dirty = True

    def add_label(self, key: str, value: str) -> None:
        """Add or overwrite one user label.

        Raises:
            ValueError: the key or value is invalid, or the session already has 64 labels.
        """
        labels.validate_key(key)
        labels.validate_value(key, value)
        with self._lock:
            if key not in self.labels and len(self.labels) >= labels.MAX_LABELS:
                raise ValueError(
                    f"Cannot add label {key!r}: the session already has {labels.MAX_LABELS} labels"
                )
            self.labels = {**self.labels, key: value}
            self.dirty = True

    def remove_label(self, key: str) -> None:
        """Remove a user label; removing a missing one does nothing.

        Raises:
            ValueError: ``key`` is a system label (``aiobs_*``).
        """
        if key.startswith(labels.RESERVED_PREFIX):
            raise ValueError(f"Cannot remove system label {key!r}")
        with self._lock:
            if key in self.labels:
                self.labels = {k: v for k, v in self.labels.items() if k != key}
                self.dirty = True

    def count_llm_call(self, call: FinishedCall) -> None:
        """Count a finished provider call in the session's totals (added when they are read)."""
        self.llm.count_later(call)
        self.dirty = True

    def add_score(self, score: dict[str, Any]) -> None:
        """Keep a checked score (:func:`make_score`) for the next flush."""
        self.scores.append(score)
        self.dirty = True
        if self.released:
            self.buffer.reattach(self)

    def _after_fork_in_child(self) -> None:
        # The parent exports this session and its records; the child exports the session again
        # only if it records something into it (with its own pid).
        self._lock = threading.Lock()
        self.records = []
        self.scores = []
        self.llm = LLMTotals()
        self.pid = os.getpid()
        self.dirty = False


# -- scores ------------------------------------------------------------------------------------

SPAN_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")


def make_score(
    name: object,
    value: object,
    *,
    span_id: object = None,
    comment: object = None,
    evaluator: str | None = None,
) -> dict[str, Any]:
    """A score as the document holds it, checked; ``evaluator`` marks one an evaluator gave.

    Raises:
        ValueError: the name, value, span id or comment is invalid (the message says how to fix it).
    """
    name, value, _ = check_score(name, value)
    if span_id is not None and (not isinstance(span_id, str) or not SPAN_ID_PATTERN.match(span_id)):
        raise ValueError(
            f"span_id {span_id!r} is invalid: a span id is 16 lowercase hex digits, as "
            "observer.get_current_span_id() returns"
        )
    comment = check_score_comment(name, comment)
    return {
        SCORE_NAME: name,
        SCORE_VALUE: value,
        SCORE_COMMENT: comment,
        SCORE_SOURCE: SOURCE_EVAL if evaluator is not None else SOURCE_API,
        SCORE_EVALUATOR: evaluator,
        SCORE_SPAN_ID: span_id,
        SCORE_CREATED_AT: _ids.wall_clock(),
    }


session_var: ContextVar[RecordingSession | None] = ContextVar("aiobs_session", default=None)
"""The session set by ``with observer.session()`` in this context, if any."""


class _DefaultSlot:
    """Holds the process-wide default session (one slot, shared by all threads)."""

    __slots__ = ("session",)

    def __init__(self) -> None:
        self.session: RecordingSession | None = None


default = _DefaultSlot()


def current_session() -> RecordingSession | None:
    """The session that a span starting here would record into, or ``None``."""
    session = session_var.get()
    return session if session is not None else default.session


class SessionScope:
    """What :meth:`Collector.session` returns: enter it with ``with`` or ``async with``."""

    __slots__ = ("_labels", "_name", "_session", "_start", "_tokens")

    def __init__(
        self,
        start: Callable[[str | None, Mapping[str, str] | None], RecordingSession],
        name: str | None,
        labels: Mapping[str, str] | None,
    ) -> None:
        self._start = start
        self._name = name
        self._labels = labels
        self._session: RecordingSession | None = None
        self._tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> RecordingSession:
        if self._session is not None:
            raise RuntimeError(
                "This session block is already in use; call observer.session() again"
            )
        session = self._start(self._name, self._labels)
        self._session = session
        self._tokens = (session_var.set(session), span_var.set(None))
        return session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, tokens = self._session, self._tokens
        if session is None or tokens is None:
            return
        session_token, span_token = tokens
        span_var.reset(span_token)
        session_var.reset(session_token)
        session.end()

    async def __aenter__(self) -> RecordingSession:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

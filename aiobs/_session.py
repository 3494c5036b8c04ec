"""A session while it records: identity, labels, and the buffer of records not yet exported."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from . import _ids, labels
from ._records import RECORD_WIDTH
from ._totals import LLMTotals
from .usage import Usage

if TYPE_CHECKING:
    from .collector import Collector


class RecordingSession:
    """A live session: what ``observer.session()`` yields and ``observer.observe()`` starts.

    Records are appended without a lock (``list.append`` is atomic); ``flush()`` exports a prefix
    of the buffer and deletes exactly that prefix, so records appended meanwhile stay for the next
    flush. Label changes replace the labels dict as a whole, so a flush always sees a consistent
    set.
    """

    __slots__ = (
        "_lock",
        "clock_anchor",
        "collector",
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
        "started_at",
    )

    def __init__(
        self, collector: Collector, name: str | None, merged_labels: dict[str, str]
    ) -> None:
        self.collector = collector
        self.id = _ids.new_session_id()
        self.name = name or self.id
        self.clock_anchor = (_ids.wall_clock(), _ids.monotonic_ns())
        self.started_at = self.clock_anchor[0]
        self.ended_at: float | None = None
        self.labels = merged_labels
        self.pid = os.getpid()
        self.cwd = os.getcwd()
        self.records: list[Any] = []
        self.dropped = 0
        self.llm = LLMTotals()
        self.dirty = True
        self.released = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "ended" if self.ended_at is not None else "open"
        buffered = len(self.records) // RECORD_WIDTH
        return f"<RecordingSession {self.name!r} id={self.id} {state} buffered={buffered}>"

    def reanchor(self) -> None:
        """Take a new wall-clock/monotonic pair, so that clock steps do not accumulate."""
        self.clock_anchor = (_ids.wall_clock(), _ids.monotonic_ns())

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

    def add_llm_totals(self, usage: Usage | None, cost: Any, *, failed: bool) -> None:
        """Count a finished provider call in the session's totals."""
        self.llm.add(usage, cost, failed=failed)
        self.dirty = True

    def _after_fork_in_child(self) -> None:
        # The parent exports this session and its records; the child exports the session again
        # only if it records something into it (with its own pid).
        self._lock = threading.Lock()
        self.records = []
        self.llm = LLMTotals()
        self.pid = os.getpid()
        self.dirty = False

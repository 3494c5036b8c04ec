"""Group commit: uploads arriving together are written in one transaction by one thread.

Under concurrent uploads, a write lock shared by request threads makes them queue behind each
other, and each holder also waits for Python's interpreter lock while the others parse JSON, so
throughput collapses. Here request threads only prepare their rows; one writer thread takes every
upload waiting at that moment and stores them in one transaction, each inside its own savepoint,
so one upload's failure (quota, invalid reference) rolls back only that upload. Results are
handed back after the commit, so a caller never hears "stored" for data that was not committed.

A transaction holds at most :data:`BATCH_ROWS` rows, unless one upload alone has more, and small
uploads go before large ones that were waiting: an upload too large for the batch being made is
passed over once and goes first in the next one. So a tenant's 10,000-event upload delays other
tenants' small uploads by at most about one large write, and is itself never passed over twice.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from .driver import Cursor, Driver

T = TypeVar("T")

MAX_BATCH = 64
"""Uploads written in one transaction at most."""

BATCH_ROWS = 5_000
"""Rows written in one transaction at most, unless a single upload has more."""

Work = Callable[[Cursor], T]
"""What one upload does inside the transaction; returns its result or raises."""


class _Upload(Generic[T]):
    """One upload waiting for the writer."""

    __slots__ = ("done", "passed_over", "rows", "work")

    def __init__(self, work: Work[T], rows: int) -> None:
        self.work = work
        self.rows = rows
        self.done: Future[T] = Future()
        self.passed_over = False


class GroupWriter(Generic[T]):
    """The one thread that writes uploads, a batch per transaction."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._waiting: queue.SimpleQueue[_Upload[T] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="aiobs-writer", daemon=True)
        self._thread.start()

    def write(self, work: Work[T], rows: int = 1) -> T:
        """Run ``work`` in a coming transaction; return its result once committed.

        Args:
            work: what the upload writes.
            rows: about how many rows it writes (how large a share of a batch it takes).

        Raises:
            Exception: whatever ``work`` raised (its writes are rolled back), or the commit's
                error.
        """
        upload = _Upload(work, rows)
        self._waiting.put(upload)
        return upload.done.result()

    def close(self) -> None:
        """Finish what is waiting, then stop the thread."""
        self._waiting.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        pending: deque[_Upload[T]] = deque()
        stopping = False
        while pending or not stopping:
            if not pending:
                first = self._waiting.get()
                if first is None:
                    return
                pending.append(first)
            while not stopping:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    pending.append(more)
            self._write(_next_batch(pending))

    def _write(self, batch: list[_Upload[T]]) -> None:
        outcomes: list[tuple[Future[T], T | None, BaseException | None]] = []
        try:
            with self._driver.transaction() as cursor:
                outcomes.extend((upload.done, *_attempt(cursor, upload.work)) for upload in batch)
        except BaseException as exc:  # noqa: BLE001 - the commit failed: every caller hears it
            for upload in batch:
                upload.done.set_exception(exc)
            return
        for done, result, error in outcomes:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)  # type: ignore[arg-type]


def _next_batch(pending: deque[_Upload[T]]) -> list[_Upload[T]]:
    """Take the uploads of the next transaction out of ``pending`` (oldest first).

    The oldest upload goes first if it was passed over before; then every upload that fits in
    :data:`BATCH_ROWS` and :data:`MAX_BATCH`, in order; the others are passed over this time.
    When nothing fits (every upload is large), the oldest goes alone.
    """
    batch: list[_Upload[T]] = []
    rows = 0
    if pending[0].passed_over:
        batch.append(pending.popleft())
        rows = batch[0].rows
    left: deque[_Upload[T]] = deque()
    while pending:
        upload = pending.popleft()
        if len(batch) < MAX_BATCH and rows + upload.rows <= BATCH_ROWS:
            batch.append(upload)
            rows += upload.rows
        else:
            upload.passed_over = True
            left.append(upload)
    if not batch:
        batch.append(left.popleft())
    pending.extend(left)
    return batch


def _attempt(cursor: Cursor, work: Work[T]) -> tuple[T | None, BaseException | None]:
    """Run ``work`` inside a savepoint; undo only its writes if it fails."""
    cursor.execute("SAVEPOINT aiobs_upload")
    try:
        result = work(cursor)
    except Exception as exc:  # noqa: BLE001 - handed to the caller
        cursor.execute("ROLLBACK TO SAVEPOINT aiobs_upload")
        cursor.execute("RELEASE SAVEPOINT aiobs_upload")
        return None, exc
    cursor.execute("RELEASE SAVEPOINT aiobs_upload")
    return result, None

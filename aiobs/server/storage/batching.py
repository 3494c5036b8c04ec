"""Group commit: uploads arriving together are written in one transaction by one thread.

Under concurrent uploads, a write lock shared by request threads makes them queue behind each
other, and each holder also waits for Python's interpreter lock while the others parse JSON, so
throughput collapses. Here request threads only prepare their rows; one writer thread takes every
upload waiting at that moment and stores them in one transaction, each inside its own savepoint,
so one upload's failure (quota, invalid reference) rolls back only that upload. Results are
handed back after the commit, so a caller never hears "stored" for data that was not committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from .driver import Cursor, Driver

T = TypeVar("T")

MAX_BATCH = 64
"""Uploads written in one transaction at most."""

Work = Callable[[Cursor], T]
"""What one upload does inside the transaction; returns its result or raises."""


class GroupWriter(Generic[T]):
    """The one thread that writes uploads, a batch per transaction."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._waiting: queue.SimpleQueue[tuple[Work[T], Future[T]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="aiobs-writer", daemon=True)
        self._thread.start()

    def write(self, work: Work[T]) -> T:
        """Run ``work`` in the next transaction; return its result once committed.

        Raises:
            Exception: whatever ``work`` raised (its writes are rolled back), or the commit's
                error.
        """
        done: Future[T] = Future()
        self._waiting.put((work, done))
        return done.result()

    def close(self) -> None:
        """Finish what is waiting, then stop the thread."""
        self._waiting.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._waiting.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._write(batch)

    def _write(self, batch: list[tuple[Work[T], Future[T]]]) -> None:
        outcomes: list[tuple[Future[T], T | None, BaseException | None]] = []
        try:
            with self._driver.transaction() as cursor:
                for work, done in batch:
                    outcomes.append((done, *_attempt(cursor, work)))
        except BaseException as exc:  # noqa: BLE001 - the commit failed: every caller hears it
            for _, done in batch:
                done.set_exception(exc)
            return
        for done, result, error in outcomes:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)  # type: ignore[arg-type]


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

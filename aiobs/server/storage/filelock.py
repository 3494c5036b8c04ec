"""The write turn of one SQLite file, shared by every process that writes it.

SQLite lets one connection write at a time. A connection that finds the file locked sleeps and
tries again (``busy_timeout``), in steps of up to 100 ms: with several server processes on one
file, that polling adds tens of milliseconds to uploads that merely queued behind another
process's commit. Taking an ``flock`` on a file beside the database before writing makes the
processes queue instead, and the next one starts the moment the previous one commits.

Where ``flock`` does not exist (Windows) the lock does nothing and ``busy_timeout`` still keeps
writers apart, only with more waiting.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SUFFIX = "-writer.lock"
"""The lock file is the database's path with this added (beside SQLite's ``-wal`` and ``-shm``)."""


class WriterFileLock:
    """An exclusive lock on ``<database>-writer.lock``, held while a transaction writes.

    One instance belongs to one connection; use it from one thread at a time (the driver holds
    its own thread lock around it).
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + SUFFIX)
        self._fd: int | None = None
        if fcntl is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, blocking: bool = True) -> bool:
        """Wait for the write turn (or, not ``blocking``, say whether it was free and taken)."""
        if self._fd is None:
            return True
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(self._fd, flags)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Give the write turn to the next process."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def __enter__(self) -> WriterFileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()

    def close(self) -> None:
        """Close the lock file (releasing the lock if held); the file itself stays."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

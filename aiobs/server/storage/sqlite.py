"""SQLite: one file, one writer behind a lock, and a read connection per thread.

The database runs in WAL mode with ``synchronous=NORMAL``: readers never wait for the writer, and a
commit costs no fsync (a crash of the machine may lose the last commits, never corrupt the file).
Several processes may open the same file (``aiobs server --workers N``): they take turns to write
through a file lock (see :mod:`.filelock`), with ``busy_timeout`` as the fallback.

Checkpoints (copying the write-ahead log into the database file, with an fsync) would otherwise
run inside whichever commit crosses SQLite's threshold, adding tens of milliseconds to that
upload; here a background thread runs them every :data:`CHECKPOINT_SECONDS` instead.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .driver import Cursor, Driver
from .filelock import WriterFileLock

BUSY_TIMEOUT_MS = 10_000
"""How long a statement waits for another process's write lock before failing."""

CHECKPOINT_SECONDS = 1.0
"""How often the background thread moves the write-ahead log into the database file."""

RESTART_FRAMES = 262_144
"""A log longer than this many pages (1 GB) is checkpointed with writers held back, so that it
starts over: under a constant stream of writes a passive checkpoint may never let it. Holding
writers back stalls uploads for as long as the checkpoint takes, so this is a safety valve; in
the pauses that real traffic has, the log starts over by itself."""

LOG_SIZE_LIMIT = 64 * 1024 * 1024
"""A write-ahead log file that starts over is cut back to this size."""

logger = logging.getLogger("aiobs.server")


class SQLiteDriver(Driver):
    """Connections to one SQLite file.

    Args:
        path: the database file (created with its directory when missing).
    """

    name = "sqlite"
    data_errors = (sqlite3.DataError,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._write_turn = WriterFileLock(self.path)
        self._all_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._writer = self._connect()
        # switching a new file to WAL needs it alone: SQLite may refuse at once, without waiting,
        # a switch that would otherwise deadlock with another connection's first transaction
        with self._write_turn:
            self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # see the module docs
        self._writer.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
        self._stopping = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_now_and_then, name="aiobs-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_now_and_then(self) -> None:
        connection = self._connect()
        while not self._stopping.wait(CHECKPOINT_SECONDS):
            self._checkpoint(connection)

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames > RESTART_FRAMES:
                # writers of this and other processes queue instead of polling
                with self._write_lock, self._write_turn:
                    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error as exc:  # busy or closing: the next round tries again
            logger.warning("SQLite checkpoint of %s failed: %s", self.path, exc)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        with self._all_lock:
            self._all.append(connection)
        return connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor on the write connection inside ``BEGIN IMMEDIATE``, in this process's turn."""
        with self._write_lock, self._write_turn:
            cursor = self._writer.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                self._writer.rollback()
                raise
            else:
                self._writer.commit()
            finally:
                cursor.close()

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A cursor on this thread's read connection, in one read transaction."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        cursor = connection.cursor()
        cursor.execute("BEGIN")
        try:
            yield cursor
        finally:
            connection.rollback()
            cursor.close()

    def lock_for_migration(self, cursor: Cursor) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the database's one write lock."""

    def close(self) -> None:
        """Stop checkpointing; close the writer and every thread's reader."""
        self._stopping.set()
        self._checkpointer.join(timeout=10)
        with self._all_lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
        self._write_turn.close()

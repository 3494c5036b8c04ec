"""What the SQL storage needs of a database driver: transactions and read connections.

SQL is written once, with ``?`` placeholders and the syntax SQLite and PostgreSQL share
(``ON CONFLICT ... DO UPDATE``, ``excluded``); a driver adapts the placeholders and supplies the few
things that differ, such as how a writer takes the lock that serializes migrations.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the storage uses."""

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement (summed over ``executemany``)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any:
        """Run one statement."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any:
        """Run one statement for each row."""

    def fetchone(self) -> Any:
        """The next row, or ``None``."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""


class Driver(abc.ABC):
    """Connections to one database."""

    name: str
    """``"sqlite"`` or ``"postgresql"``."""

    data_errors: tuple[type[Exception], ...] = ()
    """What the database raises for a value it cannot hold (a number out of range, NUL in
    text): the storage refuses the request with it instead of failing."""

    lock_rows: str = ""
    """Appended to a ``SELECT`` inside a write transaction so that the rows it reads stay locked
    until the commit (``" FOR UPDATE"``), where other writers could otherwise change them; empty
    where a write transaction already holds the whole database (SQLite)."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor in a write transaction, committed on success and rolled back on error."""

    @abc.abstractmethod
    def reading(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads that see one consistent snapshot."""

    @abc.abstractmethod
    def lock_for_migration(self, cursor: Cursor) -> None:
        """Inside a transaction, wait until no other process is migrating the same database."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection."""

"""PostgreSQL through a psycopg 3 connection pool, which several servers may share.

psycopg is imported here only, so the SQLite server needs nothing beyond the standard library.
Statements are written with ``?`` placeholders (as for SQLite) and rewritten once to psycopg's
``%s``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .driver import Cursor, Driver

if TYPE_CHECKING:
    import psycopg

MIGRATION_LOCK = 0x41494F4253
"""The advisory lock id that servers migrating the same database take in turn."""

INSTALL_HINT = "PostgreSQL storage needs psycopg: pip install 'aiobs[postgres]'"


def _import_pool() -> tuple[Any, Any]:
    try:
        import psycopg  # the pool needs it; imported first for a clear message
        import psycopg_pool
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return psycopg, psycopg_pool


class _Translating:
    """A psycopg cursor that takes ``?`` placeholders."""

    _cache: dict[str, str] = {}  # noqa: RUF012 - shared on purpose: the statements are constant

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @classmethod
    def _sql(cls, sql: str) -> str:
        translated = cls._cache.get(sql)
        if translated is None:
            translated = cls._cache[sql] = sql.replace("%", "%%").replace("?", "%s")
        return translated

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._cursor.rowcount

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        """Run one statement."""
        return self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any:
        """Run one statement per row (pipelined by psycopg)."""
        return self._cursor.executemany(self._sql(sql), rows)

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return self._cursor.fetchall()


class PostgresDriver(Driver):
    """A connection pool on one PostgreSQL database.

    Args:
        url: a ``postgresql://`` (or ``postgres://``) connection URL.
        min_size: connections kept open.
        max_size: most connections open at once (the app's thread pool shares them).
    """

    name = "postgresql"
    lock_rows = " FOR UPDATE"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        psycopg_module, pool_module = _import_pool()
        self.data_errors = (psycopg_module.DataError,)
        self._pool = pool_module.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=True,
            name="aiobs-storage",
            kwargs={"autocommit": False},
        )
        self._pool.wait()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A cursor in a transaction on a pooled connection."""
        connection: psycopg.Connection[Any]
        with self._pool.connection() as connection, connection.cursor() as cursor:
            yield _Translating(cursor)  # the pool commits, or rolls back on an exception

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A cursor in a repeatable-read transaction (one snapshot for all its queries)."""
        connection: psycopg.Connection[Any]
        with self._pool.connection() as connection:
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            with connection.cursor() as cursor:
                yield _Translating(cursor)

    def lock_for_migration(self, cursor: Cursor) -> None:
        """Take a transaction-scoped advisory lock that other migrating servers wait for."""
        cursor.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

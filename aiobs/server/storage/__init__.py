"""The flush server's database: SQLite (a file, zero setup) or PostgreSQL (shared by servers).

``open_storage(url)`` takes ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, a
plain file path, or ``postgresql://user@host:port/db``, and returns a :class:`Storage` whose
schema is migrated to the current version.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    KEY_PREFIX,
    TIERS,
    IdempotencyKeyReused,
    IngestResult,
    InvalidDocument,
    KeyRecord,
    NewKey,
    NewScore,
    QuotaExceeded,
    Quotas,
    QuotaStatus,
    ScoreFilter,
    ScoreIdReused,
    ScoreTargetNotFound,
    SessionPage,
    SessionQuery,
    StatsQuery,
    Storage,
    StoredScores,
)
from .driver import Driver
from .sql import SQLStorage
from .sqlite import SQLiteDriver

__all__ = [
    "KEY_PREFIX",
    "TIERS",
    "IdempotencyKeyReused",
    "IngestResult",
    "InvalidDocument",
    "KeyRecord",
    "NewKey",
    "NewScore",
    "QuotaExceeded",
    "QuotaStatus",
    "Quotas",
    "SQLStorage",
    "ScoreFilter",
    "ScoreIdReused",
    "ScoreTargetNotFound",
    "SessionPage",
    "SessionQuery",
    "StatsQuery",
    "Storage",
    "StoredScores",
    "open_storage",
]


def open_storage(url: str, quotas: Quotas | None = None) -> Storage:
    """The storage at ``url``, migrated to the current schema.

    Raises:
        ValueError: the URL is neither a SQLite path nor a PostgreSQL URL (the message shows
            both forms).
        ImportError: a PostgreSQL URL without psycopg installed (says ``pip install
            'aiobs[postgres]'``).
    """
    storage = SQLStorage(_driver(url), quotas)
    try:
        storage.migrate()
    except BaseException:
        storage.close()
        raise
    return storage


_URL_FORMS = (
    "use sqlite:///relative/path.db, sqlite:////absolute/path.db or a file path for SQLite, "
    "or postgresql://user:password@host:port/database for PostgreSQL"
)


def _driver(url: str) -> Driver:
    """The driver for a storage URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if not url or url.startswith(":"):
            raise ValueError(f"not a storage URL: {url!r}; {_URL_FORMS}")
        return SQLiteDriver(Path(url))
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return SQLiteDriver(Path(rest[1:]))
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresDriver

        return PostgresDriver(url)
    raise ValueError(f"not a storage URL: {_redacted(url)!r}; {_URL_FORMS}")


def _redacted(url: str) -> str:
    """``url`` without a password, fit for an error message."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://***@{host}" if at and credentials else url

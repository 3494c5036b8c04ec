"""The schema, as numbered steps recorded in ``aiobs_schema_version``.

Each step is a list of statements both SQLite and PostgreSQL accept (SQLite reads
``DOUBLE PRECISION`` and ``BIGINT`` as its REAL and INTEGER), or of functions given the cursor
and the driver's name, for what differs between the two or needs Python. :func:`migrate` applies
the missing steps in one transaction, holding the driver's migration lock, so servers starting
together against one database apply each step once. A step is never edited after release: a
change is a new step.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .document import search_text
from .driver import Cursor, Driver

Statement = str | Callable[[Cursor, str], None]
"""SQL both databases accept, or a function of the cursor and the driver's name."""

BACKFILL_BATCH = 2000
"""Stored events read, and given their search text, at a time when full-text search is added."""


def _fill_search_text(cursor: Cursor, _dialect: str) -> None:
    """Give the events stored before full-text search existed their search text."""
    after = ("", "", "")
    while True:
        cursor.execute(
            "SELECT project_id, session_id, event_key, kind, body FROM aiobs_events"
            " WHERE (project_id, session_id, event_key) > (?, ?, ?)"
            " ORDER BY project_id, session_id, event_key LIMIT ?",
            (*after, BACKFILL_BATCH),
        )
        rows = cursor.fetchall()
        if not rows:
            return
        cursor.executemany(
            "UPDATE aiobs_events SET search_text = ?"
            " WHERE project_id = ? AND session_id = ? AND event_key = ?",
            [
                (search_text(json.loads(body), kind), project, session, key)
                for project, session, key, kind, body in rows
            ],
        )
        after = tuple(rows[-1][:3])


def _index_search_text(cursor: Cursor, dialect: str) -> None:
    """The full-text index: FTS5 on SQLite, a ``tsvector`` with a GIN index on PostgreSQL.

    SQLite's index is a table of its own, filled by a trigger as events are inserted, that keeps
    each event's project and session beside its text, so that a search never needs the events
    table; its tokenizer keeps diacritics, as PostgreSQL's ``simple`` configuration does.
    """
    if dialect == "postgresql":
        cursor.execute(
            "ALTER TABLE aiobs_events ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
            " (to_tsvector('simple', COALESCE(search_text, ''))) STORED"
        )
        cursor.execute("CREATE INDEX aiobs_events_search ON aiobs_events USING GIN (search_vector)")
        return
    cursor.execute(
        "CREATE VIRTUAL TABLE aiobs_event_text USING fts5(search_text,"
        " project_id UNINDEXED, session_id UNINDEXED,"
        " tokenize = 'unicode61 remove_diacritics 0')"
    )
    cursor.execute(
        "CREATE TRIGGER aiobs_event_text_insert AFTER INSERT ON aiobs_events"
        " WHEN NEW.search_text IS NOT NULL AND NEW.search_text != '' BEGIN"
        " INSERT INTO aiobs_event_text (rowid, search_text, project_id, session_id)"
        " VALUES (NEW.rowid, NEW.search_text, NEW.project_id, NEW.session_id); END"
    )
    cursor.execute(
        "CREATE TRIGGER aiobs_event_text_delete AFTER DELETE ON aiobs_events BEGIN"
        " DELETE FROM aiobs_event_text WHERE rowid = OLD.rowid; END"
    )
    cursor.execute(
        "INSERT INTO aiobs_event_text (rowid, search_text, project_id, session_id)"
        " SELECT rowid, search_text, project_id, session_id FROM aiobs_events"
        " WHERE search_text IS NOT NULL AND search_text != ''"
    )


STEPS: tuple[tuple[Statement, ...], ...] = (
    (
        """CREATE TABLE aiobs_projects (
            id TEXT PRIMARY KEY,
            created_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE aiobs_keys (
            key_id TEXT PRIMARY KEY,
            key_hash TEXT NOT NULL,
            project_id TEXT NOT NULL REFERENCES aiobs_projects (id),
            tier TEXT NOT NULL,
            name TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION
        )""",
        """CREATE TABLE aiobs_usage (
            key_id TEXT NOT NULL REFERENCES aiobs_keys (key_id),
            period_start DOUBLE PRECISION NOT NULL,
            used BIGINT NOT NULL,
            PRIMARY KEY (key_id, period_start)
        )""",
        """CREATE TABLE aiobs_uploads (
            project_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (project_id, idempotency_key)
        )""",
        """CREATE TABLE aiobs_sessions (
            project_id TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT,
            name_lower TEXT,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION,
            labels TEXT NOT NULL,
            meta TEXT NOT NULL,
            PRIMARY KEY (project_id, id)
        )""",
        "CREATE INDEX aiobs_sessions_newest ON aiobs_sessions (project_id, started_at DESC, id)",
        """CREATE TABLE aiobs_labels (
            project_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (project_id, session_id, key)
        )""",
        "CREATE INDEX aiobs_labels_match ON aiobs_labels (project_id, key, value)",
        """CREATE TABLE aiobs_events (
            project_id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            event_key TEXT NOT NULL,
            span_id TEXT,
            parent_span_id TEXT,
            trace_id TEXT,
            provider TEXT,
            api TEXT,
            model TEXT,
            request_model TEXT,
            started_at DOUBLE PRECISION,
            ended_at DOUBLE PRECISION,
            duration_ms DOUBLE PRECISION,
            error INTEGER NOT NULL,
            input_tokens BIGINT,
            output_tokens BIGINT,
            total_tokens BIGINT,
            cost DOUBLE PRECISION,
            body TEXT NOT NULL,
            UNIQUE (project_id, session_id, event_key)
        )""",
        "CREATE INDEX aiobs_events_time ON aiobs_events (project_id, kind, started_at)",
    ),
    (
        # the SHA-256 of the document an idempotency key was first used for, so that the key
        # used again for another document is refused; null for uploads stored before this step
        "ALTER TABLE aiobs_uploads ADD COLUMN digest TEXT",
    ),
    (
        # full-text search over what was said: the text is extracted at ingest (see
        # document.search_text), bounded, and indexed by each database's own means
        "ALTER TABLE aiobs_events ADD COLUMN search_text TEXT",
        _fill_search_text,
        _index_search_text,
    ),
    (),  # step 4 is another branch's; the merge puts it here
    (),  # step 5 is another branch's; the merge puts it here
    (
        # step 6: web UI sign-ins ended by signing out, so that a copy of the cookie stops
        # working on every worker. A row holds the SHA-256 of the sign-in's random id and when
        # its cookie would have expired anyway; rows past that are deleted as others are added.
        """CREATE TABLE aiobs_ui_signouts (
            sign_in_hash TEXT PRIMARY KEY,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX aiobs_ui_signouts_expiry ON aiobs_ui_signouts (expires_at)",
        # the secret that signs the UI's cookies when neither AIOBS_UI_SECRET nor a SQLite file
        # gives one (PostgreSQL): one row, written by the first server that needs it
        """CREATE TABLE aiobs_ui_secret (
            id INTEGER PRIMARY KEY,
            secret TEXT NOT NULL
        )""",
    ),
)
"""Step ``n`` (1-based) brings the schema from version ``n - 1`` to ``n``."""

CURRENT_VERSION = len(STEPS)


def migrate(driver: Driver) -> int:
    """Apply the steps the database lacks; return the version it had before."""
    with driver.transaction() as cursor:
        driver.lock_for_migration(cursor)
        cursor.execute("CREATE TABLE IF NOT EXISTS aiobs_schema_version (version INTEGER NOT NULL)")
        cursor.execute("SELECT MAX(version) FROM aiobs_schema_version")
        row = cursor.fetchone()
        before = int(row[0]) if row is not None and row[0] is not None else 0
        if before > CURRENT_VERSION:
            raise RuntimeError(
                f"the database schema is version {before}, newer than this server's "
                f"{CURRENT_VERSION}: upgrade aiobs"
            )
        for version in range(before + 1, CURRENT_VERSION + 1):
            for statement in STEPS[version - 1]:
                if isinstance(statement, str):
                    cursor.execute(statement)
                else:
                    statement(cursor, driver.name)
            cursor.execute("INSERT INTO aiobs_schema_version (version) VALUES (?)", (version,))
    return before

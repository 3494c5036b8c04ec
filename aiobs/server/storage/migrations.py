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
from .indexing import text_key

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


def _index_by_session(cursor: Cursor, dialect: str) -> None:
    """SQLite: rebuild the full-text index keyed by session number; look-up tables for filters.

    Step 3's index kept each event's project and session in the FTS5 table's content, and a
    common word's search read them back for every match (~200,000 B-tree look-ups for a word in
    a tenth of a million events). Here each session gets a stable ``number`` (never reused: it
    is not the table's rowid, which ``VACUUM`` may change) and the index's rowids carry it, so
    the matching sessions are the rowids' high bits. The index stores no content (contentless
    FTS5): the text is in ``aiobs_events.search_text`` already.

    ``aiobs_session_models`` and ``aiobs_session_providers`` hold each session's LLM models
    (response and request model) and providers, filled by a trigger as calls are stored, so a
    model or provider filter reads the sessions it names instead of every session's events.
    PostgreSQL keeps step 3's ``tsvector`` and answers these filters from the events.
    """
    if dialect == "postgresql":
        return
    cursor.execute("ALTER TABLE aiobs_sessions ADD COLUMN number INTEGER")
    cursor.execute("UPDATE aiobs_sessions SET number = rowid")
    cursor.execute("CREATE UNIQUE INDEX aiobs_sessions_number ON aiobs_sessions (number)")
    cursor.execute(
        "CREATE TRIGGER aiobs_sessions_numbered AFTER INSERT ON aiobs_sessions BEGIN"
        " UPDATE aiobs_sessions SET number = (SELECT COALESCE(MAX(number), 0) + 1"
        " FROM aiobs_sessions) WHERE rowid = NEW.rowid; END"
    )
    cursor.execute("DROP TRIGGER aiobs_event_text_insert")
    cursor.execute("DROP TRIGGER aiobs_event_text_delete")
    cursor.execute("DROP TABLE aiobs_event_text")
    cursor.execute(
        "CREATE VIRTUAL TABLE aiobs_event_text USING fts5(search_text, content = '',"
        " tokenize = 'unicode61 remove_diacritics 0')"
    )
    cursor.execute(
        "INSERT INTO aiobs_event_text (rowid, search_text)"  # noqa: S608 - constant key expression
        f" SELECT {text_key('s.number', 'e.rowid')}, e.search_text"
        " FROM aiobs_events e JOIN aiobs_sessions s"
        " ON s.project_id = e.project_id AND s.id = e.session_id"
        " WHERE e.search_text IS NOT NULL AND e.search_text != ''"
    )
    number = (
        "SELECT s.number FROM aiobs_sessions s"
        " WHERE s.project_id = {0}.project_id AND s.id = {0}.session_id"
    )
    cursor.execute(
        "CREATE TRIGGER aiobs_event_text_insert AFTER INSERT ON aiobs_events"  # noqa: S608 - constant
        " WHEN NEW.search_text IS NOT NULL AND NEW.search_text != '' BEGIN"
        " INSERT INTO aiobs_event_text (rowid, search_text)"
        f" VALUES ({text_key(number.format('NEW'), 'NEW.rowid')},"
        " NEW.search_text); END"
    )
    cursor.execute(
        # a contentless index forgets a row given the text it was made of
        "CREATE TRIGGER aiobs_event_text_delete AFTER DELETE ON aiobs_events"  # noqa: S608 - constant
        " WHEN OLD.search_text IS NOT NULL AND OLD.search_text != '' BEGIN"
        " INSERT INTO aiobs_event_text (aiobs_event_text, rowid, search_text)"
        f" VALUES ('delete', {text_key(number.format('OLD'), 'OLD.rowid')},"
        " OLD.search_text); END"
    )
    for table, column in (
        ("aiobs_session_models", "model"),
        ("aiobs_session_providers", "provider"),
    ):
        cursor.execute(
            f"CREATE TABLE {table} (project_id TEXT NOT NULL, {column} TEXT NOT NULL,"
            f" session_id TEXT NOT NULL, PRIMARY KEY (project_id, {column}, session_id))"
            " WITHOUT ROWID"
        )
    models = [("model", "NEW.model"), ("model", "NEW.request_model"), ("provider", "NEW.provider")]
    inserts = " ".join(
        f"INSERT INTO aiobs_session_{column}s (project_id, {column}, session_id)"
        f" SELECT NEW.project_id, {value}, NEW.session_id WHERE {value} IS NOT NULL"
        " ON CONFLICT DO NOTHING;"
        for column, value in models
    )
    cursor.execute(
        "CREATE TRIGGER aiobs_session_calls AFTER INSERT ON aiobs_events"
        f" WHEN NEW.kind = 'llm' BEGIN {inserts} END"
    )
    for column, value in models:
        stored = value.replace("NEW.", "")
        cursor.execute(
            f"INSERT INTO aiobs_session_{column}s (project_id, {column}, session_id)"  # noqa: S608 - constant names
            f" SELECT DISTINCT project_id, {stored}, session_id FROM aiobs_events"
            f" WHERE kind = 'llm' AND {stored} IS NOT NULL ON CONFLICT DO NOTHING"
        )


def _index_per_upload(cursor: Cursor, dialect: str) -> None:
    """SQLite: the writer indexes each upload's events itself (:mod:`.indexing`), not triggers.

    The trigger that forgets a deleted event's text stays: deletes are rare and one at a time.
    """
    if dialect == "postgresql":
        return
    cursor.execute("DROP TRIGGER aiobs_event_text_insert")
    cursor.execute("DROP TRIGGER aiobs_session_calls")


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
    (
        # the sessions with a failure, without visiting every session's events (few events fail)
        "CREATE INDEX aiobs_events_failed ON aiobs_events (project_id, session_id) WHERE error = 1",
        # the sessions a word, a model or a provider is in, without reading every match back
        _index_by_session,
    ),
    (
        # step 5: evaluation scores of sessions and spans. ``id`` is the client's (POST
        # /v1/scores) or a digest of the score (uploaded with a document), so that a score sent
        # again is stored once; ``digest`` tells a replay from another score under the same id.
        # ``number`` is a numeric score, or 1/0 for a bool; ``category`` a category's text.
        """CREATE TABLE aiobs_scores (
            project_id TEXT NOT NULL,
            id TEXT NOT NULL,
            session_id TEXT NOT NULL,
            span_id TEXT,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            number DOUBLE PRECISION,
            category TEXT,
            comment TEXT,
            source TEXT NOT NULL,
            evaluator TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (project_id, id)
        )""",
        "CREATE INDEX aiobs_scores_session ON aiobs_scores (project_id, session_id)",
        "CREATE INDEX aiobs_scores_name ON aiobs_scores (project_id, name, created_at)",
    ),
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
    (_index_per_upload,),
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

"""The schema, as numbered steps recorded in ``aiobs_schema_version``.

Each step is a list of statements both SQLite and PostgreSQL accept (SQLite reads
``DOUBLE PRECISION`` and ``BIGINT`` as its REAL and INTEGER). :func:`migrate` applies the missing
steps in one transaction, holding the driver's migration lock, so servers starting together
against one database apply each step once. A step is never edited after release: a change is a
new step.
"""

from __future__ import annotations

from .driver import Driver

STEPS: tuple[tuple[str, ...], ...] = (
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
                cursor.execute(statement)
            cursor.execute("INSERT INTO aiobs_schema_version (version) VALUES (?)", (version,))
    return before

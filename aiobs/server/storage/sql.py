"""The :class:`~aiobs.server.storage.base.Storage` written once in SQL, for SQLite and PostgreSQL.

Each upload is written inside one transaction (with the other uploads arriving at the same
moment, each in its own savepoint: see :mod:`.batching`): the idempotency key is claimed first
(a unique constraint decides between two servers receiving the same upload), the quota is
checked, then sessions and labels are written with one ``executemany`` each and events with a
few multi-row statements (see :func:`_insert_events`). Sessions are inserted with
``ON CONFLICT DO NOTHING``, so the inserted row count is exactly the sessions new to the
project, which is what the quota counts; events are deduplicated on
``(project_id, session_id, span_id)`` (an index whose new entries of one upload sit together, so
a commit writes few pages).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from . import indexing, keys, migrations, score_queries, scores, sessions, stats
from .base import (
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
    SessionPage,
    SessionQuery,
    StatsQuery,
    Storage,
    StoredScores,
)
from .batching import GroupWriter
from .document import EVENT_COLUMNS, parse_document
from .driver import Cursor, Driver
from .periods import period_start

_KEY_COLUMNS = "key_id, project_id, tier, name, created_at, revoked_at"

_INSERT_SESSION = (
    "INSERT INTO aiobs_sessions (project_id, id, name, name_lower, started_at, ended_at, labels,"
    " meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, id) DO NOTHING"
)
_UPDATE_SESSION = (
    "UPDATE aiobs_sessions SET name = ?, name_lower = ?, ended_at = COALESCE(?, ended_at),"
    " labels = ?, meta = ? WHERE project_id = ? AND id = ?"
)
_DELETE_LABELS = "DELETE FROM aiobs_labels WHERE project_id = ? AND session_id = ?"
_INSERT_LABEL = (
    "INSERT INTO aiobs_labels (project_id, session_id, key, value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (project_id, session_id, key) DO UPDATE SET value = excluded.value"
)
_EVENT_ROW = f"(?{', ?' * len(EVENT_COLUMNS)})"
_EVENT_CHUNKS = (64, 32, 16, 8, 4, 2, 1)
"""Rows per event insert statement: an upload's events go in a few statements of these sizes."""
_INSERT_EVENTS = {
    size: (
        f"INSERT INTO aiobs_events (project_id, {', '.join(EVENT_COLUMNS)})"  # noqa: S608 - constant columns
        f" VALUES {', '.join([_EVENT_ROW] * size)}"
        " ON CONFLICT (project_id, session_id, event_key) DO NOTHING"
    )
    for size in _EVENT_CHUNKS
}
_OPEN_QUOTA_PERIOD = (
    "INSERT INTO aiobs_usage (key_id, period_start, used) VALUES (?, ?, 0)"
    " ON CONFLICT (key_id, period_start) DO NOTHING"
)
_COUNT_AGAINST_QUOTA = (
    "INSERT INTO aiobs_usage (key_id, period_start, used) VALUES (?, ?, ?)"
    " ON CONFLICT (key_id, period_start) DO UPDATE SET used = aiobs_usage.used + excluded.used"
)


class SQLStorage(Storage):
    """Storage in one SQL database, reached through ``driver``.

    Args:
        driver: connections to SQLite or PostgreSQL.
        quotas: trace quotas by tier.
        clock: the current time in epoch seconds (replaceable, to test period rollover).
    """

    def __init__(
        self,
        driver: Driver,
        quotas: Quotas | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.driver = driver
        self.quotas = quotas or Quotas()
        self.clock = clock
        self._writer: GroupWriter[IngestResult] = GroupWriter(driver)

    def migrate(self) -> None:
        """Apply the schema steps the database lacks."""
        migrations.migrate(self.driver)

    def check(self) -> None:
        """Run ``SELECT 1``."""
        with self.driver.reading() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    def close(self) -> None:
        """Finish the uploads being written; close every connection."""
        self._writer.close()
        self.driver.close()

    # -- keys -----------------------------------------------------------------------------------

    def create_key(
        self, tier: str, name: str | None = None, project_id: str | None = None
    ) -> NewKey:
        """A new key, in a new project unless ``project_id`` names an existing one."""
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: choose one of {', '.join(TIERS)}")
        key_id, whole_key = keys.new_key()
        now = self.clock()
        with self.driver.transaction() as cursor:
            if project_id is None:
                project_id = f"proj_{secrets.token_hex(8)}"
                cursor.execute(
                    "INSERT INTO aiobs_projects (id, created_at) VALUES (?, ?)", (project_id, now)
                )
            else:
                cursor.execute("SELECT 1 FROM aiobs_projects WHERE id = ?", (project_id,))
                if cursor.fetchone() is None:
                    raise ValueError(f"no project {project_id!r}")
            cursor.execute(
                f"INSERT INTO aiobs_keys (key_hash, {_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant columns
                (keys.hash_key(whole_key), key_id, project_id, tier, name, now, None),
            )
        return NewKey(whole_key, KeyRecord(key_id, project_id, tier, name, now))

    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""
        with self.driver.reading() as cursor:
            cursor.execute(f"SELECT {_KEY_COLUMNS} FROM aiobs_keys ORDER BY created_at, key_id")  # noqa: S608 - constant columns
            return [KeyRecord(*row) for row in cursor.fetchall()]

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key (revoking it again keeps the first time); ``False`` if there is none."""
        with self.driver.transaction() as cursor:
            cursor.execute(
                "UPDATE aiobs_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (self.clock(), key_id),
            )
            return cursor.rowcount > 0

    def authenticate(self, secret: str) -> KeyRecord | None:
        """The live key whose whole key ``secret`` is; else ``None``."""
        key_id = keys.key_id_of(secret)
        if key_id is None:
            return None
        with self.driver.reading() as cursor:
            cursor.execute(
                f"SELECT key_hash, {_KEY_COLUMNS} FROM aiobs_keys WHERE key_id = ?",  # noqa: S608 - constant columns
                (key_id,),
            )
            row = cursor.fetchone()
        if row is None or not keys.matches(secret, row[0]):
            return None
        record = KeyRecord(*row[1:])
        return None if record.revoked_at is not None else record

    # -- web UI sign-ins ------------------------------------------------------------------------

    def end_sign_in(self, sign_in_hash: str, expires_at: float) -> None:
        """Store the ended sign-in; forget those whose cookies have expired."""
        with self.driver.transaction() as cursor:
            cursor.execute("DELETE FROM aiobs_ui_signouts WHERE expires_at < ?", (self.clock(),))
            cursor.execute(
                "INSERT INTO aiobs_ui_signouts (sign_in_hash, expires_at) VALUES (?, ?)"
                " ON CONFLICT (sign_in_hash) DO NOTHING",
                (sign_in_hash, expires_at),
            )

    def sign_in_ended(self, sign_in_hash: str) -> bool:
        """Whether the sign-in was ended."""
        with self.driver.reading() as cursor:
            cursor.execute(
                "SELECT 1 FROM aiobs_ui_signouts WHERE sign_in_hash = ?", (sign_in_hash,)
            )
            return cursor.fetchone() is not None

    def shared_ui_secret(self, candidate: str) -> str | None:
        """The stored secret; ``candidate`` is stored when there is none yet."""
        with self.driver.transaction() as cursor:
            cursor.execute(
                "INSERT INTO aiobs_ui_secret (id, secret) VALUES (1, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (candidate,),
            )
            cursor.execute("SELECT secret FROM aiobs_ui_secret WHERE id = 1")
            row = cursor.fetchone()
        return None if row is None else str(row[0])

    # -- metering and ingest --------------------------------------------------------------------

    def quota_status(self, key: KeyRecord) -> QuotaStatus:
        """The key's use of its quota in the current period."""
        start = period_start(self.clock(), self.quotas.period)
        with self.driver.reading() as cursor:
            return self._quota_status(cursor, key, start)

    def _quota_status(
        self, cursor: Cursor, key: KeyRecord, start: float, lock: str = ""
    ) -> QuotaStatus:
        cursor.execute(
            "SELECT used FROM aiobs_usage WHERE key_id = ? AND period_start = ?" + lock,  # noqa: S608 - lock is the driver's constant
            (key.key_id, start),
        )
        row = cursor.fetchone()
        used = 0 if row is None else int(row[0])
        return QuotaStatus(key.tier, used, self.quotas.limit(key.tier), start)

    def ingest(
        self,
        key: KeyRecord,
        document: Mapping[str, Any],
        idempotency_key: str | None,
        *,
        digest: str | None = None,
    ) -> IngestResult:
        """Store an export document for the key's project, once per idempotency key.

        The rows are made here, in the caller's thread; the writer thread stores them together
        with the other uploads waiting at that moment (see :mod:`.batching`). An idempotency
        key seen before answers a replay when its digest is the same (or unknown), and raises
        :class:`IdempotencyKeyReused` when it differs.
        """
        parsed = parse_document(document)
        project = key.project_id
        now = self.clock()
        start = period_start(now, self.quotas.period)
        sessions_rows = [(project, *row) for row in parsed.sessions]
        updates = [
            (n, low, end, lab, meta, project, i) for i, n, low, _, end, lab, meta in parsed.sessions
        ]
        session_keys = [(project, row[0]) for row in parsed.sessions]
        label_rows = [(project, *label) for label in parsed.labels]
        event_rows = [(project, *row) for row in parsed.events]
        score_rows = [(project, *row) for row in parsed.scores]
        limited = self.quotas.limit(key.tier) is not None
        indexed_here = self.driver.name == "sqlite"  # PostgreSQL: a generated column
        has_calls = any(row[1] == "llm" for row in parsed.events)

        def store(cursor: Cursor) -> IngestResult:
            if idempotency_key is not None:
                cursor.execute(
                    "INSERT INTO aiobs_uploads (project_id, idempotency_key, received_at, digest)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (project_id, idempotency_key) DO NOTHING",
                    (project, idempotency_key, now, digest),
                )
                if cursor.rowcount == 0:
                    _check_replay(cursor, project, idempotency_key, digest)
                    return IngestResult(False, 0, 0, self._quota_status(cursor, key, start))
            if limited:
                # servers sharing the database take turns at a limited key's count, so that
                # two uploads cannot both take its last slot
                cursor.execute(_OPEN_QUOTA_PERIOD, (key.key_id, start))
            lock = self.driver.lock_rows if limited else ""
            quota = self._quota_status(cursor, key, start, lock)
            if quota.is_rate_limited:
                raise QuotaExceeded(quota)
            if parsed.event_sessions:
                _require_sessions(cursor, project, parsed.event_sessions)
            new_sessions = 0
            if sessions_rows:
                cursor.executemany(_INSERT_SESSION, sessions_rows)
                new_sessions = max(cursor.rowcount, 0)
                cursor.executemany(_UPDATE_SESSION, updates)
                # the newest upload's labels replace the stored ones
                cursor.executemany(_DELETE_LABELS, session_keys)
            if label_rows:
                cursor.executemany(_INSERT_LABEL, label_rows)
            events_stored = 0
            if event_rows:
                last_rowid = indexing.last_event_rowid(cursor) if indexed_here else 0
                events_stored = _insert_events(cursor, event_rows)
                if indexed_here and events_stored:
                    indexing.index_new_events(cursor, last_rowid, calls=has_calls)
            if score_rows:  # a score uploaded again (in a document sent again) is kept once
                cursor.executemany(scores.INSERT_SCORE, score_rows)
            if new_sessions:
                cursor.execute(_COUNT_AGAINST_QUOTA, (key.key_id, start, new_sessions))
            after = QuotaStatus(quota.tier, quota.used + new_sessions, quota.limit, start)
            return IngestResult(True, new_sessions, events_stored, after)

        rows = len(sessions_rows) + len(label_rows) + len(event_rows) + len(score_rows)
        try:
            return self._writer.write(store, rows)
        except self.driver.data_errors as exc:
            raise InvalidDocument(
                f"the database cannot store a value of the document: {exc}"
            ) from None

    # -- queries --------------------------------------------------------------------------------

    def sessions(self, project_id: str, query: SessionQuery) -> SessionPage:
        """Session summaries matching ``query``, newest first, with their scores by name."""
        with self._refusing_data(), self.driver.reading() as cursor:
            found = sessions.page(cursor, project_id, query, self.driver.name)
            ids = [summary["id"] for summary in found.sessions]
            given = scores.of_sessions(cursor, project_id, ids)
        for summary in found.sessions:
            summary["score_summary"] = scores.summaries(given.get(summary["id"], ()))
        return found

    def session(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        """One session with its events, function events, trace tree and scores."""
        with self._refusing_data(), self.driver.reading() as cursor:
            found = sessions.detail(cursor, project_id, session_id)
            if found is None:
                return None
            given = scores.of_sessions(cursor, project_id, [session_id]).get(session_id, [])
        found["session"]["score_summary"] = scores.summaries(given)
        scores.attach(found, given)
        return found

    def session_outline(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        """The session's summary and the tree columns of its events, without their documents."""
        with self._refusing_data(), self.driver.reading() as cursor:
            found = sessions.outline(cursor, project_id, session_id)
            if found is None:
                return None
            given = scores.of_sessions(cursor, project_id, [session_id]).get(session_id, [])
        found["session"]["score_summary"] = scores.summaries(given)
        for event in found["events"]:
            event["scores"] = []
        scores.attach({**found, "function_events": [], "trace_tree": []}, given)
        return found

    def session_event(self, project_id: str, session_id: str, key: str) -> dict[str, Any] | None:
        """One event of a session by its stored key, read alone."""
        with self._refusing_data(), self.driver.reading() as cursor:
            return sessions.event(cursor, project_id, session_id, key)

    def stats(self, project_id: str, query: StatsQuery) -> list[dict[str, Any]]:
        """LLM call aggregates by group and time bucket, or a score's with ``query.score``."""
        with self._refusing_data(), self.driver.reading() as cursor:
            if query.score is not None:
                return score_queries.aggregate(cursor, project_id, query)
            return stats.aggregate(cursor, project_id, query)

    # -- scores ---------------------------------------------------------------------------------

    def add_scores(self, project_id: str, new: Sequence[NewScore]) -> StoredScores:
        """Add scores to stored sessions or spans of the project, each once per id."""
        now = self.clock()
        rows = [scores.new_score_row(score, f"scores[{i}]", now) for i, score in enumerate(new)]
        if not rows:
            return StoredScores([], 0)
        try:
            with self.driver.transaction() as cursor:
                stored = scores.add(cursor, project_id, rows)
        except self.driver.data_errors as exc:
            raise InvalidDocument(f"the database cannot store a value of a score: {exc}") from None
        return StoredScores([score for score, _ in stored], sum(new for _, new in stored))

    @contextmanager
    def _refusing_data(self) -> Iterator[None]:
        """A value the database cannot compare with (NUL in PostgreSQL text) as a ValueError."""
        try:
            yield
        except self.driver.data_errors as exc:
            raise ValueError(f"the database cannot use a value of the query: {exc}") from None


def _check_replay(
    cursor: Cursor, project_id: str, idempotency_key: str, digest: str | None
) -> None:
    """Raise unless the upload that first used ``idempotency_key`` had this ``digest``.

    Uploads stored before digests were kept, and callers that pass none, count as the same.
    """
    if digest is None:
        return
    cursor.execute(
        "SELECT digest FROM aiobs_uploads WHERE project_id = ? AND idempotency_key = ?",
        (project_id, idempotency_key),
    )
    row = cursor.fetchone()
    if row is not None and row[0] is not None and row[0] != digest:
        raise IdempotencyKeyReused(idempotency_key)


def _require_sessions(cursor: Cursor, project_id: str, wanted: Mapping[str, str]) -> None:
    """Raise unless every session id in ``wanted`` (id -> path of an event) is stored already."""
    ids = list(wanted)
    marks = ", ".join("?" * len(ids))
    cursor.execute(
        f"SELECT id FROM aiobs_sessions WHERE project_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders only
        (project_id, *ids),
    )
    found = {row[0] for row in cursor.fetchall()}
    for session_id, path in wanted.items():
        if session_id not in found:
            raise InvalidDocument(f"{path}.session_id names a session not in the document")


def _insert_events(cursor: Cursor, rows: list[tuple[Any, ...]]) -> int:
    """Insert event rows, many per statement; return how many were new.

    A statement per row would hand the GIL back and forth around every row, and under load each
    of those hand-overs waits for the threads parsing other uploads: a few multi-row statements
    keep the writer thread's time per upload short and steady.
    """
    stored = 0
    position = 0
    while position < len(rows):
        size = next(size for size in _EVENT_CHUNKS if size <= len(rows) - position)
        chunk = rows[position : position + size]
        position += size
        cursor.execute(_INSERT_EVENTS[size], [value for row in chunk for value in row])
        stored += max(cursor.rowcount, 0)
    return stored

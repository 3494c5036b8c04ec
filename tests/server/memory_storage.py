"""A small in-memory Storage for unit tests of the app: keys, quota, idempotency, lookups.

It keeps whole documents per project and answers queries from them. It checks only what the app
relies on (a JSON object with the three lists); the SQL storage has the full validation. Session
queries honour every filter, the order and full-text search as the SQL storage does (search by
whole words of the same text, :func:`~aiobs.server.storage.document.search_text`, any case);
``tests/server/test_memory_storage.py`` compares the two on the same documents.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiobs.server.storage import (
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
    ScoreIdReused,
    ScoreTargetNotFound,
    SessionPage,
    SessionQuery,
    StatsQuery,
    Storage,
    StoredScores,
)
from aiobs.server.storage.document import search_text
from aiobs.server.storage.scores import as_score as stored_score
from aiobs.server.storage.scores import new_score_row
from aiobs.server.storage.search import words


class MemoryStorage(Storage):
    """Everything in dicts, behind one lock; ``healthy = False`` makes ``check()`` fail."""

    def __init__(self, quotas: Quotas | None = None) -> None:
        self.quotas = quotas or Quotas()
        self.healthy = True
        self.authentications = 0
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[KeyRecord, str]] = {}
        self._used: dict[str, int] = {}
        self._seen: set[tuple[str, str]] = set()
        self._digests: dict[tuple[str, str], str | None] = {}
        self._sessions: dict[tuple[str, str], dict[str, Any]] = {}
        self._events: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
        self._scores: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._ended_sign_ins: dict[str, float] = {}

    def migrate(self) -> None:
        """Nothing to migrate."""

    def check(self) -> None:
        if not self.healthy:
            raise ConnectionError("database down")

    def close(self) -> None:
        """Nothing to release."""

    def create_key(
        self, tier: str, name: str | None = None, project_id: str | None = None
    ) -> NewKey:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        if project_id is not None and all(
            r.project_id != project_id for r, _ in self._keys.values()
        ):
            raise ValueError(f"no project {project_id!r}")
        key_id = secrets.token_hex(5)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = KeyRecord(key_id, project_id or f"p-{key_id}", tier, name, time.time())
        with self._lock:
            self._keys[key_id] = (record, hashlib.sha256(secret.encode()).hexdigest())
        return NewKey(secret, record)

    def list_keys(self) -> list[KeyRecord]:
        return [record for record, _ in self._keys.values()]

    def revoke_key(self, key_id: str) -> bool:
        with self._lock:
            if key_id not in self._keys:
                return False
            record, digest = self._keys[key_id]
            self._keys[key_id] = (
                KeyRecord(**{**record.__dict__, "revoked_at": time.time()}),
                digest,
            )
        return True

    def authenticate(self, secret: str) -> KeyRecord | None:
        self.authentications += 1
        key_id = secret.removeprefix(KEY_PREFIX).partition("_")[0]
        entry = self._keys.get(key_id)
        if entry is None or entry[1] != hashlib.sha256(secret.encode()).hexdigest():
            return None
        return None if entry[0].revoked_at is not None else entry[0]

    def end_sign_in(self, sign_in_hash: str, expires_at: float) -> None:
        with self._lock:
            now = time.time()
            self._ended_sign_ins = {
                ended: until for ended, until in self._ended_sign_ins.items() if until >= now
            }
            self._ended_sign_ins.setdefault(sign_in_hash, expires_at)

    def sign_in_ended(self, sign_in_hash: str) -> bool:
        return sign_in_hash in self._ended_sign_ins

    def quota_status(self, key: KeyRecord) -> QuotaStatus:
        used = self._used.get(key.key_id, 0)
        return QuotaStatus(key.tier, used, self.quotas.limit(key.tier), 0.0)

    def ingest(
        self,
        key: KeyRecord,
        document: Mapping[str, Any],
        idempotency_key: str | None,
        *,
        digest: str | None = None,
    ) -> IngestResult:
        if not isinstance(document, dict) or not all(
            isinstance(document.get(name), list)
            for name in ("sessions", "events", "function_events")
        ):
            raise InvalidDocument(
                "the document must be an object with sessions, events and function_events lists"
            )
        with self._lock:
            project = key.project_id
            if idempotency_key is not None and (project, idempotency_key) in self._seen:
                first = self._digests.get((project, idempotency_key))
                if digest is not None and first is not None and first != digest:
                    raise IdempotencyKeyReused(idempotency_key)
                return IngestResult(False, 0, 0, self.quota_status(key))
            if self.quota_status(key).is_rate_limited:
                raise QuotaExceeded(self.quota_status(key))
            if idempotency_key is not None:
                self._seen.add((project, idempotency_key))
                self._digests[(project, idempotency_key)] = digest
            new = 0
            for session in document["sessions"]:
                new += (project, session["id"]) not in self._sessions
                self._sessions[(project, session["id"])] = session
            events = 0
            for name, kind in (("events", "provider"), ("function_events", "function")):
                for event in document[name]:
                    self._events.setdefault((project, event.get("session_id", "")), []).append(
                        (event, kind)
                    )
                    events += 1
            self._used[key.key_id] = self._used.get(key.key_id, 0) + new
            return IngestResult(True, new, events, self.quota_status(key))

    def _summary(self, project: str, session: dict[str, Any]) -> dict[str, Any]:
        events = self._events.get((project, session["id"]), [])
        calls = [event for event, kind in events if kind == "provider"]

        def tokens(name: str) -> int:
            return sum(int((event.get("usage") or {}).get(name) or 0) for event in calls)

        costs = [
            (event.get("cost") or {}).get("total")
            for event in calls
            if isinstance((event.get("cost") or {}).get("total"), (int, float))
        ]
        ended = session.get("ended_at")
        started = session.get("started_at")
        return {
            "id": session["id"],
            "name": session.get("name"),
            "labels": session.get("labels") or {},
            "started_at": started,
            "ended_at": ended,
            "duration_ms": None if ended is None or started is None else (ended - started) * 1000,
            "meta": session.get("meta"),
            "llm_calls": len(calls),
            "function_calls": sum(kind == "function" for _, kind in events),
            "errors": sum(event.get("error") is not None for event, _ in events),
            "input_tokens": tokens("input_tokens"),
            "output_tokens": tokens("output_tokens"),
            "total_tokens": tokens("total_tokens"),
            "cost": sum(costs) if costs else None,
            "models": sorted({m for e in calls for m in (e.get("response_model"),) if m}),
            "providers": sorted({e["provider"] for e in calls if e.get("provider")}),
        }

    def _matches(self, project: str, session: dict[str, Any], query: SessionQuery) -> bool:
        """Whether the session passes every filter of ``query``, as the SQL storage reads them."""
        if query.scores:
            raise NotImplementedError("score filters are not kept here: test them on SQLite")
        events = self._events.get((project, session["id"]), [])
        calls = [event for event, kind in events if kind == "provider"]
        started = session.get("started_at") or 0.0
        checks = (
            all((session.get("labels") or {}).get(k) == v for k, v in query.labels.items()),
            query.name is None or query.name.lower() in (session.get("name") or "").lower(),
            query.since is None or started >= query.since,
            query.until is None or started < query.until,
            query.model is None
            or any(query.model in (e.get("response_model"), e.get("request_model")) for e in calls),
            query.provider is None or any(e.get("provider") == query.provider for e in calls),
            query.has_errors is None
            or any(event.get("error") is not None for event, _ in events) == query.has_errors,
        )
        if not all(checks):
            return False
        if query.search is None:
            return True
        wanted = {word.lower() for word in words(query.search)}
        if not wanted:
            return False
        return any(
            wanted <= set(_WORD.findall(search_text(event, _KINDS[kind]).lower()))
            for event, kind in events
        )

    def sessions(self, project_id: str, query: SessionQuery) -> SessionPage:
        if not 1 <= query.limit <= 500:
            raise ValueError("limit must be between 1 and 500")
        if query.order not in _ORDERS:
            raise ValueError(f"order must be one of {', '.join(_ORDERS)}, got {query.order!r}")
        if query.cursor is not None and query.order != "newest":
            raise ValueError("only the newest-first order pages on with a cursor")
        found = [
            self._summary(project_id, session)
            for (project, _), session in self._sessions.items()
            if project == project_id and self._matches(project, session, query)
        ]
        found.sort(key=_ORDERS[query.order])
        try:
            start = int(query.cursor or 0)
        except ValueError:
            raise ValueError("invalid cursor") from None
        end = start + query.limit
        more = end < len(found) and query.order == "newest"
        return SessionPage(found[start:end], str(end) if more else None)

    def session(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        session = self._sessions.get((project_id, session_id))
        if session is None:
            return None
        events = self._events.get((project_id, session_id), [])
        return {
            "session": self._summary(project_id, session),
            "events": [e for e, kind in events if kind == "provider"],
            "function_events": [e for e, kind in events if kind == "function"],
            "trace_tree": [],
        }

    def stats(self, project_id: str, query: StatsQuery) -> list[dict[str, Any]]:
        calls = [
            event
            for (project, _), events in self._events.items()
            if project == project_id
            for event, kind in events
            if kind == "provider"
        ]
        if not calls:
            return []
        return [
            {
                "group": None,
                "bucket_start": None,
                "calls": len(calls),
                "errors": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "total_tokens": 0,
                "cost": None,
                "latency_ms": {"p50": None, "p95": None, "p99": None},
            }
        ]

    def add_scores(self, project_id: str, scores: Sequence[NewScore]) -> StoredScores:
        """Scores kept by id, their targets and replays checked as the SQL storage does."""
        rows = [new_score_row(score, f"scores[{i}]", time.time()) for i, score in enumerate(scores)]
        with self._lock:
            for row in rows:
                if (project_id, row[1]) not in self._sessions:
                    raise ScoreTargetNotFound(f"session {row[1]!r} not found")
                spans = {e.get("span_id") for e, _ in self._events.get((project_id, row[1]), [])}
                if row[2] is not None and row[2] not in spans:
                    raise ScoreTargetNotFound(f"span {row[2]!r} not found in session {row[1]!r}")
                first = self._scores.get((project_id, row[0]))
                if first is not None and first[-1] != row[-1]:
                    raise ScoreIdReused(row[0])
            created = 0
            stored = []
            for row in rows:
                first = self._scores.setdefault((project_id, row[0]), row)
                created += first is row
                stored.append(stored_score(first[:-1]))
        return StoredScores(stored, created)


_KINDS = {"provider": "llm", "function": "function"}
_WORD = re.compile(r"\w+")


def _newest(summary: dict[str, Any]) -> tuple[Any, ...]:
    return (-(summary["started_at"] or 0), summary["id"])


_ORDERS = {
    "newest": _newest,
    "costliest": lambda s: (s["cost"] is None, -(s["cost"] or 0), *_newest(s)),
    "slowest": lambda s: (s["duration_ms"] is None, -(s["duration_ms"] or 0), *_newest(s)),
}
"""The SQL storage's orders: sessions without a cost (or still open) last."""

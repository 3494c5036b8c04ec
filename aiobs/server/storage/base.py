"""What the flush server stores and asks of its database, independent of which database it is.

:class:`Storage` is implemented once for SQL (:mod:`aiobs.server.storage.sql`) over two drivers,
SQLite and PostgreSQL. Every method that reads or writes recorded data takes the caller's
``project_id``: a key sees only its own project's data.

"Quota" here is a key's allowance of traces (sessions) per period; the HTTP protocol calls its
report ``usage`` (``/v1/usage``), as aiobs 0.2 did, which has nothing to do with the token usage
of LLM calls (:mod:`aiobs.usage`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

KEY_PREFIX = "aiobs_sk_"
"""Every API key starts with this, so that secret scanners and people recognise it."""

TIERS = ("free", "pro", "enterprise")
"""The tiers a key can have."""

DEFAULT_QUOTAS: Mapping[str, int | None] = {"free": 10_000, "pro": 1_000_000, "enterprise": None}
"""Traces (sessions) a key may store per period, by tier; ``None`` is unlimited."""


@dataclass(frozen=True)
class Quotas:
    """Trace quotas by tier, per calendar month (UTC) unless ``period`` says ``"day"``."""

    limits: Mapping[str, int | None] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    period: Literal["month", "day"] = "month"

    def limit(self, tier: str) -> int | None:
        """The quota of ``tier`` (``None``: unlimited)."""
        return self.limits.get(tier)


@dataclass(frozen=True)
class KeyRecord:
    """An API key as stored: never the secret itself, only its id and hash."""

    key_id: str
    """The public part of the key (shown by ``aiobs keys list``, used to revoke it)."""
    project_id: str
    """The tenant whose data the key reads and writes."""
    tier: str
    name: str | None
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` is the whole key, shown once and never stored."""

    secret: str
    record: KeyRecord


@dataclass(frozen=True)
class QuotaStatus:
    """A key's use of its quota in the current period."""

    tier: str
    used: int
    limit: int | None
    period_start: float

    @property
    def remaining(self) -> int | None:
        """Traces left this period (``None``: unlimited)."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def is_rate_limited(self) -> bool:
        """Whether the quota is used up."""
        return self.limit is not None and self.used >= self.limit

    def as_protocol(self) -> dict[str, Any]:
        """The protocol's ``usage`` object, as aiobs 0.2 clients read it.

        An unlimited quota is reported as ``traces_limit: -1`` and ``traces_remaining: -1``.
        """
        return {
            "tier": self.tier,
            "traces_used": self.used,
            "traces_limit": -1 if self.limit is None else self.limit,
            "traces_remaining": -1 if self.remaining is None else self.remaining,
            "is_rate_limited": self.is_rate_limited,
        }


@dataclass(frozen=True)
class IngestResult:
    """What an upload did."""

    created: bool
    """``False`` when the idempotency key was seen before: nothing was stored or counted again."""
    sessions_stored: int
    """Sessions new to the project (what the quota counts)."""
    events_stored: int
    """Provider and function events written."""
    quota: QuotaStatus
    """The key's quota after the upload."""


class QuotaExceeded(Exception):  # noqa: N818 - named for what happened, as the protocol says it
    """The key's quota for this period is used up; the upload was not stored."""

    def __init__(self, quota: QuotaStatus) -> None:
        super().__init__(
            f"trace quota of the {quota.tier} tier used up ({quota.used} of {quota.limit})"
        )
        self.quota = quota


class InvalidDocument(ValueError):  # noqa: N818 - named for what is wrong, like ValueError
    """The upload is not an aiobs export document; the message says what is wrong."""


class IdempotencyKeyReused(Exception):  # noqa: N818 - named for what happened
    """The idempotency key was used before for a different document; nothing was stored.

    The IETF draft "The Idempotency-Key HTTP Header Field" answers this with 422.
    """

    def __init__(self, idempotency_key: str) -> None:
        shown = idempotency_key if len(idempotency_key) <= 80 else idempotency_key[:77] + "..."
        super().__init__(
            f"the Idempotency-Key {shown!r} was used before for a different document: "
            "send a new document with a new key (a retry must send the same document)"
        )


class ScoreTargetNotFound(LookupError):  # noqa: N818 - named for what is missing
    """A score names a session, or a span of it, that the project does not have (HTTP 404)."""


class ScoreIdReused(Exception):  # noqa: N818 - named for what happened
    """A score id was stored before with a different score; nothing was stored (HTTP 409)."""

    def __init__(self, score_id: str) -> None:
        super().__init__(
            f"the score id {score_id!r} was used before for a different score: send a new id "
            "(a retry must send the same score)"
        )
        self.score_id = score_id


@dataclass(frozen=True)
class ScoreFilter:
    """Sessions having a score ``name`` (on the session or one of its spans) that matches.

    ``op`` is ``None`` (any value), ``<``, ``<=``, ``>``, ``>=`` (numeric scores, against
    ``number``), ``true`` or ``false`` (bool scores) or ``=`` (a category equal to ``category``).
    """

    name: str
    op: str | None = None
    number: float | None = None
    category: str | None = None


@dataclass(frozen=True)
class SessionQuery:
    """Filters and page of ``GET /v1/sessions``. Times are epoch seconds."""

    labels: Mapping[str, str] = field(default_factory=dict)
    """Sessions having all these labels."""
    name: str | None = None
    """Sessions whose name contains this (case-insensitive)."""
    since: float | None = None
    """Sessions started at or after this."""
    until: float | None = None
    """Sessions started before this."""
    model: str | None = None
    """Sessions with an LLM call to this model (requested or answered)."""
    provider: str | None = None
    """Sessions with an LLM call to this provider."""
    has_errors: bool | None = None
    """``True``: sessions with a failed call or function; ``False``: sessions without."""
    search: str | None = None
    """Sessions with an event whose inputs or outputs hold every word of this."""
    scores: tuple[ScoreFilter, ...] = ()
    """Sessions having scores that match all of these."""
    limit: int = 50
    cursor: str | None = None
    """The ``next_cursor`` of the previous page."""
    order: str = "newest"
    """``newest`` (pages with cursors), or one page of the ``costliest`` or ``slowest``."""


@dataclass(frozen=True)
class SessionPage:
    """One page of session summaries, in the query's order."""

    sessions: list[dict[str, Any]]
    next_cursor: str | None


GroupBy = str
"""``"model"``, ``"provider"``, ``"label:<key>"`` or ``"none"``."""


@dataclass(frozen=True)
class StatsQuery:
    """Aggregates of LLM calls (``GET /v1/stats``). Times are epoch seconds."""

    group_by: GroupBy = "model"
    bucket_seconds: int | None = None
    """Width of the time buckets (``None``: one bucket for the whole range)."""
    since: float | None = None
    until: float | None = None
    score: str | None = None
    """Aggregate this score (count, mean, pass rate) instead of LLM calls; times are the
    scores' ``created_at``."""


@dataclass(frozen=True)
class NewScore:
    """A score to add to a stored session or span (``POST /v1/scores``), not checked yet."""

    session_id: object
    name: object
    value: object
    span_id: object = None
    comment: object = None
    source: object = "api"
    evaluator: object = None
    id: object = None
    """The client's id: the same id sent again is stored once. ``None``: a new id."""


@dataclass(frozen=True)
class StoredScores:
    """What ``POST /v1/scores`` did: each score as stored, and how many were new."""

    scores: list[dict[str, Any]]
    created: int


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The ``fraction`` percentile (0..1) of ascending values, by linear interpolation."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return sorted_values[low]
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class Storage(abc.ABC):
    """The flush server's database."""

    quotas: Quotas

    @abc.abstractmethod
    def migrate(self) -> None:
        """Bring the schema to the current version (safe to run from several servers at once)."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise if the database cannot be reached (the health endpoint calls this)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- keys -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def create_key(
        self, tier: str, name: str | None = None, project_id: str | None = None
    ) -> NewKey:
        """A new key, in a new project unless ``project_id`` names an existing one.

        Raises:
            ValueError: unknown tier, or no such project.
        """

    @abc.abstractmethod
    def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""

    @abc.abstractmethod
    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key by its id; ``False`` if there is no such key."""

    @abc.abstractmethod
    def authenticate(self, secret: str) -> KeyRecord | None:
        """The live key whose secret this is, compared in constant time; else ``None``."""

    # -- web UI sign-ins ------------------------------------------------------------------------

    @abc.abstractmethod
    def end_sign_in(self, sign_in_hash: str, expires_at: float) -> None:
        """Remember that the web UI sign-in with this hash ended (until ``expires_at``).

        Ended sign-ins whose ``expires_at`` has passed are forgotten: their cookies have expired.
        """

    @abc.abstractmethod
    def sign_in_ended(self, sign_in_hash: str) -> bool:
        """Whether the web UI sign-in with this hash was ended by :meth:`end_sign_in`."""

    def shared_ui_secret(self, candidate: str) -> str | None:  # noqa: ARG002 - for overrides
        """The web UI's signing secret kept in the database, ``candidate`` when none was yet.

        Every server and worker of the database gets the same one. ``None`` (this default):
        the storage keeps none.
        """
        return None

    # -- metering and ingest --------------------------------------------------------------------

    @abc.abstractmethod
    def quota_status(self, key: KeyRecord) -> QuotaStatus:
        """The key's use of its quota in the current period."""

    @abc.abstractmethod
    def ingest(
        self,
        key: KeyRecord,
        document: Mapping[str, Any],
        idempotency_key: str | None,
        *,
        digest: str | None = None,
    ) -> IngestResult:
        """Store an export document for the key's project, once per idempotency key.

        Args:
            key: the uploading key.
            document: the parsed export document.
            idempotency_key: uploads with the same key are stored once.
            digest: a hash of the document's bytes, kept with the idempotency key; an upload
                with a key seen before and a different digest is refused.

        Raises:
            QuotaExceeded: the key's quota is used up (nothing stored).
            InvalidDocument: the document's shape is wrong (nothing stored).
            IdempotencyKeyReused: the key came before with a different digest.
        """

    # -- queries --------------------------------------------------------------------------------

    @abc.abstractmethod
    def sessions(self, project_id: str, query: SessionQuery) -> SessionPage:
        """Session summaries matching ``query``, newest first."""

    @abc.abstractmethod
    def session(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        """One session with its events, function events and trace tree; ``None`` if not found."""

    def session_outline(self, project_id: str, session_id: str) -> dict[str, Any] | None:
        """A session's summary and, for each event, what a row of its trace tree shows.

        ``{"session": summary, "events": [...]}``, each event with the fields of
        :data:`~aiobs.server.storage.sessions.OUTLINE_FIELDS` and its ``scores``, by start time;
        ``key`` names the event for :meth:`session_event`; the summary has the session's own
        ``scores`` and ``score_summary``. The web UI's session page is drawn from it. This
        default reads the whole session; the SQL storage reads only the event table's columns.
        """
        found = self.session(project_id, session_id)
        if found is None:
            return None
        events = []
        for index, event in enumerate([*found["events"], *found["function_events"]]):
            function = event.get("provider") == "function" or "args" in event
            usage = event.get("usage") if isinstance(event.get("usage"), Mapping) else {}
            events.append(
                {
                    "key": event.get("span_id") or f"#{index}",
                    "kind": "function" if function else "llm",
                    "span_id": event.get("span_id"),
                    "parent_span_id": event.get("parent_span_id"),
                    "provider": event.get("provider"),
                    "api": event.get("name") if function else event.get("api"),
                    "model": event.get("response_model") or event.get("request_model"),
                    "started_at": event.get("started_at"),
                    "duration_ms": event.get("duration_ms"),
                    "error": 1 if event.get("error") is not None else 0,
                    "total_tokens": usage.get("total_tokens"),
                    "scores": event.get("scores") or [],
                }
            )
        events.sort(key=lambda event: (event["started_at"] or 0.0, event["kind"]))
        return {"session": found["session"], "events": events}

    def session_event(self, project_id: str, session_id: str, key: str) -> dict[str, Any] | None:
        """One event of a session, as uploaded, by the ``key`` of :meth:`session_outline`.

        The web UI fetches a node's detail with it. This default reads the whole session.
        """
        found = self.session(project_id, session_id)
        if found is None:
            return None
        for index, event in enumerate([*found["events"], *found["function_events"]]):
            if (event.get("span_id") or f"#{index}") == key:
                return dict(event)
        return None

    @abc.abstractmethod
    def stats(self, project_id: str, query: StatsQuery) -> list[dict[str, Any]]:
        """LLM call aggregates by group and time bucket (score aggregates with ``score``)."""

    # -- scores ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def add_scores(self, project_id: str, scores: Sequence[NewScore]) -> StoredScores:
        """Add scores to stored sessions or spans of the project, each once per id.

        Raises:
            InvalidDocument: a score's name, value or another field is invalid.
            ScoreTargetNotFound: a session or span is not in the project (nothing stored).
            ScoreIdReused: an id came before with a different score (nothing stored).
        """

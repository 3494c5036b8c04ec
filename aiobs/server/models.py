"""The JSON shapes the flush server answers with, as pydantic models for its OpenAPI document.

The ingest path builds its answers as plain dicts (validating them would cost time on every
upload); these models still describe them, so the OpenAPI document is exact for every route.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class UsageBody(BaseModel):
    """A key's trace quota in the current period (``-1``: unlimited)."""

    tier: str
    traces_used: int
    traces_limit: int
    traces_remaining: int
    is_rate_limited: bool


class UsageResponse(BaseModel):
    """``GET``/``POST /v1/usage``; ``success`` is false when the quota is used up (HTTP 429)."""

    success: bool
    usage: UsageBody
    error: str | None = None


class UsageReport(BaseModel):
    """What the SDK reports after an upload. Acknowledged only: ingest already counted it."""

    trace_count: int = Field(ge=0, le=2**31 - 1)


class StoredCounts(BaseModel):
    """What one upload added: sessions new to the project and events written."""

    sessions: int
    events: int


class IngestResponse(BaseModel):
    """``POST /v1/traces``: 201 when stored, 200 when the upload was a replay."""

    success: bool
    stored: StoredCounts
    usage: UsageBody


class QuotaResponse(BaseModel):
    """HTTP 429: the key's quota is used up; nothing was stored."""

    success: bool = False
    error: str
    usage: UsageBody


class ErrorResponse(BaseModel):
    """Every other refusal: what was wrong, and for request validation the failing fields."""

    success: bool = False
    error: str
    detail: list[dict[str, Any]] | None = None


class ScoreBody(BaseModel):
    """A stored evaluation score of a session, or of one of its spans (``span_id``)."""

    id: str = Field(description="The client's id, or the server's.")
    name: str
    value: bool | float | str = Field(
        description="A finite number, a bool, or a category of at most 64 characters."
    )
    comment: str | None = None
    source: str = Field(description="api: given by a program; eval: by an evaluator.")
    evaluator: str | None = None
    span_id: str | None = Field(default=None, description="The span scored; null: the session.")
    created_at: float


class ScoreSummaryLine(BaseModel):
    """A session's scores of one name (its own and its spans')."""

    name: str
    count: int
    mean: float | None = Field(
        description="Of numeric and bool scores (true counts as 1); null for categories only."
    )
    value: bool | float | str | None = Field(description="The value, when there is one score.")


class SessionSummary(BaseModel):
    """One session and the totals of its calls."""

    id: str
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    started_at: float | None = None
    ended_at: float | None = None
    duration_ms: float | None = None
    meta: dict[str, Any] | None = None
    llm_calls: int = 0
    function_calls: int = 0
    errors: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    models: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    score_summary: list[ScoreSummaryLine] = Field(
        default_factory=list, description="The session's scores by name, its spans' included."
    )
    scores: list[ScoreBody] | None = Field(
        default=None,
        description="GET /v1/sessions/{id} only: the session's own scores (those of its spans"
        " are on their events).",
    )


class SessionPageResponse(BaseModel):
    """``GET /v1/sessions``: newest first; pass ``next_cursor`` back as ``cursor`` for more."""

    sessions: list[SessionSummary]
    next_cursor: str | None


class SessionDetailResponse(BaseModel):
    """``GET /v1/sessions/{id}``: the events as uploaded, ordered by start, and their tree."""

    session: SessionSummary
    events: list[dict[str, Any]]
    function_events: list[dict[str, Any]]
    trace_tree: list[dict[str, Any]]


class Latency(BaseModel):
    """Latency percentiles of the calls in a group, in milliseconds."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class StatsGroup(BaseModel):
    """LLM call totals of one group in one time bucket."""

    group: str | None
    bucket_start: float | None
    calls: int
    errors: int
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    latency_ms: Latency


class ScoreStatsGroup(BaseModel):
    """A score's aggregates in one group and time bucket (``GET /v1/stats?score=NAME``)."""

    group: str | None
    bucket_start: float | None
    count: int = Field(description="Scores of the name, categories included.")
    mean: float | None = Field(description="Of numeric and bool scores (true counts as 1).")
    pass_rate: float | None = Field(
        description="Share of true bool scores and of numeric scores of at least 0.5."
    )
    categories: dict[str, int] = Field(description="Category scores, counted by category.")


class StatsResponse(BaseModel):
    """``GET /v1/stats``: groups sorted by bucket, then group."""

    group_by: str
    bucket: str
    score: str | None = Field(default=None, description="The score aggregated, if any.")
    groups: list[StatsGroup] | list[ScoreStatsGroup]


class ScoresResponse(BaseModel):
    """``POST /v1/scores``: 201 when a score was new, 200 when all were stored before."""

    success: bool
    created: int = Field(description="Scores stored by this request.")
    scores: list[ScoreBody] = Field(description="Every score sent, as stored, in order.")


class HealthResponse(BaseModel):
    """``GET /health``: whether the server and its database answer."""

    status: str
    database: str

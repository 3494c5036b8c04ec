"""The export document: its models, compatible with aiobs 0.2 and extended inside events.

The top level is exactly that of aiobs 0.2 (``sessions``, ``events``, ``function_events``,
``trace_tree``, ``enh_prompt_traces``, ``generated_at``, ``version``); every field that aiobs 0.2
wrote keeps its name, type and meaning. New information lives in new, optional fields of sessions
and events, so that documents written by either version parse with either version's models.

Read an export back with::

    from aiobs.models import ObservabilityExport
    export = ObservabilityExport.model_validate_json(open("run.json").read())

The JSON Schema in ``docs/schema/export.schema.json`` is generated from these models
(:func:`json_schema`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._format import DOC_TRACE_TREE
from ._format import FORMAT_VERSION as FORMAT_VERSION  # noqa: PLC0414 - re-exported: it lived here


class Usage(BaseModel):
    """Normalized token counts of a provider call; null where the provider reported none.

    ``input_tokens`` counts the whole prompt (cached or not), ``output_tokens`` every generated
    token (reasoning included). See :mod:`aiobs.usage`.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = Field(
        default=None, description="Prompt tokens written to the provider's cache (Anthropic)."
    )
    estimated: bool = Field(
        default=False, description="Counted by a local tokenizer: the provider reported none."
    )


class Cost(BaseModel):
    """A provider call's cost in USD, from the pricing table (see :mod:`aiobs.pricing`)."""

    input: float
    output: float
    total: float
    estimated: bool = Field(default=False, description="Computed from estimated usage.")


class StreamInfo(BaseModel):
    """How a streamed response arrived."""

    ttft_ms: float | None = Field(description="Time to the first chunk; null if none came.")
    chunks: int
    status: Literal["completed", "closed", "error"] = Field(
        description="completed: read to its end; closed: closed (or dropped) before its end."
    )


class UsageTotals(BaseModel):
    """Tokens summed over a session's provider calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0


class CostTotals(BaseModel):
    """Cost in USD summed over a session's priced provider calls."""

    input: float
    output: float
    total: float
    unpriced_calls: int = Field(
        default=0, description="Successful calls whose model has no price (not in the totals)."
    )


class Score(BaseModel):
    """An evaluation score attached to a session or a span (``observer.score``, evaluators)."""

    name: str
    value: float | bool | str = Field(
        description="A finite number, a bool, or a category of at most 64 characters."
    )
    comment: str | None = Field(default=None)
    source: Literal["api", "eval"] = Field(
        default="api", description="api: observer.score(); eval: an evaluator."
    )
    evaluator: str | None = Field(default=None, description="The evaluator, for eval scores.")
    span_id: str | None = Field(default=None, description="The span scored; null for a session.")
    created_at: float


class SessionMeta(BaseModel):
    """Where a session ran."""

    pid: int
    cwd: str


class Session(BaseModel):
    """A labelled group of events, as written to the export."""

    id: str
    name: str
    started_at: float
    ended_at: float | None = Field(default=None)
    meta: SessionMeta
    labels: dict[str, str] | None = Field(default=None)
    dropped_events: int = Field(
        default=0, description="Events not recorded because the buffer was full (total so far)."
    )
    llm_calls: int = Field(default=0, description="Provider calls recorded so far.")
    llm_errors: int = Field(default=0, description="Provider calls that failed.")
    usage: UsageTotals | None = Field(
        default=None, description="Tokens of all provider calls so far (unknown counts as 0)."
    )
    cost: CostTotals | None = Field(
        default=None, description="Cost of the priced provider calls so far; null if none."
    )
    scores: list[Score] | None = Field(
        default=None,
        description="The session's scores, and those of spans exported in earlier documents.",
    )


class Callsite(BaseModel):
    """Where a traced call was made from."""

    file: str | None = Field(default=None)
    line: int | None = Field(default=None)
    function: str | None = Field(default=None)


class ErrorDetail(BaseModel):
    """An exception raised by a traced call (``error`` keeps the aiobs 0.2 one-line form)."""

    type: str = Field(description="Exception class, qualified unless it is a builtin.")
    message: str
    traceback: str | None = Field(
        default=None, description="The innermost frames, formatted like a Python traceback."
    )
    status_code: int | None = Field(
        default=None, description="HTTP status of a provider's error response."
    )


class Event(BaseModel):
    """A call to an LLM provider's SDK."""

    provider: str
    api: str
    request: Any
    response: Any | None = None
    error: str | None = Field(default=None)
    started_at: float
    ended_at: float
    duration_ms: float
    callsite: Callsite | None = Field(default=None)
    span_id: str | None = Field(default=None)
    parent_span_id: str | None = Field(default=None)
    trace_id: str | None = Field(default=None)
    operation: str | None = Field(
        default=None,
        description="What kind of call: chat, responses, embeddings, generate_content...",
    )
    request_model: str | None = Field(default=None, description="The model asked for.")
    response_model: str | None = Field(default=None, description="The model that answered.")
    status: Literal["ok", "error", "closed"] = Field(
        default="ok", description="closed: a stream closed before its end."
    )
    exception: ErrorDetail | None = Field(default=None)
    usage: Usage | None = Field(default=None)
    cost: Cost | None = Field(
        default=None, description="Null when the model has no price or usage is unknown."
    )
    stream: StreamInfo | None = Field(default=None, description="Set on streamed calls.")
    scores: list[Score] | None = Field(default=None, description="Scores given to this call.")


class FunctionEvent(BaseModel):
    """A call to an ``@observe``-decorated function, a manual span, or a point event."""

    provider: str = Field(default="function")
    api: str
    name: str
    module: str | None = Field(default=None)
    args: list[Any] | None = Field(default=None)
    kwargs: dict[str, Any] | None = Field(default=None)
    result: Any | None = Field(default=None)
    error: str | None = Field(default=None)
    started_at: float
    ended_at: float
    duration_ms: float
    callsite: Callsite | None = Field(default=None)
    span_id: str | None = Field(default=None)
    parent_span_id: str | None = Field(default=None)
    trace_id: str | None = Field(default=None)
    enh_prompt: bool = Field(default=False)
    enh_prompt_id: str | None = Field(default=None)
    auto_enhance_after: int | None = Field(default=None)
    kind: Literal["function", "generator", "span", "event"] = Field(
        default="function",
        description="function: a decorated call; generator: a decorated (async) generator, "
        "from its first item to its end; span: observer.span(); event: observer.event().",
    )
    status: Literal["ok", "error", "closed"] = Field(
        default="ok", description="closed: a generator that its consumer closed before its end."
    )
    exception: ErrorDetail | None = Field(default=None)
    attributes: dict[str, Any] | None = Field(
        default=None, description="Span attributes, or the data of a point event."
    )
    yielded: int | None = Field(default=None, description="Items a generator produced.")
    scores: list[Score] | None = Field(default=None, description="Scores given to this span.")


class ObservedEvent(Event):
    """A provider event in the export, with the session it belongs to."""

    session_id: str


class ObservedFunctionEvent(FunctionEvent):
    """A function event in the export, with the session it belongs to."""

    session_id: str


class TraceNode(BaseModel):
    """A node of ``trace_tree``: an event's fields plus ``event_type`` and ``children``."""

    model_config = ConfigDict(extra="allow")

    event_type: Literal["function", "provider"]
    span_id: str | None = None
    parent_span_id: str | None = None
    started_at: float
    children: list[TraceNode] = Field(default_factory=list)
    depth_truncated: bool = Field(
        default=False,
        description="Placed beside its parent because the tree reached its maximum depth.",
    )


class ObservabilityExport(BaseModel):
    """The whole document that ``flush()`` writes."""

    sessions: list[Session]
    events: list[ObservedEvent]
    function_events: list[ObservedFunctionEvent] = Field(default_factory=list)
    trace_tree: list[Any] | None = Field(
        default=None,
        description="Events nested by parent span; each item is a TraceNode.",
    )
    enh_prompt_traces: list[str] | None = Field(default=None)
    generated_at: float
    version: int = FORMAT_VERSION


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the export document (draft 2020-12), with the trace tree described."""
    schema = ObservabilityExport.model_json_schema()
    node_schema = TraceNode.model_json_schema(ref_template="#/$defs/{model}")
    definitions = schema.setdefault("$defs", {})
    definitions.update(node_schema.pop("$defs", {}))
    definitions.setdefault("TraceNode", node_schema)
    tree = schema["properties"][DOC_TRACE_TREE]
    tree["anyOf"] = [{"type": "array", "items": {"$ref": "#/$defs/TraceNode"}}, {"type": "null"}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://aiobs.dev/schema/export.schema.json"
    return schema


__all__ = [
    "Callsite",
    "Cost",
    "CostTotals",
    "ErrorDetail",
    "Event",
    "FunctionEvent",
    "ObservabilityExport",
    "ObservedEvent",
    "ObservedFunctionEvent",
    "Score",
    "Session",
    "SessionMeta",
    "StreamInfo",
    "TraceNode",
    "Usage",
    "UsageTotals",
    "json_schema",
]

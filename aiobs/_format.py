"""The export document's field names: the one place they are spelled.

The document that ``flush()`` writes (``docs/schema/export.schema.json``) is produced by the
document builder, read back by the models, mapped to OpenTelemetry by the OTLP exporter and
parsed by the flush server. All of them name its fields through these constants, so a field
cannot be renamed in one place and forgotten in another; ``tests/test_format.py`` pins them to
the JSON Schema. Usage::

    from aiobs._format import EVENT_SPAN_ID, LLM_USAGE, USAGE_INPUT_TOKENS

    tokens = (event.get(LLM_USAGE) or {}).get(USAGE_INPUT_TOKENS)

Field names are grouped by where they appear, with one prefix per group: ``DOC_`` (the top
level), ``SESSION_`` and ``META_`` (a session), ``EVENT_`` (every event, an LLM call or a function
event), ``LLM_`` (LLM call events only), ``FUNCTION_`` (function events only), ``NODE_`` (what a
trace-tree node adds to its event), and ``USAGE_``, ``COST_``, ``STREAM_``, ``CALLSITE_``,
``EXCEPTION_``, ``RESPONSE_``, ``SCORE_`` and ``TOOL_CALL_`` for the objects inside events and
sessions. Fixed values of some fields follow (``STATUS_``, ``KIND_``, ``TYPE_``, ``SOURCE_``),
then the names of the labels aiobs adds and the JSON Lines form's tag.

This module imports nothing from aiobs: it is the bottom layer, which the SDK and the flush
server both import.
"""

from __future__ import annotations

from typing import Final

FORMAT_VERSION: Final = 1
"""The document's ``version``: still 1, because every change since aiobs 0.2 only adds fields."""

# -- the top level ------------------------------------------------------------------------------

DOC_SESSIONS: Final = "sessions"
"""The sessions whose events the document holds."""
DOC_EVENTS: Final = "events"
"""LLM call events (aiobs 0.2 called them events, and so does the document)."""
DOC_FUNCTION_EVENTS: Final = "function_events"
"""``@observe`` calls, manual spans and point events."""
DOC_TRACE_TREE: Final = "trace_tree"
"""Every event once, nested under its parent; null when the flush left the tree out."""
DOC_ENH_PROMPT_TRACES: Final = "enh_prompt_traces"
"""``enh_prompt_id`` of the events marked ``enh_prompt``, in tree order; null if none."""
DOC_GENERATED_AT: Final = "generated_at"
"""When the document was written, in epoch seconds."""
DOC_VERSION: Final = "version"
""":data:`FORMAT_VERSION`."""

# -- a session ----------------------------------------------------------------------------------

SESSION_ID: Final = "id"
"""The session's id (events name it in :data:`EVENT_SESSION_ID`)."""
SESSION_NAME: Final = "name"
SESSION_STARTED_AT: Final = "started_at"
SESSION_ENDED_AT: Final = "ended_at"
"""Null while the session is open."""
SESSION_META: Final = "meta"
"""Where the session ran (``META_`` fields)."""
SESSION_LABELS: Final = "labels"
"""Label keys and values; null when there are none."""
SESSION_DROPPED_EVENTS: Final = "dropped_events"
"""Events not recorded because the buffer was full (total so far)."""
SESSION_LLM_CALLS: Final = "llm_calls"
SESSION_LLM_ERRORS: Final = "llm_errors"
SESSION_USAGE: Final = "usage"
"""Tokens summed over the session's LLM calls (``USAGE_`` fields)."""
SESSION_COST: Final = "cost"
"""Cost summed over the session's priced LLM calls (``COST_`` fields)."""
SESSION_SCORES: Final = "scores"
"""Scores given to the session (``SCORE_`` fields), and scores of spans that are not in this
document (exported earlier), which keep their :data:`SCORE_SPAN_ID`; absent when there are none."""

META_PID: Final = "pid"
META_CWD: Final = "cwd"

# -- every event --------------------------------------------------------------------------------

EVENT_PROVIDER: Final = "provider"
"""The LLM provider; :data:`PROVIDER_FUNCTION` for function events."""
EVENT_API: Final = "api"
"""The SDK method called (``chat.completions.create``), or the function's qualified name."""
EVENT_ERROR: Final = "error"
"""The aiobs 0.2 one-line form of a failure (``"ValueError: broken"``); null if none."""
EVENT_STARTED_AT: Final = "started_at"
EVENT_ENDED_AT: Final = "ended_at"
EVENT_DURATION_MS: Final = "duration_ms"
EVENT_CALLSITE: Final = "callsite"
"""Where the call was made (``CALLSITE_`` fields)."""
EVENT_SPAN_ID: Final = "span_id"
"""16 hex digits."""
EVENT_PARENT_SPAN_ID: Final = "parent_span_id"
EVENT_TRACE_ID: Final = "trace_id"
"""32 hex digits."""
EVENT_STATUS: Final = "status"
"""One of the ``STATUS_`` values."""
EVENT_EXCEPTION: Final = "exception"
"""Details of a failure (``EXCEPTION_`` fields)."""
EVENT_SESSION_ID: Final = "session_id"
"""The :data:`SESSION_ID` of the event's session."""
EVENT_SCORES: Final = "scores"
"""Scores given to this span (``SCORE_`` fields); absent when there are none."""

# -- LLM call events ----------------------------------------------------------------------------

LLM_REQUEST: Final = "request"
"""The SDK call's arguments, as given."""
LLM_RESPONSE: Final = "response"
"""The answer, normalized (``RESPONSE_`` fields)."""
LLM_OPERATION: Final = "operation"
"""What kind of call: chat, responses, embeddings, generate_content..."""
LLM_REQUEST_MODEL: Final = "request_model"
LLM_RESPONSE_MODEL: Final = "response_model"
LLM_USAGE: Final = "usage"
"""Token counts (``USAGE_`` fields)."""
LLM_COST: Final = "cost"
"""Cost in USD (``COST_`` fields)."""
LLM_STREAM: Final = "stream"
"""How a streamed answer arrived (``STREAM_`` fields)."""

# -- function events ----------------------------------------------------------------------------

FUNCTION_NAME: Final = "name"
FUNCTION_MODULE: Final = "module"
FUNCTION_ARGS: Final = "args"
FUNCTION_KWARGS: Final = "kwargs"
FUNCTION_RESULT: Final = "result"
FUNCTION_ENH_PROMPT: Final = "enh_prompt"
FUNCTION_ENH_PROMPT_ID: Final = "enh_prompt_id"
FUNCTION_AUTO_ENHANCE_AFTER: Final = "auto_enhance_after"
FUNCTION_KIND: Final = "kind"
"""One of the ``KIND_`` values."""
FUNCTION_ATTRIBUTES: Final = "attributes"
"""A span's attributes, or the data of a point event."""
FUNCTION_YIELDED: Final = "yielded"
"""Items a generator produced."""

# -- trace-tree nodes: an event's fields plus these ---------------------------------------------

NODE_EVENT_TYPE: Final = "event_type"
""":data:`TYPE_FUNCTION` or :data:`TYPE_PROVIDER`."""
NODE_CHILDREN: Final = "children"
NODE_DEPTH_TRUNCATED: Final = "depth_truncated"
"""Present (true) on a node placed beside its parent because the tree reached its depth limit."""

# -- inside events and sessions -----------------------------------------------------------------

USAGE_INPUT_TOKENS: Final = "input_tokens"
USAGE_OUTPUT_TOKENS: Final = "output_tokens"
USAGE_TOTAL_TOKENS: Final = "total_tokens"
USAGE_CACHED_INPUT_TOKENS: Final = "cached_input_tokens"
USAGE_REASONING_TOKENS: Final = "reasoning_tokens"
USAGE_CACHE_WRITE_TOKENS: Final = "cache_write_tokens"
"""Events only, when reported."""
USAGE_ESTIMATED: Final = "estimated"
"""Events only: counted by a local tokenizer."""

COST_INPUT: Final = "input"
COST_OUTPUT: Final = "output"
COST_TOTAL: Final = "total"
COST_ESTIMATED: Final = "estimated"
"""Events only: computed from estimated usage."""
COST_UNPRICED_CALLS: Final = "unpriced_calls"
"""Sessions only: successful calls whose model has no price."""

STREAM_TTFT_MS: Final = "ttft_ms"
STREAM_CHUNKS: Final = "chunks"
STREAM_STATUS: Final = "status"

CALLSITE_FILE: Final = "file"
CALLSITE_LINE: Final = "line"
CALLSITE_FUNCTION: Final = "function"

EXCEPTION_TYPE: Final = "type"
EXCEPTION_MESSAGE: Final = "message"
EXCEPTION_TRACEBACK: Final = "traceback"
EXCEPTION_STATUS_CODE: Final = "status_code"

RESPONSE_ID: Final = "id"
RESPONSE_MODEL: Final = "model"
RESPONSE_TEXT: Final = "text"
RESPONSE_USAGE: Final = "usage"
"""The provider's own usage object, as aiobs 0.2 kept it (``LLM_USAGE`` is the normalized one)."""
RESPONSE_TOOL_CALLS: Final = "tool_calls"
RESPONSE_FINISH_REASONS: Final = "finish_reasons"
RESPONSE_CHOICES: Final = "choices"
"""Only when a call asked for several answers (``n``, ``candidate_count``): one object per answer,
with ``text``, ``tool_calls`` and ``finish_reason``; ``text`` still joins them, one per line."""
RESPONSE_COUNT: Final = "count"
"""Embeddings: how many vectors came back (never the vectors)."""
RESPONSE_DIMENSIONS: Final = "dimensions"

SCORE_NAME: Final = "name"
"""What is measured (``accuracy``, ``pii``): the rules of label keys."""
SCORE_VALUE: Final = "value"
"""A finite number, a bool, or a category string of at most 64 characters."""
SCORE_COMMENT: Final = "comment"
"""Why: the evaluator's explanation or the program's note; null if none."""
SCORE_SOURCE: Final = "source"
"""Who gave it: one of the ``SOURCE_`` values."""
SCORE_EVALUATOR: Final = "evaluator"
"""The evaluator's name when :data:`SOURCE_EVAL` gave it, else null."""
SCORE_SPAN_ID: Final = "span_id"
"""The span scored; null for a session's own scores."""
SCORE_CREATED_AT: Final = "created_at"
"""When the score was given, in epoch seconds."""

TOOL_CALL_ID: Final = "id"
TOOL_CALL_NAME: Final = "name"
TOOL_CALL_ARGUMENTS: Final = "arguments"

# -- fixed values -------------------------------------------------------------------------------

STATUS_OK: Final = "ok"
STATUS_ERROR: Final = "error"
STATUS_CLOSED: Final = "closed"
"""A stream or generator closed by its consumer before its end."""

KIND_FUNCTION: Final = "function"
KIND_GENERATOR: Final = "generator"
KIND_SPAN: Final = "span"
KIND_EVENT: Final = "event"

SOURCE_API: Final = "api"
"""A score given by the program (``observer.score``)."""
SOURCE_EVAL: Final = "eval"
"""A score written by an evaluator (``aiobs.evals.evaluate``, or evaluators run at flush)."""

PROVIDER_FUNCTION: Final = "function"
"""The :data:`EVENT_PROVIDER` of every function event."""

TYPE_FUNCTION: Final = "function"
"""The :data:`NODE_EVENT_TYPE` of a function event's node."""
TYPE_PROVIDER: Final = "provider"
"""The :data:`NODE_EVENT_TYPE` of an LLM call event's node."""

# -- labels -------------------------------------------------------------------------------------

RESERVED_LABEL_PREFIX: Final = "aiobs_"
"""Label keys with this prefix are aiobs's own; users cannot set them."""
LABEL_SDK_VERSION: Final = "aiobs_sdk_version"
LABEL_PYTHON_VERSION: Final = "aiobs_python_version"
LABEL_HOSTNAME: Final = "aiobs_hostname"
LABEL_OS: Final = "aiobs_os"

# -- the JSON Lines form ------------------------------------------------------------------------

RECORD: Final = "record"
"""The field that tags each line of the JSON Lines form with what it holds."""
RECORD_SESSION: Final = "session"
RECORD_EVENT: Final = "event"
RECORD_FUNCTION_EVENT: Final = "function_event"

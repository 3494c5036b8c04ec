"""OpenTelemetry attribute names and values the OTLP exporter sends: the one place they are spelled.

The names are those of the OpenTelemetry semantic conventions (GenAI, code, exception, error,
HTTP, service, session), as the ``opentelemetry-semantic-conventions`` package spells them;
``tests/exporters/test_genai_attributes.py`` pins each one to that package's constant. They are
copied rather than imported because the exporter needs only ``opentelemetry-proto`` at run time,
and the package keeps the GenAI names in a private, incubating module.

The ``AIOBS_``, ``OPENINFERENCE_`` and ``LANGFUSE_`` names are aiobs's own, Arize OpenInference's
and Langfuse's.
"""

from __future__ import annotations

from typing import Final

# -- GenAI: the call -----------------------------------------------------------------------------

GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""Deprecated in favour of :data:`GEN_AI_PROVIDER_NAME`; still sent for older consumers."""
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Seconds from the request to the first chunk of a streamed answer."""
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"

# -- GenAI: content (opt-in) ---------------------------------------------------------------------

GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"

# -- GenAI: fixed values -------------------------------------------------------------------------

OPERATION_CHAT: Final = "chat"
OPERATION_GENERATE_CONTENT: Final = "generate_content"
OPERATION_EMBEDDINGS: Final = "embeddings"
PROVIDER_OPENAI: Final = "openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
FINISH_STOP: Final = "stop"
FINISH_LENGTH: Final = "length"
FINISH_CONTENT_FILTER: Final = "content_filter"
FINISH_TOOL_CALL: Final = "tool_call"
FINISH_ERROR: Final = "error"

# -- code, errors, exceptions, HTTP, resource ----------------------------------------------------

CODE_FUNCTION_NAME: Final = "code.function.name"
CODE_FILE_PATH: Final = "code.file.path"
CODE_LINE_NUMBER: Final = "code.line.number"
ERROR_TYPE: Final = "error.type"
ERROR_TYPE_OTHER: Final = "_OTHER"
"""The conventions' value of ``error.type`` when the error has no better name."""
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
EVALUATION_RESULT_EVENT: Final = "gen_ai.evaluation.result"
"""The GenAI conventions' span event for an evaluation result (a score)."""
EXCEPTION_EVENT: Final = "exception"
"""The name of the span event that records an exception."""
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
SERVICE_NAME: Final = "service.name"
SESSION_ID: Final = "session.id"

# -- aiobs's own ---------------------------------------------------------------------------------

AIOBS_API: Final = "aiobs.api"
AIOBS_KIND: Final = "aiobs.kind"
AIOBS_MODULE: Final = "aiobs.module"
AIOBS_COST_TOTAL: Final = "aiobs.cost.total"
AIOBS_RESPONSE_FINISH_REASONS: Final = "aiobs.response.finish_reasons"
"""The provider's own finish reasons, beside the conventions' names in ``gen_ai.response...``."""
AIOBS_STREAM_TTFT_MS: Final = "aiobs.stream.ttft_ms"
"""Kept beside :data:`GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK` for consumers of earlier exports."""
AIOBS_SESSION_NAME: Final = "aiobs.session.name"
AIOBS_LABEL_PREFIX: Final = "aiobs.label."
AIOBS_CALLSITE_FUNCTION: Final = "aiobs.callsite.function"
AIOBS_CALLSITE_FILE: Final = "aiobs.callsite.file"
AIOBS_CALLSITE_LINE: Final = "aiobs.callsite.line"
AIOBS_FUNCTION_ARGUMENTS: Final = "aiobs.function.arguments"
AIOBS_FUNCTION_RESULT: Final = "aiobs.function.result"
AIOBS_SPAN_ATTRIBUTES: Final = "aiobs.span.attributes"
AIOBS_SCORE_SOURCE: Final = "aiobs.score.source"
AIOBS_SCORE_EVALUATOR: Final = "aiobs.score.evaluator"

# -- Arize OpenInference (``profile="phoenix"``) ---------------------------------------------------

OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
OPENINFERENCE_PROJECT_NAME: Final = "openinference.project.name"
INPUT_VALUE: Final = "input.value"
INPUT_MIME_TYPE: Final = "input.mime_type"
OUTPUT_VALUE: Final = "output.value"
OUTPUT_MIME_TYPE: Final = "output.mime_type"

# -- Langfuse (``profile="langfuse"``) -------------------------------------------------------------

LANGFUSE_TRACE_NAME: Final = "langfuse.trace.name"
LANGFUSE_TRACE_INPUT: Final = "langfuse.trace.input"
LANGFUSE_TRACE_OUTPUT: Final = "langfuse.trace.output"
LANGFUSE_TRACE_METADATA_PREFIX: Final = "langfuse.trace.metadata."
LANGFUSE_SESSION_ID: Final = "langfuse.session.id"
LANGFUSE_USER_ID: Final = "langfuse.user.id"
LANGFUSE_OBSERVATION_TYPE: Final = "langfuse.observation.type"
LANGFUSE_OBSERVATION_INPUT: Final = "langfuse.observation.input"
LANGFUSE_OBSERVATION_OUTPUT: Final = "langfuse.observation.output"
LANGFUSE_OBSERVATION_LEVEL: Final = "langfuse.observation.level"
LANGFUSE_OBSERVATION_STATUS_MESSAGE: Final = "langfuse.observation.status_message"
LANGFUSE_USAGE_COST: Final = "gen_ai.usage.cost"
"""Langfuse's name for a call's total cost (the conventions have none)."""

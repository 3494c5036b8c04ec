"""Send export documents as OpenTelemetry spans over OTLP/HTTP (protobuf).

Works with any OTLP/HTTP traces endpoint: an OpenTelemetry Collector, Grafana Tempo, Jaeger,
Langfuse's OTLP endpoint, or a vendor that accepts OTLP. One flush becomes one
``ExportTraceServiceRequest``::

    from aiobs.exporters.otlp import OTLPExporter
    observer.flush(exporter=OTLPExporter("http://localhost:4318/v1/traces"))

How the document maps to OpenTelemetry (the full table is in ``docs/guide.md``):

- **Resource**: one per document: ``resource_attributes``, ``service.name`` and
  ``telemetry.sdk.name=aiobs`` (and ``telemetry.sdk.version``, ``telemetry.sdk.language``).
- **Function events** (``@observe`` calls, ``observer.span()``, ``observer.event()``): one
  ``INTERNAL`` span each, named after the function, with ``code.function.name``,
  ``code.file.path``, ``code.line.number`` describing the function (see
  :mod:`aiobs.exporters.genai_functions`), ``aiobs.callsite.*``, ``aiobs.kind``, ``aiobs.module``.
- **Provider events** (LLM calls): one ``CLIENT`` span each, named ``"<operation> <model>"``
  (``"chat gpt-4o-mini"``) and carrying the GenAI semantic-convention attributes (operation and
  provider names as the conventions list them, request parameters, response, usage with cache and
  reasoning tokens, time to first chunk) plus ``aiobs.cost.total``.
- **Content**, only with ``capture_content=True``: prompts, system instructions and answers in
  the conventions' message structure (:mod:`aiobs.exporters.genai_messages`), tool definitions,
  and functions' arguments, results and span data.
- **Sessions** are not spans: every span carries its session's id as ``gen_ai.conversation.id``
  and ``session.id``, and the session's labels as ``aiobs.label.<key>``.
- **Scores** (``observer.score``, evaluators): a ``gen_ai.evaluation.result`` span event each,
  on the scored span, with ``gen_ai.evaluation.name``, ``gen_ai.evaluation.score.value`` (a
  number; a bool as 1 or 0), ``gen_ai.evaluation.score.label`` (a category, or ``true`` /
  ``false``), ``gen_ai.evaluation.explanation`` (the comment), ``aiobs.score.source`` and
  ``aiobs.score.evaluator``. A session's own scores have no span and are not sent.
- **Failures**: status ``ERROR`` with the message, ``error.type``, an ``exception`` span event
  (type, message, stack trace) and an LLM error's ``http.response.status_code``.
- Trace, span and parent ids are kept, so the span tree is the one aiobs recorded. An event
  without a trace id gets one derived from its span id.
- ``profile="phoenix"`` adds Arize Phoenix's OpenInference names, ``profile="langfuse"``
  Langfuse's ``langfuse.*`` attributes (:mod:`aiobs.exporters.genai_profiles`).

Defaults follow the OpenTelemetry environment variables: the endpoint is
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``,
else ``http://localhost:4318/v1/traces``; headers (``k=v,k2=v2``) come from
``OTEL_EXPORTER_OTLP_HEADERS`` and ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``; the resource's
``service.name`` from ``OTEL_SERVICE_NAME`` and more resource attributes from
``OTEL_RESOURCE_ATTRIBUTES`` (the exporter's arguments win). Needs
``pip install 'aiobs[otel]'`` (the ``opentelemetry-proto`` package).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._context import suppress_instrumentation
from .._format import (
    COST_TOTAL,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_SESSIONS,
    EVENT_API,
    EVENT_ENDED_AT,
    EVENT_ERROR,
    EVENT_EXCEPTION,
    EVENT_PARENT_SPAN_ID,
    EVENT_PROVIDER,
    EVENT_SCORES,
    EVENT_SESSION_ID,
    EVENT_SPAN_ID,
    EVENT_STARTED_AT,
    EVENT_STATUS,
    EVENT_TRACE_ID,
    EXCEPTION_MESSAGE,
    EXCEPTION_STATUS_CODE,
    EXCEPTION_TRACEBACK,
    EXCEPTION_TYPE,
    FUNCTION_KIND,
    FUNCTION_MODULE,
    FUNCTION_NAME,
    KIND_EVENT,
    KIND_FUNCTION,
    LLM_COST,
    LLM_OPERATION,
    LLM_REQUEST,
    LLM_REQUEST_MODEL,
    LLM_RESPONSE,
    LLM_RESPONSE_MODEL,
    LLM_STREAM,
    LLM_USAGE,
    RESPONSE_DIMENSIONS,
    RESPONSE_FINISH_REASONS,
    RESPONSE_ID,
    RESPONSE_MODEL,
    SCORE_COMMENT,
    SCORE_CREATED_AT,
    SCORE_EVALUATOR,
    SCORE_NAME,
    SCORE_SOURCE,
    SCORE_VALUE,
    SESSION_ID,
    SESSION_LABELS,
    SESSION_NAME,
    STATUS_ERROR,
    STREAM_TTFT_MS,
    USAGE_CACHE_WRITE_TOKENS,
    USAGE_CACHED_INPUT_TOKENS,
    USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
    USAGE_REASONING_TOKENS,
)
from . import genai_functions, genai_messages, genai_profiles, genai_request
from .base import BaseExporter, ExportResult
from .document import GZIP_LEVEL
from .genai_attributes import (
    AIOBS_API,
    AIOBS_COST_TOTAL,
    AIOBS_FUNCTION_ARGUMENTS,
    AIOBS_FUNCTION_RESULT,
    AIOBS_KIND,
    AIOBS_MODULE,
    AIOBS_RESPONSE_FINISH_REASONS,
    AIOBS_SCORE_EVALUATOR,
    AIOBS_SCORE_SOURCE,
    AIOBS_STREAM_TTFT_MS,
    ERROR_TYPE,
    ERROR_TYPE_OTHER,
    EVALUATION_RESULT_EVENT,
    EXCEPTION_EVENT,
    EXCEPTION_STACKTRACE,
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
    GEN_AI_EVALUATION_EXPLANATION,
    GEN_AI_EVALUATION_NAME,
    GEN_AI_EVALUATION_SCORE_LABEL,
    GEN_AI_EVALUATION_SCORE_VALUE,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    GEN_AI_SYSTEM,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    OPERATION_EMBEDDINGS,
    SERVICE_NAME,
)
from .genai_attributes import EXCEPTION_MESSAGE as EXCEPTION_MESSAGE_ATTRIBUTE
from .genai_attributes import EXCEPTION_TYPE as EXCEPTION_TYPE_ATTRIBUTE

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    from .document import ExportDocument

logger = logging.getLogger("aiobs")

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""Base URL of an OTLP/HTTP receiver; ``/v1/traces`` is appended."""
TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
"""Full URL of an OTLP/HTTP traces endpoint; wins over :data:`ENDPOINT_ENV`."""
HEADERS_ENV = "OTEL_EXPORTER_OTLP_HEADERS"
"""Headers sent with every export, ``key=value`` pairs separated by commas."""
TRACES_HEADERS_ENV = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
"""Like :data:`HEADERS_ENV`, for traces only; its keys win."""

SERVICE_NAME_ENV = "OTEL_SERVICE_NAME"
"""The resource's ``service.name`` unless the exporter is given one."""
RESOURCE_ATTRIBUTES_ENV = "OTEL_RESOURCE_ATTRIBUTES"
"""More resource attributes, ``k=v,k2=v2`` (percent-encoded); the exporter's own arguments win."""
DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
DEFAULT_SERVICE_NAME = "aiobs"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
"""Longest wait honoured from a ``Retry-After`` header, in seconds."""

_INSTALL_HINT = "the OTLP exporter needs opentelemetry-proto: pip install 'aiobs[otel]'"


def _proto() -> tuple[Any, Any, Any, Any]:
    """The generated OTLP modules (collector service, trace, common, resource), imported lazily."""
    try:
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        from opentelemetry.proto.common.v1 import common_pb2
        from opentelemetry.proto.resource.v1 import resource_pb2
        from opentelemetry.proto.trace.v1 import trace_pb2
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return trace_service_pb2, trace_pb2, common_pb2, resource_pb2


class OTLPExporter(BaseExporter):
    """Sends each flushed document to an OTLP/HTTP traces endpoint as protobuf spans.

    Usage::

        observer.flush(exporter=OTLPExporter(service_name="support-bot"))

    Args:
        endpoint: full traces URL; defaults from the OpenTelemetry environment variables.
        headers: extra HTTP headers (authentication); default from ``OTEL_EXPORTER_OTLP_HEADERS``.
        timeout: seconds allowed for each HTTP attempt.
        service_name: the resource's ``service.name`` (default: the one in
            ``resource_attributes``, else ``OTEL_SERVICE_NAME``, else the one in
            ``OTEL_RESOURCE_ATTRIBUTES``, else ``"aiobs"``).
        compression: ``"gzip"`` (default) or ``None``.
        capture_content: also send prompts and answers of LLM calls, and arguments, results
            and span data of functions (off by default).
        max_retries: further attempts after a 429/502/503/504 answer or a connection error.
        backoff: first wait between attempts in seconds, doubled at each retry.
        resource_attributes: more attributes of the resource (``deployment.environment.name``,
            ``service.version``...), over those of ``OTEL_RESOURCE_ATTRIBUTES``.
        profile: ``"phoenix"`` adds Arize Phoenix's OpenInference names to the standard ones,
            ``"langfuse"`` Langfuse's ``langfuse.*`` attributes.

    Raises:
        ImportError: ``opentelemetry-proto`` is not installed.
        ValueError: ``compression`` is neither ``"gzip"`` nor ``None``, or ``profile`` is unknown.
    """

    name = "otlp"

    def __init__(
        self,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        service_name: str | None = None,
        compression: str | None = "gzip",
        *,
        capture_content: bool = False,
        max_retries: int = 3,
        backoff: float = 0.5,
        resource_attributes: Mapping[str, Any] | None = None,
        profile: str | None = None,
    ) -> None:
        _proto()
        if compression not in {"gzip", None}:
            raise ValueError(f"compression must be 'gzip' or None, not {compression!r}")
        genai_profiles.check(profile)
        self.endpoint = endpoint or default_endpoint()
        self.headers = dict(headers) if headers is not None else default_headers()
        self.timeout = timeout
        self.resource_attributes = {**default_resource_attributes(), **(resource_attributes or {})}
        self.service_name = str(
            service_name or self.resource_attributes.get(SERVICE_NAME) or DEFAULT_SERVICE_NAME
        )
        self.profile = profile
        self.compression = compression
        self.capture_content = capture_content
        self.max_retries = max_retries
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"OTLPExporter({_public_url(self.endpoint)!r}, compression={self.compression!r})"

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Convert ``document`` to spans and POST them; a failure keeps the data for later."""
        request = build_request(
            document.data,
            self.service_name,
            self.capture_content,
            resource_attributes=self.resource_attributes,
            profile=self.profile,
        )
        spans = len(request.resource_spans[0].scope_spans[0].spans)
        body = request.SerializeToString()
        if self.compression == "gzip":
            body = gzip.compress(body, GZIP_LEVEL)
        destination = _public_url(self.endpoint)
        with suppress_instrumentation():
            status, answer, error = self._post_with_retries(body)
        if error is not None:
            return ExportResult(False, destination=destination, error=error)
        metadata: dict[str, Any] = {"spans": spans, "status": status}
        rejected = _rejected_spans(answer)
        if rejected:
            metadata["rejected_spans"] = rejected
            logger.warning("aiobs: %s rejected %d of %d spans", destination, rejected, spans)
        return ExportResult(
            True, destination=destination, bytes_written=len(body), metadata=metadata
        )

    def _post_with_retries(self, body: bytes) -> tuple[int, bytes, str | None]:
        """POST ``body``; return (status, response body, error message or ``None``)."""
        attempt = 0
        while True:
            status, answer, retry_after, error = self._post(body)
            if error is None or retry_after is None or attempt >= self.max_retries:
                return status, answer, error
            wait = min(max(retry_after, self.backoff * 2**attempt), MAX_RETRY_AFTER)
            logger.debug("aiobs: OTLP export failed (%s); retrying in %.2fs", error, wait)
            time.sleep(wait)
            attempt += 1

    def _post(self, body: bytes) -> tuple[int, bytes, float | None, str | None]:
        """One attempt: (status, body, retry-after seconds if retryable, error or ``None``)."""
        headers = {**self.headers, "Content-Type": "application/x-protobuf"}
        if self.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        url = self.endpoint
        if not url.startswith(("http://", "https://")):
            return 0, b"", None, f"OTLP endpoint must be an http(s) URL, not {url!r}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return int(response.status), response.read(), None, None
        except urllib.error.HTTPError as exc:
            return _http_failure(exc, _public_url(url))
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            return 0, b"", 0.0, f"cannot reach {_public_url(url)}: {reason}"


# -- configuration ---------------------------------------------------------------------------


def default_endpoint() -> str:
    """The traces URL from the OpenTelemetry environment variables, else the local default."""
    traces = os.environ.get(TRACES_ENDPOINT_ENV, "").strip()
    if traces:
        return traces
    base = os.environ.get(ENDPOINT_ENV, "").strip()
    if base:
        return base.rstrip("/") + "/v1/traces"
    return DEFAULT_ENDPOINT


def default_headers() -> dict[str, str]:
    """Headers from ``OTEL_EXPORTER_OTLP_HEADERS`` then ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``."""
    headers = parse_headers(os.environ.get(HEADERS_ENV, ""))
    headers.update(parse_headers(os.environ.get(TRACES_HEADERS_ENV, "")))
    return headers


def default_resource_attributes() -> dict[str, str]:
    """``OTEL_RESOURCE_ATTRIBUTES``, with ``service.name`` from ``OTEL_SERVICE_NAME`` if set.

    A malformed ``OTEL_RESOURCE_ATTRIBUTES`` is ignored as a whole, with a warning, as the
    OpenTelemetry specification asks.
    """
    raw = os.environ.get(RESOURCE_ATTRIBUTES_ENV, "")
    attributes: dict[str, str] = {}
    for pair in raw.split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            logger.warning(
                "aiobs: %s ignored: %r is not key=value; write it as k1=v1,k2=v2 (values "
                "percent-encoded)",
                RESOURCE_ATTRIBUTES_ENV,
                pair.strip(),
            )
            return _with_service_name({})
        attributes[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return _with_service_name(attributes)


def _with_service_name(attributes: dict[str, str]) -> dict[str, str]:
    service = os.environ.get(SERVICE_NAME_ENV, "").strip()
    if service:
        attributes[SERVICE_NAME] = service
    return attributes


def parse_headers(value: str) -> dict[str, str]:
    """``"k=v,k2=v2"`` (values percent-encoded, as OpenTelemetry specifies) as a dict."""
    headers: dict[str, str] = {}
    for pair in value.split(","):
        key, sep, item = pair.partition("=")
        if sep and key.strip():
            headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(item.strip())
    return headers


def _public_url(url: str) -> str:
    """``url`` without any user:password part, fit for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# -- HTTP answers ----------------------------------------------------------------------------


def _http_failure(
    exc: urllib.error.HTTPError, url: str
) -> tuple[int, bytes, float | None, str | None]:
    """A non-2xx answer: retryable or not, with the server's own explanation."""
    body = exc.read() or b""
    message = _server_message(body, exc.headers.get("Content-Type", ""))
    error = f"{url} answered {exc.code}: {message or exc.reason}"
    if exc.code in RETRYABLE_STATUSES:
        return exc.code, body, _retry_after(exc.headers.get("Retry-After")), error
    if exc.code in {401, 403}:
        error += " (check the headers, e.g. OTEL_EXPORTER_OTLP_HEADERS)"
    elif exc.code == 404:
        error += " (check the endpoint: OTLP/HTTP traces are usually at <base>/v1/traces)"
    return exc.code, body, None, error


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); 0 if absent."""
    if not value:
        return 0.0
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(when.timestamp() - time.time(), 0.0)


def _server_message(body: bytes, content_type: str) -> str:
    """The message of an OTLP error answer: a ``google.rpc.Status`` in protobuf, or text."""
    if "protobuf" in content_type:
        return _status_message(body)
    return body.decode("utf-8", "replace").strip()[:500]


def _status_message(body: bytes) -> str:
    """Field 2 (``message``) of a protobuf ``google.rpc.Status``, read from the wire format."""
    position = 0
    try:
        while position < len(body):
            key, position = _varint(body, position)
            field, wire_type = key >> 3, key & 7
            if wire_type == 0:
                _, position = _varint(body, position)
            elif wire_type == 2:
                size, position = _varint(body, position)
                if field == 2:
                    return body[position : position + size].decode("utf-8", "replace")
                position += size
            else:
                break
    except IndexError:
        pass
    return ""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """A protobuf varint at ``position``: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _rejected_spans(answer: bytes) -> int:
    """Spans the receiver refused, from its ``ExportTraceServiceResponse.partial_success``."""
    if not answer:
        return 0
    trace_service_pb2 = _proto()[0]
    response = trace_service_pb2.ExportTraceServiceResponse()
    try:
        response.ParseFromString(answer)
    except Exception:  # noqa: BLE001 - a receiver answering something else still accepted the data
        return 0
    return int(response.partial_success.rejected_spans)


# -- the mapping -----------------------------------------------------------------------------


def build_request(
    document: Mapping[str, Any],
    service_name: str = DEFAULT_SERVICE_NAME,
    capture_content: bool = False,
    *,
    resource_attributes: Mapping[str, Any] | None = None,
    profile: str | None = None,
) -> ExportTraceServiceRequest:
    """The document as one ``ExportTraceServiceRequest``: one resource, one scope, its spans."""
    from .._version import __version__

    trace_service_pb2, _, _, _ = _proto()
    request = trace_service_pb2.ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource = {
        **(resource_attributes or {}),
        SERVICE_NAME: service_name,
        "telemetry.sdk.name": "aiobs",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
    }
    resource.update(genai_profiles.resource_attributes(profile, resource))
    resource_spans.resource.attributes.extend(_attributes(resource))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "aiobs"
    scope_spans.scope.version = __version__
    sessions = {session[SESSION_ID]: session for session in document.get(DOC_SESSIONS) or []}
    for event in document.get(DOC_FUNCTION_EVENTS) or []:
        scope_spans.spans.append(function_span(event, sessions, capture_content, profile))
    for event in document.get(DOC_EVENTS) or []:
        scope_spans.spans.append(provider_span(event, sessions, capture_content, profile))
    request_typed: ExportTraceServiceRequest = request
    return request_typed


def function_span(
    event: Mapping[str, Any],
    sessions: Mapping[str, Any],
    capture_content: bool = False,
    profile: str | None = None,
) -> Span:
    """An ``INTERNAL`` span for a function event (``@observe``, a span or an event)."""
    trace_pb2 = _proto()[1]
    span = _base_span(event, event.get(FUNCTION_NAME) or event.get(EVENT_API) or "function")
    span.kind = trace_pb2.Span.SpanKind.SPAN_KIND_INTERNAL
    session = sessions.get(str(event.get(EVENT_SESSION_ID))) or {}
    attributes = {
        **genai_functions.code_attributes(event, session),
        AIOBS_KIND: event.get(FUNCTION_KIND) or KIND_FUNCTION,
        AIOBS_MODULE: event.get(FUNCTION_MODULE),
        **_session_attributes(event, sessions),
    }
    content: dict[str, Any] = {}
    if capture_content:
        raw = genai_functions.content_attributes(event)
        content = {key: _json_or_none(value) for key, value in raw.items()}
        attributes.update(content)
    attributes.update(genai_profiles.function_attributes(profile, content))
    attributes.update(
        genai_profiles.langfuse_attributes(
            profile,
            observation="event" if event.get(FUNCTION_KIND) == KIND_EVENT else "span",
            session=session,
            root=not event.get(EVENT_PARENT_SPAN_ID),
            content=(content.get(AIOBS_FUNCTION_ARGUMENTS), content.get(AIOBS_FUNCTION_RESULT))
            if capture_content
            else None,
            error=_error_text(event),
        )
    )
    if _failed(event):
        attributes.update(_error_attributes(event))
    span.attributes.extend(_attributes(attributes))
    _record_failure(span, event)
    _record_scores(span, event)
    return span


def provider_span(
    event: Mapping[str, Any],
    sessions: Mapping[str, Any],
    capture_content: bool = False,
    profile: str | None = None,
) -> Span:
    """A ``CLIENT`` span for an LLM call, with the GenAI semantic-convention attributes."""
    trace_pb2 = _proto()[1]
    operation = genai_request.operation_name(
        event.get(LLM_OPERATION) or event.get(EVENT_API) or "call"
    )
    model = event.get(LLM_REQUEST_MODEL)
    span = _base_span(event, f"{operation} {model}" if model else operation)
    span.kind = trace_pb2.Span.SpanKind.SPAN_KIND_CLIENT
    attributes = {
        **_genai_attributes(event, operation),
        **_session_attributes(event, sessions),
        **genai_profiles.llm_attributes(profile, operation),
    }
    if _failed(event):
        attributes.update(_error_attributes(event))
    content: dict[str, Any] = {}
    if capture_content and operation != OPERATION_EMBEDDINGS:
        content = _content_attributes(event)
        attributes.update(content)
    cost = (event.get(LLM_COST) or {}).get(COST_TOTAL)
    attributes.update(
        genai_profiles.langfuse_attributes(
            profile,
            observation="embedding" if operation == OPERATION_EMBEDDINGS else "generation",
            session=sessions.get(str(event.get(EVENT_SESSION_ID))),
            root=not event.get(EVENT_PARENT_SPAN_ID),
            content=(content.get(GEN_AI_INPUT_MESSAGES), content.get(GEN_AI_OUTPUT_MESSAGES))
            if content
            else None,
            error=_error_text(event),
            cost=cost if isinstance(cost, int | float) else None,
        )
    )
    span.attributes.extend(_attributes(attributes))
    _record_failure(span, event)
    _record_scores(span, event)
    return span


def _failed(event: Mapping[str, Any]) -> bool:
    """Whether the call or function failed (aiobs 0.2 events have only ``error``)."""
    return bool(event.get(EVENT_ERROR)) or event.get(EVENT_STATUS) == STATUS_ERROR


def _error_text(event: Mapping[str, Any]) -> str | None:
    """A failed event's error text (``None`` when it did not fail)."""
    return str(event.get(EVENT_ERROR) or "error") if _failed(event) else None


def _exception(event: Mapping[str, Any]) -> Mapping[str, Any]:
    exception = event.get(EVENT_EXCEPTION)
    return exception if isinstance(exception, Mapping) else {}


def _error_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """``error.type`` of a failed event, and the HTTP status of a failed LLM call if known."""
    exception = _exception(event)
    status = exception.get(EXCEPTION_STATUS_CODE)
    return {
        ERROR_TYPE: exception.get(EXCEPTION_TYPE) or ERROR_TYPE_OTHER,
        HTTP_RESPONSE_STATUS_CODE: status if isinstance(status, int) else None,
    }


def _record_failure(span: Span, event: Mapping[str, Any]) -> None:
    """A failed event's ``ERROR`` status and its ``exception`` span event, at the span's end."""
    if not _failed(event):
        return
    _set_error(span, event.get(EVENT_ERROR) or "error")
    exception = _exception(event)
    attributes = {
        EXCEPTION_TYPE_ATTRIBUTE: exception.get(EXCEPTION_TYPE),
        EXCEPTION_MESSAGE_ATTRIBUTE: exception.get(EXCEPTION_MESSAGE) or event.get(EVENT_ERROR),
        EXCEPTION_STACKTRACE: exception.get(EXCEPTION_TRACEBACK),
    }
    span_event = span.events.add()
    span_event.name = EXCEPTION_EVENT
    span_event.time_unix_nano = span.end_time_unix_nano
    span_event.attributes.extend(_attributes(attributes))


def _record_scores(span: Span, event: Mapping[str, Any]) -> None:
    """A ``gen_ai.evaluation.result`` span event for each of the event's scores."""
    for score in event.get(EVENT_SCORES) or ():
        value = score.get(SCORE_VALUE)
        if isinstance(value, bool):
            number: float | None = 1.0 if value else 0.0
            label: str | None = "true" if value else "false"
        elif isinstance(value, int | float):
            number, label = float(value), None
        else:
            number, label = None, str(value)
        attributes = {
            GEN_AI_EVALUATION_NAME: score.get(SCORE_NAME),
            GEN_AI_EVALUATION_SCORE_VALUE: number,
            GEN_AI_EVALUATION_SCORE_LABEL: label,
            GEN_AI_EVALUATION_EXPLANATION: score.get(SCORE_COMMENT),
            AIOBS_SCORE_SOURCE: score.get(SCORE_SOURCE),
            AIOBS_SCORE_EVALUATOR: score.get(SCORE_EVALUATOR),
        }
        span_event = span.events.add()
        span_event.name = EVALUATION_RESULT_EVENT
        created = score.get(SCORE_CREATED_AT)
        span_event.time_unix_nano = (
            _unix_nanos(created) if isinstance(created, int | float) else span.end_time_unix_nano
        )
        span_event.attributes.extend(_attributes(attributes))


def _genai_attributes(event: Mapping[str, Any], operation: str) -> dict[str, Any]:
    """``gen_ai.*`` and ``aiobs.*`` attributes of a provider event (without content)."""
    response = event.get(LLM_RESPONSE)
    response = response if isinstance(response, Mapping) else {}
    usage = event.get(LLM_USAGE) or {}
    cost = event.get(LLM_COST) or {}
    stream = event.get(LLM_STREAM) or {}
    finish_reasons = response.get(RESPONSE_FINISH_REASONS)
    provider = genai_request.provider_name(event.get(EVENT_PROVIDER))
    ttft_ms = stream.get(STREAM_TTFT_MS)
    dimensions = response.get(RESPONSE_DIMENSIONS)
    attributes = {
        GEN_AI_OPERATION_NAME: operation,
        GEN_AI_PROVIDER_NAME: provider,
        GEN_AI_SYSTEM: provider,
        GEN_AI_REQUEST_MODEL: event.get(LLM_REQUEST_MODEL),
        **genai_request.request_attributes(event.get(EVENT_API), event.get(LLM_REQUEST)),
        GEN_AI_RESPONSE_MODEL: event.get(LLM_RESPONSE_MODEL) or response.get(RESPONSE_MODEL),
        GEN_AI_RESPONSE_ID: response.get(RESPONSE_ID),
        GEN_AI_RESPONSE_FINISH_REASONS: genai_messages.finish_reasons(response),
        AIOBS_RESPONSE_FINISH_REASONS: finish_reasons if isinstance(finish_reasons, list) else None,
        GEN_AI_USAGE_INPUT_TOKENS: usage.get(USAGE_INPUT_TOKENS),
        GEN_AI_USAGE_OUTPUT_TOKENS: usage.get(USAGE_OUTPUT_TOKENS),
        GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: usage.get(USAGE_CACHED_INPUT_TOKENS),
        GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: usage.get(USAGE_CACHE_WRITE_TOKENS),
        GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: usage.get(USAGE_REASONING_TOKENS),
        GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimensions if isinstance(dimensions, int) else None,
        AIOBS_API: event.get(EVENT_API),
        AIOBS_COST_TOTAL: cost.get(COST_TOTAL),
        AIOBS_STREAM_TTFT_MS: ttft_ms,
    }
    if stream:
        attributes[GEN_AI_REQUEST_STREAM] = True
    if isinstance(ttft_ms, (int, float)) and not isinstance(ttft_ms, bool):
        attributes[GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = ttft_ms / 1000
    return attributes


def _content_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """Prompt, system instructions and answer in the conventions' structure, as JSON strings."""
    provider, request = event.get(EVENT_PROVIDER), event.get(LLM_REQUEST)
    inputs = genai_messages.input_messages(provider, request)
    system = genai_messages.system_instructions(provider, request)
    outputs = genai_messages.output_messages(event.get(LLM_RESPONSE))
    return {
        GEN_AI_INPUT_MESSAGES: None if inputs is None else _json(inputs),
        GEN_AI_SYSTEM_INSTRUCTIONS: None if system is None else _json(system),
        GEN_AI_OUTPUT_MESSAGES: None if outputs is None else _json(outputs),
        GEN_AI_TOOL_DEFINITIONS: _json_or_none(genai_request.tool_definitions(request)),
    }


def _session_attributes(event: Mapping[str, Any], sessions: Mapping[str, Any]) -> dict[str, Any]:
    """The event's session as ``gen_ai.conversation.id`` / ``session.id`` plus its labels."""
    session_id = event.get(EVENT_SESSION_ID)
    if not session_id:
        return {}
    attributes: dict[str, Any] = {"gen_ai.conversation.id": session_id, "session.id": session_id}
    session = sessions.get(session_id) or {}
    if session.get(SESSION_NAME):
        attributes["aiobs.session.name"] = session[SESSION_NAME]
    for key, value in (session.get(SESSION_LABELS) or {}).items():
        attributes[f"aiobs.label.{key}"] = value
    return attributes


def _base_span(event: Mapping[str, Any], name: str) -> Span:
    """A span with name, ids and timestamps set from ``event``."""
    trace_pb2 = _proto()[1]
    span = trace_pb2.Span()
    span.name = str(name)
    span_id = _span_id_bytes(event)
    span.span_id = span_id
    span.trace_id = _hex_bytes(event.get(EVENT_TRACE_ID), 16) or bytes(8) + span_id
    parent = _hex_bytes(event.get(EVENT_PARENT_SPAN_ID), 8)
    if parent:
        span.parent_span_id = parent
    span.start_time_unix_nano = _unix_nanos(event.get(EVENT_STARTED_AT))
    span.end_time_unix_nano = max(_unix_nanos(event.get(EVENT_ENDED_AT)), span.start_time_unix_nano)
    typed: Span = span
    return typed


def _set_error(span: Span, message: str) -> None:
    """Mark ``span`` as failed with ``message``."""
    trace_pb2 = _proto()[1]
    span.status.code = trace_pb2.Status.StatusCode.STATUS_CODE_ERROR
    span.status.message = str(message)


def _span_id_bytes(event: Mapping[str, Any]) -> bytes:
    """The event's span id, or a stable one derived from its content when it has none."""
    span_id = _hex_bytes(event.get(EVENT_SPAN_ID), 8)
    if span_id:
        return span_id
    name = event.get(FUNCTION_NAME) or event.get(EVENT_API)
    seed = json.dumps([event.get(EVENT_STARTED_AT), name, event.get(EVENT_SESSION_ID)], default=str)
    return hashlib.sha256(seed.encode()).digest()[:8]


def _hex_bytes(value: Any, size: int) -> bytes:
    """A hex id as ``size`` bytes (left-padded), or ``b""`` when absent, invalid or all zero."""
    if not isinstance(value, str) or not value:
        return b""
    try:
        raw = bytes.fromhex(value.rjust(size * 2, "0"))
    except ValueError:
        return b""
    if len(raw) != size or not any(raw):
        return b""
    return raw


def _unix_nanos(seconds: Any) -> int:
    """Epoch seconds as Unix nanoseconds (microsecond precision: what a float holds here)."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return 0
    return round(seconds * 1_000_000) * 1000


def _json_or_none(value: Any) -> str | None:
    return None if value is None else _json(value)


def _json(value: Any) -> str:
    """``value`` as compact JSON (non-JSON values as strings)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def _attributes(values: Mapping[str, Any]) -> Iterator[KeyValue]:
    """``KeyValue`` protos for the entries that hold a value (``None`` is left out)."""
    common_pb2 = _proto()[2]
    for key, value in values.items():
        any_value = _any_value(value)
        if any_value is not None:
            yield common_pb2.KeyValue(key=key, value=any_value)


def _any_value(value: Any) -> AnyValue | None:
    """``value`` as an ``AnyValue``: scalars as such, lists as arrays, the rest as JSON text."""
    common_pb2 = _proto()[2]
    if value is None:
        return None
    result: AnyValue
    if isinstance(value, bool):
        result = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int) and -(2**63) <= value < 2**63:
        result = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        result = common_pb2.AnyValue(double_value=value)
    elif isinstance(value, str):
        result = common_pb2.AnyValue(string_value=value)
    elif isinstance(value, (list, tuple)):
        items = [item for item in (_any_value(v) for v in value) if item is not None]
        result = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
    else:
        result = common_pb2.AnyValue(string_value=_json(value))
    return result

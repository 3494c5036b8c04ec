"""Additions for one backend, on top of the standard attributes (never instead of them).

``profile="phoenix"`` (Arize Phoenix, OpenInference): the resource gets
``openinference.project.name`` (the ``service.name`` unless given in ``resource_attributes``), every
span ``openinference.span.kind`` (``LLM`` for LLM calls, ``EMBEDDING`` for embeddings, ``CHAIN``
for functions, spans and events), and, with ``capture_content=True``, function spans also
``input.value`` / ``output.value`` (the same JSON as ``aiobs.function.arguments`` / ``.result``,
with ``application/json`` mime types). Phoenix reads the ``gen_ai.*`` attributes of LLM spans
itself, so those are not repeated.

``profile="langfuse"``: every span gets ``langfuse.observation.type`` (``generation`` for LLM
calls, ``embedding`` for embeddings, ``event`` for point events, ``span`` otherwise),
``langfuse.session.id`` (the session id) and each session label as
``langfuse.trace.metadata.<key>`` (a label ``user_id`` also as ``langfuse.user.id``); root spans
(no parent) get the session name as ``langfuse.trace.name``; a failed span gets
``langfuse.observation.level=ERROR`` and its error as ``langfuse.observation.status_message``; an
LLM call its cost as ``gen_ai.usage.cost``. With ``capture_content=True``, a span's input and
output (a function's arguments and result, a call's input and output messages) also go out as
``langfuse.observation.input`` / ``.output``, and on root spans as ``langfuse.trace.input`` /
``.output``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._format import SESSION_ID, SESSION_LABELS, SESSION_NAME
from .genai_attributes import (
    AIOBS_FUNCTION_ARGUMENTS,
    AIOBS_FUNCTION_RESULT,
    INPUT_MIME_TYPE,
    INPUT_VALUE,
    LANGFUSE_OBSERVATION_INPUT,
    LANGFUSE_OBSERVATION_LEVEL,
    LANGFUSE_OBSERVATION_OUTPUT,
    LANGFUSE_OBSERVATION_STATUS_MESSAGE,
    LANGFUSE_OBSERVATION_TYPE,
    LANGFUSE_SESSION_ID,
    LANGFUSE_TRACE_INPUT,
    LANGFUSE_TRACE_METADATA_PREFIX,
    LANGFUSE_TRACE_NAME,
    LANGFUSE_TRACE_OUTPUT,
    LANGFUSE_USAGE_COST,
    LANGFUSE_USER_ID,
    OPENINFERENCE_PROJECT_NAME,
    OPENINFERENCE_SPAN_KIND,
    OPERATION_EMBEDDINGS,
    OUTPUT_MIME_TYPE,
    OUTPUT_VALUE,
    SERVICE_NAME,
)

PHOENIX = "phoenix"
LANGFUSE = "langfuse"
PROFILES = (PHOENIX, LANGFUSE)
USER_ID_LABEL = "user_id"
JSON_MIME_TYPE = "application/json"


def check(profile: str | None) -> None:
    """Raise ``ValueError`` for a profile aiobs does not know."""
    if profile is not None and profile not in PROFILES:
        known = " or ".join(repr(name) for name in PROFILES)
        raise ValueError(f"profile must be None or {known}, not {profile!r}")


def resource_attributes(profile: str | None, resource: Mapping[str, Any]) -> dict[str, Any]:
    """What ``profile`` adds to the resource (``resource`` is the standard one, already built)."""
    if profile == PHOENIX and OPENINFERENCE_PROJECT_NAME not in resource:
        return {OPENINFERENCE_PROJECT_NAME: resource.get(SERVICE_NAME)}
    return {}


def llm_attributes(profile: str | None, operation: str) -> dict[str, Any]:
    """What ``profile`` adds to an LLM call's span."""
    if profile != PHOENIX:
        return {}
    return {OPENINFERENCE_SPAN_KIND: "EMBEDDING" if operation == OPERATION_EMBEDDINGS else "LLM"}


def function_attributes(profile: str | None, content: Mapping[str, Any]) -> dict[str, Any]:
    """What ``profile`` adds to a function's span; ``content`` is its JSON content, if captured."""
    if profile != PHOENIX:
        return {}
    attributes: dict[str, Any] = {OPENINFERENCE_SPAN_KIND: "CHAIN"}
    arguments, result = content.get(AIOBS_FUNCTION_ARGUMENTS), content.get(AIOBS_FUNCTION_RESULT)
    if arguments is not None:
        attributes.update({INPUT_VALUE: arguments, INPUT_MIME_TYPE: JSON_MIME_TYPE})
    if result is not None:
        attributes.update({OUTPUT_VALUE: result, OUTPUT_MIME_TYPE: JSON_MIME_TYPE})
    return attributes


def langfuse_attributes(
    profile: str | None,
    *,
    observation: str,
    session: Mapping[str, Any] | None,
    root: bool,
    content: tuple[str | None, str | None] | None = None,
    error: str | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    """What ``profile="langfuse"`` adds to a span (nothing for another profile).

    Args:
        profile: the exporter's profile.
        observation: Langfuse's observation type (``generation``, ``embedding``, ``span``,
            ``event``).
        session: the span's session from the document (id, name, labels), if any.
        root: whether the span has no parent (it names the trace).
        content: the span's input and output as JSON text, when content is captured.
        error: the error text of a failed span.
        cost: an LLM call's total cost.
    """
    if profile != LANGFUSE:
        return {}
    attributes: dict[str, Any] = {LANGFUSE_OBSERVATION_TYPE: observation}
    session = session or {}
    if session.get(SESSION_ID):
        attributes[LANGFUSE_SESSION_ID] = session[SESSION_ID]
    if root and session.get(SESSION_NAME):
        attributes[LANGFUSE_TRACE_NAME] = session[SESSION_NAME]
    for key, value in (session.get(SESSION_LABELS) or {}).items():
        attributes[LANGFUSE_TRACE_METADATA_PREFIX + str(key)] = value
        if key == USER_ID_LABEL:
            attributes[LANGFUSE_USER_ID] = value
    if content is not None:
        inputs, outputs = content
        attributes[LANGFUSE_OBSERVATION_INPUT] = inputs
        attributes[LANGFUSE_OBSERVATION_OUTPUT] = outputs
        if root:
            attributes[LANGFUSE_TRACE_INPUT] = inputs
            attributes[LANGFUSE_TRACE_OUTPUT] = outputs
    if error is not None:
        attributes[LANGFUSE_OBSERVATION_LEVEL] = "ERROR"
        attributes[LANGFUSE_OBSERVATION_STATUS_MESSAGE] = error
    if cost is not None:
        attributes[LANGFUSE_USAGE_COST] = cost
    return attributes

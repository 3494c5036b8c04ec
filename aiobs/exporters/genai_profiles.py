"""Additions for one backend, on top of the standard attributes (never instead of them).

``profile="phoenix"`` (Arize Phoenix, OpenInference): the resource gets
``openinference.project.name`` (the ``service.name`` unless given in ``resource_attributes``), every
span ``openinference.span.kind`` (``LLM`` for LLM calls, ``EMBEDDING`` for embeddings, ``CHAIN``
for functions, spans and events), and, with ``capture_content=True``, function spans also
``input.value`` / ``output.value`` (the same JSON as ``aiobs.function.arguments`` / ``.result``,
with ``application/json`` mime types). Phoenix reads the ``gen_ai.*`` attributes of LLM spans
itself, so those are not repeated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .genai_attributes import (
    AIOBS_FUNCTION_ARGUMENTS,
    AIOBS_FUNCTION_RESULT,
    INPUT_MIME_TYPE,
    INPUT_VALUE,
    OPENINFERENCE_PROJECT_NAME,
    OPENINFERENCE_SPAN_KIND,
    OPERATION_EMBEDDINGS,
    OUTPUT_MIME_TYPE,
    OUTPUT_VALUE,
    SERVICE_NAME,
)

PHOENIX = "phoenix"
PROFILES = (PHOENIX,)
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

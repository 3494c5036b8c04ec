"""An LLM call's standard names and request parameters, as the GenAI conventions spell them.

aiobs names operations and providers as it records them (``responses``, ``gemini``); the
conventions have a fixed list (``chat``, ``generate_content``, ``embeddings``; ``openai``,
``anthropic``, ``gcp.gemini``). Request parameters are read from the SDK call's arguments as
recorded: OpenAI and Anthropic take them as keyword arguments, Gemini inside ``config`` (in
snake or camel case). Pure functions of plain values::

    from aiobs.exporters.genai_request import request_attributes

    request_attributes("messages.create", {"max_tokens": 100, "temperature": 0})
    # {"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0}

aiobs does not record whether a Gemini call went to the Gemini API or to Vertex AI, so every
Gemini call is ``gcp.gemini`` (the conventions' ``gcp.vertex_ai`` is never sent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .genai_attributes import (
    GEN_AI_REQUEST_CHOICE_COUNT,
    GEN_AI_REQUEST_ENCODING_FORMATS,
    GEN_AI_REQUEST_FREQUENCY_PENALTY,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_PRESENCE_PENALTY,
    GEN_AI_REQUEST_SEED,
    GEN_AI_REQUEST_STOP_SEQUENCES,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_REQUEST_TOP_K,
    GEN_AI_REQUEST_TOP_P,
    OPERATION_CHAT,
    PROVIDER_GCP_GEMINI,
)

OPERATIONS = {"responses": OPERATION_CHAT}
"""aiobs operations whose conventional name differs (the Responses API is a chat operation)."""
PROVIDERS = {"gemini": PROVIDER_GCP_GEMINI}
"""aiobs providers whose conventional name differs."""

_NUMBERS = (
    (GEN_AI_REQUEST_TEMPERATURE, ("temperature",)),
    (GEN_AI_REQUEST_TOP_P, ("top_p", "topP")),
    (GEN_AI_REQUEST_TOP_K, ("top_k", "topK")),
    (
        GEN_AI_REQUEST_MAX_TOKENS,
        ("max_tokens", "max_completion_tokens", "max_output_tokens", "maxOutputTokens"),
    ),
    (GEN_AI_REQUEST_SEED, ("seed",)),
    (GEN_AI_REQUEST_FREQUENCY_PENALTY, ("frequency_penalty", "frequencyPenalty")),
    (GEN_AI_REQUEST_PRESENCE_PENALTY, ("presence_penalty", "presencePenalty")),
    (GEN_AI_REQUEST_CHOICE_COUNT, ("n", "candidate_count", "candidateCount")),
)
_STOPS = ("stop", "stop_sequences", "stopSequences")


def operation_name(operation: Any) -> str:
    """The conventions' ``gen_ai.operation.name`` for aiobs's ``operation``."""
    name = str(operation)
    return OPERATIONS.get(name, name)


def provider_name(provider: Any) -> Any:
    """The conventions' ``gen_ai.provider.name`` for aiobs's ``provider``."""
    return PROVIDERS.get(provider, provider) if isinstance(provider, str) else provider


def parameters(request: Any) -> Mapping[str, Any]:
    """Where the call's parameters are: Gemini's ``config``, else the arguments themselves."""
    if not isinstance(request, Mapping):
        return {}
    config = request.get("config")
    return config if isinstance(config, Mapping) else request


def request_attributes(api: Any, request: Any) -> dict[str, Any]:
    """``gen_ai.request.*`` (model aside) of a call to ``api`` with ``request``."""
    values = parameters(request)
    attributes: dict[str, Any] = {}
    for name, keys in _NUMBERS:
        for key in keys:
            value = values.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[name] = value
                break
    for key in _STOPS:
        stops = values.get(key)
        if isinstance(stops, str):
            stops = [stops]
        if isinstance(stops, list) and stops and all(isinstance(s, str) for s in stops):
            attributes[GEN_AI_REQUEST_STOP_SEQUENCES] = stops
            break
    streamed = isinstance(request, Mapping) and request.get("stream") is True
    if streamed or (isinstance(api, str) and api.endswith(("_stream", ".stream"))):
        attributes[GEN_AI_REQUEST_STREAM] = True
    encoding = values.get("encoding_format")
    if isinstance(encoding, str):
        attributes[GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    return attributes


def tool_definitions(request: Any) -> Any:
    """The tools offered to the model (content: sent only with ``capture_content``)."""
    tools = parameters(request).get("tools")
    if tools is None and isinstance(request, Mapping):
        tools = request.get("tools")
    return tools or None

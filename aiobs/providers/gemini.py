"""Google Gemini integration: records the google-genai SDK's generation and embedding calls.

Wrapped, on the SDK's ``Models`` and ``AsyncModels`` classes (``client.models`` and
``client.aio.models``):

- ``generate_content``: api ``models.generate_content``;
- ``generate_content_stream``: api ``models.generate_content_stream``; the program gets a generator
  (an async iterator from ``client.aio``) as before, whose chunks are recorded as they pass;
- ``embed_content``: api ``models.embed_content``, operation ``embeddings``.

Chats (``client.chats.create(...).send_message(...)`` and ``send_message_stream``, sync and async)
call these methods once per turn, so each turn is one event. Automatic function calling (Python
functions given as tools) differs by entry point: ``models.generate_content`` runs the whole
exchange inside one call, recorded as one event with the final response's usage, while a chat
sends one ``generate_content`` request per round trip, each recorded with its own usage.

Gemini reports its thinking tokens apart from the candidates' tokens; :func:`normalize_usage` adds
them to ``output_tokens`` (see :mod:`aiobs.usage`). Streamed usage is cumulative: the last chunk's
counts are the call's.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, TypeVar

from ..usage import Usage, add, count
from .base import Patch, Provider
from .call import LLMCall, start_call
from .fakes import fallback_text, made_by, stand_in_fields
from .streams import CLOSED, Outcome, finish_stream, record_async_iterator, record_iterator
from .wrappers import RecordedMethod, Start

PROVIDER = "gemini"

_SYNC_MODELS = "google.genai.models:Models"
_ASYNC_MODELS = "google.genai.models:AsyncModels"
_TRANSPORT_CONFIG = "http_options"
"""The one config field that only tells the SDK how to send the request."""


class GeminiProvider(Provider):
    """The google-genai SDK: generation (plain and streamed) and embeddings, sync and async."""

    name = PROVIDER
    module = "google.genai"
    sdk_modules = ("google.genai", "httpx", "httpx2", "aiohttp", "anyio", "google.auth")
    distribution = "google-genai"
    min_version = "1.0.0"
    extra = "gemini"

    def patches(self) -> list[Patch]:
        """``generate_content``, ``generate_content_stream`` and ``embed_content``, both APIs."""
        return [
            Patch(_SYNC_MODELS, "generate_content", GENERATE.wrap_sync),
            Patch(_SYNC_MODELS, "generate_content_stream", GENERATE_STREAM.wrap_sync),
            Patch(_SYNC_MODELS, "embed_content", EMBED.wrap_sync),
            Patch(_ASYNC_MODELS, "generate_content", GENERATE.wrap_async),
            Patch(_ASYNC_MODELS, "generate_content_stream", GENERATE_STREAM.wrap_async),
            Patch(_ASYNC_MODELS, "embed_content", EMBED.wrap_async),
        ]


# -- requests --------------------------------------------------------------------------------------


def request_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    """What the program asked for: model, contents and config (its transport options left out)."""
    request: dict[str, Any] = {"model": kwargs.get("model"), "contents": kwargs.get("contents")}
    config = kwargs.get("config")
    if config is not None:
        request["config"] = _config_without_transport(config)
    return request


def _config_without_transport(config: Any) -> Any:
    """The config's fields that are set, minus ``http_options`` (headers, timeouts, URLs)."""
    if isinstance(config, dict):
        if _TRANSPORT_CONFIG not in config:
            return config
        return {key: value for key, value in config.items() if key != _TRANSPORT_CONFIG}
    fields = getattr(config, "__dict__", None)
    if not isinstance(fields, dict):
        return config
    return {
        key: value
        for key, value in fields.items()
        if value is not None and key != _TRANSPORT_CONFIG
    }


def _starter(api: str, operation: str) -> Start:
    """How a call to ``api`` starts: from the keyword arguments (the SDK takes no others)."""

    def start(_args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
        # aiobs_frames: this function and the wrapper that called it
        return start_call(PROVIDER, api, request_of(kwargs), kwargs.get("model"), operation, 2)

    return start


# -- responses -------------------------------------------------------------------------------------


def normalize_usage(metadata: Any) -> Usage | None:
    """Gemini's ``usage_metadata`` as :class:`Usage`; ``None`` when it reports no count.

    ``input_tokens`` is the prompt plus the tool results fed back to the model
    (``tool_use_prompt_token_count``); ``output_tokens`` the candidates plus the thoughts.
    """
    if metadata is None:
        return None
    prompt = count(getattr(metadata, "prompt_token_count", None))
    tool_prompt = count(getattr(metadata, "tool_use_prompt_token_count", None))
    candidates = count(getattr(metadata, "candidates_token_count", None))
    thoughts = count(getattr(metadata, "thoughts_token_count", None))
    total = count(getattr(metadata, "total_token_count", None))
    if prompt is None and tool_prompt is None and candidates is None and total is None:
        return None
    return Usage(
        input_tokens=add(prompt, tool_prompt),
        output_tokens=add(candidates, thoughts),
        total_tokens=total,
        cached_input_tokens=count(getattr(metadata, "cached_content_token_count", None)),
        reasoning_tokens=thoughts,
    )


def usage_dict(metadata: Any) -> dict[str, Any] | None:
    """The provider's own usage object as a dict of the fields it reported."""
    if metadata is None:
        return None
    if isinstance(metadata, dict):  # a fake's (see aiobs.providers.fakes)
        return {key: value for key, value in dict.items(metadata) if value is not None}
    fields = getattr(metadata, "__dict__", None)
    if not isinstance(fields, dict):
        return None
    return {key: value for key, value in fields.items() if value is not None}


def _label(value: Any) -> str:
    """An SDK enum member (``FinishReason.STOP``) as its wire name (``"STOP"``)."""
    return str(getattr(value, "value", value))


class _Candidates:
    """Text, function calls and finish reasons gathered from candidates, in order."""

    __slots__ = ("call_indexes", "calls", "reasons", "texts")

    def __init__(self) -> None:
        self.texts: dict[int, list[str]] = {}
        self.calls: list[dict[str, Any]] = []
        self.call_indexes: list[int] = []
        self.reasons: dict[int, str] = {}

    def take(self, candidates: Iterable[Any] | None) -> None:
        """Gather one response's (or one stream chunk's) candidates."""
        for position, candidate in enumerate(candidates or ()):
            index = candidate.index if candidate.index is not None else position
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                self._take_part(index, part)
            if candidate.finish_reason is not None:
                self.reasons[index] = _label(candidate.finish_reason)

    def _take_part(self, index: int, part: Any) -> None:
        if part.text is not None and not part.thought:
            self.texts.setdefault(index, []).append(part.text)
        call = part.function_call
        if call is not None:
            self.calls.append({"id": call.id, "name": call.name, "arguments": call.args})
            self.call_indexes.append(index)

    def fill(self, response: dict[str, Any]) -> None:
        """Put ``text`` (one line per candidate), ``tool_calls`` and ``finish_reasons``."""
        texts = self.texts
        response["text"] = (
            "\n".join("".join(texts[index]) for index in sorted(texts)) if texts else None
        )
        if self.calls:
            response["tool_calls"] = self.calls
        if self.reasons:
            response["finish_reasons"] = [self.reasons[index] for index in sorted(self.reasons)]
        indexes = sorted({*texts, *self.reasons, *self.call_indexes})
        if len(indexes) > 1:  # several candidates asked for: each one apart too
            response["choices"] = [
                {
                    "text": "".join(texts[index]) if index in texts else None,
                    "tool_calls": [
                        call
                        for call, at in zip(self.calls, self.call_indexes, strict=True)
                        if at == index
                    ],
                    "finish_reason": self.reasons.get(index),
                }
                for index in indexes
            ]


def _generation_outcome(
    batches: Iterable[Iterable[Any] | None], last: Any, metadata: Any
) -> Outcome:
    """The event's response, usage and model from the candidates of one response or stream."""
    gathered = _Candidates()
    for candidates in batches:
        gathered.take(candidates)
    model_version = getattr(last, "model_version", None)
    response: dict[str, Any] = {
        "id": getattr(last, "response_id", None),
        "model": model_version,
    }
    gathered.fill(response)
    response["usage"] = usage_dict(metadata)
    feedback = getattr(last, "prompt_feedback", None)
    block_reason = getattr(feedback, "block_reason", None)
    if block_reason is not None:
        response["block_reason"] = _label(block_reason)
    return Outcome(
        response=response,
        usage=normalize_usage(metadata),
        response_model=model_version if isinstance(model_version, str) else None,
    )


def generation_outcome(response: Any) -> Outcome:
    """What a ``GenerateContentResponse`` records."""
    return _generation_outcome((response.candidates,), response, response.usage_metadata)


class StreamAccumulator:
    """Keeps what the event needs of each chunk; the response is assembled when the stream ends.

    Per chunk it keeps a reference to the candidates and the latest usage (Gemini's streamed
    usage is cumulative: each chunk carries the totals so far, so the last one wins).
    """

    __slots__ = ("batches", "last", "metadata")

    def __init__(self) -> None:
        self.batches: list[Any] = []
        self.last: Any = None
        self.metadata: Any = None

    def add(self, chunk: Any) -> None:
        """Take one chunk, as the program receives it."""
        self.batches.append(chunk.candidates)
        self.last = chunk
        metadata = chunk.usage_metadata
        if metadata is not None:
            self.metadata = metadata

    def outcome(self) -> Outcome:
        """The response, usage and model assembled from the chunks so far."""
        if self.last is None:
            return Outcome()
        return _generation_outcome(self.batches, self.last, self.metadata)


def embedding_outcome(model: Any, response: Any) -> Outcome:
    """What an ``EmbedContentResponse`` records: count and size of the vectors, usage if any."""
    embeddings = response.embeddings or []
    first = embeddings[0].values if embeddings else None
    metadata = getattr(response, "usage_metadata", None)
    usage = _embedding_usage(metadata, embeddings)
    return Outcome(
        response={
            "model": model,
            "count": len(embeddings),
            "dimensions": len(first) if first is not None else None,
            "usage": usage_dict(metadata),
        },
        usage=usage,
    )


def _embedding_usage(metadata: Any, embeddings: list[Any]) -> Usage | None:
    """Token counts from the usage metadata, else from each vector's statistics (Vertex AI).

    The Gemini Developer API reports no count for embeddings: then ``None``.
    """
    if metadata is not None:
        prompt = count(getattr(metadata, "prompt_token_count", None))
        total = count(getattr(metadata, "total_token_count", None))
        if prompt is not None or total is not None:
            return Usage(input_tokens=prompt, total_tokens=total)
    counts = [
        count(getattr(getattr(item, "statistics", None), "token_count", None))
        for item in embeddings
    ]
    if not counts or any(tokens is None for tokens in counts):
        return None
    return Usage(input_tokens=sum(tokens for tokens in counts if tokens is not None))


# -- recording -------------------------------------------------------------------------------------

_Stream = TypeVar("_Stream")


def _finish(call: LLMCall, outcome: Outcome) -> None:
    call.finish(
        response=outcome.response, usage=outcome.usage, response_model=outcome.response_model
    )


def _record_generation(
    call: LLMCall, response: Any, _kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    if made_by(response, _SDK_PACKAGE):
        _finish(call, generation_outcome(response))
    elif (fields := stand_in_fields(response)) is not None:  # a test's fake returned it
        outcome = generation_outcome(fields)
        fallback_text(fields, outcome.response)
        _finish(call, outcome)
    else:
        call.finish()
    return response


def _record_embedding(
    call: LLMCall, response: Any, kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    if made_by(response, _SDK_PACKAGE):
        _finish(call, embedding_outcome(kwargs.get("model"), response))
    elif (fields := stand_in_fields(response)) is not None:  # a test's fake returned it
        _finish(call, embedding_outcome(kwargs.get("model"), fields))
    else:
        call.finish()
    return response


_SDK_PACKAGE = "google.genai"


def _record_stream(
    call: LLMCall, chunks: Any, _kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    """The program gets a recording iterator (async from ``client.aio``) over the SDK's chunks."""
    if hasattr(chunks, "__aiter__"):
        recorded: Any = record_async_iterator(call, chunks, StreamAccumulator())
    else:
        recorded = record_iterator(call, chunks, StreamAccumulator())
    return _closed_when_dropped(recorded, call)


def _closed_when_dropped(stream: _Stream, call: LLMCall) -> _Stream:
    """Complete the call as closed if the program drops ``stream`` before reading any chunk.

    The SDK's streams are lazy generators, and a generator that never started runs no code when
    it is closed or collected: only a finalizer sees it go. A started stream completes itself
    (exhausted, failed, closed or collected), with what it received.
    """
    weakref.finalize(stream, _close_unread, call)
    return stream


def _close_unread(call: LLMCall) -> None:
    if call.chunks == 0:
        finish_stream(call, StreamAccumulator(), CLOSED)


GENERATE = RecordedMethod(
    PROVIDER,
    start=_starter("models.generate_content", "generate_content"),
    record=_record_generation,
)
GENERATE_STREAM = RecordedMethod(
    PROVIDER,
    start=_starter("models.generate_content_stream", "generate_content"),
    record=_record_stream,
)
"""``generate_content_stream``: the program reads the chunks through a recording iterator."""
EMBED = RecordedMethod(
    PROVIDER, start=_starter("models.embed_content", "embeddings"), record=_record_embedding
)

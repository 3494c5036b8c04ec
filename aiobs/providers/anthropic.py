"""Recording the Anthropic Messages API, as called through the ``anthropic`` SDK (0.40 and later).

Each of these calls becomes one event (provider ``anthropic``, operation ``chat``), sync and
async clients alike:

- ``client.messages.create(...)`` (api ``messages.create``): a ``Message``, or with
  ``stream=True`` the SDK's own ``Stream`` / ``AsyncStream`` of raw events, whose inner iterator
  is replaced by a recording one (its type, ``close()``, context manager and ``.response`` stay);
- ``client.messages.stream(...)`` (api ``messages.stream``): the SDK's stream manager, unchanged
  for the program; the request it makes when entered, and the events its ``MessageStream``
  reads, make up the one event (the manager may be created before it is entered: the event
  starts, and is parented, where ``stream()`` was called);
- ``client.messages.parse(...)`` (api ``messages.parse``), where the SDK has it.

The response keeps ``id``, ``model``, ``text`` (text blocks joined; thinking is left out),
``tool_calls`` (``tool_use`` blocks: ``{"id", "name", "arguments"}`` with the input dict),
``finish_reasons`` (``[stop_reason]``) and the SDK's ``usage`` as a dict. Anthropic counts cache
reads and writes apart from ``input_tokens``; :func:`normalized_usage` adds them back, as
:mod:`aiobs.usage` defines. In a stream, ``message_start`` carries the prompt's usage and each
``message_delta`` running totals: the latest value of each count wins, none is summed.

A stream's event completes when the stream is read to the end, fails, or is closed early
(``close()``, leaving its ``with`` block, or being garbage collected).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..usage import Usage, add, count
from .base import Patch, Provider
from .call import LLMCall, start_call
from .fakes import made_by, stand_in_fields
from .streams import CLOSED, Outcome, finish_stream, record_async_iterator, record_iterator
from .wrappers import Around, RecordedMethod, Start

PROVIDER = "anthropic"

TRANSPORT_ARGUMENTS = frozenset({"extra_headers", "extra_query", "timeout"})
"""Keyword arguments that shape the HTTP request, not the model's work: left out of ``request``."""

_OMITTED = frozenset({"NotGiven", "Omit"})  # the SDK's "argument not given" sentinels

_open_streams: weakref.WeakKeyDictionary[Any, tuple[LLMCall, MessageAccumulator]] = (
    weakref.WeakKeyDictionary()
)
"""Streams being recorded -> their call: ``close()`` completes it, however far it was read."""

_entering: weakref.WeakKeyDictionary[Any, LLMCall] = weakref.WeakKeyDictionary()
"""Stream managers from ``messages.stream()`` -> their call, until the manager is entered."""


class AnthropicProvider(Provider):
    """The ``anthropic`` SDK integration: Messages API calls, plain and streamed."""

    name = "anthropic"
    module = "anthropic"
    sdk_modules = ("anthropic", "httpx", "httpx2", "httpcore", "anyio")
    distribution = "anthropic"
    min_version = "0.40.0"
    extra = "anthropic"

    def patches(self) -> list[Patch]:
        """``create``, ``parse`` and ``stream`` of the messages resources, and the streams."""
        _Sdk.load()
        resources = "anthropic.resources.messages"
        helpers = "anthropic.lib.streaming"
        return [
            Patch(f"{resources}:Messages", "create", CREATE.wrap_sync),
            Patch(f"{resources}:AsyncMessages", "create", CREATE.wrap_async),
            Patch(f"{resources}:Messages", "parse", PARSE.wrap_sync, optional=True),
            Patch(f"{resources}:AsyncMessages", "parse", PARSE.wrap_async, optional=True),
            # stream() is synchronous on both resources: the managers make the request
            Patch(f"{resources}:Messages", "stream", STREAM_HELPER.wrap_sync),
            Patch(f"{resources}:AsyncMessages", "stream", STREAM_HELPER.wrap_sync),
            Patch(f"{helpers}:MessageStreamManager", "__enter__", MANAGER_ENTER.wrap_sync),
            Patch(f"{helpers}:AsyncMessageStreamManager", "__aenter__", MANAGER_ENTER.wrap_async),
            Patch("anthropic:Stream", "close", CLOSE.wrap_sync),
            Patch("anthropic:AsyncStream", "close", CLOSE.wrap_async),
            Patch(f"{helpers}:MessageStream", "close", CLOSE.wrap_sync),
            Patch(f"{helpers}:AsyncMessageStream", "close", CLOSE.wrap_async),
        ]


class _Sdk:
    """The SDK classes that results are told apart with, looked up when the provider installs."""

    messages: ClassVar[tuple[type, ...]] = ()
    streams: ClassVar[tuple[type, ...]] = ()
    async_streams: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def load(cls) -> None:
        """Import the installed SDK's ``Message``, ``Stream`` and ``AsyncStream``."""
        import anthropic
        from anthropic.types import Message

        cls.messages = (Message,)
        cls.streams = (anthropic.Stream, anthropic.AsyncStream)
        cls.async_streams = (anthropic.AsyncStream,)


# -- requests and responses ------------------------------------------------------------------------


def request_of(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """What the user asked for: every argument given, but the transport-only ones."""
    return {
        name: value
        for name, value in kwargs.items()
        if name not in TRANSPORT_ARGUMENTS and type(value).__name__ not in _OMITTED
    }


def normalized_usage(usage: Mapping[str, Any]) -> Usage:
    """Anthropic usage (as a dict) in aiobs's terms: cache reads and writes added to the prompt."""
    get = usage.get
    cache_read = count(get("cache_read_input_tokens"))
    cache_write = count(get("cache_creation_input_tokens"))
    details = get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    return Usage(
        input_tokens=add(add(count(get("input_tokens")), cache_read), cache_write),
        output_tokens=count(get("output_tokens")),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=count(thinking),
    )


def as_dict(model: Any) -> dict[str, Any]:
    """An SDK object as the API sent it (the fields it did not send left out)."""
    if isinstance(model, dict):
        return model
    result: dict[str, Any] = model.model_dump(exclude_unset=True)
    return result


def message_response(
    *,
    message_id: Any,
    model: Any,
    text: str,
    usage: dict[str, Any] | None,
    tool_calls: list[dict[str, Any]],
    stop_reason: Any,
) -> dict[str, Any]:
    """The event's ``response`` field."""
    response: dict[str, Any] = {"id": message_id, "model": model, "text": text, "usage": usage}
    if tool_calls:
        response["tool_calls"] = tool_calls
    if stop_reason:
        response["finish_reasons"] = [stop_reason]
    return response


def message_outcome(message: Any) -> Outcome:
    """Response, usage and model of a complete ``Message``."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    content = message.content
    if isinstance(content, str):  # a fake's shorthand for one text block
        texts.append(content)
        content = ()
    for block in content or ():
        kind = block.type
        if kind == "text" or (kind is None and isinstance(block.text, str)):  # a fake's block
            texts.append(block.text)
        elif kind == "tool_use":
            tool_calls.append({"id": block.id, "name": block.name, "arguments": block.input})
    usage = None if message.usage is None else as_dict(message.usage)
    response = message_response(
        message_id=message.id,
        model=message.model,
        text="".join(texts),
        usage=usage,
        tool_calls=tool_calls,
        stop_reason=message.stop_reason,
    )
    return Outcome(response, None if usage is None else normalized_usage(usage), message.model)


@dataclass(slots=True)
class _ToolUse:
    """A ``tool_use`` block being streamed: its input arrives as pieces of JSON."""

    id: Any
    name: Any
    start_input: Any
    pieces: list[str] = field(default_factory=list)

    def as_call(self) -> dict[str, Any]:
        """``{"id", "name", "arguments"}``; arguments cut off mid-stream stay the JSON text."""
        if not self.pieces:
            return {"id": self.id, "name": self.name, "arguments": self.start_input}
        text = "".join(self.pieces)
        try:
            arguments = json.loads(text) if text else self.start_input
        except ValueError:
            arguments = text
        return {"id": self.id, "name": self.name, "arguments": arguments}


class MessageAccumulator:
    """Assembles a Messages stream's raw events into the event's response and usage."""

    __slots__ = ("_delta_usage", "_message", "_stop_reason", "_texts", "_tools")

    def __init__(self) -> None:
        self._texts: list[str] = []
        self._tools: dict[int, _ToolUse] = {}
        self._message: Any = None
        self._delta_usage: Any = None
        self._stop_reason: Any = None

    def add(self, chunk: Any) -> None:
        """Take one raw stream event (``message_start``, ``content_block_delta``...)."""
        kind = chunk.type
        if kind == "content_block_delta":
            delta = chunk.delta
            if delta.type == "text_delta":
                self._texts.append(delta.text)
            elif delta.type == "input_json_delta":
                tool = self._tools.get(chunk.index)
                if tool is not None:
                    tool.pieces.append(delta.partial_json)
        elif kind == "content_block_start":
            block = chunk.content_block
            if block.type == "tool_use":
                self._tools[chunk.index] = _ToolUse(block.id, block.name, block.input)
        elif kind == "message_start":
            self._message = chunk.message
        elif kind == "message_delta":
            self._stop_reason = chunk.delta.stop_reason
            self._delta_usage = chunk.usage

    def outcome(self) -> Outcome:
        """What the events so far amount to."""
        message = self._message
        usage = self._usage()
        model = None if message is None else message.model
        response = message_response(
            message_id=None if message is None else message.id,
            model=model,
            text="".join(self._texts),
            usage=usage,
            tool_calls=[tool.as_call() for _, tool in sorted(self._tools.items())],
            stop_reason=self._stop_reason,
        )
        return Outcome(response, None if usage is None else normalized_usage(usage), model)

    def _usage(self) -> dict[str, Any] | None:
        """``message_start``'s usage updated with the latest ``message_delta`` totals."""
        start = None if self._message is None else self._message.usage
        if start is None and self._delta_usage is None:
            return None
        usage = {} if start is None else {**as_dict(start)}
        if self._delta_usage is not None:
            latest = as_dict(self._delta_usage)
            usage.update((name, value) for name, value in latest.items() if value is not None)
        return usage


# -- recording -------------------------------------------------------------------------------------


def _starter(api: str) -> Start:
    """How a call to ``api`` starts: from its keyword arguments (the SDK takes no others)."""

    def start(_args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
        # aiobs_frames: this function and the wrapper that called it
        return start_call(PROVIDER, api, request_of(kwargs), kwargs.get("model"), "chat", 2)

    return start


def record_result(
    call: LLMCall, result: Any, _kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    """Finish ``call`` from a ``Message``, or start recording the stream it returned.

    Anything else (the raw HTTP response of ``with_raw_response``) finishes the call with its
    request, status and timing only.
    """
    if isinstance(result, _Sdk.messages):
        outcome = message_outcome(result)
        call.finish(
            response=outcome.response, usage=outcome.usage, response_model=outcome.response_model
        )
    elif isinstance(result, _Sdk.streams):
        record_stream(call, result)
    elif not made_by(result, "anthropic") and (fields := stand_in_fields(result)) is not None:
        outcome = message_outcome(fields)  # a test's fake returned it: read by field names
        call.finish(
            response=outcome.response, usage=outcome.usage, response_model=outcome.response_model
        )
    else:
        call.finish()
    return result


def record_stream(call: LLMCall, stream: Any, *also: Any) -> None:
    """Make the SDK ``Stream`` (or ``AsyncStream``) feed ``call`` as it is read.

    ``also``: other objects (the ``MessageStream`` over it) whose ``close()`` completes the call.
    """
    accumulator = MessageAccumulator()
    chunks = stream._iterator
    if isinstance(stream, _Sdk.async_streams):
        chunks = record_async_iterator(call, chunks, accumulator)
    else:
        chunks = record_iterator(call, chunks, accumulator)
    stream._iterator = chunks
    for owner in (stream, *also):
        _open_streams[owner] = (call, accumulator)


def close_recording(stream: Any, _token: None = None) -> None:
    """A recorded stream was closed: complete its call with what it received (if not done)."""
    recording = _open_streams.pop(stream, None)
    if recording is not None:
        finish_stream(recording[0], recording[1], CLOSED)


def _manager_made(
    call: LLMCall, manager: Any, _kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    """``messages.stream()`` made its manager: the call waits for the manager to be entered."""
    _entering[manager] = call
    return manager


def _start_entering(args: tuple[Any, ...], _kwargs: dict[str, Any]) -> LLMCall | None:
    """The call that ``messages.stream()`` opened for this manager, if it did."""
    return _entering.pop(args[0], None)


def _message_stream_entered(
    call: LLMCall, message_stream: Any, _kwargs: dict[str, Any], _sent: dict[str, Any]
) -> Any:
    """The manager made its request: its ``MessageStream``'s events are recorded as read."""
    record_stream(call, message_stream._raw_stream, message_stream)
    return message_stream


CREATE = RecordedMethod(PROVIDER, start=_starter("messages.create"), record=record_result)
PARSE = RecordedMethod(PROVIDER, start=_starter("messages.parse"), record=record_result)
STREAM_HELPER = RecordedMethod(PROVIDER, start=_starter("messages.stream"), record=_manager_made)
"""``messages.stream()`` opens the call (parented where it is called); it only makes a manager."""
MANAGER_ENTER = RecordedMethod(PROVIDER, start=_start_entering, record=_message_stream_entered)
"""A stream manager's ``__enter__`` / ``__aenter__``: the helper's request, then its events."""
CLOSE = Around("closing an anthropic stream", after=close_recording)
"""``Stream.close`` / ``MessageStream.close``: also completes a recorded stream's call."""

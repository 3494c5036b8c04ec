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

import functools
import json
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._guard import report_internal_error
from ..usage import Usage, add, count
from .base import Patch, Provider
from .call import LLMCall
from .streams import CLOSED, Outcome, finish_stream, record_async_iterator, record_iterator

PROVIDER = "anthropic"

TRANSPORT_ARGUMENTS = frozenset({"extra_headers", "extra_query", "timeout"})
"""Keyword arguments that shape the HTTP request, not the model's work: left out of ``request``."""

_OMITTED = frozenset({"NotGiven", "Omit"})  # the SDK's "argument not given" sentinels

Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]
"""Makes the wrapper of an SDK method from the original (what :class:`Patch` applies)."""

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
        sdk = SdkTypes.load()
        resources = "anthropic.resources.messages"
        helpers = "anthropic.lib.streaming"
        return [
            Patch(f"{resources}:Messages", "create", sync_call_wrapper("messages.create", sdk)),
            Patch(
                f"{resources}:AsyncMessages", "create", async_call_wrapper("messages.create", sdk)
            ),
            Patch(
                f"{resources}:Messages",
                "parse",
                sync_call_wrapper("messages.parse", sdk),
                optional=True,
            ),
            Patch(
                f"{resources}:AsyncMessages",
                "parse",
                async_call_wrapper("messages.parse", sdk),
                optional=True,
            ),
            Patch(f"{resources}:Messages", "stream", wrap_stream_helper),
            Patch(f"{resources}:AsyncMessages", "stream", wrap_stream_helper),
            Patch(f"{helpers}:MessageStreamManager", "__enter__", wrap_manager_enter),
            Patch(f"{helpers}:AsyncMessageStreamManager", "__aenter__", wrap_manager_aenter),
            Patch("anthropic:Stream", "close", wrap_close),
            Patch("anthropic:AsyncStream", "close", wrap_async_close),
            Patch(f"{helpers}:MessageStream", "close", wrap_close),
            Patch(f"{helpers}:AsyncMessageStream", "close", wrap_async_close),
        ]


@dataclass(frozen=True)
class SdkTypes:
    """The SDK classes a wrapper tells results apart with."""

    message: type
    stream: type
    async_stream: type

    @classmethod
    def load(cls) -> SdkTypes:
        """The installed SDK's ``Message``, ``Stream`` and ``AsyncStream``."""
        import anthropic
        from anthropic.types import Message

        return cls(message=Message, stream=anthropic.Stream, async_stream=anthropic.AsyncStream)


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
    for block in message.content:
        kind = block.type
        if kind == "text":
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


# -- wrappers --------------------------------------------------------------------------------------


def sync_call_wrapper(api: str, sdk: SdkTypes) -> Wrapper:
    """A wrapper maker for a synchronous ``create`` / ``parse``."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = LLMCall.start(PROVIDER, api, request_of(kwargs), model=kwargs.get("model"))
            if call is None:
                return original(self, *args, **kwargs)
            result = call.run(original, self, *args, **kwargs)
            record_result(call, result, sdk)
            return result

        return wrapper

    return wrap


def async_call_wrapper(api: str, sdk: SdkTypes) -> Wrapper:
    """A wrapper maker for an asynchronous ``create`` / ``parse``."""

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = LLMCall.start(PROVIDER, api, request_of(kwargs), model=kwargs.get("model"))
            if call is None:
                return await original(self, *args, **kwargs)
            result = await call.run_async(original, self, *args, **kwargs)
            record_result(call, result, sdk)
            return result

        return wrapper

    return wrap


def record_result(call: LLMCall, result: Any, sdk: SdkTypes) -> None:
    """Finish ``call`` from a ``Message``, or start recording the stream it returned.

    Anything else (the raw HTTP response of ``with_raw_response``) finishes the call with its
    request, status and timing only.
    """
    try:
        if isinstance(result, sdk.message):
            outcome = message_outcome(result)
            call.finish(
                response=outcome.response,
                usage=outcome.usage,
                response_model=outcome.response_model,
            )
        elif isinstance(result, sdk.stream):
            record_stream(call, result)
        elif isinstance(result, sdk.async_stream):
            record_async_stream(call, result)
        else:
            call.finish()
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
        report_internal_error("recording an anthropic response", exc)


def record_stream(call: LLMCall, stream: Any, *also: Any) -> None:
    """Make the SDK ``Stream`` feed ``call`` as it is read.

    ``also``: other objects (the ``MessageStream`` over it) whose ``close()`` completes the call.
    """
    accumulator = MessageAccumulator()
    stream._iterator = record_iterator(call, stream._iterator, accumulator)
    for owner in (stream, *also):
        _open_streams[owner] = (call, accumulator)


def record_async_stream(call: LLMCall, stream: Any, *also: Any) -> None:
    """The asynchronous form of :func:`record_stream`."""
    accumulator = MessageAccumulator()
    stream._iterator = record_async_iterator(call, stream._iterator, accumulator)
    for owner in (stream, *also):
        _open_streams[owner] = (call, accumulator)


def close_recording(stream: Any) -> None:
    """A recorded stream was closed: complete its call with what it received (if not done)."""
    try:
        recording = _open_streams.pop(stream, None)
        if recording is not None:
            finish_stream(recording[0], recording[1], CLOSED)
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
        report_internal_error("closing an anthropic stream", exc)


def wrap_close(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Stream.close`` / ``MessageStream.close``: also completes a recorded stream's call."""

    @functools.wraps(original)
    def close(self: Any) -> Any:
        try:
            return original(self)
        finally:
            close_recording(self)

    return close


def wrap_async_close(original: Callable[..., Any]) -> Callable[..., Any]:
    """The asynchronous form of :func:`wrap_close`."""

    @functools.wraps(original)
    async def close(self: Any) -> Any:
        try:
            return await original(self)
        finally:
            close_recording(self)

    return close


def wrap_stream_helper(original: Callable[..., Any]) -> Callable[..., Any]:
    """``messages.stream()``: opens the call; the manager makes the request when entered."""

    @functools.wraps(original)
    def stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = LLMCall.start(
            PROVIDER, "messages.stream", request_of(kwargs), model=kwargs.get("model")
        )
        if call is None:
            return original(self, *args, **kwargs)
        manager = call.run(original, self, *args, **kwargs)
        try:
            _entering[manager] = call
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("recording an anthropic stream helper", exc)
        return manager

    return stream


def wrap_manager_enter(original: Callable[..., Any]) -> Callable[..., Any]:
    """``MessageStreamManager.__enter__``: the helper's request, then its events, recorded."""

    @functools.wraps(original)
    def enter(self: Any) -> Any:
        call = _entering.pop(self, None)
        if call is None:
            return original(self)
        message_stream = call.run(original, self)
        try:
            record_stream(call, message_stream._raw_stream, message_stream)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("recording an anthropic message stream", exc)
        return message_stream

    return enter


def wrap_manager_aenter(original: Callable[..., Any]) -> Callable[..., Any]:
    """The asynchronous form of :func:`wrap_manager_enter`."""

    @functools.wraps(original)
    async def aenter(self: Any) -> Any:
        call = _entering.pop(self, None)
        if call is None:
            return await original(self)
        message_stream = await call.run_async(original, self)
        try:
            record_async_stream(call, message_stream._raw_stream, message_stream)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error("recording an anthropic message stream", exc)
        return message_stream

    return aenter

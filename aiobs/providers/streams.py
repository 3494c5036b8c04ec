"""Recording streamed responses without changing what the program receives.

A provider wraps the SDK's chunk iterator with :func:`record_iterator` (or
:func:`record_async_iterator`): every chunk goes to the program unchanged and to an
:class:`Accumulator`, which assembles the text, tool calls and usage. The call's event is completed
exactly once, when the stream is exhausted (``completed``), fails (``error``, with the exception),
or is closed early, explicitly or by the garbage collector (``closed``), with what arrived so far.

Where the SDK returns its own stream object (OpenAI, Anthropic), the provider replaces that
object's inner iterator with the recording one, so the program still holds the SDK's own type with
all its methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .. import _ids
from .._guard import report_internal_error
from ..usage import Usage
from .call import LLMCall

COMPLETED = "completed"
CLOSED = "closed"
ERROR = "error"


@dataclass(slots=True)
class Outcome:
    """What an accumulator made of the chunks it saw."""

    response: dict[str, Any] | None = None
    usage: Usage | None = None
    response_model: str | None = None


class Accumulator(Protocol):
    """Assembles a provider's stream chunks into the event's response and usage."""

    def add(self, chunk: Any) -> None:
        """Take one chunk, as the program receives it."""

    def outcome(self) -> Outcome:
        """The response, usage and model assembled from the chunks so far."""


def finish_stream(
    call: LLMCall, accumulator: Accumulator, status: str, error: BaseException | None = None
) -> None:
    """Complete ``call`` from what ``accumulator`` holds; ``status`` says how the stream ended."""
    if call.finished:
        return
    try:
        outcome = accumulator.outcome()
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the stream
        report_internal_error(f"assembling a {call.provider} stream", exc)
        outcome = Outcome()
    call.finish(
        response=outcome.response,
        usage=outcome.usage,
        response_model=outcome.response_model,
        error=error,
        status={COMPLETED: "ok", CLOSED: "closed"}.get(status, "error"),
        stream=call.stream_stats(status),
    )


def record_iterator(
    call: LLMCall,
    chunks: Iterator[Any],
    accumulator: Accumulator,
    hide: Callable[[Any], bool] | None = None,
) -> Iterator[Any]:
    """Yield ``chunks`` unchanged (minus those ``hide`` is true for), recording them."""
    # Per chunk this costs a counter, a method call and a yield. The count lives on the call,
    # as the SDK's stream may be closed (and the event completed) from outside this generator.
    add = accumulator.add
    first = True
    try:
        for chunk in chunks:
            if first:
                call.first_chunk_ns = _ids.monotonic_ns()
                first = False
            call.chunks += 1
            try:
                add(chunk)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the stream
                report_internal_error(f"reading a {call.provider} stream chunk", exc)
            if hide is not None and hide(chunk):
                continue
            yield chunk
    except GeneratorExit:
        finish_stream(call, accumulator, CLOSED)
        raise
    except BaseException as exc:
        finish_stream(call, accumulator, ERROR, exc)
        raise
    finish_stream(call, accumulator, COMPLETED)


async def record_async_iterator(
    call: LLMCall,
    chunks: AsyncIterator[Any],
    accumulator: Accumulator,
    hide: Callable[[Any], bool] | None = None,
) -> AsyncIterator[Any]:
    """The asynchronous form of :func:`record_iterator`."""
    add = accumulator.add
    first = True
    try:
        async for chunk in chunks:
            if first:
                call.first_chunk_ns = _ids.monotonic_ns()
                first = False
            call.chunks += 1
            try:
                add(chunk)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the stream
                report_internal_error(f"reading a {call.provider} stream chunk", exc)
            if hide is not None and hide(chunk):
                continue
            yield chunk
    except GeneratorExit:
        finish_stream(call, accumulator, CLOSED)
        raise
    except BaseException as exc:
        finish_stream(call, accumulator, ERROR, exc)
        raise
    finish_stream(call, accumulator, COMPLETED)

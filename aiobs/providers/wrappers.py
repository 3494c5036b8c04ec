"""The wrappers that patches install, made from one description of the call, sync and async.

A provider describes each SDK method it records once, as a :class:`RecordedMethod`: how to open
the :class:`~aiobs.providers.call.LLMCall` from the arguments, how to change the arguments sent
(rarely), and how to record what the SDK returned. Both wrappers come from that description and
differ only in awaiting the original::

    CREATE = RecordedMethod("anthropic", start=start_create, record=record_message)
    Patch("anthropic.resources.messages:Messages", "create", CREATE.wrap_sync)
    Patch("anthropic.resources.messages:AsyncMessages", "create", CREATE.wrap_async)

A wrapper calls ``start(args, kwargs)``. ``None`` (nothing records here, instrumentation is
suppressed, or a recorded call is already running) means the original is called as it is: a
leftover patch costs that one check. Otherwise ``prepare(call, kwargs)`` gives the keyword
arguments to send, the original runs inside :meth:`LLMCall.run
<aiobs.providers.call.LLMCall.run>` (its exception is recorded and re-raised untouched), and
``record(call, result, kwargs, sent)`` finishes the call, or starts recording the stream the SDK
returned, and gives back what the program receives. aiobs's own failures there are reported
through :mod:`aiobs._guard` and never reach the program: the SDK is then called with the
program's own arguments, or the event completes without a response and the SDK's result is
returned as it is.

:class:`Around` is for the small patches that record no call of their own (a stream's
``close``, a stream manager's ``__enter__``): work before the original, and after it even when
it raises.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._guard import report_internal_error
from .call import LLMCall, run_call

Start = Callable[[tuple[Any, ...], dict[str, Any]], "LLMCall | None"]
"""``start(args, kwargs)``: the call to record, or ``None`` to call the SDK directly.

Must not raise (:meth:`LLMCall.start <aiobs.providers.call.LLMCall.start>` never does)."""

Prepare = Callable[[LLMCall, dict[str, Any]], dict[str, Any]]
"""``prepare(call, kwargs)``: the keyword arguments to call the SDK with (``kwargs`` itself when
nothing changes; never modified in place, they are the program's)."""

Record = Callable[[LLMCall, Any, dict[str, Any], dict[str, Any]], Any]
"""``record(call, result, kwargs, sent)``: finish ``call`` from the SDK's ``result`` (or start
recording the stream it is), and return what the program gets (``result``, or a recording
iterator over it). ``kwargs`` are the program's arguments, ``sent`` those the SDK got."""


@dataclass(frozen=True, slots=True)
class RecordedMethod:
    """How calls to one SDK method become events: its wrappers' provider-specific steps."""

    provider: str
    """The provider's name, for messages about aiobs's own failures."""
    start: Start
    record: Record
    prepare: Prepare | None = None

    def wrap_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The wrapper of a synchronous SDK method (what :class:`Patch` applies)."""
        start, prepare, record = self.start, self.prepare, self.record
        failed, unprepared = self._record_failed, self._unprepared

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = start(args, kwargs)
            if call is None:
                return original(*args, **kwargs)
            sent = kwargs
            if prepare is not None:
                try:  # handled here, without a call of its own
                    sent = prepare(call, kwargs)
                except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
                    sent = unprepared(kwargs, exc)
            result = run_call(call, original, args, sent)
            try:  # a failure of record() is handled here, without a call of its own
                return record(call, result, kwargs, sent)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
                return failed(call, result, exc)

        return wrapper

    def wrap_async(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The wrapper of an asynchronous SDK method: :meth:`wrap_sync`, awaiting the original."""
        start, prepare, record = self.start, self.prepare, self.record
        failed, unprepared = self._record_failed, self._unprepared

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            call = start(args, kwargs)
            if call is None:
                return await original(*args, **kwargs)
            sent = kwargs
            if prepare is not None:
                try:
                    sent = prepare(call, kwargs)
                except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
                    sent = unprepared(kwargs, exc)
            result = await call.run_async(original, *args, **sent)
            try:
                return record(call, result, kwargs, sent)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
                return failed(call, result, exc)

        return wrapper

    def _unprepared(self, kwargs: dict[str, Any], error: Exception) -> dict[str, Any]:
        """When ``prepare`` failed: report it, and send the program's own arguments."""
        report_internal_error(f"preparing a request to {self.provider}", error)
        return kwargs

    def _record_failed(self, call: LLMCall, result: Any, error: Exception) -> Any:
        """When ``record`` failed: report it, complete the event, give ``result`` as it is."""
        report_internal_error(f"recording what {self.provider} returned", error)
        call.finish()
        return result


def _nothing(_owner: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Around:
    """Work around an SDK method that records no call of its own.

    ``before(owner)`` runs first, then the original, then ``after(owner, token)`` with what
    ``before`` returned, even when the original raised. ``owner`` is the object the method is
    called on. ``before`` only sets state (a context variable) and must not fail; a failure in
    ``after`` is reported as ``failure``, never raised into the program. For example, closing a
    stream completes its event::

        CLOSE = Around("closing an openai stream", after=complete_closed_stream)
        Patch("openai._streaming:Stream", "close", CLOSE.wrap_sync)
    """

    failure: str
    """What ``after`` does, for the message when it fails (``"closing an openai stream"``)."""
    after: Callable[[Any, Any], None]
    before: Callable[[Any], Any] = _nothing

    def wrap_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The wrapper of a synchronous method."""
        before, after = self.before, self._after

        @functools.wraps(original)
        def wrapper(owner: Any, *args: Any, **kwargs: Any) -> Any:
            token = before(owner)
            try:
                return original(owner, *args, **kwargs)
            finally:
                after(owner, token)

        return wrapper

    def wrap_async(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The wrapper of an asynchronous method: :meth:`wrap_sync`, awaiting the original."""
        before, after = self.before, self._after

        @functools.wraps(original)
        async def wrapper(owner: Any, *args: Any, **kwargs: Any) -> Any:
            token = before(owner)
            try:
                return await original(owner, *args, **kwargs)
            finally:
                after(owner, token)

        return wrapper

    def _after(self, owner: Any, token: Any) -> None:
        try:
            self.after(owner, token)
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the program's call
            report_internal_error(self.failure, exc)

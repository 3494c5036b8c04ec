"""One provider call being recorded: opened when the SDK method is called, finished once.

A provider wrapper (made by :mod:`aiobs.providers.wrappers`) does three things around the SDK's
own method::

    call = LLMCall.start("openai", "chat.completions.create", request, model=model)
    if call is None:                      # nothing records here, or a wrapper is already inside
        return original(*args, **kwargs)
    response = call.run(original, *args, **kwargs)   # nested SDK calls pass through; an
    call.finish(response=..., usage=..., response_model=...)  # exception is recorded, re-raised

Streams finish later, when they end (see :mod:`aiobs.providers.streams`). Finishing builds the
event dict in the aiobs 0.2 shape plus the normalized ``usage``, ``cost`` and ``stream`` fields,
adds it to the session's totals and buffers it. Every step is guarded: a failure in aiobs is
logged (raised under the test suite), never passed into the user's call.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import pydantic_core
from pydantic import BaseModel

from .. import _format as fmt
from .. import _ids, _native
from .. import _otel_parent as _otel
from .._buffer import RecordBuffer
from .._context import span_var, suppressed_var
from .._guard import report_internal_error
from .._otel_parent import otel_parent
from .._records import ErrorInfo, ModelRecord
from .._session import RecordingSession, current_session
from .._totals import PENDING_LIMIT, LLMTotals
from ..usage import Usage
from .registry import sdk_modules

if TYPE_CHECKING:
    from .._capture import Capturer
    from ..pricing import Pricing

T = TypeVar("T")

inside_call_var: ContextVar[bool] = ContextVar("aiobs_inside_provider_call", default=False)
"""True while a recorded provider call runs: SDK calls made inside it (helpers calling
``create``) pass through unrecorded, so one user call gives one event."""

_USER_CODE_IN_AIOBS = "aiobs.examples"


@functools.cache
def library_modules() -> tuple[frozenset[str], tuple[str, ...]]:
    """The modules whose frames are not the program's, and the prefixes of their submodules.

    That is aiobs and the ``sdk_modules`` of every registered provider, read from the registry
    once (which imports the provider modules, never an SDK).
    """
    names = ("aiobs", *sdk_modules())
    return frozenset(names), tuple(f"{name}." for name in names)


def user_callsite(depth: int = 2) -> tuple[str, int, str] | None:
    """Where the user made the call: ``(file, line, function)``.

    That is the innermost frame outside aiobs and the provider SDKs.
    """
    try:
        frame: FrameType | None = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__")
        programs: bool | None = True  # no module name: not aiobs's, nor an SDK's
        if type(module) is str:
            programs = _program_modules.get(module)
            if programs is None:
                programs = _is_program_module(module)
        if programs:
            code = frame.f_code
            return (code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    return None


def _is_program_module(module: str) -> bool:
    """Whether the module named ``module`` is the program's (remembered, for the next calls)."""
    names, prefixes = library_modules()
    verdict = not (module in names or module.startswith(prefixes)) or module.startswith(
        _USER_CODE_IN_AIOBS
    )
    if len(_program_modules) >= _PROGRAM_MODULES_LIMIT:  # modules made on the fly: stay small
        _program_modules.clear()
    _program_modules[module] = verdict
    return verdict


_program_modules: dict[str, bool] = {}
"""Module name -> whether its frames are the program's (see :func:`library_modules`)."""
_PROGRAM_MODULES_LIMIT = 4096


def _callsite_finder() -> Callable[[int], tuple[str, int, str] | None]:
    """:func:`user_callsite`, or the same walk in C (``aiobs._speedups.program_callsite``).

    The C walk keeps the same remembered verdicts and asks :func:`_is_program_module` about a
    module not seen before; its ``depth`` counts from the same place, as if it had a frame.
    """
    if _native.speedups is None:
        return user_callsite
    return functools.partial(
        _native.speedups.program_callsite, _program_modules, _is_program_module
    )


find_callsite = _callsite_finder()
"""What :meth:`LLMCall.start` uses to find the program's callsite (see :func:`user_callsite`)."""


class LLMCall:
    """A provider call in progress; becomes one event in its session when it finishes."""

    __slots__ = (
        "api",
        "callsite",
        "chunks",
        "finished",
        "first_chunk_ns",
        "operation",
        "parent_id",
        "provider",
        "request",
        "request_model",
        "session",
        "span_id",
        "start_ns",
        "trace_id",
    )

    session: RecordingSession
    provider: str
    api: str
    operation: str
    request_model: str | None
    request: Any
    callsite: tuple[str, int, str] | None
    span_id: int
    parent_id: int | None
    trace_id: int
    finished: bool
    chunks: int
    first_chunk_ns: int | None
    start_ns: int

    @classmethod
    def start(
        cls,
        provider: str,
        api: str,
        request: Mapping[str, Any],
        *,
        model: Any = None,
        operation: str = "chat",
        aiobs_frames: int = 0,
    ) -> LLMCall | None:
        """Open a call if a session records here; ``None`` means: call the SDK directly.

        ``None`` also when instrumentation is suppressed or another recorded call is already
        running in this context (an SDK helper calling a wrapped method). Never raises.

        The callsite is the innermost frame of the program's above the caller, after skipping
        ``aiobs_frames`` frames that are known to be aiobs's own: 2 for a provider's ``start``
        function called by its :class:`~aiobs.providers.wrappers.RecordedMethod` wrapper (itself
        and the wrapper), which saves walking through them on every call.
        """
        session = current_session()
        if session is None or suppressed_var.get() or inside_call_var.get():
            return None
        try:
            # Built here rather than in an __init__: calling the class would enter the
            # interpreter a second time on every recorded call.
            call = cls.__new__(cls)
            call.session = session
            call.provider = provider
            call.api = api
            call.operation = operation
            call.request_model = model if isinstance(model, str) else None
            # Frozen now (the caller may change its messages list after the call), bounded and
            # redacted at export: a full snapshot here would cost more than the rest of the call.
            call.request = freeze(request, session.settings.capturer)
            call.callsite = find_callsite(2 + aiobs_frames)  # past user_callsite and start
            call.span_id = _ids.new_span_id()
            parent = span_var.get()
            if parent is None and _otel.current is not None and _otel.current():
                parent = otel_parent()  # something is set in OpenTelemetry's context
            if parent is None:
                call.parent_id = None
                call.trace_id = _ids.new_trace_id()
            else:
                call.parent_id, call.trace_id = parent
            call.finished = False
            call.chunks = 0
            call.first_chunk_ns = None
            call.start_ns = _ids.monotonic_ns()
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error(f"starting a {provider} event", exc)
            return None
        return call

    @contextmanager
    def inside(self) -> Iterator[None]:
        """The block in which the SDK's own method runs for this call."""
        token = inside_call_var.set(True)
        try:
            yield
        finally:
            inside_call_var.reset(token)

    def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the SDK's own ``function`` for this call.

        SDK calls made inside it pass through unrecorded; its exception is recorded
        (:meth:`fail`) and re-raised untouched.
        """
        # inside(), spelled out: a generator-based context manager costs more than the rest of
        # this method on every call.
        token = inside_call_var.set(True)
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            inside_call_var.reset(token)

    async def run_async(
        self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
    ) -> T:
        """The asynchronous form of :meth:`run`."""
        token = inside_call_var.set(True)
        try:
            return await function(*args, **kwargs)
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            inside_call_var.reset(token)

    # -- streams ---------------------------------------------------------------------------------

    def chunk_arrived(self) -> None:
        """Count one stream chunk; the first one fixes the time to first token."""
        if self.first_chunk_ns is None:
            self.first_chunk_ns = _ids.monotonic_ns()
        self.chunks += 1

    def stream_stats(self, status: str) -> dict[str, Any]:
        """The event's ``stream`` field: chunks received, time to first one, how it ended."""
        ttft = None
        if self.first_chunk_ns is not None:
            ttft = round((self.first_chunk_ns - self.start_ns) / 1e6, 3)
        return {fmt.STREAM_TTFT_MS: ttft, fmt.STREAM_CHUNKS: self.chunks, fmt.STREAM_STATUS: status}

    # -- the end ---------------------------------------------------------------------------------

    def fail(self, error: BaseException, *, stream: dict[str, Any] | None = None) -> None:
        """Finish as failed with the user's exception (recorded, not raised)."""
        self.finish(error=error, stream=stream)

    def finish(
        self,
        *,
        response: Mapping[str, Any] | None = None,
        usage: Usage | None = None,
        response_model: str | None = None,
        error: BaseException | None = None,
        status: str | None = None,
        stream: dict[str, Any] | None = None,
    ) -> None:
        """Record the event (the first call wins; later ones do nothing). Never raises."""
        if error is None and status is None and stream is None:  # returned normally
            counts = None if usage is None else usage.as_tuple()
            complete_call(self, response, counts, response_model)  # in C where built
            return
        self._record(response, usage, response_model, error, status, stream)

    def complete(
        self,
        response: Mapping[str, Any],
        counts: tuple[Any, ...] | None,
        response_model: str | None,
    ) -> None:
        """:meth:`finish` with a whole response, its usage as ``Usage.as_tuple()`` counts.

        The hot path of a call that returned normally; the same event as ``finish(response=...,
        usage=Usage(*counts), response_model=...)``. :data:`complete_call` is this method, or
        the same steps in C where ``aiobs._speedups`` is built.
        """
        self._record(response, counts, response_model, None, None, None)

    def _record(  # noqa: PLR0917 - private, called from finish() and complete()
        self,
        response: Mapping[str, Any] | None,
        usage: Usage | tuple[Any, ...] | None,
        response_model: str | None,
        error: BaseException | None,
        status: str | None,
        stream: dict[str, Any] | None,
    ) -> None:
        """Record the event once, ``usage`` as a :class:`Usage` or its ``as_tuple()`` counts."""
        if self.finished:
            return
        self.finished = True
        end_ns = _ids.monotonic_ns()
        try:
            counts = usage.as_tuple() if isinstance(usage, Usage) else usage
            # Only what cannot wait is done here: wall times (the clock anchor moves at each flush),
            # the error (its traceback must not be kept alive). The event's dict, its cost and the
            # session totals are worked out at export, from the ProviderRecord and the price table
            # in force now.
            session = self.session
            settings = session.settings
            anchor_wall, anchor_ns = session.clock_anchor
            exception = None
            if error is not None:
                exception = error_detail(error, settings.capturer.redaction.redact_text)
            record = ProviderRecord.of(
                (
                    self.provider,
                    self.api,
                    self.operation,
                    self.request,
                    None if response is None else freeze(response, settings.capturer),
                    anchor_wall + (self.start_ns - anchor_ns) / 1e9,
                    (end_ns - self.start_ns) / 1e6,
                    self.callsite,
                    self.span_id,
                    self.parent_id,
                    self.trace_id,
                    self.request_model,
                    response_model,
                    status or ("error" if error is not None else "ok"),
                    counts,
                    exception,
                    None if stream is None else tuple(stream.items()),
                ),
                settings.price_table,
            )
            session.count_llm_call(record)
            session.buffer.admit(session, (record, *_MODEL_ROW_PADDING))
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the call
            report_internal_error(f"recording a {self.provider} event", exc)


class ProviderRecord(ModelRecord):
    """A finished provider call as buffered, turned into the event dict at export.

    Its fields are one tuple of strings, numbers, ``None``, nested tuples and JSON bytes: the
    garbage collector stops tracking such tuples, so buffered provider events cost it nothing.
    The cost is worked out when first read (at export, or for the session totals) with the price
    table that was in force when the call finished.
    """

    __slots__ = ("_cost", "_fields", "_pricing")

    _cost: Any
    _fields: tuple[Any, ...]
    _pricing: Pricing

    def __init__(self, fields: tuple[Any, ...], pricing: Pricing) -> None:
        self._fields = fields
        self._pricing = pricing
        self._cost = _NOT_PRICED_YET
        self.is_function = False
        self.deferred = _DEFERRED

    @classmethod
    def of(cls, fields: tuple[Any, ...], pricing: Pricing) -> ProviderRecord:
        """``ProviderRecord(fields, pricing)``, without entering the interpreter a second time."""
        record = cls.__new__(cls)
        record._fields = fields
        record._pricing = pricing
        record._cost = _NOT_PRICED_YET
        record.is_function = False
        record.deferred = _DEFERRED
        return record

    @property
    def usage(self) -> Usage | None:
        """The call's normalized token counts."""
        usage = self._fields[_USAGE]
        return None if usage is None else Usage(*usage)

    @property
    def failed(self) -> bool:
        """Whether the call raised."""
        return self._fields[_EXCEPTION] is not None

    @property
    def cost(self) -> dict[str, Any] | None:
        """The call's cost (see :meth:`aiobs.pricing.Pricing.cost`), a new dict at each read."""
        cost = self._cost
        if cost is _NOT_PRICED_YET:
            fields = self._fields
            priced = self._pricing.cost(
                fields[_PROVIDER], fields[_RESPONSE_MODEL] or fields[_REQUEST_MODEL], self.usage
            )
            cost = self._cost = None if priced is None else tuple(priced.items())
        return None if cost is None else dict(cost)

    @property
    def data(self) -> dict[str, Any]:
        """The event in the export's shape (``request`` and ``response`` not yet snapshotted)."""
        (
            provider,
            api,
            operation,
            request,
            response,
            started_at,
            duration_ms,
            callsite,
            span_id,
            parent_id,
            trace_id,
            request_model,
            response_model,
            status,
            usage,
            exception,
            stream,
        ) = self._fields
        data: dict[str, Any] = {
            fmt.EVENT_PROVIDER: provider,
            fmt.EVENT_API: api,
            fmt.LLM_REQUEST: thaw(request),
            fmt.LLM_RESPONSE: thaw(response),
            fmt.EVENT_ERROR: None,
            fmt.EVENT_STARTED_AT: started_at,
            fmt.EVENT_ENDED_AT: started_at + duration_ms / 1e3,
            fmt.EVENT_DURATION_MS: round(duration_ms, 3),
            fmt.EVENT_CALLSITE: None
            if callsite is None
            else dict(zip(_CALLSITE_FIELDS, callsite, strict=True)),
            fmt.EVENT_SPAN_ID: f"{span_id:016x}",
            fmt.EVENT_PARENT_SPAN_ID: None if parent_id is None else f"{parent_id:016x}",
            fmt.EVENT_TRACE_ID: f"{trace_id:032x}",
            fmt.LLM_OPERATION: operation,
            fmt.LLM_REQUEST_MODEL: request_model,
            fmt.LLM_RESPONSE_MODEL: response_model,
            fmt.EVENT_STATUS: status,
            fmt.LLM_USAGE: None if usage is None else Usage(*usage).as_dict(),
            fmt.LLM_COST: self.cost,
        }
        if exception is not None:
            short_type = exception[fmt.EXCEPTION_TYPE].rpartition(".")[2]
            data[fmt.EVENT_ERROR] = f"{short_type}: {exception[fmt.EXCEPTION_MESSAGE]}"
            data[fmt.EVENT_EXCEPTION] = exception
        if stream is not None:
            data[fmt.LLM_STREAM] = dict(stream)
        return data


_MODEL_ROW_PADDING = (None,) * 12
"""What follows a ProviderRecord in its buffered row (see ``ModelRecord.as_record``)."""
_DEFERRED = (fmt.LLM_REQUEST, fmt.LLM_RESPONSE)
_PROVIDER, _REQUEST_MODEL, _RESPONSE_MODEL, _USAGE, _EXCEPTION = 0, 11, 12, 14, 15
"""Places in ``ProviderRecord._fields``."""
_NOT_PRICED_YET = object()
_CALLSITE_FIELDS = (fmt.CALLSITE_FILE, fmt.CALLSITE_LINE, fmt.CALLSITE_FUNCTION)


def freeze(value: Any, capturer: Capturer) -> Any:
    """``value`` as JSON bytes, out of reach of later changes (see :func:`thaw`).

    Objects JSON cannot hold are snapshotted into it; SDK models keep the fields that are set.
    Falls back to :func:`detach` when the value cannot be encoded at all. A value made only of
    JSON's own types is written by ``aiobs._speedups.plain_json`` where the module is built (the
    same bytes, about a third of the instructions).
    """
    if _plain_json is not None:
        frozen = _plain_json(value)
        if frozen is not None:
            return frozen
    return _freeze_with_pydantic(value, capturer)


def _freeze_with_pydantic(value: Any, capturer: Capturer) -> Any:
    """:func:`freeze` for a value ``plain_json`` declined (or without the C module)."""
    try:
        return pydantic_core.to_json(
            value, by_alias=False, exclude_none=True, fallback=capturer.output
        )
    except Exception:  # noqa: BLE001 - e.g. bytes that are not UTF-8: copy instead
        return detach(value, capturer)


_plain_json: Callable[[Any], bytes | None] | None = (
    None if _native.speedups is None else _native.speedups.plain_json
)


def thaw(value: Any) -> Any:
    """The value that :func:`freeze` stored."""
    return json.loads(value) if type(value) is bytes else value


def detach(value: Any, capturer: Capturer, depth: int = 0) -> Any:  # noqa: PLR0911 - by type
    """A copy of ``value`` that later changes by its owner cannot reach.

    Dicts, lists and tuples are copied (tuples become lists), strings, numbers, booleans and
    ``None`` are kept as they are (immutable), pydantic models (the SDKs' types) become dicts of
    their fields that are not ``None``, and anything else is snapshotted at once. The export
    bounds and redacts the result like any captured value.
    """
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if depth < capturer.limits.max_depth:
        depth += 1
        if kind is dict:
            copy: dict[str, Any] = {}
            for key, item in value.items():
                if type(key) is not str:
                    return capturer.output(value)
                copy[key] = item if type(item) in _IMMUTABLE else detach(item, capturer, depth)
            return copy
        if kind is list or kind is tuple:
            return [
                item if type(item) in _IMMUTABLE else detach(item, capturer, depth)
                for item in value
            ]
        if isinstance(value, BaseModel):  # SDK types: only the fields that hold something
            try:
                fields = value.model_dump(exclude_none=True, warnings=False)
            except Exception:  # noqa: BLE001 - a model that cannot dump is snapshotted as is
                return capturer.output(value)
            return detach(fields, capturer, depth)
    return capturer.output(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


StartCall = Callable[[str, str, Mapping[str, Any], Any, str, int], "LLMCall | None"]
RunCall = Callable[[LLMCall, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]
CompleteCall = Callable[[LLMCall, Any, Any, Any], None]


def _run_in_python(
    call: LLMCall, function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """:meth:`LLMCall.run`, called as :data:`run_call` is."""
    return call.run(function, *args, **kwargs)


def _start_in_python(  # noqa: PLR0917 - positional, as the C start_call is called
    provider: str,
    api: str,
    request: Mapping[str, Any],
    model: Any,
    operation: str,
    aiobs_frames: int,
) -> LLMCall | None:
    """:meth:`LLMCall.start`, called as :data:`start_call` is."""
    return LLMCall.start(
        provider, api, request, model=model, operation=operation, aiobs_frames=aiobs_frames + 1
    )


def _call_steps() -> tuple[StartCall, RunCall, CompleteCall]:
    """How a provider call is opened and completed: in C where ``aiobs._speedups`` is built.

    The C versions (``start_call``, ``run_call``, ``complete_call``) do :meth:`LLMCall.start`'s,
    :meth:`LLMCall.run`'s and :meth:`LLMCall.complete`'s steps in the same order for these
    classes, reading and writing their slots directly; for a session, totals or buffer of
    another class they call its methods. ``tests/providers/test_complete_call.py`` holds both
    to the same documents.
    """
    speedups = _native.speedups
    if speedups is None:
        return _start_in_python, _run_in_python, LLMCall.complete
    speedups.setup_calls(
        call_type=LLMCall,
        record_type=ProviderRecord,
        session_type=RecordingSession,
        buffer_type=RecordBuffer,
        totals_type=LLMTotals,
        freeze=_freeze_with_pydantic,  # what C calls for a value plain_json declines
        not_priced_yet=_NOT_PRICED_YET,
        deferred=_DEFERRED,
        pending_limit=PENDING_LIMIT,
        suppressed_var=suppressed_var,
        inside_var=inside_call_var,
        program_modules=_program_modules,
        is_program_module=_is_program_module,
    )
    return speedups.start_call, speedups.run_call, speedups.complete_call


start_call, run_call, complete_call = _call_steps()
"""``start_call(provider, api, request, model, operation, aiobs_frames)``: :meth:`LLMCall.start`
(``aiobs_frames`` counts the caller's frame too); ``run_call(call, function, args, kwargs)``:
:meth:`LLMCall.run`; ``complete_call(call, response, counts, response_model)``:
:meth:`LLMCall.complete`. In C where ``aiobs._speedups`` is built."""


def error_detail(error: BaseException, redact: Any) -> dict[str, Any]:
    """An SDK exception as an event's ``exception``: type, message, HTTP status, traceback."""
    info = ErrorInfo(error)
    detail: dict[str, Any] = {
        fmt.EXCEPTION_TYPE: info.type_name,
        fmt.EXCEPTION_MESSAGE: redact(info.message),
        fmt.EXCEPTION_TRACEBACK: "".join(
            f'  File "{file}", line {line}, in {name}\n' for file, line, name in info.frames
        )
        or None,
    }
    status_code = getattr(error, "status_code", None)
    if status_code is None:
        status_code = getattr(getattr(error, "response", None), "status_code", None)
    if status_code is None:
        status_code = getattr(error, "code", None)  # google-genai's APIError
    if isinstance(status_code, int) and not isinstance(status_code, bool):
        detail[fmt.EXCEPTION_STATUS_CODE] = status_code
    return detail

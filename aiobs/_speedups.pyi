"""Types of the optional C module ``aiobs._speedups`` (source: ``_speedups.c``)."""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ._records import FunctionInfo, StaticInfo

class ObservedFunction:
    """A plain function decorated with ``@observe``: records each call as the Python wrapper."""

    __wrapped__: Callable[..., Any]

    def __init__(
        self,
        fn: Callable[..., Any],
        info: FunctionInfo,
        static: StaticInfo,
        capture_args: bool,
        capture_result: bool,
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def __get__(self, obj: object, objtype: type | None = None) -> Any: ...
    def open(self, args: tuple[Any, ...], kwargs: dict[str, Any], /) -> OpenCall | None:
        """The span of a call a Python wrapper is about to make (coroutines); None: unrecorded."""
    def close(self, span: OpenCall, result: Any, error: BaseException | None, /) -> None:
        """The call returned ``result`` (``error`` None) or raised ``error``: buffer its span."""

class OpenCall:
    """A span opened by :meth:`ObservedFunction.open`, closed once by its ``close``."""

class SpanIds:
    """``start``, ``start + step``, ... modulo 2**64: one id per call."""

    def __init__(self, start: int, step: int) -> None: ...
    def __call__(self) -> int: ...

class TraceIds:
    """Random 128-bit ints, never 0, from xoshiro256** seeded with four 64-bit words."""

    def __init__(self, a: int, b: int, c: int, d: int) -> None: ...
    def __call__(self) -> int: ...

def setup(
    *,
    session_var: ContextVar[Any],
    span_var: ContextVar[Any],
    default: Any,
    ids: dict[str, Any],
    otel: dict[str, Any],
    otel_parent: Callable[[], Any],
    capture_inputs: Callable[..., Any],
    capture_result: Callable[..., Any],
    append_error: Callable[..., Any],
    report_internal_error: Callable[[str, BaseException], None],
    big_int: int,
    perf_counter_ns: Callable[[], int],
    session_type: type,
    buffer_type: type,
    capturer_type: type,
) -> None:
    """Hand over aiobs's context variables, clocks and helpers (called once by aiobs.observe)."""

def setup_chat(
    *,
    plain_models: set[type],
    scalars: frozenset[type] | set[type],
    plain_model_class: Callable[[type], bool],
    base_model: type,
) -> None:
    """Hand over what the one-pass read of a chat completion uses (providers.openai_chat)."""

def read_chat_completion(completion: Any, /) -> tuple[dict[str, Any], Any, str | None] | None:
    """``(response, counts, model)`` of a plain one-choice completion, else ``None``."""

def plain_json(value: Any, /) -> bytes | None:
    """JSON bytes of a value of JSON's own types, as ``pydantic_core.to_json`` writes them.

    ``None`` for anything else (another type or a subclass, a float in exponent form or not
    finite, a string that is not valid UTF-8, nesting deeper than 64): the caller encodes it.
    """

def program_callsite(
    modules: dict[str, bool], classify: Callable[[str], bool], depth: int, /
) -> tuple[str, int, str] | None:
    """``aiobs.providers.call.user_callsite(depth)``, called from the same frame."""

def setup_calls(
    *,
    call_type: type,
    record_type: type,
    session_type: type,
    buffer_type: type,
    totals_type: type,
    freeze: Callable[[Any, Any], Any],
    not_priced_yet: object,
    deferred: tuple[str, ...],
    pending_limit: int,
    suppressed_var: ContextVar[Any],
    inside_var: ContextVar[Any],
    program_modules: dict[str, bool],
    is_program_module: Callable[[str], bool],
) -> None:
    """Hand over what ``start_call`` and ``complete_call`` use (``aiobs.providers.call``)."""

def start_call(
    provider: str,
    api: str,
    request: Any,
    model: Any,
    operation: str,
    aiobs_frames: int,
    /,
) -> Any:
    """``LLMCall.start``: the call opened, or ``None`` when nothing records it."""

def complete_call(call: Any, response: Any, counts: Any, response_model: Any, /) -> None:
    """``LLMCall.complete``: record and buffer the event of a call that returned normally.

    A subclass of ``LLMCall`` (or anything before ``setup_calls()``) is asked its own
    ``complete()``.
    """

def run_call(
    call: Any, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], /
) -> Any:
    """``LLMCall.run(function, *args, **kwargs)``: the program's exception is raised on as is."""

"""The plain records that recording appends: no pydantic, no I/O, nothing formatted.

A record (a tuple, fields below) is what one decorated call, manual span or point event leaves
behind: ids are integers, times are monotonic nanoseconds, the callsite is the caller's code object
and instruction offset, and small scalar arguments are kept as the call's own tuple. Reading a line
number or the wall clock costs more than these, so both are worked out at export.
Everything is turned into JSON-ready dicts only at flush (:mod:`aiobs._document`). A
:class:`ModelRecord` carries an event handed to ``observer._record_event`` in the aiobs 0.2 shape.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Callable, Iterable
from types import CodeType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from . import _format as fmt

if TYPE_CHECKING:
    from ._capture import Capturer

KIND_FUNCTION: Final = fmt.KIND_FUNCTION
KIND_GENERATOR: Final = fmt.KIND_GENERATOR
KIND_SPAN: Final = fmt.KIND_SPAN
KIND_EVENT: Final = fmt.KIND_EVENT

CLOSED: Final = fmt.STATUS_CLOSED
"""Outcome of a generator that its consumer closed before exhaustion."""

TRACEBACK_FRAMES = 5
"""How many of the innermost frames an error keeps."""

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


StaticInfo = tuple[
    str, str, str, "str | None", bool, "int | None", tuple[str, ...], tuple[str, ...]
]
"""``(kind, name, api, module, enh_prompt, auto_enhance_after, param_names, secret_names)``.

This is what a record says about its function. It is an exact tuple of strings, numbers and
tuples of strings on purpose: the garbage collector stops tracking such tuples, and then also the
record tuples that hold them, so a large buffer of records costs the collector nothing.
"""


class FunctionInfo:
    """What is known about a traced function (or a named span) before it is ever called."""

    __slots__ = (
        "_positions",
        "_positions_for",
        "api",
        "auto_enhance_after",
        "capture_args",
        "capture_result",
        "enh_prompt",
        "kind",
        "module",
        "name",
        "param_names",
        "secret_names",
        "static",
    )

    def __init__(
        self,
        *,
        kind: str,
        name: str,
        api: str,
        module: str | None = None,
        capture_args: bool = True,
        capture_result: bool = True,
        enh_prompt: bool = False,
        auto_enhance_after: int | None = None,
        param_names: tuple[str, ...] = (),
        secret_names: Iterable[str] = (),
    ) -> None:
        self.kind = kind
        self.name = name
        self.api = api
        self.module = module
        self.capture_args = capture_args
        self.capture_result = capture_result
        self.enh_prompt = enh_prompt
        self.auto_enhance_after = auto_enhance_after
        self.param_names = param_names
        self.secret_names = frozenset(secret_names)
        self._positions: frozenset[int] = frozenset()
        self._positions_for: Capturer | None = None
        self.static: StaticInfo = (
            kind,
            name,
            api,
            module,
            enh_prompt,
            auto_enhance_after,
            param_names,
            tuple(sorted(self.secret_names)),
        )

    @classmethod
    def for_function(
        cls,
        fn: Callable[..., Any],
        *,
        kind: str,
        name: str | None,
        capture_args: bool,
        capture_result: bool,
        enh_prompt: bool,
        auto_enhance_after: int | None,
        redact: Iterable[str],
    ) -> FunctionInfo:
        """Describe ``fn`` once, at decoration time."""
        module: str | None = getattr(fn, "__module__", None)
        qualname = str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", repr(fn)))
        api = f"{module}.{qualname}" if module else qualname
        _note_definition(api, fn)
        return cls(
            kind=kind,
            name=name or str(getattr(fn, "__name__", qualname)),
            api=api,
            module=module,
            capture_args=capture_args,
            capture_result=capture_result,
            enh_prompt=enh_prompt,
            auto_enhance_after=auto_enhance_after,
            param_names=_positional_parameters(fn),
            secret_names=redact,
        )

    def secret_positions(self, capturer: Capturer) -> frozenset[int]:
        """Indexes of positional parameters whose names the capturer's rules call secret."""
        if self._positions_for is not capturer:
            is_secret = capturer.redaction.is_secret_key
            self._positions = frozenset(
                index
                for index, param in enumerate(self.param_names)
                if param in self.secret_names or is_secret(param)
            )
            self._positions_for = capturer
        return self._positions


_positions_cache: dict[int, tuple[StaticInfo, Capturer, frozenset[int]]] = {}
_POSITIONS_CACHE_LIMIT = 4096


def static_secret_positions(static: StaticInfo, capturer: Capturer) -> frozenset[int]:
    """Like :meth:`FunctionInfo.secret_positions`, for a record's static tuple (used at export)."""
    cached = _positions_cache.get(id(static))
    if cached is not None and cached[0] is static and cached[1] is capturer:
        return cached[2]
    params, secrets = static[6], static[7]
    is_secret = capturer.redaction.is_secret_key
    positions = frozenset(
        index for index, param in enumerate(params) if param in secrets or is_secret(param)
    )
    if len(_positions_cache) >= _POSITIONS_CACHE_LIMIT:
        _positions_cache.clear()
    _positions_cache[id(static)] = (static, capturer, positions)
    return positions


_definitions: dict[str, tuple[str, int]] = {}


def definition(api: str) -> tuple[str, int] | None:
    """``(absolute file, first line)`` of the function decorated as ``api`` in this process.

    Recorded once per decoration, so a function defined inside another one, or in a module that
    is gone by export time, still has its place; nothing is added to its calls' records.
    """
    return _definitions.get(api)


def _note_definition(api: str, fn: Callable[..., Any]) -> None:
    try:
        code = getattr(inspect.unwrap(fn), "__code__", None)
    except ValueError:  # a cycle of __wrapped__
        return
    if isinstance(code, CodeType):
        _definitions[api] = (os.path.abspath(code.co_filename), code.co_firstlineno)


def _positional_parameters(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in positional)


class ErrorInfo:
    """An exception as recorded: type name, message and the innermost frames (lines unread)."""

    __slots__ = ("frames", "message", "type_name")

    def __init__(self, exc: BaseException) -> None:
        cls = type(exc)
        module = cls.__module__
        self.type_name = (
            cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
        )
        try:
            self.message = str(exc)
        except Exception:  # noqa: BLE001 - a user __str__ may raise; the record must survive it
            self.message = f"<{cls.__qualname__} (str failed)>"
        frames = traceback.StackSummary.extract(
            traceback.walk_tb(exc.__traceback__), lookup_lines=False
        )
        own = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
        self.frames = [(f.filename, f.lineno, f.name) for f in own[-TRACEBACK_FRAMES:]]

    @property
    def short_type(self) -> str:
        """The bare class name, as aiobs 0.2 wrote it in ``error``."""
        return self.type_name.rpartition(".")[2]


# A record is RECORD_WIDTH consecutive entries of its session's buffer, a flat list. One list for
# all records, rather than one tuple each, leaves nothing per record for the garbage collector to
# track (a tuple built on the hot path only lives until `list.extend` has copied it). These are the
# fields, in order.
INFO = 0  # StaticInfo
SPAN_ID = 1  # int
PARENT_ID = 2  # int | None
TRACE_ID = 3  # int
START_NS = 4  # int, monotonic; the session's clock anchor turns it into epoch seconds
DURATION_NS = 5  # int, monotonic
CODE = 6  # CodeType | None: the caller's code object, for the callsite
LASTI = 7  # int | None: the caller's instruction offset, turned into a line number at export
ARGS = 8  # tuple (raw small scalars, finalized at export) | list (snapshot) | None
KWARGS = 9  # dict | None
RESULT = 10  # captured value
OUTCOME = 11  # ErrorInfo | CLOSED | None
EXTRA = 12  # dict | None: "attributes", "yielded", "enh_prompt_id"
RECORD_WIDTH = 13

SpanRecord = tuple[
    StaticInfo,  # INFO
    int,  # SPAN_ID
    "int | None",  # PARENT_ID
    int,  # TRACE_ID
    int,  # START_NS
    int,  # DURATION_NS
    "CodeType | None",  # CODE
    "int | None",  # LASTI
    Any,  # ARGS
    "dict[str, Any] | None",  # KWARGS
    Any,  # RESULT
    "ErrorInfo | str | None",  # OUTCOME
    "dict[str, Any] | None",  # EXTRA
]
"""A decorated call, manual span or point event, as buffered."""

ModelRow = tuple[
    "ModelRecord", None, None, None, None, None, None, None, None, None, None, None, None
]
"""An event handed over whole (provider calls, aiobs 0.2 events), padded to a record's width."""

Record = SpanRecord | ModelRow
"""What a session's buffer holds, RECORD_WIDTH entries per record (see above)."""


class ModelRecord:
    """An event given to ``observer._record_event`` as an aiobs 0.2 model or dict.

    In the buffer it takes a record's width: itself in the first entry, ``None`` in the others.
    """

    __slots__ = ("_data", "deferred", "is_function")

    def __init__(
        self, data: dict[str, Any], *, is_function: bool, deferred: tuple[str, ...] = ()
    ) -> None:
        self._data = data
        self.is_function = is_function
        self.deferred = deferred
        """Fields holding detached plain data, snapshotted (bounded, redacted) at export."""

    @property
    def data(self) -> dict[str, Any]:
        """The event's fields (a subclass may build them when read, see ``ProviderRecord``)."""
        return self._data

    def as_record(self) -> ModelRow:
        """This event padded to a record's width, for the buffer."""
        return (self, None, None, None, None, None, None, None, None, None, None, None, None)


class SpanColumns(NamedTuple):
    """A run of span records read field by field: one list per field, rows in buffer order."""

    infos: list[StaticInfo]
    span_ids: list[int]
    parent_ids: list[int | None]
    trace_ids: list[int]
    starts: list[int]
    durations: list[int]
    codes: list[CodeType | None]
    lastis: list[int | None]
    args: list[Any]
    kwargs: list[dict[str, Any] | None]
    results: list[Any]
    outcomes: list[ErrorInfo | str | None]
    extras: list[dict[str, Any] | None]


def read_records(buffer: list[Any], start: int, stop: int) -> tuple[SpanColumns, list[ModelRecord]]:
    """The records in ``buffer[start:stop]``: span records as columns, whole events apart.

    ``start`` and ``stop`` are multiples of :data:`RECORD_WIDTH`. Each column is one slice with a
    stop, which is atomic: records appended meanwhile are not read.
    """
    columns = [buffer[start + field : stop : RECORD_WIDTH] for field in range(RECORD_WIDTH)]
    whole: list[ModelRecord] = []
    if columns[SPAN_ID].count(None):  # events given whole (ModelRow): split them off
        rows = [row for row, span_id in enumerate(columns[SPAN_ID]) if span_id is None]
        whole = [columns[INFO][row] for row in rows]
        keep = sorted(set(range(len(columns[INFO]))) - set(rows))
        columns = [[column[row] for row in keep] for column in columns]
    return SpanColumns(*columns), whole

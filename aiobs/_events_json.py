"""Records become event JSON: the column-wise writer of one flush.

Ids turn into hex, monotonic times into epoch seconds and milliseconds, code objects into
callsites, errors into the aiobs 0.2 ``error`` string plus an ``exception`` detail with a short
traceback, and values kept by reference are finalized (redacted, made JSON-safe). Each event is
serialized exactly once, into an *open* text (without its closing brace) that the document's event
lists and its trace tree both reuse (:mod:`aiobs._document`).

Names (of functions, spans and point events) are redacted like values, once per function and
flush. A column that the JSON encoder refuses (text that UTF-8 cannot encode, see
:func:`aiobs._capture.valid_text`) is encoded again row by row, repairing the rows that need it;
a record that still cannot be written is left out of the document and counted in
:attr:`Output.unwritable`, so that it never takes the rest of the buffer with it.
"""

from __future__ import annotations

import functools
import itertools
import linecache
import logging
import operator
import os
from collections.abc import Callable, Sequence
from types import CodeType
from typing import Any, NamedTuple

import pydantic_core

from ._capture import Capturer, repaired, valid_text
from ._format import (
    CALLSITE_FILE,
    CALLSITE_FUNCTION,
    CALLSITE_LINE,
    EVENT_API,
    EVENT_CALLSITE,
    EVENT_DURATION_MS,
    EVENT_ENDED_AT,
    EVENT_ERROR,
    EVENT_EXCEPTION,
    EVENT_PARENT_SPAN_ID,
    EVENT_PROVIDER,
    EVENT_SESSION_ID,
    EVENT_SPAN_ID,
    EVENT_STARTED_AT,
    EVENT_STATUS,
    EVENT_TRACE_ID,
    EXCEPTION_MESSAGE,
    EXCEPTION_TRACEBACK,
    EXCEPTION_TYPE,
    FUNCTION_ARGS,
    FUNCTION_ATTRIBUTES,
    FUNCTION_AUTO_ENHANCE_AFTER,
    FUNCTION_ENH_PROMPT,
    FUNCTION_ENH_PROMPT_ID,
    FUNCTION_KIND,
    FUNCTION_KWARGS,
    FUNCTION_MODULE,
    FUNCTION_NAME,
    FUNCTION_RESULT,
    FUNCTION_YIELDED,
    PROVIDER_FUNCTION,
    STATUS_CLOSED,
    STATUS_ERROR,
    TYPE_FUNCTION,
    TYPE_PROVIDER,
)
from ._records import (
    CLOSED,
    KIND_FUNCTION,
    ErrorInfo,
    ModelRecord,
    SpanColumns,
    StaticInfo,
    static_secret_positions,
)

logger = logging.getLogger("aiobs")

_EMPTY_OBJECT = b"{}"
"""The JSON of an empty ``kwargs``."""


def line_of(code: CodeType, lasti: int | None) -> int | None:
    """The source line of the instruction at byte offset ``lasti`` in ``code``."""
    if lasti is None:
        return None
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line
    return code.co_firstlineno


to_json_safe = functools.partial(pydantic_core.to_json, inf_nan_mode="strings")
"""JSON bytes of any value; non-finite floats become the strings NaN, Infinity, -Infinity."""

_to_json_plain = pydantic_core.to_json
"""JSON bytes of a captured value: snapshots and kept scalars hold no non-finite float, and this
is a third faster per call than :data:`to_json_safe`."""

# The document's JSON fragments, made once here from the field names of aiobs._format (which
# need no escaping), so that writing an event looks nothing up.

_EVENT = (
    f'%s"{FUNCTION_ARGS}":%s,"{FUNCTION_KWARGS}":%s,"{FUNCTION_RESULT}":%s,"{EVENT_ERROR}":%s,'
    f'"{EVENT_STARTED_AT}":%s,"{EVENT_ENDED_AT}":%s,"{EVENT_DURATION_MS}":%s,'
    f'"{EVENT_CALLSITE}":%s,"{EVENT_SPAN_ID}":%s,"{EVENT_PARENT_SPAN_ID}":%s,'
    f'"{EVENT_TRACE_ID}":%s,%s"{FUNCTION_ENH_PROMPT_ID}":%s%s,"{EVENT_SESSION_ID}":%s'
).encode()
"""A function event; the fields of aiobs 0.2 in its order, then the additions, then the session.

Event texts are kept *open* (without their closing brace): the event lists close them as they
join them, and a trace-tree node appends its own fields to the same bytes, with no copy."""

_FUNCTION_HEAD = (
    f'{{"{EVENT_PROVIDER}":"{PROVIDER_FUNCTION}","{EVENT_API}":%s,"{FUNCTION_NAME}":%s,'
    f'"{FUNCTION_MODULE}":%s,'
).encode()
_ENH_PROMPT_FIELD = f'"{FUNCTION_ENH_PROMPT}":%s,'.encode()
_AUTO_ENHANCE_AFTER_FIELD = f',"{FUNCTION_AUTO_ENHANCE_AFTER}":'.encode()
_KIND_FIELD = f',"{FUNCTION_KIND}":'.encode()
_FAILED_FIELDS = f',"{EVENT_STATUS}":"{STATUS_ERROR}","{EVENT_EXCEPTION}":'.encode()
_CLOSED_FIELDS = f',"{EVENT_STATUS}":"{STATUS_CLOSED}"'.encode()
_ATTRIBUTES_FIELD = f',"{FUNCTION_ATTRIBUTES}":'.encode()
_YIELDED_FIELD = f',"{FUNCTION_YIELDED}":%d'.encode()

_FUNCTION_TYPE = TYPE_FUNCTION.encode()
_PROVIDER_TYPE = TYPE_PROVIDER.encode()


class _StaticParts(NamedTuple):
    """JSON fragments and facts that are the same for every call of one function."""

    static: StaticInfo
    head: bytes  # provider, api, name, module
    enh_prompt: bytes
    after: bytes  # auto_enhance_after and, for other kinds than "function", kind
    secret_positions: frozenset[int]
    secret_names: tuple[str, ...]


_HEAD = operator.attrgetter("head")
_ENH_PROMPT = operator.attrgetter("enh_prompt")
_AFTER = operator.attrgetter("after")


class Writer:
    """Turns a session's buffer into event JSON.

    This runs once per event at every flush, so it works a column at a time where Python allows
    (clock values, ids), keeps the per-event loop free of calls that the common event does not
    need, and caches what repeats: per-function fragments, callsites and the hex form of ids.
    """

    def __init__(self, capturer: Capturer) -> None:
        self._capturer = capturer
        self._redaction = capturer.redaction
        self._cwd = os.getcwd()
        self._paths: dict[str, str] = {}
        self._callsites: dict[tuple[int, int | None], bytes] = {}
        self._statics: dict[int, _StaticParts] = {}
        self._unwritable: set[int] = set()
        """Rows of the batch being written that could not be encoded, even repaired."""

    def _text(self, text: str) -> str:
        """A name or message as written: valid UTF-8, credentials removed."""
        return self._redaction.redact_text(valid_text(text))

    def _encoded(self, values: Sequence[Any], fix: Callable[[int], Any]) -> list[bytes]:
        """The JSON of each value, a column at a time; row by row if the encoder refuses one.

        ``fix(row)`` gives a row's value as exported (finalized); it is used, repaired, only for
        the rows that the encoder refused as they were.
        """
        try:
            return list(map(_to_json_plain, values))
        except Exception:  # noqa: BLE001 - a bad row: find it, without losing the others
            return [self._row_json(row, value, fix) for row, value in enumerate(values)]

    def _row_json(self, row: int, value: Any, fix: Callable[[int], Any]) -> bytes:
        try:
            return _to_json_plain(value)
        except Exception:  # noqa: BLE001 - repaired, or left out and counted
            return self._repaired_json(row, fix)

    def _json(self, row: int, fix: Callable[[int], Any]) -> bytes:
        """The JSON of ``fix(row)``, repaired if the encoder refuses it as it is."""
        try:
            return to_json_safe(fix(row))
        except Exception:  # noqa: BLE001 - repaired, or left out and counted
            return self._repaired_json(row, fix)

    def _repaired_json(self, row: int, fix: Callable[[int], Any]) -> bytes:
        """The JSON of ``fix(row)`` with its text repaired, or ``null`` and the row marked."""
        try:
            return to_json_safe(repaired(fix(row), self._redaction.redact_text))
        except Exception as exc:  # noqa: BLE001 - this record only is lost, and counted
            self._lose(row, exc)
            return b"null"

    def _lose(self, row: int, exc: Exception) -> None:
        if not self._unwritable:
            logger.warning("aiobs: an event could not be written and is left out: %r", exc)
        self._unwritable.add(row)

    def relative_path(self, filename: str) -> str:
        cached = self._paths.get(filename)
        if cached is None:
            cached = filename
            if not (filename.startswith("<") and filename.endswith(">")):
                try:
                    cached = os.path.relpath(os.path.abspath(filename), self._cwd)
                except ValueError:  # another drive on Windows
                    cached = filename
            self._paths[filename] = cached
        return cached

    def callsite(self, code: CodeType, lasti: int | None) -> bytes:
        """The callsite's JSON.

        Callers cache it by ``id(code)``: hashing a code object hashes its bytecode, and the
        records being written keep the code objects alive.
        """
        try:
            return to_json_safe(
                {
                    CALLSITE_FILE: valid_text(self.relative_path(code.co_filename)),
                    CALLSITE_LINE: line_of(code, lasti),
                    CALLSITE_FUNCTION: valid_text(code.co_name),
                }
            )
        except Exception:  # noqa: BLE001 - a callsite is worth less than its event
            return b"null"

    def static_parts(self, static: StaticInfo) -> _StaticParts:
        """A function's fragments, made once per flush: its names redacted and valid UTF-8."""
        kind, name, api, module, enh_prompt, auto_enhance_after = static[:6]
        after = _AUTO_ENHANCE_AFTER_FIELD + to_json_safe(auto_enhance_after)
        if kind != KIND_FUNCTION:
            after += _KIND_FIELD + to_json_safe(valid_text(kind))
        text = self._text
        parts = _StaticParts(
            static,
            _FUNCTION_HEAD
            % (
                to_json_safe(text(api)),
                to_json_safe(text(name)),
                to_json_safe(None if module is None else text(module)),
            ),
            _ENH_PROMPT_FIELD % to_json_safe(enh_prompt),
            after,
            static_secret_positions(static, self._capturer),
            static[7],
        )
        self._statics[id(static)] = parts
        return parts

    @staticmethod
    def id_columns(
        span_ids: list[int], parent_ids: list[int | None], trace_ids: list[int]
    ) -> tuple[list[bytes], list[bytes | None], list[bytes]]:
        """Quoted hex of span, parent span and trace ids, a column at a time."""
        span_hex = list(map(b'"%016x"'.__mod__, span_ids))
        known = dict(zip(span_ids, span_hex, strict=True))
        parent_hex: list[bytes | None] = [known.get(parent) for parent in parent_ids]  # type: ignore[arg-type]
        if parent_hex.count(None) != parent_ids.count(None):  # parents from an earlier flush
            for row, parent in enumerate(parent_ids):
                if parent is not None and parent_hex[row] is None:
                    parent_hex[row] = b'"%016x"' % parent
        traces = {trace: b'"%032x"' % trace for trace in set(trace_ids)}
        return span_hex, parent_hex, list(map(traces.__getitem__, trace_ids))

    def rare_parts(self, outcome: Any, extra: dict[str, Any] | None) -> tuple[bytes, bytes, bytes]:
        """``(error, enh_prompt_id, added fields)`` of a record that failed or carries extras."""
        error, enh_json, more = b"null", b"null", b""
        if isinstance(outcome, ErrorInfo):
            text = self._text
            message = valid_text(outcome.message)
            exception = {
                EXCEPTION_TYPE: valid_text(outcome.type_name),
                EXCEPTION_MESSAGE: text(message),
                EXCEPTION_TRACEBACK: self.traceback(outcome),
            }
            error = to_json_safe(text(f"{valid_text(outcome.short_type)}: {message}"))
            more += _FAILED_FIELDS + to_json_safe(exception)
        elif outcome == CLOSED:
            more += _CLOSED_FIELDS
        if extra:  # a record's extras are named after the fields they become
            if extra.get(FUNCTION_ENH_PROMPT_ID):
                enh_json = to_json_safe(extra[FUNCTION_ENH_PROMPT_ID])
            if FUNCTION_ATTRIBUTES in extra:
                more += _ATTRIBUTES_FIELD + to_json_safe(extra[FUNCTION_ATTRIBUTES])
            if FUNCTION_YIELDED in extra:
                more += _YIELDED_FIELD % extra[FUNCTION_YIELDED]
        return error, enh_json, more

    def traceback(self, error: ErrorInfo) -> str | None:
        if not error.frames:
            return None
        lines = ["Traceback (most recent call last):"]
        for filename, lineno, function in error.frames:
            lines.append(f'  File "{filename}", line {lineno}, in {function}')
            source = linecache.getline(filename, lineno or 0).strip()
            if source:
                lines.append(f"    {source}")
        return self._text("\n".join(lines))

    def _safe_json(
        self, values: Sequence[Any], texts: list[bytes], fix: Callable[[int], Any]
    ) -> list[bytes]:
        """Re-encode, after ``fix``, the rows whose JSON may hold a credential.

        With the built-in rules a credential always contains one of a few ASCII markers, which
        JSON leaves as they are; one search over all the texts, done in C, clears the common
        case. Extra patterns have no markers, so then every text long enough is re-encoded.
        """
        markers = self._redaction.markers
        if markers is None:
            threshold = self._redaction.scan_from + 2  # a string of n chars is n + 2 in JSON
            suspects = [row for row, text in enumerate(texts) if len(text) >= threshold]
        else:
            blob = b"\0".join(texts)
            holds_marker = self._redaction.holds_marker  # one pass, however many markers
            if not holds_marker(blob):
                return texts
            suspects = [row for row, text in enumerate(texts) if holds_marker(text)]
        for row in suspects:
            if values[row] is not None:
                texts[row] = self._json(row, fix)
        return texts

    def spans(  # noqa: PLR0912, PLR0915 - one pass per column, kept together (see docstring)
        self,
        columns: SpanColumns,
        session_id: str,
        anchor: tuple[float, int],
        out: Output,
    ) -> None:
        """Write the function events whose fields are given column by column.

        This runs for every event at every flush, so the work is done a column at a time, with
        loops that run in C (``map``, ``zip``, comprehensions over plain values); only rows that
        need more (secrets to hide, errors, extras) get Python code of their own.
        """
        (
            statics,
            span_ids,
            parent_ids,
            trace_ids,
            starts,
            durations,
            codes,
            lastis,
            args,
            kwargs,
            results,
            outcomes,
            extras,
        ) = columns
        count = len(statics)
        if not count:
            return
        capturer = self._capturer

        static_ids = list(map(id, statics))
        for static in {id(static): static for static in statics}.values():
            known = self._statics.get(id(static))
            if known is None or known.static is not static:
                self.static_parts(static)
        parts = list(map(self._statics.__getitem__, static_ids))

        self._unwritable = set()
        finalize_args = capturer.finalize_args

        def exported_args(row: int) -> Any:
            return finalize_args(args[row], parts[row].secret_positions)

        args_json = self._encoded(args, exported_args)
        with_positions = [row for row, p in enumerate(parts) if p.secret_positions]
        for row in with_positions:
            if type(args[row]) is tuple:
                args_json[row] = self._json(row, exported_args)
        args_json = self._safe_json(args, args_json, exported_args)

        def exported_kwargs(row: int) -> Any:
            row_kwargs = kwargs[row]
            if row_kwargs is None:
                return None
            return capturer.finalize_kwargs(row_kwargs, parts[row].secret_names)

        kwargs_json = self._encoded(kwargs, exported_kwargs)
        present = [value for value in kwargs if value is not None]
        keys = set(itertools.chain.from_iterable(present))
        secret = {key for key in keys if self._redaction.is_secret_key(key)}
        if secret or any(p.secret_names for p in parts):
            for row, value in enumerate(kwargs):  # only the rows that hold a key to hide
                if value is not None and (parts[row].secret_names or not secret.isdisjoint(value)):
                    kwargs_json[row] = self._json(row, exported_kwargs)
        kwargs_json = self._safe_json(kwargs, kwargs_json, exported_kwargs)
        # A call whose arguments were captured but that had no keyword arguments is stored with
        # kwargs None (cheaper on the call path); aiobs 0.2 wrote {} for it, and so does this.
        kwargs_json = [
            _EMPTY_OBJECT if value is None and arguments is not None else encoded
            for value, arguments, encoded in zip(kwargs, args, kwargs_json, strict=True)
        ]

        def exported_result(row: int) -> Any:
            return capturer.finalize(results[row])

        result_json = self._safe_json(
            results, self._encoded(results, exported_result), exported_result
        )

        site_keys = list(zip(map(id, codes), lastis, strict=True))
        sites = self._callsites
        missing = set(site_keys).difference(sites)
        for key, code, lasti in zip(site_keys, codes, lastis, strict=True):
            if not missing:
                break
            if key in missing:
                missing.discard(key)
                sites[key] = b"null" if code is None else self.callsite(code, lasti)
        callsites = list(map(sites.__getitem__, site_keys))

        wall, mono = anchor
        started = [wall + (start - mono) / 1e9 for start in starts]
        ended = [at + duration / 1e9 for at, duration in zip(started, durations, strict=True)]
        millis = [duration // 1000 / 1000 for duration in durations]
        numbers = to_json_safe(started + ended + millis)[1:-1].split(b",")
        span_hex, parent_hex, trace_hex = self.id_columns(
            list(span_ids), list(parent_ids), list(trace_ids)
        )

        errors = [b"null"] * count
        enh_json = [b"null"] * count
        more = list(map(_AFTER, parts))
        enh_ids: list[str | None] = [None] * count
        if outcomes.count(None) != count or extras.count(None) != count:
            for row, (outcome, extra) in enumerate(zip(outcomes, extras, strict=True)):
                if outcome is not None or extra:
                    try:
                        errors[row], enh_json[row], rare = self.rare_parts(outcome, extra)
                    except Exception:  # noqa: BLE001 - text to repair, or a record to leave out
                        try:
                            fixed = repaired(extra, self._redaction.redact_text)
                            errors[row], enh_json[row], rare = self.rare_parts(outcome, fixed)
                        except Exception as exc:  # noqa: BLE001 - see Writer._lose
                            self._lose(row, exc)
                            continue
                    more[row] += rare
                    enh_ids[row] = extra.get(FUNCTION_ENH_PROMPT_ID) if extra else None

        if self._unwritable:  # left out, and counted in their session's dropped events
            keep = [row for row in range(count) if row not in self._unwritable]
            out.unwritable[session_id] = out.unwritable.get(session_id, 0) + count - len(keep)
            numbers = [
                *_pick(keep, numbers[:count]),
                *_pick(keep, numbers[count : 2 * count]),
                *_pick(keep, numbers[2 * count :]),
            ]
            count = len(keep)
            parts = _pick(keep, parts)
            args_json = _pick(keep, args_json)
            kwargs_json = _pick(keep, kwargs_json)
            result_json = _pick(keep, result_json)
            errors = _pick(keep, errors)
            callsites = _pick(keep, callsites)
            span_hex = _pick(keep, span_hex)
            parent_hex = _pick(keep, parent_hex)
            trace_hex = _pick(keep, trace_hex)
            enh_json = _pick(keep, enh_json)
            more = _pick(keep, more)
            enh_ids = _pick(keep, enh_ids)
            started = _pick(keep, started)

        out.function_json.extend(
            map(
                _EVENT.__mod__,
                zip(
                    list(map(_HEAD, parts)),
                    args_json,
                    kwargs_json,
                    result_json,
                    errors,
                    numbers[:count],
                    numbers[count : 2 * count],
                    numbers[2 * count :],
                    callsites,
                    span_hex,
                    [b"null" if text is None else text for text in parent_hex],
                    trace_hex,
                    list(map(_ENH_PROMPT, parts)),
                    enh_json,
                    more,
                    [to_json_safe(session_id)] * count,
                    strict=True,
                ),
            )
        )
        out.starts.extend(started)
        out.span_ids.extend(span_hex)
        out.parent_ids.extend(parent_hex)
        out.types.extend([_FUNCTION_TYPE] * count)
        out.enh_ids.extend(enh_ids)


def _pick(rows: list[int], column: list[Any]) -> list[Any]:
    """The entries of ``column`` at ``rows``."""
    return [column[row] for row in rows]


class Output:
    """What the writer produces for one document, before it is joined.

    ``function_json`` and ``provider_json`` are the two event lists; the other lists run over
    all events in the order they were written (function then provider within each session) and
    feed the trace tree: start time, span id and parent span id (as ASCII bytes), event type,
    and ``enh_prompt_id``.
    """

    def __init__(self) -> None:
        self.provider_json: list[bytes] = []
        self.function_json: list[bytes] = []
        self.starts: list[float] = []
        self.span_ids: list[bytes | None] = []
        self.parent_ids: list[bytes | None] = []
        self.types: list[bytes] = []
        self.enh_ids: list[str | None] = []
        self._provider_rows: list[tuple[int, bytes]] = []
        self.unwritable: dict[str, int] = {}
        """Records left out because they could not be written even repaired, by session id."""

    def model_event(self, record: ModelRecord, session_id: str, capturer: Capturer) -> None:
        try:
            data = {**record.data, EVENT_SESSION_ID: session_id}
            for field in record.deferred:
                if data.get(field) is not None:
                    data[field] = capturer.mapping(data[field])
            try:
                encoded = to_json_safe(data)
            except Exception:  # noqa: BLE001 - text to repair (see aiobs._capture.valid_text)
                encoded = to_json_safe(repaired(data, capturer.redaction.redact_text))
        except Exception as exc:  # noqa: BLE001 - this event only is lost, and counted
            logger.warning("aiobs: an event could not be written and is left out: %r", exc)
            self.unwritable[session_id] = self.unwritable.get(session_id, 0) + 1
            return
        text = encoded[:-1]  # open, like the other event texts
        if record.is_function:
            self.function_json.append(text)
        else:
            # Provider events live in their own list; the tree finds them by position.
            self.provider_json.append(text)
            self._provider_rows.append((len(self.starts), text))
        self.starts.append(data.get(EVENT_STARTED_AT) or 0.0)
        self.span_ids.append(_id_key(data.get(EVENT_SPAN_ID)))
        self.parent_ids.append(_id_key(data.get(EVENT_PARENT_SPAN_ID)))
        self.types.append(_FUNCTION_TYPE if record.is_function else _PROVIDER_TYPE)
        self.enh_ids.append(
            data.get(FUNCTION_ENH_PROMPT_ID) if data.get(FUNCTION_ENH_PROMPT) is True else None
        )

    def attach_scores(self, field: bytes, by_span: dict[bytes, list[Any]]) -> set[bytes]:
        """Add each event's scores (``by_span``, keyed like :attr:`span_ids`) to its open text.

        ``field`` is the field's opening (``,"scores":``). Returns the span ids found here; only
        a flush with scores calls this, so events without scores cost nothing.
        """
        found: set[bytes] = set()
        providers = {row: index for index, (row, _) in enumerate(self._provider_rows)}
        function_index = 0
        for row, span_id in enumerate(self.span_ids):
            provider_index = providers.get(row)
            scores = by_span.get(span_id) if span_id is not None else None
            if scores is not None and span_id is not None:
                found.add(span_id)
                extra = field + to_json_safe(scores)
                if provider_index is None:
                    self.function_json[function_index] += extra
                else:
                    # Provider events are appended to both lists together: same positions.
                    text = self.provider_json[provider_index] + extra
                    self.provider_json[provider_index] = text
                    self._provider_rows[provider_index] = (row, text)
            if provider_index is None:
                function_index += 1
        return found

    def node_texts(self) -> list[bytes]:
        """The JSON of every event, in the order of the tree lists."""
        if not self._provider_rows:
            return self.function_json
        functions = iter(self.function_json)
        providers = dict(self._provider_rows)
        return [
            providers[row] if row in providers else next(functions)
            for row in range(len(self.starts))
        ]


def _id_key(value: Any) -> bytes | None:
    """A hand-made event's id in the form the tree links by: quoted, as in the JSON."""
    return b'"%s"' % str(value).encode() if value else None

"""Manual spans (``observer.span``) and point events (``observer.event``)."""

from __future__ import annotations

import sys
from contextvars import Token
from types import FrameType, TracebackType
from typing import Any

from ._context import SpanContext, span_var
from ._format import FUNCTION_ATTRIBUTES
from ._guard import report_internal_error
from ._recording import OpenSpan
from ._records import KIND_EVENT, KIND_SPAN, FunctionInfo
from ._session import current_session

_INFO_CACHE_LIMIT = 1024
_infos: dict[tuple[str, str], FunctionInfo] = {}


def _info(kind: str, name: str) -> FunctionInfo:
    key = (kind, name)
    info = _infos.get(key)
    if info is None:
        info = FunctionInfo(
            kind=kind, name=name, api=name, capture_args=False, capture_result=False
        )
        # No lock: dict operations are atomic, and a lost entry is only recomputed. (A lock here
        # could also be held by another thread at a fork, and deadlock the child.)
        if len(_infos) >= _INFO_CACHE_LIMIT:
            _infos.clear()
        _infos[key] = info
    return info


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"A span or event name must be a non-empty string, got {name!r}")
    return name


class Span:
    """A manual span: ``with observer.span("retrieve", k=5) as span: ... span.set("hits", 3)``.

    Works with ``with`` and ``async with``, once. Outside a session it records nothing and
    :meth:`set` does nothing. An exception leaving the block is recorded on the span and
    propagates unchanged.
    """

    __slots__ = ("_attributes", "_name", "_open", "_token")

    def __init__(self, name: str, attributes: dict[str, Any]) -> None:
        self._name = _check_name(name)
        self._attributes = attributes
        self._open: OpenSpan | None = None
        self._token: Token[SpanContext | None] | None = None

    def __repr__(self) -> str:
        state = "recording" if self._token is not None else "idle"
        return f"<Span {self._name!r} {state}>"

    @property
    def span_id(self) -> str | None:
        """This span's id as written to the export, or ``None`` when nothing was recorded."""
        return f"{self._open.span_id:016x}" if self._open is not None else None

    def set(self, key: str, value: Any) -> None:
        """Record (or overwrite) an attribute of the span; the value is snapshotted now."""
        if not isinstance(key, str):
            raise TypeError(f"Span attribute names must be strings, got {key!r}")
        span = self._open
        if span is None or self._token is None:
            return  # not recording, or already closed
        try:
            snap = span.session.settings.capturer.mapping({key: value})
            attributes = (span.extra or {}).get(FUNCTION_ATTRIBUTES) or {}
            span.set_extra(FUNCTION_ATTRIBUTES, {**attributes, **snap})
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the caller
            report_internal_error("setting a span attribute", exc)

    def _enter(self, frame: FrameType) -> Span:
        if self._token is not None or self._open is not None:
            raise RuntimeError(f"Span {self._name!r} is already open or used; create a new one")
        session = current_session()
        if session is None:
            return self
        try:
            span = OpenSpan(session, _info(KIND_SPAN, self._name), frame)
            if self._attributes:
                span.set_extra(
                    FUNCTION_ATTRIBUTES, session.settings.capturer.mapping(self._attributes)
                )
            self._token = span.activate()
            self._open = span
        except Exception as exc:  # noqa: BLE001 - telemetry must not break the caller
            report_internal_error("opening a span", exc)
        return self

    def _exit(self, error: BaseException | None) -> None:
        span, token = self._open, self._token
        if span is None or token is None:
            return
        self._token = None
        span_var.reset(token)
        span.finish(error=error)

    def __enter__(self) -> Span:
        return self._enter(sys._getframe(1))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    async def __aenter__(self) -> Span:
        return self._enter(sys._getframe(1))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)


def point_event(name: str, data: dict[str, Any], frame: FrameType | None) -> str | None:
    """Record a zero-duration event under the current span; returns its span id or ``None``."""
    _check_name(name)
    session = current_session()
    if session is None:
        return None
    try:
        span = OpenSpan(session, _info(KIND_EVENT, name), frame)
        if data:
            span.set_extra(FUNCTION_ATTRIBUTES, session.settings.capturer.mapping(data))
        span.finish(instant=True)
    except Exception as exc:  # noqa: BLE001 - telemetry must not break the caller
        report_internal_error("recording a point event", exc)
        return None
    return f"{span.span_id:016x}"

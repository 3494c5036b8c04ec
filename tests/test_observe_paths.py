"""The ``@observe`` wrappers record the same thing for the same call.

The function and coroutine wrappers inline the steps of ``OpenSpan`` and ``RecordBuffer.admit``
for speed, and where ``aiobs._speedups`` is built a plain function is wrapped in C and a
coroutine's span opened and closed in C; the generator wrappers use OpenSpan. These tests drive
the C and the pure-Python function and coroutine wrappers, and the generator and async generator
wrappers, with the same arguments, results, errors and options, and with a full or released
buffer, and compare what is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.exporters import InMemoryExporter
from aiobs.testing import deterministic

KINDS = (
    "function",
    "python_function",
    "coroutine",
    "python_coroutine",
    "generator",
    "async_generator",
)
"""``function`` and ``coroutine`` use C where built; the ``python_`` kinds are always Python."""

VOLATILE = {
    "span_id",
    "parent_span_id",
    "trace_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "callsite",
    "name",
    "api",
    "kind",
    "yielded",
    "enh_prompt_id",
}


class Opaque:
    """An argument that is snapshotted at call time (not kept by reference)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.token = "sk-live-abcdefghijklmnopqrstuvwxyz012345"


class WrapperError(Exception):
    pass


class Label(str):
    """A str subclass: not kept by reference (its type is not exactly str)."""


def make(kind: str, body: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """A decorated function of ``kind`` that returns (or raises) what ``body`` does."""
    if kind == "function":

        def function(*args: Any, **kwargs: Any) -> Any:
            return body(*args, **kwargs)

        return observe(**options)(function)
    if kind == "python_function":

        def python_function(*args: Any, **kwargs: Any) -> Any:
            return body(*args, **kwargs)

        observe_module = sys.modules["aiobs.observe"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(observe_module, "ObservedFunction", None)
            return observe(**options)(python_function)
    if kind == "coroutine":

        async def coroutine(*args: Any, **kwargs: Any) -> Any:
            return body(*args, **kwargs)

        return observe(**options)(coroutine)
    if kind == "python_coroutine":

        async def python_coroutine(*args: Any, **kwargs: Any) -> Any:
            return body(*args, **kwargs)

        observe_module = sys.modules["aiobs.observe"]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(observe_module, "ObservedFunction", None)
            return observe(**options)(python_coroutine)
    if kind == "generator":

        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            return body(*args, **kwargs)
            yield  # a generator that returns at once

        return observe(**options)(generator)

    async def async_generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        body(*args, **kwargs)  # async generators cannot return a value
        return
        yield

    return observe(**options)(async_generator)


def call(kind: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``fn`` the way its kind is called, to the end; its exception propagates."""
    if kind in ("function", "python_function"):
        fn(*args, **kwargs)
    elif kind in ("coroutine", "python_coroutine"):
        asyncio.run(fn(*args, **kwargs))
    elif kind == "generator":
        list(fn(*args, **kwargs))
    else:

        async def drain() -> None:
            async for _ in fn(*args, **kwargs):
                pass

        asyncio.run(drain())


def recorded(kind: str, body: Callable[..., Any], *args: Any, **options: Any) -> dict[str, Any]:
    """The one function event recorded for one call, without its volatile fields."""
    kwargs = options.pop("kwargs", {})
    exporter = InMemoryExporter()
    fn = make(kind, body, **options)
    with deterministic():
        observer.observe(session_name="paths")
        with observer.span("parent"), contextlib.suppress(WrapperError):
            call(kind, fn, *args, **kwargs)
        observer.flush(exporter=exporter)
    [event] = [e for e in exporter.documents[-1]["function_events"] if e["name"] != "parent"]
    if event.get("exception"):
        event["exception"] = {k: v for k, v in event["exception"].items() if k != "traceback"}
    if kind == "async_generator":
        event.pop("result")  # an async generator has no return value
    return {key: value for key, value in event.items() if key not in VOLATILE}


def returns(value: Any) -> Callable[..., Any]:
    return lambda *args, **kwargs: value


def fails(*args: Any, **kwargs: Any) -> Any:
    raise WrapperError("bad input")


CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = {
    "small scalars": (returns("ok"), (1, 2.5, "three", None, True), {}),
    "keyword arguments": (returns(7), (), {"kwargs": {"query": "q", "k": 3}}),
    "values snapshotted at once": (
        returns({"rows": [1, 2, 3]}),
        (Opaque("x" * 500), ["a", {"b": 1}]),
        {},
    ),
    "a secret parameter": (returns(None), (), {"kwargs": {"api_key": "k-123", "n": 1}}),
    "redact option": (returns(1), (), {"kwargs": {"email": "a@b.c"}, "redact": ["email"]}),
    "arguments not captured": (returns(1), (1, 2), {"capture_args": False}),
    "result not captured": (returns("secret result"), (1,), {"capture_result": False}),
    "enh_prompt": (returns(1), (1,), {"enh_prompt": True, "auto_enhance_after": 3}),
    "a large integer result": (returns(2**80), (2**70,), {}),
    "integers at the fast and the 64-bit bounds": (
        returns(2**64),
        (2**30 - 1, 2**30, -(2**30), 2**64 - 1, -(2**64) + 1),
        {"kwargs": {"edge": 2**64, "low": -(2**64)}},
    ),
    "a result at the 64-bit bound": (returns(2**64 - 1), (-(2**30) + 1,), {}),
    "non-finite floats": (returns(float("inf")), (float("nan"), float("-inf"), 0.5), {}),
    "too many arguments to keep by reference": (returns(0), tuple(range(40)), {}),
    "a long string and a long keyword name": (
        returns("r" * 5000),
        ("s" * 5000,),
        {"kwargs": {"k" * 300: 1}},
    ),
    "a keyword name over the string limit": (returns(1), (), {"kwargs": {"k" * 9000: 1}}),
    "a str subclass": (returns(Label("out")), (Label("in"),), {}),
    "an error": (fails, ("in",), {}),
}


class TestFourWrappers:
    """Function, coroutine, generator and async generator record the same fields."""

    @pytest.mark.parametrize("case", list(CASES))
    def test_same_call_same_record(self, case: str) -> None:
        body, args, options = CASES[case]
        records = {kind: recorded(kind, body, *args, **dict(options)) for kind in KINDS}
        reference = records["function"]
        assert reference  # something was recorded
        for kind in KINDS[1:]:
            expected = dict(reference)
            if kind == "async_generator":
                expected.pop("result")
            assert records[kind] == expected, kind


class TestAdmission:
    """Every wrapper admits records as RecordBuffer.admit does: bounded, counted, reattached."""

    @pytest.mark.parametrize("kind", KINDS)
    def test_a_full_buffer_drops_and_counts(self, kind: str, exporter: InMemoryExporter) -> None:
        observer.configure(max_buffered_events=2)
        fn = make(kind, returns(1))
        observer.observe(session_name="full")
        for _ in range(5):
            call(kind, fn)
        observer.flush(exporter=exporter)
        [session] = exporter.documents[-1]["sessions"]
        assert len(exporter.documents[-1]["function_events"]) == 2
        assert session["dropped_events"] == 3

    @pytest.mark.parametrize("kind", KINDS)
    def test_a_released_session_takes_a_late_record(
        self, kind: str, exporter: InMemoryExporter
    ) -> None:
        fn = make(kind, returns(1))
        with observer.session("late") as session:
            call(kind, fn)
        observer.flush(exporter=exporter)  # exported and ended: released
        assert observer.buffered_events == 0
        from aiobs._session import session_var

        token = session_var.set(session)  # a task that outlived its block records once more
        try:
            call(kind, fn)
        finally:
            session_var.reset(token)
        assert observer.buffered_events == 1
        observer.flush(exporter=exporter)
        assert [s["name"] for s in exporter.documents[-1]["sessions"]] == ["late"]
        assert len(exporter.documents[-1]["function_events"]) == 1

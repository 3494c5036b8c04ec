"""The C wrapper of a plain function (``aiobs._speedups.ObservedFunction``).

It must record what the pure-Python wrapper records (tests/test_observe_paths.py compares the
records of both), and otherwise be indistinguishable from a decorated function: it binds as a
method, keeps the original's name, docs, signature and source, takes attributes, is weakly
referenceable and pickles by reference. Its own errors are contained like the Python wrapper's,
the user's exceptions pass through as the same object, and it holds no references after a call.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import inspect
import json
import logging
import os
import pickle
import subprocess
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiobs import _native, observe, observer
from aiobs._context import current_span
from aiobs._guard import set_raise_internal_errors
from aiobs._records import KIND_FUNCTION, FunctionInfo
from aiobs._session import current_session
from aiobs.exporters import InMemoryExporter
from tests import test_observe_paths as paths
from tests.test_observe_paths import Label

observe_module = sys.modules["aiobs.observe"]
ObservedFunction = observe_module.ObservedFunction

needs_c = pytest.mark.skipif(ObservedFunction is None, reason="aiobs._speedups is not built")


def test_the_c_wrapper_is_built_where_required() -> None:
    """`make test` sets AIOBS_REQUIRE_SPEEDUPS=1: a build that lost its compiler must fail."""
    if os.environ.get("AIOBS_REQUIRE_SPEEDUPS") != "1":
        pytest.skip("AIOBS_REQUIRE_SPEEDUPS is not set")
    assert ObservedFunction is not None
    assert type(observe(lambda: None)) is ObservedFunction


def test_pure_python_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOBS_PURE_PYTHON", "1")
    assert _native._load() is None
    monkeypatch.delenv("AIOBS_PURE_PYTHON")
    built = importlib.util.find_spec("aiobs._speedups") is not None
    assert (_native._load() is not None) == built


def test_pure_python_everywhere_in_a_new_process(tmp_path: Path) -> None:
    """With AIOBS_PURE_PYTHON=1, the wrappers and ids are Python's, and a session records."""
    script = (
        "import sys, json\n"
        "from aiobs import observe, observer, _ids\n"
        "f = observe(lambda a: a)\n"
        "observer.observe('pure')\n"
        "f(1)\n"
        f"observer.flush({str(tmp_path / 'out.json')!r})\n"
        "print(type(f).__name__, type(_ids.new_span_id).__name__, _ids.new_trace_id.__name__)\n"
    )
    env = {**os.environ, "AIOBS_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["function", "method-wrapper", "_python_trace_id"]
    document = json.loads((tmp_path / "out.json").read_text())
    assert [e["args"] for e in document["function_events"]] == [[1]]


@observe
def module_level(a: int, b: str = "b") -> int:
    """Adds nothing."""
    return a


class Shelf:
    factor = 3

    @observe
    def method(self, x: int) -> int:
        return x * self.factor

    @observe
    @classmethod
    def cls_method(cls, x: int) -> int:
        return x * cls.factor

    @observe
    @staticmethod
    def static_method(x: int) -> int:
        return x + 1


@needs_c
class TestLikeAFunction:
    def test_metadata(self) -> None:
        assert type(module_level) is ObservedFunction
        assert module_level.__name__ == "module_level"
        assert module_level.__qualname__ == "module_level"
        assert module_level.__module__ == __name__
        assert module_level.__doc__ == "Adds nothing."
        assert module_level.__wrapped__.__name__ == "module_level"
        assert module_level.__annotations__ == {"a": "int", "b": "str", "return": "int"}
        assert str(inspect.signature(module_level)) == "(a: 'int', b: 'str' = 'b') -> 'int'"
        assert "return a" in inspect.getsource(module_level)
        assert repr(module_level).startswith("<function module_level at 0x")

    def test_binds_like_a_function(self) -> None:
        shelf = Shelf()
        assert shelf.method(2) == 6
        assert Shelf.method(shelf, 2) == 6  # through the class, self passed explicitly
        assert shelf.method.__self__ is shelf
        assert Shelf.cls_method(2) == 6
        assert shelf.static_method(2) == 3
        assert Shelf.__dict__["method"].__get__(None, Shelf) is Shelf.__dict__["method"]
        assert functools.partial(module_level, 5)() == 5

    def test_attributes_weakrefs_pickle_copy(self) -> None:
        module_level.marker = "kept"  # type: ignore[attr-defined]
        try:
            assert module_level.marker == "kept"  # type: ignore[attr-defined]
        finally:
            del module_level.marker  # type: ignore[attr-defined]
        ref = weakref.ref(module_level)
        assert ref() is module_level
        assert pickle.loads(pickle.dumps(module_level)) is module_level
        assert copy.copy(module_level) is module_level
        assert copy.deepcopy(module_level) is module_level

    def test_a_dropped_wrapper_is_freed(self) -> None:
        wrapper = observe(lambda x: x)
        ref = weakref.ref(wrapper)
        del wrapper
        assert ref() is None

    def test_wrong_calls_fail_as_the_function_does(self) -> None:
        with pytest.raises(TypeError, match="missing 1 required positional argument"):
            module_level()  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
            module_level(1, c=2)  # type: ignore[call-arg]


class Probe:
    """An argument or result whose references can be counted and whose death can be seen."""


@needs_c
class TestCalls:
    def test_without_a_session_the_function_runs_directly(self) -> None:
        probe = Probe()
        before = sys.getrefcount(probe)
        for _ in range(100):
            assert module_level(probe) is probe  # type: ignore[arg-type]
        assert sys.getrefcount(probe) == before
        assert observer.buffered_events == 0

    def test_no_reference_is_kept_after_the_call_and_the_flush(
        self, exporter: InMemoryExporter
    ) -> None:
        probe, result = Probe(), Probe()
        fn = observe(capture_args=False, capture_result=False)(lambda *a, **k: result)
        arg_refs, result_refs = sys.getrefcount(probe), sys.getrefcount(result)
        observer.observe(session_name="refs")
        for _ in range(200):
            assert fn(probe, key=probe) is result
        assert sys.getrefcount(probe) == arg_refs
        assert sys.getrefcount(result) == result_refs + 0
        observer.flush(exporter=exporter)
        assert len(exporter.documents[-1]["function_events"]) == 200

    def test_captured_values_are_released_by_the_flush(self, exporter: InMemoryExporter) -> None:
        probe = Probe()
        ref = weakref.ref(probe)
        observer.observe(session_name="release")
        module_level(probe)  # type: ignore[arg-type]
        del probe
        observer.flush(exporter=exporter)
        assert ref() is None

    def test_the_users_exception_passes_through_as_itself(self, exporter: InMemoryExporter) -> None:
        raised = ValueError("no")

        @observe
        def fails() -> None:
            raise raised

        observer.observe(session_name="errors")
        with pytest.raises(ValueError) as caught:
            fails()
        assert caught.value is raised
        assert caught.value.__traceback__ is not None
        assert current_span() is None  # the span was closed
        with pytest.raises(KeyboardInterrupt):
            observe(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))()
        observer.flush(exporter=exporter)
        events = exporter.documents[-1]["function_events"]
        assert [e["error"] for e in events] == ["ValueError: no", "KeyboardInterrupt: "]

    def test_the_span_is_current_inside_and_parents_nested_calls(
        self, exporter: InMemoryExporter
    ) -> None:
        seen: list[Any] = []

        @observe
        def inner() -> None:
            seen.append(current_span())

        @observe
        def outer() -> None:
            seen.append(current_span())
            inner()

        observer.observe(session_name="nested")
        outer()
        assert current_span() is None
        observer.flush(exporter=exporter)
        by_name = {e["name"]: e for e in exporter.documents[-1]["function_events"]}
        assert by_name["inner"]["parent_span_id"] == by_name["outer"]["span_id"]
        assert by_name["inner"]["trace_id"] == by_name["outer"]["trace_id"]
        assert seen[0] is not None
        assert seen[1] is not None
        assert seen[1][1] == seen[0][1]  # same trace

    def test_the_callsite_is_the_caller_line(self, exporter: InMemoryExporter) -> None:
        observer.observe(session_name="callsite")
        module_level(1)
        line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
        observer.flush(exporter=exporter)
        [event] = exporter.documents[-1]["function_events"]
        assert event["callsite"]["line"] == line
        assert event["callsite"]["function"] == "test_the_callsite_is_the_caller_line"
        assert event["callsite"]["file"].endswith("test_observe_c.py")

    def test_called_from_c_code(self, exporter: InMemoryExporter) -> None:
        observer.observe(session_name="map")
        assert list(map(module_level, [1, 2, 3])) == [1, 2, 3]
        observer.flush(exporter=exporter)
        events = exporter.documents[-1]["function_events"]
        assert [e["args"] for e in events] == [[1], [2], [3]]
        assert {e["callsite"]["function"] for e in events} == {"test_called_from_c_code"}


@pytest.fixture
def logged_errors() -> Iterator[None]:
    """aiobs's own errors logged (as outside the tests), not raised."""
    set_raise_internal_errors(False)
    try:
        yield
    finally:
        set_raise_internal_errors(True)


class BrokenPlaces:
    """A buffer's free places whose taking fails: an internal error while recording."""

    def pop(self) -> int:
        raise RuntimeError("places broken")


@needs_c
class TestInternalErrors:
    """aiobs's own errors never reach the program outside the tests, and raise under them."""

    def test_an_error_opening_the_span_runs_the_call_unrecorded(
        self,
        monkeypatch: pytest.MonkeyPatch,
        logged_errors: None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        def broken() -> int:
            raise RuntimeError("ids broken")

        monkeypatch.setattr("aiobs._ids.new_span_id", broken)
        observer.observe(session_name="broken ids")
        with caplog.at_level(logging.DEBUG, logger="aiobs"):
            assert module_level(4) == 4
        assert "starting a span" in caplog.text
        assert observer.buffered_events == 0
        assert current_span() is None

    def test_a_clock_failing_after_the_span_is_current_leaves_no_span_behind(
        self, monkeypatch: pytest.MonkeyPatch, logged_errors: None
    ) -> None:
        def broken() -> int:
            raise RuntimeError("clock broken")

        observer.observe(session_name="broken clock")
        monkeypatch.setattr("aiobs._ids.monotonic_ns", broken)
        assert module_level(5) == 5
        assert current_span() is None

    def test_an_error_recording_keeps_the_result(
        self, logged_errors: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        observer.observe(session_name="broken places")
        session = current_session()
        assert session is not None
        session.buffer.places = BrokenPlaces()  # type: ignore[assignment]
        with caplog.at_level(logging.DEBUG, logger="aiobs"):
            assert module_level(6) == 6
        assert "recording a span" in caplog.text

    def test_under_the_tests_internal_errors_raise(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def broken() -> int:
            raise RuntimeError("ids broken")

        monkeypatch.setattr("aiobs._ids.new_span_id", broken)
        observer.observe(session_name="raise")
        with pytest.raises(RuntimeError, match="ids broken"):
            module_level(1)


@needs_c
def test_callable_objects_and_builtins_are_wrapped_too(exporter: InMemoryExporter) -> None:
    class Adder:
        def __call__(self, a: int, b: int) -> int:
            return a + b

    add = observe(name="add")(Adder())
    length = observe(len)
    observer.observe(session_name="callables")
    assert add(1, b=2) == 3
    assert length("abc") == 3
    observer.flush(exporter=exporter)
    events = exporter.documents[-1]["function_events"]
    assert [(e["name"], e["args"], e["kwargs"], e["result"]) for e in events] == [
        ("add", [1], {"b": 2}, 3),
        ("len", ["abc"], {}, 3),
    ]


def bytes_kept_per_call(run: Callable[[int], None], calls: int) -> float:
    """Memory still held after ``run(calls)`` (recording, then discarding), per call.

    A reference the C code forgets to drop keeps its object: at least 48 bytes a call.
    """
    import gc
    import tracemalloc

    def held_after(times: int) -> int:
        run(times)
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        held_after(calls // 5)  # caches and free lists settle
        before = held_after(calls // 5)
        after = held_after(calls)
    finally:
        tracemalloc.stop()
    return (after - before) / calls


def _leaky_paths() -> dict[str, Any]:
    """One decorated function and one call for each path through the C wrapper."""

    @observe
    def plain(a: int, b: str = "b") -> int:
        return a

    @observe
    def fails(a: int) -> None:
        raise ValueError(a)

    def call_plain() -> None:
        plain(1, b="x")

    def call_snapshot() -> None:
        plain([1, 2], b={"k": "v"})  # type: ignore[arg-type]

    def call_error() -> None:
        with pytest.raises(ValueError):
            fails(3)

    return {"plain": call_plain, "snapshot": call_snapshot, "error": call_error}


@needs_c
@pytest.mark.slow
@pytest.mark.parametrize("path", ["plain", "snapshot", "error", "no session", "full buffer"])
def test_no_memory_is_kept_per_call(path: str) -> None:
    """No path through the C wrapper keeps memory once its records are discarded."""
    calls = _leaky_paths()
    call = calls.get(path, calls["plain"])
    observer.configure(max_buffered_events=100 if path == "full buffer" else 1_000_000)

    def run(times: int) -> None:
        if path != "no session":
            observer.observe(session_name="leaks")
        for _ in range(times):
            call()
        if path != "no session":
            observer.end()
            observer.flush(persist=False)

    assert bytes_kept_per_call(run, 20_000) < 8


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**64 - 1, 2**64, -(2**64) + 1, -(2**64), 2**30 - 1, 2**30, -(2**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.builds(Label, st.text(max_size=5)),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)


@needs_c
@given(
    args=st.lists(values, max_size=35),
    kwargs=st.dictionaries(st.text(min_size=1, max_size=300), values, max_size=3),
    result=values,
)
@settings(max_examples=150, deadline=None)
def test_the_c_and_python_wrappers_record_the_same(
    args: list[Any], kwargs: dict[str, Any], result: Any
) -> None:
    body = paths.returns(result)
    ours = paths.recorded("function", body, *args, kwargs=dict(kwargs))
    reference = paths.recorded("python_function", body, *args, kwargs=dict(kwargs))
    assert json.dumps(ours, sort_keys=True) == json.dumps(reference, sort_keys=True)


@needs_c
class TestCoroutines:
    """A coroutine's span is opened and closed in C, around the Python wrapper's await."""

    def test_the_callsite_is_the_awaiting_line_as_in_python(
        self, exporter: InMemoryExporter
    ) -> None:
        import asyncio

        async def body(x: int) -> int:
            return x

        in_c = observe(body)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(observe_module, "ObservedFunction", None)
            in_python = observe(body)

        async def main() -> None:
            for wrapper in (in_c, in_python):
                await wrapper(1)

        observer.observe(session_name="coroutine callsite")
        asyncio.run(main())
        observer.flush(exporter=exporter)
        sites = [e["callsite"] for e in exporter.documents[-1]["function_events"]]
        assert len(sites) == 2
        assert sites[0]["function"] == sites[1]["function"] == "main"
        assert sites[0]["file"] == sites[1]["file"]

    def test_an_error_opening_the_span_runs_the_coroutine_unrecorded(
        self, monkeypatch: pytest.MonkeyPatch, logged_errors: None
    ) -> None:
        import asyncio

        def broken() -> int:
            raise RuntimeError("ids broken")

        fn = observe(_double)
        monkeypatch.setattr("aiobs._ids.new_span_id", broken)
        observer.observe(session_name="broken coroutine")
        assert asyncio.run(fn(4)) == 8
        assert observer.buffered_events == 0

    def test_the_span_handle_is_closed_once_and_checked(self) -> None:
        info = FunctionInfo.for_function(
            _double,
            kind=KIND_FUNCTION,
            name=None,
            capture_args=True,
            capture_result=True,
            enh_prompt=False,
            auto_enhance_after=None,
            redact=(),
        )
        recorder = ObservedFunction(_double, info, info.static, True, True)
        assert recorder.open((), {}) is None  # no session
        observer.observe(session_name="handle")
        span = recorder.open((), {})
        recorder.close(span, 1, None)
        with pytest.raises(RuntimeError, match="already closed"):
            recorder.close(span, 1, None)
        with pytest.raises(TypeError, match="close\\(\\) takes"):
            recorder.close(object(), 1, None)
        with pytest.raises(TypeError, match="open\\(\\) takes"):
            recorder.open(())
        assert observer.buffered_events == 1
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        [event] = memory.documents[-1]["function_events"]
        assert (event["name"], event["args"], event["result"]) == ("_double", [], 1)

    def test_no_memory_is_kept_per_coroutine_call(self) -> None:
        import asyncio

        fn = observe(_double)

        async def many(times: int) -> None:
            for _ in range(times):
                await fn(2)

        def run(times: int) -> None:
            observer.observe(session_name="coroutine leaks")
            asyncio.run(many(times))
            observer.end()
            observer.flush(persist=False)

        assert bytes_kept_per_call(run, 10_000) < 8


async def _double(x: int) -> int:
    return 2 * x

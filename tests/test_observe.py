"""@observe on functions, coroutines, generators and async generators."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs.testing import deterministic
from tests.helpers import flush_document, names, tree_outline


@observe
def add(a: int, b: int = 1) -> int:
    return a + b


@observe(name="answer", capture_result=False)
def answer(question: str) -> str:
    return question.upper()


class BoomError(RuntimeError):
    pass


@observe
def explode(message: str) -> None:
    raise BoomError(message)


class TestFunctions:
    """A decorated function records one event per call and behaves exactly as before."""

    def test_records_name_module_api_args_kwargs_result(self) -> None:
        observer.observe()
        assert add(2, b=3) == 5
        [event] = flush_document()["function_events"]
        assert event["name"] == "add"
        assert event["module"] == __name__
        assert event["api"] == f"{__name__}.add"
        assert event["args"] == [2]
        assert event["kwargs"] == {"b": 3}
        assert event["result"] == 5
        assert event["error"] is None
        assert event["provider"] == "function"
        assert "kind" not in event  # written only when not "function"

    def test_timing_fields_are_consistent(self) -> None:
        with deterministic():
            observer.observe()
            add(1)
            [event] = flush_document()["function_events"]
        assert event["ended_at"] > event["started_at"]
        assert event["duration_ms"] == pytest.approx(
            (event["ended_at"] - event["started_at"]) * 1000, abs=0.01
        )

    def test_callsite_is_the_calling_line(self) -> None:
        observer.observe()
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        add(1)
        [event] = flush_document()["function_events"]
        assert event["callsite"]["line"] == line
        assert event["callsite"]["function"] == "test_callsite_is_the_calling_line"
        assert event["callsite"]["file"].endswith("test_observe.py")

    def test_name_and_capture_options(self) -> None:
        observer.observe()
        assert answer("why") == "WHY"
        [event] = flush_document()["function_events"]
        assert event["name"] == "answer"
        assert event["api"] == f"{__name__}.answer"
        assert event["result"] is None
        assert event["args"] == ["why"]

    def test_numbers_json_cannot_hold_are_exported_as_strings(self, tmp_path: Any) -> None:
        @observe
        def numbers(a: float, b: int, c: float = 0.0) -> float:
            return float("inf")

        observer.observe()
        numbers(float("nan"), 10**30, c=-float("inf"))
        numbers(1.5, 2**63, c=0.0)
        path = observer.flush("numbers.json")
        assert isinstance(path, str)
        text = (tmp_path / path).read_text()

        def reject(constant: str) -> None:
            pytest.fail(f"{constant} is not JSON")

        first, second = json.loads(text, parse_constant=reject)["function_events"]
        assert first["args"] == ["NaN", "<int of 100 bits>"]
        assert first["kwargs"] == {"c": "-Infinity"}
        assert first["result"] == "Infinity"
        assert second["args"] == [1.5, 2**63]

    def test_capture_args_off(self) -> None:
        @observe(capture_args=False)
        def secretive(x: int) -> int:
            return x

        observer.observe()
        secretive(7)
        [event] = flush_document()["function_events"]
        assert event["args"] is None
        assert event["kwargs"] is None
        assert event["result"] == 7

    def test_exception_is_recorded_and_reraised_unchanged(self) -> None:
        observer.observe()
        with pytest.raises(BoomError) as raised:
            explode("bad input")
        assert str(raised.value) == "bad input"
        [event] = flush_document()["function_events"]
        assert event["error"] == "BoomError: bad input"
        assert event["status"] == "error"
        assert event["exception"]["type"] == f"{__name__}.BoomError"
        assert event["exception"]["message"] == "bad input"
        traceback = event["exception"]["traceback"]
        assert traceback.startswith("Traceback (most recent call last):")
        assert "raise BoomError(message)" in traceback
        # Only the program's own frames: the function that raised, none of aiobs's wrapper.
        frames = re.findall(r'^  File "(.+)", line \d+, in (\S+)$', traceback, re.MULTILINE)
        assert [(Path(file).resolve(), name) for file, name in frames] == [
            (Path(__file__).resolve(), "explode")
        ]

    def test_base_exceptions_pass_through(self) -> None:
        @observe
        def interrupted() -> None:
            raise KeyboardInterrupt

        observer.observe()
        with pytest.raises(KeyboardInterrupt):
            interrupted()
        [event] = flush_document()["function_events"]
        assert event["error"] == "KeyboardInterrupt: "

    def test_nothing_is_recorded_without_a_session(self, exporter: Any) -> None:
        assert add(1) == 2
        observer.flush(exporter=exporter)
        assert exporter.documents[-1]["function_events"] == []

    def test_nesting_sets_parent_and_trace(self) -> None:
        @observe
        def outer() -> int:
            return add(1) + add(2)

        observer.observe()
        outer()
        document = flush_document()
        by_name: dict[str, list[dict[str, Any]]] = {}
        for event in document["function_events"]:
            by_name.setdefault(event["name"], []).append(event)
        [top] = by_name["outer"]
        assert top["parent_span_id"] is None
        for child in by_name["add"]:
            assert child["parent_span_id"] == top["span_id"]
            assert child["trace_id"] == top["trace_id"]
        assert tree_outline(document["trace_tree"]) == [["outer", [["add", []], ["add", []]]]]

    def test_separate_roots_get_separate_traces(self) -> None:
        observer.observe()
        add(1)
        add(2)
        first, second = flush_document()["function_events"]
        assert first["trace_id"] != second["trace_id"]
        assert len(first["span_id"]) == 16
        assert len(first["trace_id"]) == 32

    def test_methods_static_and_class_methods(self) -> None:
        class Calculator:
            def __init__(self) -> None:
                self.base = 10

            @observe
            def plus(self, x: int) -> int:
                return self.base + x

            @observe
            @staticmethod
            def twice(x: int) -> int:
                return 2 * x

            @observe
            @classmethod
            def make(cls) -> Calculator:
                return cls()

        observer.observe()
        calculator = Calculator.make()
        assert calculator.plus(1) == 11
        assert Calculator.twice(4) == 8
        assert calculator.twice(5) == 10
        assert names(flush_document()) == ["make", "plus", "twice", "twice"]

    def test_signature_and_metadata_are_kept(self) -> None:
        def original(a: int, *, flag: bool = False) -> str:
            """Original docstring."""
            return str(a)

        decorated = observe(original)
        assert decorated.__name__ == "original"
        assert decorated.__doc__ == "Original docstring."
        assert decorated.__wrapped__ is original  # type: ignore[attr-defined]
        assert inspect.signature(decorated) == inspect.signature(original)

    def test_invalid_options_are_rejected(self) -> None:
        with pytest.raises(TypeError, match="list of argument names"):
            observe(redact="password")  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="auto_enhance_after must be a positive int"):
            observe(auto_enhance_after=0)
        with pytest.raises(TypeError, match="needs a function"):
            observe(42)  # type: ignore[call-overload]


class TestRedaction:
    """Arguments named like secrets, and redact=[...] names, never reach the export."""

    def test_secret_parameters_positional_and_keyword(self) -> None:
        @observe
        def login(user: str, password: str, *, api_key: str = "") -> bool:
            return True

        observer.observe()
        login("ada", "hunter2", api_key="sk-test-abcdefghijklmnopqrstuv")
        [event] = flush_document()["function_events"]
        assert event["args"] == ["ada", "[REDACTED]"]
        assert event["kwargs"] == {"api_key": "[REDACTED]"}

    def test_only_calls_with_a_secret_keyword_are_changed(self) -> None:
        @observe
        def call(**options: Any) -> None:
            return None

        observer.observe()
        call(model="m", temperature=0.5)
        call(model="m", api_key="plain-looking-key")
        call(model="m", max_tokens=10)
        kwargs = [e["kwargs"] for e in flush_document()["function_events"]]
        assert kwargs == [
            {"model": "m", "temperature": 0.5},
            {"model": "m", "api_key": "[REDACTED]"},
            {"model": "m", "max_tokens": 10},
        ]

    def test_redact_option_hides_more_names(self) -> None:
        @observe(redact=["customer_email"])
        def notify(customer_email: str, body: str) -> None:
            return None

        observer.observe()
        notify("ada@example.com", body="hello")
        notify(customer_email="bob@example.com", body="hi")
        first, second = flush_document()["function_events"]
        assert first["args"] == ["[REDACTED]"]
        assert first["kwargs"] == {"body": "hello"}
        assert second["kwargs"] == {"customer_email": "[REDACTED]", "body": "hi"}

    def test_credentials_inside_values_are_cut_out(self) -> None:
        @observe
        def call(prompt: str) -> str:
            return "ok: Bearer abcdefghijklmnop"

        observer.observe()
        call("use key sk-proj-0123456789abcdefghij please")
        [event] = flush_document()["function_events"]
        assert event["args"] == ["use key [REDACTED] please"]
        assert event["result"] == "ok: [REDACTED]"


class TestEnhPrompt:
    """enh_prompt and auto_enhance_after keep their aiobs 0.2 meaning."""

    def test_enh_prompt_ids_are_listed_in_tree_order(self) -> None:
        @observe(enh_prompt=True, auto_enhance_after=5)
        def prompt(x: int) -> int:
            return x

        @observe
        def pipeline() -> None:
            prompt(1)
            prompt(2)

        with deterministic():
            observer.observe()
            pipeline()
            document = flush_document()
        prompts = [e for e in document["function_events"] if e["name"] == "prompt"]
        assert [e["enh_prompt"] for e in prompts] == [True, True]
        assert [e["auto_enhance_after"] for e in prompts] == [5, 5]
        assert document["enh_prompt_traces"] == ["enh-prompt-1", "enh-prompt-2"]

    def test_no_enh_prompt_means_null_list(self) -> None:
        observer.observe()
        add(1)
        document = flush_document()
        assert document["enh_prompt_traces"] is None
        assert document["function_events"][0]["enh_prompt_id"] is None


class TestCoroutines:
    """async def functions are recorded around the await, with parents across tasks."""

    def test_coroutine_records_result_and_parent(self) -> None:
        @observe
        async def fetch(x: int) -> int:
            await asyncio.sleep(0)
            return x * 2

        @observe
        async def gather_all() -> list[int]:
            return await asyncio.gather(fetch(1), fetch(2))

        observer.observe()
        assert asyncio.run(gather_all()) == [2, 4]
        document = flush_document()
        outer = next(e for e in document["function_events"] if e["name"] == "gather_all")
        fetches = [e for e in document["function_events"] if e["name"] == "fetch"]
        assert sorted(e["result"] for e in fetches) == [2, 4]
        assert {e["parent_span_id"] for e in fetches} == {outer["span_id"]}
        assert inspect.iscoroutinefunction(fetch)

    def test_coroutine_error_and_cancellation(self) -> None:
        @observe
        async def fails() -> None:
            raise ValueError("nope")

        @observe
        async def sleeps() -> None:
            await asyncio.sleep(10)

        async def main() -> None:
            with pytest.raises(ValueError, match="nope"):
                await fails()
            task = asyncio.create_task(sleeps())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        observer.observe()
        asyncio.run(main())
        errors = {e["name"]: e["error"] for e in flush_document()["function_events"]}
        assert errors == {"fails": "ValueError: nope", "sleeps": "CancelledError: "}


class TestGenerators:
    """A generator is one span from its first item to exhaustion, close or error."""

    def test_exhausted_generator(self) -> None:
        @observe
        def count(n: int) -> Iterator[int]:
            for i in range(n):
                yield add(i, 0)
            return

        observer.observe()
        gen = count(3)
        assert inspect.isgenerator(gen)
        assert list(gen) == [0, 1, 2]
        document = flush_document()
        [span] = [e for e in document["function_events"] if e["name"] == "count"]
        assert span["kind"] == "generator"
        assert span["yielded"] == 3
        assert "status" not in span
        assert tree_outline(document["trace_tree"]) == [
            ["count", [["add", []], ["add", []], ["add", []]]]
        ]

    def test_span_is_not_current_between_items(self) -> None:
        @observe
        def items() -> Iterator[int]:
            yield 1
            yield 2

        observer.observe()
        for _ in items():
            add(0)  # consumer work: not a child of the generator
        document = flush_document()
        assert tree_outline(document["trace_tree"]) == [
            ["items", []],
            ["add", []],
            ["add", []],
        ]

    def test_closed_early_and_send_and_throw(self) -> None:
        @observe
        def echo() -> Iterator[Any]:
            received = None
            while True:
                try:
                    received = yield received
                except KeyError:  # noqa: PERF203 - the generator protocol under test
                    received = "recovered"

        observer.observe()
        gen = echo()
        assert next(gen) is None
        assert gen.send("hi") == "hi"
        assert gen.throw(KeyError("k")) == "recovered"
        gen.close()
        [event] = flush_document()["function_events"]
        assert event["status"] == "closed"
        assert event["yielded"] == 3

    def test_generator_return_value_and_error(self) -> None:
        @observe
        def returns() -> Iterator[int]:
            yield 1
            return 42

        @observe
        def breaks() -> Iterator[int]:
            yield 1
            raise BoomError("mid-stream")

        def delegate() -> Iterator[int]:
            value = yield from returns()
            assert value == 42
            return value

        observer.observe()
        assert list(delegate()) == [1]
        with pytest.raises(BoomError):
            list(breaks())
        events = {e["name"]: e for e in flush_document()["function_events"]}
        assert events["returns"]["result"] == 42
        assert events["breaks"]["error"] == "BoomError: mid-stream"
        assert events["breaks"]["yielded"] == 1


class TestAsyncGenerators:
    """An async generator is one span, like a generator, with asend/athrow/aclose forwarded."""

    def test_async_generator_items_and_children(self) -> None:
        @observe
        async def stream(n: int) -> AsyncIterator[int]:
            for i in range(n):
                await asyncio.sleep(0)
                yield add(i, 10)

        async def consume() -> list[int]:
            return [x async for x in stream(2)]

        observer.observe()
        assert asyncio.run(consume()) == [10, 11]
        document = flush_document()
        assert inspect.isasyncgenfunction(stream)
        assert tree_outline(document["trace_tree"]) == [["stream", [["add", []], ["add", []]]]]
        [span] = [e for e in document["function_events"] if e["name"] == "stream"]
        assert span["yielded"] == 2
        assert span["kind"] == "generator"

    def test_async_generator_closed_early_and_error(self) -> None:
        @observe
        async def endless() -> AsyncIterator[int]:
            i = 0
            while True:
                yield i
                i += 1

        @observe
        async def fails() -> AsyncIterator[int]:
            yield 1
            raise BoomError("async")

        async def main() -> None:
            agen = endless()
            assert await agen.__anext__() == 0
            assert await agen.asend(None) == 1
            await agen.aclose()
            with pytest.raises(BoomError):
                async for _ in fails():
                    pass

        observer.observe()
        asyncio.run(main())
        events = {e["name"]: e for e in flush_document()["function_events"]}
        assert events["endless"]["status"] == "closed"
        assert events["endless"]["yielded"] == 2
        assert events["fails"]["error"] == "BoomError: async"

    def test_async_generator_without_session_is_transparent(self) -> None:
        @observe
        async def stream() -> AsyncIterator[int]:
            yield 1
            yield 2

        async def consume() -> list[int]:
            return [x async for x in stream()]

        assert asyncio.run(consume()) == [1, 2]

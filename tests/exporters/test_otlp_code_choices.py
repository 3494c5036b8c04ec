"""Where a function is defined, recorded when it is decorated; several answers; finish reasons."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

from aiobs import observe, observer
from aiobs.exporters.otlp import OTLPExporter
from aiobs.providers.call import LLMCall
from tests.exporters.otlp_receiver import Receiver, attrs, by_name, flush_to


class TestCodeLocation:
    """``code.file.path`` / ``code.line.number`` name the function's own definition."""

    def test_a_nested_function_gets_its_line(self, receiver: Receiver) -> None:
        def helper(x: int) -> int:
            return x * 2

        traced = observe(helper)
        observer.observe()
        traced(2)
        flush_to(OTLPExporter(endpoint=receiver.url))
        values = attrs(by_name(receiver.spans)["helper"])
        assert values["code.function.name"].endswith(".<locals>.helper")
        assert values["code.file.path"] == __file__
        assert values["code.line.number"] == helper.__code__.co_firstlineno

    def test_known_from_decoration_even_when_its_module_is_gone(
        self, receiver: Receiver, tmp_path: Any
    ) -> None:
        source = tmp_path / "vanished_module.py"
        source.write_text("\n\ndef work(x):\n    return x\n")
        namespace: dict[str, Any] = {"__name__": "vanished_module"}
        exec(compile(source.read_text(), str(source), "exec"), namespace)
        assert "vanished_module" not in sys.modules
        traced = observe(namespace["work"])
        observer.observe()
        traced(1)
        flush_to(OTLPExporter(endpoint=receiver.url))
        values = attrs(by_name(receiver.spans)["work"])
        assert values["code.function.name"] == "vanished_module.work"
        assert values["code.file.path"] == str(source)
        assert values["code.line.number"] == 3

    def test_a_method_and_a_decorated_generator(self, receiver: Receiver) -> None:
        class Shelf:
            @observe
            def count(self) -> int:
                return 3

        @observe
        def numbers() -> Any:
            yield 1

        observer.observe()
        Shelf().count()
        list(numbers())
        flush_to(OTLPExporter(endpoint=receiver.url))
        spans = by_name(receiver.spans)
        assert (
            attrs(spans["count"])["code.line.number"]
            == Shelf.count.__wrapped__.__code__.co_firstlineno
        )  # type: ignore[attr-defined]
        assert (
            attrs(spans["numbers"])["code.line.number"]
            == numbers.__wrapped__.__code__.co_firstlineno
        )  # type: ignore[attr-defined]


def record_call(response: dict[str, Any], request: dict[str, Any] | None = None) -> None:
    observer.observe()
    call = LLMCall.start(
        "openai", "chat.completions.create", {"model": "m", **(request or {})}, model="m"
    )
    assert call is not None
    call.finish(response=response)


class TestSeveralAnswers:
    """A call that asked for several answers (``n``) gives one output message per answer."""

    def test_choices_become_messages(self, receiver: Receiver) -> None:
        record_call(
            {
                "text": "Paris\nParis, France",
                "finish_reasons": ["stop", "length"],
                "choices": [
                    {"text": "Paris", "tool_calls": [], "finish_reason": "stop"},
                    {"text": "Paris, France", "tool_calls": [], "finish_reason": "length"},
                ],
            },
            {"n": 2},
        )
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        values = attrs(receiver.spans[0])
        assert json.loads(values["gen_ai.output.messages"]) == [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Paris"}],
                "finish_reason": "stop",
            },
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Paris, France"}],
                "finish_reason": "length",
            },
        ]
        assert values["gen_ai.request.choice.count"] == 2
        assert values["gen_ai.response.finish_reasons"] == ["stop", "length"]


class TestFinishReasons:
    """Finish reasons in the conventions' names; the provider's own in an aiobs attribute."""

    @pytest.mark.parametrize(
        ("raw", "tool_calls", "expected"),
        [
            ("stop", False, "stop"),
            ("length", False, "length"),
            ("content_filter", False, "content_filter"),
            ("tool_calls", True, "tool_call"),
            ("completed", False, "stop"),
            ("completed", True, "tool_call"),
            ("incomplete", False, "length"),
            ("end_turn", False, "stop"),
            ("max_tokens", False, "length"),
            ("tool_use", True, "tool_call"),
            ("refusal", False, "content_filter"),
            ("STOP", False, "stop"),
            ("STOP", True, "tool_call"),
            ("MAX_TOKENS", False, "length"),
            ("SAFETY", False, "content_filter"),
            ("MALFORMED_FUNCTION_CALL", False, "error"),
            ("something_new", False, "something_new"),
        ],
    )
    def test_mapping(self, receiver: Receiver, raw: str, tool_calls: bool, expected: str) -> None:
        calls = [{"id": "c1", "name": "f", "arguments": "{}"}] if tool_calls else []
        record_call({"text": "ok", "tool_calls": calls, "finish_reasons": [raw]})
        flush_to(OTLPExporter(endpoint=receiver.url, capture_content=True))
        values = attrs(receiver.spans[0])
        assert values["gen_ai.response.finish_reasons"] == [expected]
        assert values["aiobs.response.finish_reasons"] == [raw]
        [message] = json.loads(values["gen_ai.output.messages"])
        assert message["finish_reason"] == expected

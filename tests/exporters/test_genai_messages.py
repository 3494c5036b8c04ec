"""Each vendor's prompts and answers in the GenAI conventions' message structure.

Every result is validated against JSON schemas written from the conventions' documented structure
(``tests/exporters/data/gen-ai-*.json``; their ``$comment`` says where they come from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

jsonschema = pytest.importorskip("jsonschema")

from aiobs.exporters.genai_messages import (  # noqa: E402 - after the importorskip
    input_messages,
    output_messages,
    system_instructions,
)

DATA = Path(__file__).parent / "data"


def _validator(name: str) -> Any:
    schema = json.loads((DATA / f"gen-ai-{name}.json").read_text())
    return jsonschema.Draft202012Validator(schema)


INPUT, OUTPUT, SYSTEM = (
    _validator("input-messages"),
    _validator("output-messages"),
    _validator("system-instructions"),
)


def valid_input(messages: Any) -> Any:
    INPUT.validate(messages)
    return messages


def valid_system(parts: Any) -> Any:
    SYSTEM.validate(parts)
    return parts


def text(content: str) -> dict[str, str]:
    return {"type": "text", "content": content}


class TestOpenAIChat:
    """Chat completions: string and part contents, tool calls, tool results, system roles."""

    REQUEST: ClassVar[dict[str, Any]] = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        ],
    }

    def test_input_messages(self) -> None:
        assert valid_input(input_messages("openai", self.REQUEST)) == [
            {"role": "user", "parts": [text("Weather in Paris?"), {"type": "image_url"}]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "weather",
                        "arguments": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "call_1", "response": "18C"}],
            },
        ]

    def test_system_and_developer_messages_are_system_instructions(self) -> None:
        assert valid_system(system_instructions("openai", self.REQUEST)) == [
            text("Be brief."),
            text("Use metric units."),
        ]

    def test_no_system_message(self) -> None:
        request = {"messages": [{"role": "user", "content": "Hi"}]}
        assert system_instructions("openai", request) is None


class TestOpenAIResponses:
    """The Responses API: a bare string, a list of items, and ``instructions``."""

    def test_bare_string(self) -> None:
        assert valid_input(input_messages("openai", {"input": "Hi"})) == [
            {"role": "user", "parts": [text("Hi")]}
        ]

    def test_items(self) -> None:
        request = {
            "instructions": "Answer in French.",
            "input": [
                {"role": "developer", "content": "Be polite."},
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {
                    "type": "function_call",
                    "call_id": "fc_1",
                    "name": "weather",
                    "arguments": '{"city":"Paris"}',
                },
                {"type": "function_call_output", "call_id": "fc_1", "output": "18C"},
            ],
        }
        assert valid_input(input_messages("openai", request)) == [
            {"role": "user", "parts": [text("Weather?")]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "fc_1",
                        "name": "weather",
                        "arguments": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "fc_1", "response": "18C"}],
            },
        ]
        assert valid_system(system_instructions("openai", request)) == [
            text("Answer in French."),
            text("Be polite."),
        ]


class TestAnthropic:
    """Messages with content blocks, and ``system`` as a string or blocks."""

    REQUEST: ClassVar[dict[str, Any]] = {
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Need a tool.", "signature": "x"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "tu_1", "name": "weather", "input": {"c": "P"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "tu_1",
                        "content": [{"type": "text", "text": "18C"}],
                    },
                    {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                ],
            },
        ],
    }

    def test_input_messages(self) -> None:
        assert valid_input(input_messages("anthropic", self.REQUEST)) == [
            {"role": "user", "parts": [text("Weather?")]},
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "Need a tool."},
                    text("Checking."),
                    {"type": "tool_call", "id": "tu_1", "name": "weather", "arguments": {"c": "P"}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"type": "tool_call_response", "id": "tu_1", "response": "18C"},
                    {"type": "image"},
                ],
            },
        ]

    def test_system_blocks_and_string(self) -> None:
        assert valid_system(system_instructions("anthropic", self.REQUEST)) == [
            text("You are terse.")
        ]
        request = {"system": "Be kind.", "messages": []}
        assert valid_system(system_instructions("anthropic", request)) == [text("Be kind.")]


class TestGemini:
    """``contents`` in each form the SDK takes, and ``config.system_instruction``."""

    def test_bare_string(self) -> None:
        assert valid_input(input_messages("gemini", {"contents": "Hi"})) == [
            {"role": "user", "parts": [text("Hi")]}
        ]

    def test_list_of_strings_is_one_user_content(self) -> None:
        assert valid_input(input_messages("gemini", {"contents": ["a", "b"]})) == [
            {"role": "user", "parts": [text("a"), text("b")]}
        ]

    def test_contents_with_function_calls(self) -> None:
        request = {
            "contents": [
                {"role": "user", "parts": [{"text": "Weather?"}]},
                {
                    "role": "model",
                    "parts": [{"function_call": {"name": "weather", "args": {"city": "Paris"}}}],
                },
                {
                    "role": "user",
                    "parts": [
                        {"functionResponse": {"name": "weather", "response": {"t": 18}}},
                        {"inline_data": {"mime_type": "image/png", "data": "AAAA"}},
                    ],
                },
            ],
            "config": {"system_instruction": "Be brief.", "temperature": 0.2},
        }
        assert valid_input(input_messages("gemini", request)) == [
            {"role": "user", "parts": [text("Weather?")]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": None,
                        "name": "weather",
                        "arguments": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"type": "tool_call_response", "id": None, "response": {"t": 18}},
                    {"type": "inline_data"},
                ],
            },
        ]
        assert valid_system(system_instructions("gemini", request)) == [text("Be brief.")]

    def test_system_instruction_as_content(self) -> None:
        request = {
            "contents": "Hi",
            "config": {"systemInstruction": {"parts": [{"text": "One"}, {"text": "Two"}]}},
        }
        assert valid_system(system_instructions("gemini", request)) == [text("One"), text("Two")]


class TestOutputMessages:
    """aiobs's normalized response as one assistant message."""

    def test_text_tool_calls_and_finish_reason(self) -> None:
        response = {
            "text": "Checking.",
            "tool_calls": [{"id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'}],
            "finish_reasons": ["tool_calls"],
        }
        messages = output_messages(response)
        OUTPUT.validate(messages)
        assert messages == [
            {
                "role": "assistant",
                "parts": [
                    text("Checking."),
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "weather",
                        "arguments": {"city": "Paris"},
                    },
                ],
                "finish_reason": "tool_call",  # OpenAI's "tool_calls", as the conventions say
            }
        ]

    def test_unknown_finish_reason_is_left_out_never_null(self) -> None:
        messages = output_messages({"text": "Par", "finish_reasons": None})
        assert messages == [{"role": "assistant", "parts": [text("Par")]}]

    def test_nothing_to_say(self) -> None:
        assert output_messages({"text": None}) is None
        assert output_messages(None) is None

    def test_odd_input_never_raises(self) -> None:
        assert input_messages("openai", {"messages": "not a list"}) is None
        assert input_messages("gemini", {"contents": 3}) is None
        assert input_messages("anthropic", {"messages": [None, 3]}) == []
        assert system_instructions("gemini", {"contents": "x", "config": "bad"}) is None

    def test_unhashable_roles_and_types(self) -> None:
        odd: Any = [{"role": ["user"], "type": {"a": 1}, "content": [{"type": [1], "text": "x"}]}]
        assert input_messages("openai", {"messages": odd}) == [
            {"role": "user", "parts": [{"type": "unknown"}]}
        ]
        assert input_messages("openai", {"input": odd}) == [
            {"role": "user", "parts": [{"type": "unknown"}]}
        ]
        assert input_messages("anthropic", {"messages": odd}) == [
            {"role": "user", "parts": [{"type": "unknown"}]}
        ]
        assert system_instructions("openai", {"messages": odd}) is None

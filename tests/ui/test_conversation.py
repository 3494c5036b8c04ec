"""Requests of every provider read as one list of messages."""

from __future__ import annotations

from aiobs.ui.conversation import conversation, response_message


class TestConversation:
    """System, user, assistant, tool calls and tool results, whatever the provider's shape."""

    def test_openai_chat(self) -> None:
        request = {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "rain"},
            ],
        }
        assert conversation(request) == [
            {"role": "system", "text": "Be brief.", "tool_calls": []},
            {"role": "user", "text": "Weather?", "tool_calls": []},
            {
                "role": "assistant",
                "text": "",
                "tool_calls": [{"name": "weather", "arguments": '{"city":"Oslo"}'}],
            },
            {"role": "tool", "text": "rain", "tool_calls": [], "tool_call_id": "c1"},
        ]

    def test_anthropic_blocks(self) -> None:
        request = {
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "rain"}],
                },
            ],
        }
        messages = conversation(request)
        assert [message["role"] for message in messages] == ["system", "user", "assistant", "tool"]
        assert messages[2]["tool_calls"] == [{"name": "weather", "arguments": "{}"}]
        assert (messages[3]["text"], messages[3]["tool_call_id"]) == ("rain", "t1")

    def test_gemini_contents_and_system_instruction(self) -> None:
        request = {
            "model": "gemini-2.0-flash",
            "contents": [
                {"role": "user", "parts": [{"text": "Weather?"}]},
                {"role": "model", "parts": [{"function_call": {"name": "weather", "args": {}}}]},
            ],
            "config": {"system_instruction": "Be brief."},
        }
        messages = conversation(request)
        assert [message["role"] for message in messages] == ["system", "user", "assistant"]
        assert messages[2]["tool_calls"] == [{"name": "weather", "arguments": "{}"}]

    def test_a_plain_string_prompt_and_unknown_parts(self) -> None:
        assert conversation({"contents": "hi"}) == [
            {"role": "user", "text": "hi", "tool_calls": []}
        ]
        odd = conversation({"input": [{"role": "user", "content": [{"type": "input_image"}]}]})
        assert odd[0]["text"] == '{\n "type": "input_image"\n}'
        assert conversation(None) == []

    def test_the_response(self) -> None:
        answer = response_message({"text": "Oslo", "tool_calls": [{"name": "f", "arguments": {}}]})
        assert answer == {
            "role": "assistant",
            "text": "Oslo",
            "tool_calls": [{"name": "f", "arguments": "{}"}],
        }
        assert response_message({"model": "m"}) is None

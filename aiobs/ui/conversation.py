"""An LLM call's request and response as a list of messages, whatever the provider.

Requests are recorded as the program passed them to the SDK: OpenAI ``messages`` (chat) or
``input``/``instructions`` (responses), Anthropic ``system`` and ``messages`` with content
blocks, Gemini ``contents`` with ``parts`` and ``config.system_instruction``. Each becomes
``{"role", "text", "tool_calls", "tool_call_id"}``; a part that is neither text nor a tool call
or result is kept as JSON text, so nothing recorded is hidden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Message = dict[str, Any]


def conversation(request: Any) -> list[Message]:
    """The messages an LLM call sent, oldest first (system first when given apart)."""
    if not isinstance(request, Mapping):
        return []
    messages: list[Message] = []
    config = request.get("config")
    system = request.get("system", request.get("instructions"))
    if system is None and isinstance(config, Mapping):
        system = config.get("system_instruction")
    if system is not None:
        messages.append(_message("system", system))
    for key in ("messages", "contents", "input", "prompt"):
        value = request.get(key)
        if isinstance(value, str):
            messages.append(_message("user", value))
        elif isinstance(value, list):
            messages.extend(_message(_role(item), item) for item in value)
    return messages


def response_message(response: Any) -> Message | None:
    """What the model answered: its text and tool calls, as the assistant's message."""
    if not isinstance(response, Mapping):
        return None
    text = response.get("text")
    calls = response.get("tool_calls")
    if text is None and not calls:
        return None
    message = _message("assistant", text if text is not None else "")
    if isinstance(calls, list):
        message["tool_calls"] = [_tool_call(call) for call in calls]
    return message


def _role(item: Any) -> str:
    if isinstance(item, Mapping):
        role = item.get("role")
        if isinstance(role, str) and role:
            return "assistant" if role == "model" else role
        if item.get("type") == "function_call_output":
            return "tool"
    return "user"


def _message(role: str, value: Any) -> Message:
    """One message from a string, a message object or a list of content parts."""
    texts: list[str] = []
    tool_calls: list[dict[str, str]] = []
    message: Message = {"role": role, "text": "", "tool_calls": tool_calls}
    if isinstance(value, Mapping) and ("content" in value or "parts" in value):
        if isinstance(value.get("tool_call_id"), str):
            message["tool_call_id"] = value["tool_call_id"]
        tool_calls.extend(_tool_call(call) for call in value.get("tool_calls") or [])
        value = value.get("content", value.get("parts"))
    for part in value if isinstance(value, list) else [value]:
        _add_part(part, texts, tool_calls, message)
    message["text"] = "\n".join(texts)
    return message


def _add_part(part: Any, texts: list[str], calls: list[dict[str, str]], message: Message) -> None:
    if part is None:
        return
    if isinstance(part, str):
        texts.append(part)
        return
    if not isinstance(part, Mapping):
        texts.append(_json(part))
        return
    kind = part.get("type")
    if isinstance(part.get("text"), str) and kind in (None, "text", "input_text", "output_text"):
        texts.append(part["text"])
    elif kind == "tool_use" or "function_call" in part:
        calls.append(_tool_call(part.get("function_call", part)))
    elif kind == "tool_result" or "function_response" in part:
        message["role"] = "tool"
        result = part.get("content", part.get("function_response"))
        texts.append(result if isinstance(result, str) else _json(result))
        if isinstance(part.get("tool_use_id"), str):
            message["tool_call_id"] = part["tool_use_id"]
    else:
        texts.append(_json(part))


def _tool_call(call: Any) -> dict[str, str]:
    """``{"name", "arguments"}`` of a tool call in any provider's shape; arguments as text."""
    if not isinstance(call, Mapping):
        return {"name": "", "arguments": _json(call)}
    function = call.get("function")
    if isinstance(function, Mapping):  # OpenAI chat: {"function": {"name", "arguments"}}
        call = function
    arguments = call.get("arguments", call.get("input", call.get("args")))
    name = call.get("name")
    return {
        "name": name if isinstance(name, str) else "",
        "arguments": arguments if isinstance(arguments, str) else _json(arguments),
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, indent=1)

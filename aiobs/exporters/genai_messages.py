"""Prompts and answers in the structure of the OpenTelemetry GenAI semantic conventions.

aiobs records each SDK call's arguments as given (``request``) and a normalized answer
(``response``: ``text``, ``tool_calls``, ``finish_reasons``). The conventions' content attributes
want something else: ``gen_ai.input.messages`` and ``gen_ai.output.messages`` are lists of
``{"role", "parts": [...]}`` messages whose parts are typed (``text``, ``tool_call``,
``tool_call_response``, ``reasoning``, or any other ``type``), an output message also carries its
``finish_reason``, and ``gen_ai.system_instructions`` is a list of parts. This module converts
each vendor's shapes into those; it is pure (dicts in, dicts out) and never raises on odd input::

    from aiobs.exporters.genai_messages import input_messages

    input_messages("anthropic", {"messages": [{"role": "user", "content": "Hi"}]})
    # [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]

Shapes understood:

- OpenAI chat: ``messages`` with string or part-list ``content``, assistant ``tool_calls``,
  ``tool`` messages (``tool_call_id``); ``system`` and ``developer`` messages become system
  instructions.
- OpenAI Responses: ``input`` as a string or a list of messages and items (``function_call``,
  ``function_call_output``); ``instructions`` become system instructions.
- Anthropic: ``messages`` with string or block-list ``content`` (``text``, ``tool_use``,
  ``tool_result``, ``thinking``); ``system`` (a string or text blocks).
- Gemini: ``contents`` as a string, a list of strings and parts, one content or a list of contents
  (role ``model`` is ``assistant``; ``function_call`` / ``function_response`` parts, snake or
  camel case); ``config.system_instruction``.

Parts of other kinds (images, audio, files) keep only their ``type``, never their data. An output
message's ``finish_reason`` is the conventions' name of the provider's value (:func:`finish_reason`;
the exporter keeps the provider's own in ``aiobs.response.finish_reasons``); when the provider gave
none it is left out rather than invented (the conventions' schema makes it required, so such a
message is the one case that does not validate). A call that asked for several answers (``n``,
``candidate_count``) gives one output message per answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._format import (
    RESPONSE_CHOICES,
    RESPONSE_FINISH_REASONS,
    RESPONSE_TEXT,
    RESPONSE_TOOL_CALLS,
)
from .genai_attributes import (
    FINISH_CONTENT_FILTER,
    FINISH_ERROR,
    FINISH_LENGTH,
    FINISH_STOP,
    FINISH_TOOL_CALL,
)

CHOICE_FINISH_REASON = "finish_reason"
"""The finish reason of one of several answers (``RESPONSE_CHOICES``)."""

Part = dict[str, Any]
Message = dict[str, Any]

SYSTEM_ROLES = frozenset({"system", "developer"})
"""OpenAI roles whose messages are system instructions, not conversation."""

_RESPONSES_INPUT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text"})


def _name(value: Any) -> str | None:
    """``value`` if it is a string (roles and types of odd input may be anything)."""
    return value if isinstance(value, str) else None


def _text(content: str) -> Part:
    return {"type": "text", "content": content}


def _arguments(value: Any) -> Any:
    """Tool-call arguments as an object when they are JSON text (OpenAI sends them as text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _tool_call(ident: Any, name: Any, arguments: Any) -> Part:
    part: Part = {"type": "tool_call", "id": ident, "name": name if name is not None else ""}
    if arguments is not None:
        part["arguments"] = _arguments(arguments)
    return part


def _tool_response(ident: Any, response: Any) -> Part:
    return {"type": "tool_call_response", "id": ident, "response": response}


def _other(block: Mapping[str, Any]) -> Part:
    kind = block.get("type")
    return {"type": kind if isinstance(kind, str) and kind else "unknown"}


# -- the entry points ----------------------------------------------------------------------------


def input_messages(provider: Any, request: Any) -> list[Message] | None:
    """``gen_ai.input.messages`` of a call of ``provider`` made with ``request``, if any."""
    if not isinstance(request, Mapping):
        return None
    result: list[Message] | None = None
    if provider == "gemini" or "contents" in request:
        result = _gemini_contents(request.get("contents"))
    elif provider == "anthropic":
        result = _anthropic_messages(request.get("messages"))
    elif "messages" in request:
        result = _openai_chat_messages(request.get("messages"))
    elif "input" in request:
        result = _responses_input(request.get("input"))
    elif isinstance(request.get("prompt"), str):
        result = [{"role": "user", "parts": [_text(request["prompt"])]}]
    return result


def system_instructions(provider: Any, request: Any) -> list[Part] | None:
    """``gen_ai.system_instructions``: what the call gave as system prompt; ``None`` if nothing."""
    if not isinstance(request, Mapping):
        return None
    parts: list[Part] = []
    if provider == "gemini" or "contents" in request:
        config = request.get("config")
        if isinstance(config, Mapping):
            value = config.get("system_instruction", config.get("systemInstruction"))
            parts = _gemini_system(value)
    elif provider == "anthropic":
        parts = _anthropic_parts(request.get("system"))
    else:
        instructions = request.get("instructions")
        if isinstance(instructions, str) and instructions:
            parts.append(_text(instructions))
        items = request.get("messages", request.get("input"))
        if isinstance(items, Sequence) and not isinstance(items, str):
            for item in items:
                if isinstance(item, Mapping) and _name(item.get("role")) in SYSTEM_ROLES:
                    parts.extend(_openai_content(item.get("content")))
    return parts or None


def output_messages(response: Any) -> list[Message] | None:
    """``gen_ai.output.messages`` from aiobs's normalized ``response``; ``None`` if it has none.

    One assistant message, or one per answer when the call asked for several (``choices``).
    """
    if not isinstance(response, Mapping):
        return None
    choices = response.get(RESPONSE_CHOICES)
    if isinstance(choices, list) and len(choices) > 1:
        messages = [
            _output_message(
                choice.get(RESPONSE_TEXT),
                choice.get(RESPONSE_TOOL_CALLS),
                choice.get(CHOICE_FINISH_REASON),
            )
            for choice in choices
            if isinstance(choice, Mapping)
        ]
        return [message for message in messages if message is not None] or None
    reasons = response.get(RESPONSE_FINISH_REASONS)
    first = reasons[0] if isinstance(reasons, list) and reasons else None
    message = _output_message(response.get(RESPONSE_TEXT), response.get(RESPONSE_TOOL_CALLS), first)
    return None if message is None else [message]


def _output_message(text: Any, tool_calls: Any, reason: Any) -> Message | None:
    parts: list[Part] = []
    if isinstance(text, str) and text:
        parts.append(_text(text))
    if isinstance(tool_calls, list):
        parts.extend(
            _tool_call(call.get("id"), call.get("name"), call.get("arguments"))
            for call in tool_calls
            if isinstance(call, Mapping)
        )
    if not parts:
        return None
    message: Message = {"role": "assistant", "parts": parts}
    called = any(part["type"] == "tool_call" for part in parts)
    mapped = finish_reason(reason, tool_call=called)
    if mapped is not None:
        message["finish_reason"] = mapped
    return message


def finish_reasons(response: Any) -> list[str] | None:
    """``gen_ai.response.finish_reasons``: the response's reasons as the conventions name them."""
    if not isinstance(response, Mapping):
        return None
    reasons = response.get(RESPONSE_FINISH_REASONS)
    if not isinstance(reasons, list):
        return None
    choices = response.get(RESPONSE_CHOICES)
    if isinstance(choices, list) and len(choices) > 1:
        calls = [isinstance(c, Mapping) and bool(c.get(RESPONSE_TOOL_CALLS)) for c in choices]
    else:
        calls = [bool(response.get(RESPONSE_TOOL_CALLS))] * len(reasons)
    mapped = [
        finish_reason(reason, tool_call=called)
        for reason, called in zip(reasons, calls + [False] * len(reasons), strict=False)
    ]
    return [reason for reason in mapped if reason is not None]


def finish_reason(raw: Any, *, tool_call: bool = False) -> str | None:
    """A provider's finish reason as the conventions name it; an unknown one as given.

    The conventions' values are ``stop``, ``length``, ``content_filter``, ``tool_call`` and
    ``error``; ``None`` when the provider gave none. ``tool_call`` says the answer holds tool
    calls: a plain stop then means "stopped to call a tool" (the Responses API and Gemini say
    ``completed`` / ``STOP`` there).
    """
    if not isinstance(raw, str) or not raw:
        return None
    mapped = _FINISH_REASONS.get(raw.lower(), raw)
    return FINISH_TOOL_CALL if mapped == FINISH_STOP and tool_call else mapped


_FINISH_REASONS = {
    # OpenAI chat completions
    "stop": FINISH_STOP,
    "length": FINISH_LENGTH,
    "content_filter": FINISH_CONTENT_FILTER,
    "tool_calls": FINISH_TOOL_CALL,
    "function_call": FINISH_TOOL_CALL,
    # OpenAI Responses: the response's status
    "completed": FINISH_STOP,
    "incomplete": FINISH_LENGTH,
    "failed": FINISH_ERROR,
    "cancelled": FINISH_ERROR,
    # Anthropic
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "pause_turn": FINISH_STOP,
    "max_tokens": FINISH_LENGTH,  # Gemini's MAX_TOKENS too
    "model_context_window_exceeded": FINISH_LENGTH,
    "tool_use": FINISH_TOOL_CALL,
    "refusal": FINISH_CONTENT_FILTER,
    # Gemini (upper case on the wire)
    "safety": FINISH_CONTENT_FILTER,
    "recitation": FINISH_CONTENT_FILTER,
    "blocklist": FINISH_CONTENT_FILTER,
    "prohibited_content": FINISH_CONTENT_FILTER,
    "spii": FINISH_CONTENT_FILTER,
    "image_safety": FINISH_CONTENT_FILTER,
    "malformed_function_call": FINISH_ERROR,
    "unexpected_tool_call": FINISH_ERROR,
    "too_many_tool_calls": FINISH_ERROR,
    "finish_reason_unspecified": FINISH_ERROR,
    "language": FINISH_ERROR,
    "no_image": FINISH_ERROR,
    "other": FINISH_ERROR,
}


# -- OpenAI chat completions ---------------------------------------------------------------------


def _openai_content(content: Any) -> list[Part]:
    """A chat message's ``content``: a string or a list of typed parts."""
    if isinstance(content, str):
        return [_text(content)] if content else []
    parts: list[Part] = []
    if isinstance(content, Sequence):
        for item in content:
            if isinstance(item, str):
                parts.append(_text(item))
            elif isinstance(item, Mapping):
                text = item.get("text")
                if _name(item.get("type")) in _RESPONSES_INPUT_PARTS and isinstance(text, str):
                    parts.append(_text(text))
                elif item.get("type") == "refusal" and isinstance(item.get("refusal"), str):
                    parts.append(_text(item["refusal"]))
                else:
                    parts.append(_other(item))
    return parts


def _openai_chat_messages(messages: Any) -> list[Message] | None:
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        return None
    result: list[Message] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role = _name(message.get("role"))
        if role in SYSTEM_ROLES:
            continue
        if role in {"tool", "function"}:
            ident = message.get("tool_call_id")
            result.append(
                {"role": "tool", "parts": [_tool_response(ident, _plain(message.get("content")))]}
            )
            continue
        parts = _openai_content(message.get("content"))
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                function = call.get("function") or call.get("custom") or {}
                arguments = function.get("arguments", function.get("input"))
                parts.append(_tool_call(call.get("id"), function.get("name"), arguments))
        result.append({"role": role or "user", "parts": parts})
    return result


def _plain(content: Any) -> Any:
    """A tool result's content: its text when it is text parts, else as given."""
    if isinstance(content, list):
        texts = [item.get("text") for item in content if isinstance(item, Mapping)]
        if texts and len(texts) == len(content) and all(isinstance(t, str) for t in texts):
            return "".join(str(text) for text in texts)
    return content


# -- OpenAI Responses ----------------------------------------------------------------------------


def _responses_input(value: Any) -> list[Message] | None:
    if isinstance(value, str):
        return [{"role": "user", "parts": [_text(value)]}]
    if not isinstance(value, Sequence):
        return None
    result: list[Message] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        kind = _name(item.get("type"))
        if kind in {"function_call", "custom_tool_call"}:
            arguments = item.get("arguments", item.get("input"))
            part = _tool_call(item.get("call_id"), item.get("name"), arguments)
            _append(result, "assistant", part)
        elif kind in {"function_call_output", "custom_tool_call_output"}:
            part = _tool_response(item.get("call_id"), _plain(item.get("output")))
            result.append({"role": "tool", "parts": [part]})
        elif "role" in item:
            role = _name(item.get("role"))
            if role in SYSTEM_ROLES:
                continue
            parts = _openai_content(item.get("content"))
            result.append({"role": role or "user", "parts": parts})
        elif kind == "reasoning":
            summary = item.get("summary") or []
            texts = [s.get("text") for s in summary if isinstance(s, Mapping)]
            parts = [{"type": "reasoning", "content": t} for t in texts if isinstance(t, str)]
            for part in parts:
                _append(result, "assistant", part)
    return result


def _append(messages: list[Message], role: str, part: Part) -> None:
    """Add ``part`` to the last message if it has ``role``, else start a message."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["parts"].append(part)
    else:
        messages.append({"role": role, "parts": [part]})


# -- Anthropic -----------------------------------------------------------------------------------


def _anthropic_parts(content: Any) -> list[Part]:
    """A message's ``content`` (or ``system``): a string or a list of content blocks."""
    if isinstance(content, str):
        return [_text(content)] if content else []
    parts: list[Part] = []
    if not isinstance(content, Sequence):
        return parts
    for block in content:
        if not isinstance(block, Mapping):
            continue
        kind = _name(block.get("type"))
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(_text(block["text"]))
        elif kind in {"tool_use", "server_tool_use"}:
            parts.append(_tool_call(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            parts.append(_tool_response(block.get("tool_use_id"), _plain(block.get("content"))))
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            parts.append({"type": "reasoning", "content": block["thinking"]})
        else:
            parts.append(_other(block))
    return parts


def _anthropic_messages(messages: Any) -> list[Message] | None:
    if not isinstance(messages, Sequence) or isinstance(messages, str):
        return None
    return [
        {
            "role": _name(message.get("role")) or "user",
            "parts": _anthropic_parts(message.get("content")),
        }
        for message in messages
        if isinstance(message, Mapping)
    ]


# -- Gemini --------------------------------------------------------------------------------------


def _gemini_part(part: Any) -> Part | None:  # noqa: PLR0911 - one return per kind of part
    if isinstance(part, str):
        return _text(part)
    if not isinstance(part, Mapping):
        return None
    if isinstance(part.get("text"), str):
        kind = "reasoning" if part.get("thought") is True else "text"
        return {"type": kind, "content": part["text"]}
    call = part.get("function_call", part.get("functionCall"))
    if isinstance(call, Mapping):
        return _tool_call(call.get("id"), call.get("name"), call.get("args"))
    answer = part.get("function_response", part.get("functionResponse"))
    if isinstance(answer, Mapping):
        return _tool_response(answer.get("id"), answer.get("response"))
    for key, value in part.items():
        if value is not None and key != "__type__":
            return {"type": key}  # inline_data, file_data...: the kind only, never the data
    return None


def _gemini_parts(parts: Any) -> list[Part]:
    if not isinstance(parts, Sequence) or isinstance(parts, str):
        parts = [parts]
    return [part for part in map(_gemini_part, parts) if part is not None]


def _is_content(value: Any) -> bool:
    return isinstance(value, Mapping) and "parts" in value


def _gemini_contents(contents: Any) -> list[Message] | None:
    """``contents``: a string, a part, a content, or a list of contents, strings and parts."""
    if contents is None:
        return None
    if isinstance(contents, (str, Mapping)):
        contents = [contents]
    if not isinstance(contents, Sequence):
        return None
    result: list[Message] = []
    loose: list[Part] = []  # consecutive strings and parts make one user content, as in the SDK
    for item in contents:
        if _is_content(item):
            if loose:
                result.append({"role": "user", "parts": loose})
                loose = []
            role = item.get("role") or "user"
            role = "assistant" if role == "model" else str(role)
            result.append({"role": role, "parts": _gemini_parts(item.get("parts"))})
        else:
            part = _gemini_part(item)
            if part is not None:
                loose.append(part)
    if loose:
        result.append({"role": "user", "parts": loose})
    return result


def _gemini_system(value: Any) -> list[Part]:
    if value is None:
        return []
    if _is_content(value):
        return _gemini_parts(value.get("parts"))
    return _gemini_parts(value)

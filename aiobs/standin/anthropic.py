"""The stand-in's Anthropic Messages API: ``POST /v1/messages``, plain JSON or a named-SSE stream.

Answers follow the request:

- by default one ``text`` block, :func:`~aiobs.standin.answers.answer_for` the last user text,
  with ``stop_reason`` ``"end_turn"`` (``"max_tokens"``, and the text cut short, when the answer
  does not fit in ``max_tokens``);
- with ``tools`` (and ``tool_choice`` not ``"none"``), one ``tool_use`` block calling the first
  tool (or the one ``tool_choice`` names) with ``{"query": <last user text>}`` and ``stop_reason``
  ``"tool_use"``; once the last user message carries a ``tool_result``, a text answer again, so
  that a tool loop ends;
- with ``thinking`` enabled, a ``thinking`` block (with a signature) before the answer, counted in
  ``output_tokens`` and reported in ``usage.output_tokens_details.thinking_tokens``.

Usage comes from :func:`~aiobs.standin.answers.count_tokens`: ``input_tokens`` counts the system
prompt, the messages and the tool definitions; ``output_tokens`` the generated blocks. Prompt
caching is asked for through the request's metadata, a field the real API does not have::

    client.messages.create(..., metadata={"standin_cache": {"read": 1200, "write": 300}})

reports ``cache_read_input_tokens=1200`` and ``cache_creation_input_tokens=300`` (both ``0``
otherwise), on top of the uncached ``input_tokens``, as the real API reports them.

Streams (``"stream": true``) are the vendor's event sequence: ``message_start`` (usage with
``output_tokens`` 1), then per block ``content_block_start``, ``content_block_delta`` events
(``text_delta`` per word, ``thinking_delta`` and ``signature_delta``, ``input_json_delta`` pieces
of the tool input), ``content_block_stop``, a ``ping`` after the first block starts, then
``message_delta`` (``stop_reason`` and the cumulative usage) and ``message_stop``.
:func:`stream_events` and :func:`error_event` let a test script a stream that breaks off.

Models asked for by alias answer with a dated name (``claude-haiku-4-5`` ->
``claude-haiku-4-5-20251001``, ``claude-3-5-haiku-latest`` -> ``claude-3-5-haiku-20241022``), so
requested and answering models differ as they do with the real API. Errors use the vendor's body,
``{"type": "error", "error": {"type", "message"}, "request_id"}``: see :func:`error_reply`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .answers import answer_for, count_tokens, pieces
from .server import Reply, Request, sse_event

MESSAGES_PATH = "/v1/messages"

MODEL_SNAPSHOTS = {
    "claude-opus-4-6": "claude-opus-4-6-20260205",
    "claude-sonnet-4-6": "claude-sonnet-4-6-20260217",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
    "claude-3-opus-latest": "claude-3-opus-20240229",
}
"""Model aliases and the dated snapshot the stand-in answers with."""

UNKNOWN_ALIAS_DATE = "20250101"
"""Date given to a ``-latest`` alias missing from :data:`MODEL_SNAPSHOTS`."""

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
"""HTTP status -> the ``error.type`` the Anthropic API gives with it."""

_DATED = re.compile(r"-\d{8}$")


def handle(request: Request) -> Reply | None:
    """The reply to an Anthropic API request, or ``None`` when the path is not one of its routes."""
    if request.path != MESSAGES_PATH:
        return None
    if request.method != "POST":
        return error_reply(405, f"{request.method} is not allowed on {MESSAGES_PATH}")
    body = request.json()
    problem = _invalid(body)
    if problem is not None:
        return error_reply(400, problem)
    message = build_message(body)
    headers = {"request-id": _request_id(message["id"])}
    if body.get("stream"):
        return Reply.sse(stream_events(message), headers=headers)
    return Reply.json(message, headers=headers)


def error_reply(status: int, message: str, **options: Any) -> Reply:
    """An error in the Anthropic shape; a 429 carries ``retry-after``, 529 means overloaded.

    ``options`` go to :class:`~aiobs.standin.server.Reply` (``headers``, ``delay``...).
    """
    headers = {"request-id": "req_standin_error", **options.pop("headers", {})}
    if status == 429:
        headers.setdefault("retry-after", "1")
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": headers["request-id"],
    }
    return Reply.json(body, status=status, headers=headers, **options)


def error_event(status: int, message: str) -> bytes:
    """An ``error`` event, as the API sends when a stream fails after it started."""
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
    }
    return sse_event(body, event="error")


def response_model(model: str) -> str:
    """The model name the stand-in answers with: the dated snapshot of an alias."""
    if model in MODEL_SNAPSHOTS:
        return MODEL_SNAPSHOTS[model]
    if model.endswith("-latest"):
        return f"{model.removesuffix('-latest')}-{UNKNOWN_ALIAS_DATE}"
    return model


# -- the answer ------------------------------------------------------------------------------------


def build_message(body: dict[str, Any]) -> dict[str, Any]:
    """The complete ``Message`` answering a valid request body."""
    question = last_user_text(body["messages"])
    blocks: list[dict[str, Any]] = []
    if _thinking_enabled(body):
        blocks.append(_thinking_block(question))
    tool = _tool_to_call(body)
    if tool is not None:
        blocks.append(_tool_use_block(tool, question))
        stop_reason = "tool_use"
    else:
        text, stop_reason = _fitted(answer_for(question), body["max_tokens"])
        blocks.append({"type": "text", "text": text})
    return {
        "id": "msg_" + _digest(body["model"], json.dumps(body["messages"], sort_keys=True)),
        "type": "message",
        "role": "assistant",
        "model": response_model(body["model"]),
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(body, blocks),
    }


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message (its text blocks joined), ``""`` when there is none."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _invalid(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["messages"], list) or not body["messages"]:
        return "messages: at least one message is required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: must be a positive integer"
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") == "tool_result":
            texts.append(_text_of(block.get("content")))
    return " ".join(text for text in texts if text)


def _has_tool_result(messages: list[Any]) -> bool:
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _tool_to_call(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    choice = body.get("tool_choice") or {}
    if not tools or choice.get("type") == "none" or _has_tool_result(body["messages"]):
        return None
    if choice.get("type") == "tool":
        return next((tool for tool in tools if tool.get("name") == choice.get("name")), tools[0])
    return tools[0]


def _tool_use_block(tool: dict[str, Any], question: str) -> dict[str, Any]:
    name = str(tool.get("name", "tool"))
    return {
        "type": "tool_use",
        "id": "toolu_" + _digest(name, question),
        "name": name,
        "input": {"query": question},
    }


def _thinking_enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _thinking_block(question: str) -> dict[str, Any]:
    return {
        "type": "thinking",
        "thinking": f"The question is about {question or 'nothing'}; a short answer will do.",
        "signature": "sig_" + _digest("thinking", question),
    }


def _fitted(text: str, max_tokens: int) -> tuple[str, str]:
    """``text`` cut to ``max_tokens`` tokens, and the stop reason that goes with it."""
    if count_tokens(text) <= max_tokens:
        return text, "end_turn"
    return text[: max_tokens * 4], "max_tokens"


def _usage(body: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    cache = _asked_cache(body)
    thinking = sum(count_tokens(b["thinking"]) for b in blocks if b["type"] == "thinking")
    output = thinking + sum(
        count_tokens(b["text"] if b["type"] == "text" else json.dumps(b["input"]))
        for b in blocks
        if b["type"] in ("text", "tool_use")
    )
    usage: dict[str, Any] = {
        "input_tokens": count_tokens(_prompt_text(body)),
        "cache_creation_input_tokens": cache["write"],
        "cache_read_input_tokens": cache["read"],
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache["write"],
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output,
        "service_tier": "standard",
    }
    if thinking:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    return usage


def _asked_cache(body: dict[str, Any]) -> dict[str, int]:
    metadata = body.get("metadata")
    asked = metadata.get("standin_cache") if isinstance(metadata, dict) else None
    asked = asked if isinstance(asked, dict) else {}
    return {key: max(0, int(asked.get(key) or 0)) for key in ("read", "write")}


def _prompt_text(body: dict[str, Any]) -> str:
    parts = [_text_of(body.get("system"))]
    parts.extend(
        _text_of(message.get("content"))
        for message in body["messages"]
        if isinstance(message, dict)
    )
    if body.get("tools"):
        parts.append(json.dumps(body["tools"], sort_keys=True))
    return "\n".join(part for part in parts if part)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def _request_id(message_id: str) -> str:
    return "req_" + message_id.removeprefix("msg_")


# -- the stream ------------------------------------------------------------------------------------


def stream_events(message: dict[str, Any]) -> list[bytes]:
    """``message`` as the API streams it: the named server-sent events, in order."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [sse_event({"type": "message_start", "message": start}, event="message_start")]
    for index, block in enumerate(message["content"]):
        block_start, *block_rest = _block_events(index, block)
        events.append(block_start)
        if index == 0:
            events.append(sse_event({"type": "ping"}, event="ping"))
        events.extend(block_rest)
    final_usage = {key: usage[key] for key in _CUMULATIVE_USAGE if key in usage}
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": final_usage,
    }
    events.append(sse_event(delta, event="message_delta"))
    events.append(sse_event({"type": "message_stop"}, event="message_stop"))
    return events


_CUMULATIVE_USAGE = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "output_tokens_details",
)
"""The usage fields a ``message_delta`` repeats, as running totals of the whole message."""


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    kind = block["type"]
    if kind == "text":
        empty: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces(block["text"])]
    elif kind == "thinking":
        empty = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    else:
        empty = {**block, "input": {}}
        arguments = json.dumps(block["input"])
        cut = [arguments[i : i + 12] for i in range(0, len(arguments), 12)]
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *cut]]
    events = [
        sse_event(
            {"type": "content_block_start", "index": index, "content_block": empty},
            event="content_block_start",
        )
    ]
    events.extend(
        sse_event(
            {"type": "content_block_delta", "index": index, "delta": delta},
            event="content_block_delta",
        )
        for delta in deltas
    )
    events.append(
        sse_event({"type": "content_block_stop", "index": index}, event="content_block_stop")
    )
    return events

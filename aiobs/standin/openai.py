r"""The stand-in's OpenAI API routes, in the wire format the openai SDK expects.

- ``POST /v1/chat/completions``: a ``chat.completion`` object, or with ``"stream": true``
  server-sent events ``data: {chunk}\n\n`` (one text piece per chunk, then a chunk carrying the
  ``finish_reason``) closed by ``data: [DONE]\n\n``. With ``stream_options.include_usage`` every
  chunk has ``"usage": null`` and one last chunk has ``"choices": []`` and the usage.
- ``POST /v1/responses``: a ``response`` object, or with ``"stream": true`` the Responses event
  sequence (``response.created``, ``response.in_progress``, ``response.output_item.added``,
  ``response.content_part.added``, ``response.output_text.delta``..., ``response.output_text.done``,
  ``response.content_part.done``, ``response.output_item.done``, ``response.completed`` with the
  usage), each event named and numbered by ``sequence_number``.
- ``POST /v1/embeddings``: vectors as floats or, as the SDK asks by default, base64 of
  little-endian float32 (``encoding_format``), ``dimensions`` long (8 when not given).

Answers come from :func:`~aiobs.standin.answers.answer_for` applied to the last user text. When the
request declares tools, the answer is one call of the first tool with arguments
``{"query": <last user text>}``; when it asks for a JSON schema (``response_format`` or
``text.format``), the answer is a JSON object with a value of the right type for every property.
The model in a reply is the requested one with a date suffix (``gpt-4o-mini`` ->
``gpt-4o-mini-2024-07-18``), as OpenAI reports it. Usage counts come from
:func:`~aiobs.standin.answers.count_tokens`; a ``prompt_cache_key`` in the request makes half the
prompt count as cached, and a reasoning effort adds :data:`REASONING_TOKENS` reasoning tokens to the
output. Errors use OpenAI's body shape, through :func:`error_reply`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Iterator
from typing import Any

from .answers import answer_for, count_tokens, embedding, pieces
from .server import Reply, Request, sse_event

CREATED = 1_721_000_000
"""The ``created`` timestamp of every reply (fixed, so replies are reproducible)."""

DEFAULT_DIMENSIONS = 8
"""Length of the stand-in's embedding vectors when the request sets no ``dimensions``."""

REASONING_TOKENS = 8
"""Reasoning tokens added to the output when the request sets a reasoning effort."""

MODEL_DATES = {
    "gpt-4o": "2024-08-06",
    "gpt-4o-mini": "2024-07-18",
    "gpt-4.1": "2025-04-14",
    "gpt-4.1-mini": "2025-04-14",
    "o3-mini": "2025-01-31",
}
"""Date suffixes of the model snapshots the stand-in reports (others get ``2024-07-18``)."""

_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


def error_reply(status: int, message: str, **options: Any) -> Reply:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Reply.json(body, status=status, **options)


def handle(request: Request) -> Reply | None:
    """The reply to an OpenAI API request, or ``None`` when the path is not one of its routes."""
    route = _ROUTES.get(request.path.rstrip("/"))
    if route is None:
        return None
    if request.method != "POST":
        return error_reply(405, f"{request.method} is not supported on {request.path}")
    body = request.json()
    if not isinstance(body, dict):
        return error_reply(400, "We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str):
        return error_reply(400, "you must provide a model parameter")
    return route(body)


def reply_model(model: str) -> str:
    """The model name OpenAI reports for a requested one: the dated snapshot."""
    if _DATED.search(model):
        return model
    return f"{model}-{MODEL_DATES.get(model, '2024-07-18')}"


# -- what to answer ----------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _all_text(messages: Any) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    parts = []
    for message in messages:
        if isinstance(message, dict):
            parts.append(_text_of(message.get("content")))
            if isinstance(message.get("output"), str):  # a function call's result
                parts.append(message["output"])
    return " ".join(parts)


def _first_tool_name(tools: Any) -> str | None:
    """The name of the first declared tool (chat nests it under ``function``)."""
    if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
        return None
    tool = tools[0]
    for nested in ("function", "custom"):
        if isinstance(tool.get(nested), dict) and isinstance(tool[nested].get("name"), str):
            return str(tool[nested]["name"])
    name = tool.get("name")
    return name if isinstance(name, str) else None


def _has_tool_result(messages: Any) -> bool:
    """Whether the conversation already carries a tool's result (then answer with text)."""
    if not isinstance(messages, list):
        return False
    return any(
        isinstance(message, dict)
        and (message.get("role") == "tool" or message.get("type") == "function_call_output")
        for message in messages
    )


_SCALARS = {
    "integer": len,
    "number": lambda text: float(len(text)),
    "boolean": lambda _text: True,
    "null": lambda _text: None,
}


def _schema_value(schema: Any, text: str, depth: int = 0) -> Any:
    """A value that satisfies a (simple) JSON schema, built from ``text``."""
    if not isinstance(schema, dict) or depth > 8:
        return text
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "string")
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("anyOf"):
        return _schema_value(schema["anyOf"][0], text, depth + 1)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {key: _schema_value(value, text, depth + 1) for key, value in properties.items()}
    if kind == "array":
        return [_schema_value(schema.get("items"), text, depth + 1)]
    return _SCALARS.get(str(kind), str)(text)


def _json_schema(format_spec: Any) -> dict[str, Any] | None:
    """The schema of a ``json_schema`` output format (chat nests it under ``json_schema``)."""
    if not isinstance(format_spec, dict) or format_spec.get("type") != "json_schema":
        return None
    holder = format_spec.get("json_schema", format_spec)
    schema = holder.get("schema") if isinstance(holder, dict) else None
    return schema if isinstance(schema, dict) else {"type": "object"}


class _Answer:
    """What the stand-in says to one request: text or a tool call, and the token counts."""

    def __init__(self, body: dict[str, Any], conversation: Any, schema: dict[str, Any] | None):
        question = _last_user_text(conversation)
        self.model = reply_model(str(body["model"]))
        self.tool = None if _has_tool_result(conversation) else _first_tool_name(body.get("tools"))
        self.text = answer_for(question)
        if schema is not None:
            self.text = json.dumps(_schema_value(schema, self.text))
        self.arguments = json.dumps({"query": question})
        # Ids depend on the model and the conversation only, so that options such as
        # stream_options do not change them.
        asked = json.dumps([body["model"], conversation], sort_keys=True, default=str)
        digest = hashlib.sha256(asked.encode()).hexdigest()
        self.key = digest[:24]
        self.input_tokens = count_tokens(_all_text(conversation) + _instructions(body))
        self.reasoning_tokens = REASONING_TOKENS if _reasoning_effort(body) else 0
        generated = self.arguments if self.tool else self.text
        self.output_tokens = count_tokens(generated) + self.reasoning_tokens
        self.cached_tokens = self.input_tokens // 2 if body.get("prompt_cache_key") else 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


def _instructions(body: dict[str, Any]) -> str:
    instructions = body.get("instructions")
    return f" {instructions}" if isinstance(instructions, str) else ""


def _reasoning_effort(body: dict[str, Any]) -> bool:
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort"):
        return True
    return bool(body.get("reasoning_effort"))


# -- chat completions ---------------------------------------------------------------------------


def _chat(body: dict[str, Any]) -> Reply:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error_reply(400, "'messages' must contain at least one message.")
    answer = _Answer(body, messages, _json_schema(body.get("response_format")))
    wanted = body.get("n")
    choices = wanted if isinstance(wanted, int) and wanted > 0 else 1
    if body.get("stream"):
        options = body.get("stream_options")
        with_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return Reply.sse(_chat_events(answer, choices, with_usage))
    return Reply.json(
        {
            "id": f"chatcmpl-{answer.key}",
            "object": "chat.completion",
            "created": CREATED,
            "model": answer.model,
            "system_fingerprint": "fp_standin",
            "choices": [
                {
                    "index": index,
                    "message": _chat_message(answer),
                    "logprobs": None,
                    "finish_reason": "tool_calls" if answer.tool else "stop",
                }
                for index in range(choices)
            ],
            "usage": _chat_usage(answer),
        }
    )


def _chat_message(answer: _Answer) -> dict[str, Any]:
    if answer.tool:
        return {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": f"call_{answer.key[:16]}",
                    "type": "function",
                    "function": {"name": answer.tool, "arguments": answer.arguments},
                }
            ],
        }
    return {"role": "assistant", "content": answer.text, "refusal": None}


def _chat_usage(answer: _Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.total_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_events(answer: _Answer, choices: int, with_usage: bool) -> Iterator[bytes]:
    def chunk(choice_list: list[dict[str, Any]], usage: Any = None) -> bytes:
        data: dict[str, Any] = {
            "id": f"chatcmpl-{answer.key}",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": answer.model,
            "system_fingerprint": "fp_standin",
            "choices": choice_list,
        }
        if with_usage:
            data["usage"] = usage
        return sse_event(data)

    def delta(index: int, content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": content, "logprobs": None, "finish_reason": finish}

    for index in range(choices):
        if answer.tool:
            call = {
                "index": 0,
                "id": f"call_{answer.key[:16]}",
                "type": "function",
                "function": {"name": answer.tool, "arguments": ""},
            }
            first = {"role": "assistant", "content": None, "tool_calls": [call]}
            yield chunk([delta(index, first)])
            for piece in pieces(answer.arguments):
                part = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
                yield chunk([delta(index, part)])
        else:
            yield chunk([delta(index, {"role": "assistant", "content": "", "refusal": None})])
            for piece in pieces(answer.text):
                yield chunk([delta(index, {"content": piece})])
        yield chunk([delta(index, {}, "tool_calls" if answer.tool else "stop")])
    if with_usage:
        yield chunk([], _chat_usage(answer))
    yield b"data: [DONE]\n\n"


# -- responses ----------------------------------------------------------------------------------


def _responses(body: dict[str, Any]) -> Reply:
    conversation = body.get("input")
    if not isinstance(conversation, (str, list)):
        return error_reply(400, "Missing required parameter: 'input'.")
    text_config = body.get("text")
    schema = _json_schema(text_config.get("format")) if isinstance(text_config, dict) else None
    answer = _Answer(body, conversation, schema)
    if body.get("stream"):
        return Reply.sse(_response_events(body, answer))
    return Reply.json(_response_object(body, answer, [_output_item(answer)], "completed"))


def _output_item(answer: _Answer, status: str = "completed") -> dict[str, Any]:
    if answer.tool:
        done = status == "completed"
        return {
            "id": f"fc_{answer.key}",
            "type": "function_call",
            "status": status,
            "call_id": f"call_{answer.key[:16]}",
            "name": answer.tool,
            "arguments": answer.arguments if done else "",
        }
    return {
        "id": f"msg_{answer.key}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [_text_part(answer.text)] if status == "completed" else [],
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _response_object(
    body: dict[str, Any], answer: _Answer, output: list[dict[str, Any]], status: str
) -> dict[str, Any]:
    done = status == "completed"
    text_config = body.get("text") if isinstance(body.get("text"), dict) else None
    return {
        "id": f"resp_{answer.key}",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": answer.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": text_config or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _response_usage(answer) if done else None,
        "user": None,
        "metadata": {},
    }


def _response_usage(answer: _Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": answer.cached_tokens},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": answer.total_tokens,
    }


def _response_events(body: dict[str, Any], answer: _Answer) -> list[bytes]:
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response_object(body, answer, [], "in_progress")},
        {
            "type": "response.in_progress",
            "response": _response_object(body, answer, [], "in_progress"),
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _output_item(answer, "in_progress"),
        },
    ]
    item = _output_item(answer)
    events.extend(
        _function_call_events(answer, item) if answer.tool else _text_events(answer, item)
    )
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    events.append(
        {
            "type": "response.completed",
            "response": _response_object(body, answer, [item], "completed"),
        }
    )
    return [
        sse_event({**event, "sequence_number": number}, event=event["type"])
        for number, event in enumerate(events)
    ]


def _text_events(answer: _Answer, item: dict[str, Any]) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.content_part.added", **where, "part": _text_part("")}
    ]
    events.extend(
        {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        for piece in pieces(answer.text)
    )
    events.append(
        {"type": "response.output_text.done", **where, "text": answer.text, "logprobs": []}
    )
    events.append({"type": "response.content_part.done", **where, "part": _text_part(answer.text)})
    return events


def _function_call_events(answer: _Answer, item: dict[str, Any]) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.function_call_arguments.delta", **where, "delta": piece}
        for piece in pieces(answer.arguments)
    ]
    events.append(
        {
            "type": "response.function_call_arguments.done",
            **where,
            "name": answer.tool,
            "arguments": answer.arguments,
        }
    )
    return events


# -- embeddings ---------------------------------------------------------------------------------


def _embeddings(body: dict[str, Any]) -> Reply:
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs:
        return error_reply(400, "'input' must be a non-empty string or array.")
    texts = [item if isinstance(item, str) else json.dumps(item) for item in inputs]
    dimensions = body.get("dimensions")
    size = dimensions if isinstance(dimensions, int) and dimensions > 0 else DEFAULT_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    tokens = sum(count_tokens(text) for text in texts)
    return Reply.json(
        {
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": _vector(text, size, as_base64),
                }
                for index, text in enumerate(texts)
            ],
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _vector(text: str, size: int, as_base64: bool) -> list[float] | str:
    values = embedding(text, size)
    if not as_base64:
        return values
    return base64.b64encode(struct.pack(f"<{size}f", *values)).decode("ascii")


_ROUTES = {
    "/v1/chat/completions": _chat,
    "/v1/responses": _responses,
    "/v1/embeddings": _embeddings,
}

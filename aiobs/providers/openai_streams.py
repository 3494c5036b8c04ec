"""Reading OpenAI results into events: whole responses, streamed ones, and their usage.

The functions here turn what the openai SDK returns (``ChatCompletion``, ``Response``,
``CreateEmbeddingResponse``) into an event's ``response`` dict, :class:`~aiobs.usage.Usage` and
response model, and assemble the same from stream chunks (:class:`ChatAccumulator`,
:class:`ResponsesAccumulator`). :func:`record_stream` puts a recording iterator inside the SDK's own
``Stream`` / ``AsyncStream`` object; :func:`stream_closed` completes the event when the program
closes a stream early. They read SDK objects by attribute only (no ``model_dump`` per chunk), so
the work per chunk stays small.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ..usage import Usage, count, field
from .call import LLMCall
from .estimate import estimate_usage
from .streams import CLOSED, Outcome, finish_stream, record_async_iterator, record_iterator

FINISHER = "_aiobs_finish"
"""Attribute of a recorded SDK stream: completes its event as closed (a ``weakref.finalize``)."""


# -- usage ----------------------------------------------------------------------------------------


def _tokens(source: Any, name: str) -> int | None:
    """``count(field(source, name))`` with the common case (a plain count, or none) first."""
    if source is None:
        return None
    value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
    if value is None:
        return None
    if type(value) is int and value >= 0:
        return value
    return count(value)


def chat_usage(usage: Any) -> Usage | None:
    """Chat Completions (and embeddings) usage: ``prompt_tokens``, ``completion_tokens``...

    ``usage`` is the SDK's object or the dict :func:`raw` made of it (read in one pass).
    """
    if usage is None:
        return None
    if type(usage) is dict:
        return _chat_usage_fields(usage)
    prompt_details = _tokens_details(usage, "prompt_tokens_details")
    completion_details = _tokens_details(usage, "completion_tokens_details")
    return Usage(
        _tokens(usage, "prompt_tokens"),
        _tokens(usage, "completion_tokens"),
        _tokens(usage, "total_tokens"),
        _tokens(prompt_details, "cached_tokens"),
        _tokens(completion_details, "reasoning_tokens"),
        _tokens(prompt_details, "cache_write_tokens"),
    )


def _chat_usage_fields(usage: dict[str, Any]) -> Usage:
    """:func:`chat_usage` of a dict, plain non-negative ints taken as they are, one by one."""
    get = usage.get
    prompt, completion, total = get("prompt_tokens"), get("completion_tokens"), get("total_tokens")
    if type(prompt) is not int or prompt < 0:
        prompt = count(prompt)
    if type(completion) is not int or completion < 0:
        completion = count(completion)
    if type(total) is not int or total < 0:
        total = count(total)
    cached = reasoning = written = None
    details = get("prompt_tokens_details")
    if details is not None:
        cached = _tokens(details, "cached_tokens")
        written = _tokens(details, "cache_write_tokens")
    details = get("completion_tokens_details")
    if details is not None:
        reasoning = _tokens(details, "reasoning_tokens")
    return Usage(prompt, completion, total, cached, reasoning, written)


def _tokens_details(usage: Any, name: str) -> Any:
    return getattr(usage, name, None)


def responses_usage(usage: Any) -> Usage | None:
    """Responses API usage: ``input_tokens``, ``output_tokens`` and their details."""
    if usage is None:
        return None
    input_details = _tokens_details(usage, "input_tokens_details")
    output_details = _tokens_details(usage, "output_tokens_details")
    return Usage(
        _tokens(usage, "input_tokens"),
        _tokens(usage, "output_tokens"),
        _tokens(usage, "total_tokens"),
        _tokens(input_details, "cached_tokens"),
        _tokens(output_details, "reasoning_tokens"),
        _tokens(input_details, "cache_write_tokens"),
    )


def raw(value: Any) -> Any:
    """An SDK model as the dict of the fields the API sent (``None`` stays ``None``).

    That is ``value.model_dump(exclude_unset=True)``, read from the model's own attributes when
    that gives the same (a plain model: no extra or computed fields), for a fifth of the cost.
    """
    if value is None or isinstance(value, dict):
        return value
    fields = plain_fields(value)
    if fields is not None:
        return fields
    dump = getattr(value, "model_dump", None)
    # The SDK does not validate what the API sent: a value of another type than declared is
    # dumped as it is, without the serializer's warning reaching the program.
    return dump(exclude_unset=True, warnings=False) if dump is not None else value


def plain_fields(model: Any) -> dict[str, Any] | None:
    """The fields of a plain pydantic model that were set, nested models as dicts; else None.

    That is what ``model.model_dump(exclude_unset=True)`` gives, when the model and the models
    nested in it are plain (no extra, computed or custom-serialized fields).
    """
    kind = type(model)
    if kind not in PLAIN_MODELS and not plain_model_class(kind):
        return None
    if model.__pydantic_extra__:
        return None
    set_names = model.__pydantic_fields_set__
    fields: dict[str, Any] = {}
    for name, item in model.__dict__.items():
        if name in set_names:
            if type(item) in SCALARS:
                fields[name] = item
            else:
                nested = plain_fields(item)
                if nested is None:
                    if hasattr(item, "__pydantic_fields_set__") or isinstance(item, list | dict):
                        return None  # a model or container that is not plain: model_dump
                    fields[name] = item
                else:
                    fields[name] = nested
    return fields


def plain_model_class(kind: type) -> bool:
    """Whether ``model_dump`` of ``kind``'s instances is just their set fields, as they are.

    A class found plain is remembered in :data:`PLAIN_MODELS`.
    """
    if kind in PLAIN_MODELS:
        return True
    if not _is_plain_model(kind):
        return False
    if len(PLAIN_MODELS) < _PLAIN_MODELS_LIMIT:  # classes made on the fly: stay small
        PLAIN_MODELS.add(kind)
    return True


def _is_plain_model(kind: type) -> bool:
    """Whether ``model_dump`` of this class's instances is just their set fields, as they are."""
    if not issubclass(kind, BaseModel):
        return False
    decorators = kind.__pydantic_decorators__
    return (
        not getattr(kind, "__pydantic_root_model__", False)  # dumps as its root value
        and not kind.__pydantic_computed_fields__
        and not decorators.field_serializers
        and not decorators.model_serializers
        and not any(
            info.exclude or info.serialization_alias is not None
            for info in kind.__pydantic_fields__.values()
        )
    )


PLAIN_MODELS: set[type] = set()
"""Pydantic model classes found plain (see :func:`plain_model_class`)."""
_PLAIN_MODELS_LIMIT = 1024
SCALARS = frozenset({int, str, float, bool, type(None)})
"""The types whose values an event keeps as they are."""


def _response_dict(
    ident: Any,
    model: Any,
    text: str | None,
    usage: Any,
    *,
    tool_calls: list[Any],
    finish: list[Any],
) -> dict[str, Any]:
    response: dict[str, Any] = {"id": ident, "model": model, "text": text, "usage": raw(usage)}
    if tool_calls:
        response["tool_calls"] = tool_calls
    if finish:
        response["finish_reasons"] = finish
    return response


def _model_name(model: Any) -> str | None:
    return model if isinstance(model, str) else None


# -- whole responses ------------------------------------------------------------------------------


def _message_tool_calls(message: Any) -> list[dict[str, Any]]:
    calls = []
    for call in getattr(message, "tool_calls", None) or ():
        function = getattr(call, "function", None) or getattr(call, "custom", None)
        arguments = getattr(function, "arguments", None)
        if arguments is None:
            arguments = getattr(function, "input", None)
        calls.append(
            {"id": call.id, "name": getattr(function, "name", None), "arguments": arguments}
        )
    legacy = getattr(message, "function_call", None)
    if legacy is not None:
        calls.append({"id": None, "name": legacy.name, "arguments": legacy.arguments})
    return calls


def _choice(choice: Any) -> dict[str, Any]:
    """One of several answers: its text, tool calls and finish reason."""
    message = choice.message
    content = getattr(message, "content", None)
    return {
        "text": content if isinstance(content, str) and content else None,
        "tool_calls": _message_tool_calls(message) if message is not None else [],
        "finish_reason": choice.finish_reason or None,
    }


def chat_outcome(completion: Any) -> Outcome:
    """The event's part of a ``ChatCompletion`` (``ParsedChatCompletion`` included)."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    finish: list[str] = []
    choices = getattr(completion, "choices", None) or ()
    for choice in choices:
        message = choice.message
        if message is not None:
            if isinstance(message.content, str) and message.content:
                texts.append(message.content)
            tool_calls.extend(_message_tool_calls(message))
        if choice.finish_reason:
            finish.append(choice.finish_reason)
    usage = raw(getattr(completion, "usage", None))  # read once, for the response and usage
    response = _response_dict(
        completion.id,
        completion.model,
        "\n".join(texts) if texts else None,
        usage,
        tool_calls=tool_calls,
        finish=finish,
    )
    if len(choices) > 1:  # several answers asked for (n): each one apart too
        response["choices"] = [_choice(choice) for choice in choices]
    return Outcome(
        response=response,
        usage=chat_usage(usage),
        response_model=_model_name(completion.model),
    )


def _response_item_call(item: Any) -> dict[str, Any] | None:
    kind = getattr(item, "type", None)
    if kind == "function_call":
        return {"id": item.call_id, "name": item.name, "arguments": item.arguments}
    if kind == "custom_tool_call":
        return {"id": item.call_id, "name": item.name, "arguments": item.input}
    return None


def _response_texts(item: Any) -> list[str]:
    if getattr(item, "type", None) != "message":
        return []
    return [
        part.text
        for part in getattr(item, "content", None) or ()
        if getattr(part, "type", None) == "output_text" and isinstance(part.text, str)
    ]


def _response_finish(response: Any) -> list[str]:
    status = getattr(response, "status", None)
    reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
    if status == "incomplete" and isinstance(reason, str):
        return [reason]
    return [status] if isinstance(status, str) else []


def responses_outcome(response: Any) -> Outcome:
    """The event's part of a Responses API ``Response`` (``ParsedResponse`` included)."""
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for item in getattr(response, "output", None) or ():
        texts.extend(_response_texts(item))
        call = _response_item_call(item)
        if call is not None:
            tool_calls.append(call)
    usage = getattr(response, "usage", None)
    return Outcome(
        response=_response_dict(
            response.id,
            response.model,
            "".join(texts) if texts else None,
            usage,
            tool_calls=tool_calls,
            finish=_response_finish(response),
        ),
        usage=responses_usage(usage),
        response_model=_model_name(response.model),
    )


def _vector_length(vector: Any) -> int | None:
    if isinstance(vector, str):  # base64 of float32 values, as asked with encoding_format
        return len(base64.b64decode(vector)) // 4
    try:
        return len(vector)
    except TypeError:
        return None


def embeddings_outcome(result: Any) -> Outcome:
    """The event's part of a ``CreateEmbeddingResponse``: counts and sizes, never the vectors."""
    data = getattr(result, "data", None) or []
    usage = getattr(result, "usage", None)
    return Outcome(
        response={
            "model": result.model,
            "usage": raw(usage),
            "count": len(data),
            "dimensions": _vector_length(data[0].embedding) if data else None,
        },
        usage=None
        if usage is None
        else Usage(
            input_tokens=count(field(usage, "prompt_tokens")),
            total_tokens=count(field(usage, "total_tokens")),
        ),
        response_model=_model_name(result.model),
    )


# -- streams --------------------------------------------------------------------------------------


class UsageEstimate:
    """What a stream's usage estimate needs: the prompt as sent (kept only when estimating)."""

    __slots__ = ("instructions", "model", "prompt")

    def __init__(self, model: str | None, prompt: Any, instructions: Any = None) -> None:
        self.model = model
        self.prompt = prompt
        self.instructions = instructions if isinstance(instructions, str) else None

    def usage(self, completion: str) -> Usage | None:
        """The estimated usage of this prompt and ``completion`` (``None`` without a tokenizer)."""
        return estimate_usage(self.model, self.prompt, completion, self.instructions)


def estimate_for(call: LLMCall, prompt: Any, instructions: Any = None) -> UsageEstimate | None:
    """The estimate a stream's accumulator may need, when the session asks for estimates."""
    if not call.session.settings.estimate_usage:
        return None
    return UsageEstimate(call.request_model, prompt, instructions)


def _completion_text(text: str | None, tool_calls: list[dict[str, Any]]) -> str:
    parts = [text or ""]
    for tool_call in tool_calls:
        parts.append(str(tool_call.get("name") or ""))
        parts.append(str(tool_call.get("arguments") or ""))
    return "".join(parts)


class ChatAccumulator:
    """Assembles chat chunks: text and tool calls per choice, finish reasons, usage."""

    __slots__ = ("estimate", "finish", "ident", "model", "seen", "texts", "tools", "usage")

    def __init__(self, estimate: UsageEstimate | None = None) -> None:
        self.estimate = estimate
        self.ident: Any = None
        self.model: Any = None
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[tuple[int, Any], list[Any]] = {}  # in order of arrival
        self.finish: dict[int, str] = {}
        self.usage: Any = None
        self.seen = 0

    def add(self, chunk: Any) -> None:
        """Take one chunk."""
        self.seen += 1
        if self.ident is None:
            self.ident = chunk.id
            self.model = chunk.model
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    self.texts.setdefault(choice.index, []).append(content)
                if delta.tool_calls:
                    self._tool_deltas(choice.index, delta.tool_calls)
                if delta.function_call is not None:
                    self._tool_delta((choice.index, "function_call"), None, delta.function_call)
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
        usage = chunk.usage
        if usage is not None:
            self.usage = usage

    def _tool_deltas(self, index: int, deltas: Any) -> None:
        for delta in deltas:
            self._tool_delta((index, delta.index), delta.id, delta.function)

    def _tool_delta(self, key: tuple[int, Any], ident: Any, function: Any) -> None:
        entry = self.tools.get(key)
        if entry is None:
            entry = self.tools[key] = [None, None, []]
        if ident:
            entry[0] = ident
        if function is not None:
            if function.name:
                entry[1] = function.name
            if function.arguments:
                entry[2].append(function.arguments)

    def outcome(self) -> Outcome:
        """The response, usage and model assembled so far."""
        texts = ["".join(self.texts[index]) for index in sorted(self.texts)]
        text = "\n".join(texts) if texts else None
        tool_calls = [
            {"id": ident, "name": name, "arguments": "".join(arguments)}
            for ident, name, arguments in self.tools.values()
        ]
        finish = [self.finish[index] for index in sorted(self.finish)]
        fields = raw(self.usage)  # read once, for the response and usage
        usage = chat_usage(fields)
        if usage is None and self.estimate is not None:
            usage = self.estimate.usage(_completion_text(text, tool_calls))
        return Outcome(
            response=_response_dict(
                self.ident, self.model, text, fields, tool_calls=tool_calls, finish=finish
            ),
            usage=usage,
            response_model=_model_name(self.model),
        )


def chat_usage_only(chunk: Any) -> bool:
    """Whether a chunk is the usage-only one that ``include_usage`` adds at the end."""
    return not chunk.choices and chunk.usage is not None


class ResponsesAccumulator:
    """Assembles Responses API stream events; the final ``Response`` wins when it arrives."""

    __slots__ = ("estimate", "final", "ident", "model", "seen", "texts", "tools")

    def __init__(self, estimate: UsageEstimate | None = None) -> None:
        self.estimate = estimate
        self.final: Any = None
        self.ident: Any = None
        self.model: Any = None
        self.texts: list[str] = []
        self.tools: dict[Any, list[Any]] = {}
        self.seen = 0

    def add(self, event: Any) -> None:
        """Take one event."""
        self.seen += 1
        kind = event.type
        if kind == "response.output_text.delta":
            self.texts.append(event.delta)
        elif kind == "response.function_call_arguments.delta":
            entry = self.tools.get(event.item_id)
            if entry is not None:
                entry[2].append(event.delta)
        elif kind == "response.output_item.added":
            self._item(event.item)
        elif kind == "response.output_item.done":
            self._item(event.item, done=True)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = event.response
        elif kind in ("response.created", "response.in_progress", "response.queued"):
            self.ident = event.response.id
            self.model = event.response.model

    def _item(self, item: Any, done: bool = False) -> None:
        call = _response_item_call(item)
        if call is None:
            return
        entry = self.tools.setdefault(getattr(item, "id", None), [call["id"], call["name"], []])
        if done and call["arguments"] is not None:
            entry[2] = [call["arguments"]]

    def outcome(self) -> Outcome:
        """The response, usage and model assembled so far."""
        if self.final is not None:
            outcome = responses_outcome(self.final)
        else:
            text = "".join(self.texts) if self.texts else None
            tool_calls = [
                {"id": ident, "name": name, "arguments": "".join(arguments)}
                for ident, name, arguments in self.tools.values()
            ]
            outcome = Outcome(
                response=_response_dict(
                    self.ident, self.model, text, None, tool_calls=tool_calls, finish=[]
                ),
                response_model=_model_name(self.model),
            )
        if outcome.usage is None and self.estimate is not None and outcome.response is not None:
            response = outcome.response
            completion = _completion_text(response["text"], response.get("tool_calls", []))
            outcome.usage = self.estimate.usage(completion)
        return outcome


Accumulating = ChatAccumulator | ResponsesAccumulator


def record_stream(
    stream: Any,
    call: LLMCall,
    accumulator: Accumulating,
    hide: Callable[[Any], bool] | None = None,
    asynchronous: bool = False,
) -> None:
    """Record ``stream`` (the SDK's ``Stream`` or ``AsyncStream``) in place.

    Its inner iterator is replaced by a recording one, so the program keeps the very object the
    SDK returned. The event completes when the iterator ends or fails, when the program closes
    the stream (:func:`stream_closed`), or when the stream is garbage collected, even if it was
    never iterated (a ``weakref.finalize``, which holds the call but not the stream).
    """
    chunks = stream._iterator
    if asynchronous:
        stream._iterator = record_async_iterator(call, chunks, accumulator, hide)
    else:
        stream._iterator = record_iterator(call, chunks, accumulator, hide)
    finisher = weakref.finalize(stream, finish_closed, call, accumulator)
    finisher.atexit = False
    setattr(stream, FINISHER, finisher)


def finish_closed(call: LLMCall, accumulator: Accumulating) -> None:
    """Complete a stream's event as closed, with the chunks its accumulator has seen.

    The recording iterator hands its chunk count to the call only when it ends itself; a stream
    closed by the program (or collected) may end before its iterator does.
    """
    if not call.finished:
        call.chunks = max(call.chunks, accumulator.seen)
        finish_stream(call, accumulator, CLOSED)


def stream_closed(stream: Any) -> None:
    """Complete the event of a recorded stream (or of a helper stream's raw one) as closed."""
    raw_stream = getattr(stream, "_raw_stream", stream)
    finisher = getattr(raw_stream, FINISHER, None)
    if finisher is not None:
        finisher()

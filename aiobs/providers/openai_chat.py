"""The common OpenAI chat completion, read in one pass: the hot path of a recorded chat call.

Most recorded chat calls return a ``ChatCompletion`` with one choice, a text answer and a plain
usage object. :func:`read_chat_completion` reads such a completion from its models' ``__dict__``
(every attribute read on an SDK model otherwise walks the model's class hierarchy, and right after
the SDK's own work those lookups miss the interpreter's caches) and gives the event's response,
its token counts in :meth:`Usage.as_tuple <aiobs.usage.Usage.as_tuple>` order, and the response
model. Anything else (several choices, tool calls, fields the API added that the SDK does not
know, counts that are not plain non-negative integers) gives ``None``, and the caller reads the
completion with :func:`~aiobs.providers.openai_streams.chat_outcome`, which handles every shape.
Where both read a completion they give the same event (``tests/providers/test_openai_fast_paths.py``
checks that on many shapes).

:data:`read_common_chat` is the reader the OpenAI integration uses: the same read done in C
(``aiobs._speedups.read_chat_completion``) where the optional module is built, else
:func:`read_chat_completion`; the tests hold both to the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .. import _native
from .openai_streams import PLAIN_MODELS, SCALARS, plain_fields, plain_model_class

UsageCounts = tuple[Any, ...]
"""Token counts in :meth:`Usage.as_tuple <aiobs.usage.Usage.as_tuple>` order."""

ChatRead = tuple[dict[str, Any], "UsageCounts | None", "str | None"]
"""What :func:`read_chat_completion` gives: the event's response, usage counts, response model."""


def read_chat_completion(completion: Any) -> ChatRead | None:
    """The response, counts and model of a plain one-choice completion; ``None`` otherwise.

    ``completion`` must be the SDK's own ``ChatCompletion`` (or ``ParsedChatCompletion``).
    """
    fields = completion.__dict__
    choices = fields.get("choices")
    if type(choices) is not list or len(choices) != 1 or completion.__pydantic_extra__:
        return None
    choice = choices[0].__dict__
    message = choice.get("message")
    text = None
    if message is not None:
        said = message.__dict__
        if said.get("tool_calls") or said.get("function_call") is not None:
            return None  # tool calls: chat_outcome reads them
        text = said.get("content")
        if not isinstance(text, str) or not text:
            text = None
    usage = fields.get("usage")
    counts: UsageCounts | None = None
    if usage is not None:
        usage = plain_fields(usage)  # the usage model's set fields, as model_dump gives them
        if usage is None:
            return None
        counts = _chat_counts(usage)
        if counts is None:
            return None
    model = fields.get("model")
    response: dict[str, Any] = {
        "id": fields.get("id"),
        "model": model,
        "text": text,
        "usage": usage,
    }
    finish = choice.get("finish_reason")
    if finish:
        response["finish_reasons"] = [finish]
    return response, counts, model if isinstance(model, str) else None


def _chat_counts(usage: dict[str, Any]) -> UsageCounts | None:
    """``usage``'s counts in ``Usage`` order if all are plain non-negative ints (or absent).

    The same as :func:`~aiobs.providers.openai_streams.chat_usage` gives for such counts; others
    are left to it.
    """
    get = usage.get
    prompt, completion, total = get("prompt_tokens"), get("completion_tokens"), get("total_tokens")
    cached = written = reasoning = None
    details = get("prompt_tokens_details")
    if details is not None:
        if type(details) is not dict:
            return None
        cached, written = details.get("cached_tokens"), details.get("cache_write_tokens")
    details = get("completion_tokens_details")
    if details is not None:
        if type(details) is not dict:
            return None
        reasoning = details.get("reasoning_tokens")
    for value in (prompt, completion, total, cached, reasoning, written):
        if value is not None and (type(value) is not int or value < 0):
            return None
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    return (prompt, completion, total, cached, reasoning, written, False)


def _c_reader() -> Callable[[Any], ChatRead | None] | None:
    """The C version of :func:`read_chat_completion`, handed what it uses; None if not built."""
    speedups = _native.speedups
    if speedups is None:
        return None
    speedups.setup_chat(
        plain_models=PLAIN_MODELS,
        scalars=SCALARS,
        plain_model_class=plain_model_class,
        base_model=BaseModel,
    )
    reader: Callable[[Any], ChatRead | None] = speedups.read_chat_completion
    return reader


read_chat_completion_in_c = _c_reader()
"""``aiobs._speedups.read_chat_completion`` where built, else None."""

read_common_chat: Callable[[Any], ChatRead | None] = (
    read_chat_completion_in_c or read_chat_completion
)
"""The one-pass reader the OpenAI integration uses: in C where built."""

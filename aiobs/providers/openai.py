"""Recording the openai SDK's calls (openai >= 1.40, through 3.x).

Recorded, sync and async, each as one event:

- ``chat.completions.create`` (plain and ``stream=True``), operation ``chat``;
- ``chat.completions.parse`` (``beta.chat.completions.parse`` in older releases);
- the ``chat.completions.stream()`` helper (``beta.chat.completions.stream``), api
  ``chat.completions.stream``;
- ``responses.create`` (plain and ``stream=True``), ``responses.parse`` and the
  ``responses.stream()`` helper, operation ``responses`` (releases that have the Responses API);
- ``embeddings.create``, operation ``embeddings`` (sizes and counts, never the vectors).

The wrappers go on the SDK's resource classes, so every client is covered. The program gets
exactly what the SDK returns; a stream stays the SDK's own ``Stream`` object (or the helper's
``ChatCompletionStream`` / ``ResponseStream`` built on it) with a recording iterator inside, and its
event completes when it is exhausted, fails, is closed, or is garbage collected.

Stream helpers. ``.stream()`` only builds a manager; the manager calls ``create(stream=True)`` when
it is entered (``__enter__`` / ``__aenter__``), so a context variable set while ``.stream()`` runs
would not cover that call. aiobs wraps the managers' ``__enter__`` / ``__aenter__`` instead: the
``create`` call made while a manager is being entered is recorded under the helper's name. This
holds from 1.40 to 3.x, for chat and Responses alike (the ``X-Stainless-Helper-Method`` header the
SDK adds is not sent by every helper in every release, so it is not relied upon). Helpers that do
their request themselves (``parse`` in 3.x) are wrapped directly; those that call ``create``
(``beta.chat.completions.parse`` in 1.x) give one event too, because ``create`` passes through
unrecorded inside a recorded call. ``responses.stream(response_id=...)``, which resumes an
existing response, makes no new model call and is not recorded.

Usage of chat streams. OpenAI reports a chat stream's usage only when asked with
``stream_options={"include_usage": True}``. With ``observer.configure(openai_stream_usage=True)``
(or ``AIOBS_OPENAI_STREAM_USAGE=1``) aiobs asks for it when the program did not pass
``stream_options``, and hides the extra usage-only chunk from the program, which sees the same
chunks as without aiobs. The event's ``request`` still shows what the program passed. Otherwise,
with ``estimate_usage`` on, a stream without usage gets an estimate (see
:mod:`aiobs.providers.estimate`); without it, no usage.

Raw responses. ``with_raw_response`` calls are recorded; their value is read through the SDK's own
cached ``parse()``, so the program's later ``parse()`` returns the same object. The SDK builds a
resource's ``with_raw_response`` (and ``with_streaming_response``) accessor once, on first use,
binding ``create`` at that moment: on a client whose accessor was first used before aiobs was
installed, those calls are not recorded. ``with_streaming_response`` calls are recorded without
response or usage, since the body is left for the program to read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Patch, Provider
from .call import LLMCall, complete_call, start_call
from .fakes import fallback_text, made_by, stand_in_fields
from .openai_chat import ChatRead, read_common_chat
from .openai_streams import (
    ChatAccumulator,
    ResponsesAccumulator,
    chat_outcome,
    chat_usage_only,
    embeddings_outcome,
    estimate_for,
    record_stream,
    responses_outcome,
    stream_closed,
)
from .streams import Outcome
from .wrappers import Around, RecordedMethod

PROVIDER = "openai"

TRANSPORT_ARGUMENTS = frozenset({"extra_headers", "extra_query", "timeout"})
"""Arguments that shape the HTTP request, not the model call: left out of ``request``."""

_LEFT_OUT = TRANSPORT_ARGUMENTS | {"extra_body"}
"""Arguments whose presence means the request is not the program's arguments as they are."""

helper_api_var: ContextVar[str | None] = ContextVar("aiobs_openai_helper_api", default=None)
"""The helper (``chat.completions.stream``...) whose stream manager is being entered."""


class _Sdk:
    """SDK types the wrappers test results against, looked up when the provider installs."""

    sentinels: ClassVar[tuple[type, ...]] = ()
    sentinel_set: ClassVar[frozenset[type]] = frozenset()
    streams: ClassVar[tuple[type, ...]] = ()
    async_streams: ClassVar[tuple[type, ...]] = ()
    raw_responses: ClassVar[tuple[type, ...]] = ()
    unread_responses: ClassVar[tuple[type, ...]] = ()

    @classmethod
    def load(cls) -> None:
        """Import the SDK's types (the SDK is known to be installed)."""
        from openai import AsyncStream, Stream, _legacy_response, _response, _types

        cls.sentinels = tuple(
            kind
            for kind in (getattr(_types, "NotGiven", None), getattr(_types, "Omit", None))
            if isinstance(kind, type)
        )
        cls.sentinel_set = frozenset(cls.sentinels)
        cls.streams = (Stream, AsyncStream)
        cls.async_streams = (AsyncStream,)
        cls.raw_responses = (_legacy_response.LegacyAPIResponse,)
        cls.unread_responses = (_response.APIResponse, _response.AsyncAPIResponse)


@dataclass(frozen=True)
class Api:
    """One recorded SDK method: its event names and how to read its result."""

    name: str
    operation: str
    read: Callable[[Any], Outcome]
    prompt: str = "messages"
    """The argument that holds the prompt (for usage estimates)."""
    read_common: Callable[[Any], ChatRead | None] | None = None
    """Reads the common shape of the SDK's result in one pass (``None``: let ``read`` do it)."""

    def start(self, _args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
        """Open the call (named after the stream helper being entered, if any)."""
        return start_call(
            PROVIDER,
            helper_api_var.get() or self.name,
            request_of(kwargs),
            kwargs.get("model"),
            self.operation,
            2,  # aiobs_frames: this method and the wrapper that called it
        )

    def prepare(self, call: LLMCall, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments to send: with ``include_usage`` when aiobs asks for a stream's usage."""
        if kwargs.get("stream") is True and _asks_stream_usage(call, self, kwargs):
            return {**kwargs, "stream_options": {"include_usage": True}}
        return kwargs

    def record(
        self, call: LLMCall, result: Any, kwargs: dict[str, Any], sent: dict[str, Any]
    ) -> Any:
        """Finish ``call`` from what the SDK returned, or start recording the stream it returned.

        A stream for which :meth:`prepare` asked for usage hides the usage-only chunk it adds.
        """
        if isinstance(result, _Sdk.unread_responses):
            call.finish()  # with_streaming_response: the body is the program's to read
            return result
        value = _parse_raw(result) if isinstance(result, _Sdk.raw_responses) else result
        if isinstance(value, _Sdk.streams):
            hide = None if sent is kwargs else chat_usage_only
            asynchronous = isinstance(value, _Sdk.async_streams)
            record_stream(value, call, self.accumulator(call, kwargs), hide, asynchronous)
            return result
        if made_by(value, "openai"):
            if self.read_common is not None:
                read = self.read_common(value)
                if read is not None:  # the common case, read in one pass
                    complete_call(call, *read)
                    return result
            outcome = self.read(value)
        else:  # a test's fake of the SDK method returned it: read it by field names
            fields = stand_in_fields(value)
            if fields is None:
                call.finish()
                return result
            outcome = self.read(fields)
            fallback_text(fields, outcome.response)
        call.finish(
            response=outcome.response, usage=outcome.usage, response_model=outcome.response_model
        )
        return result

    def accumulator(
        self, call: LLMCall, kwargs: Mapping[str, Any]
    ) -> ChatAccumulator | ResponsesAccumulator:
        """A fresh accumulator for a stream of this API."""
        if self.operation == "responses":
            estimate = estimate_for(call, kwargs.get("input"), kwargs.get("instructions"))
            return ResponsesAccumulator(estimate)
        return ChatAccumulator(estimate_for(call, kwargs.get(self.prompt)))


CHAT_CREATE = Api("chat.completions.create", "chat", chat_outcome, read_common=read_common_chat)
CHAT_PARSE = Api("chat.completions.parse", "chat", chat_outcome, read_common=read_common_chat)
RESPONSES_CREATE = Api("responses.create", "responses", responses_outcome, "input")
RESPONSES_PARSE = Api("responses.parse", "responses", responses_outcome, "input")
EMBEDDINGS_CREATE = Api("embeddings.create", "embeddings", embeddings_outcome, "input")


def recorded(api: Api) -> RecordedMethod:
    """How calls to ``api`` are recorded: its sync and async wrappers come from this."""
    prepare = api.prepare if api.operation == "chat" else None  # include_usage: chat streams
    return RecordedMethod(PROVIDER, start=api.start, record=api.record, prepare=prepare)


# -- building the event ----------------------------------------------------------------------------


def request_of(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the program asked for: its arguments minus transport options and unset markers."""
    sentinels = _Sdk.sentinel_set
    for key, value in kwargs.items():
        if key in _LEFT_OUT or type(value) in sentinels:
            break
    else:  # nothing to leave out: the program's own arguments (frozen as they are, not kept)
        return kwargs
    request = {
        key: value
        for key, value in kwargs.items()
        if key not in TRANSPORT_ARGUMENTS and type(value) not in sentinels
    }
    if "extra_body" in request and request["extra_body"] is None:
        del request["extra_body"]  # the stream helpers pass their default on
    return request


def _asks_stream_usage(call: LLMCall, api: Api, kwargs: Mapping[str, Any]) -> bool:
    """Whether aiobs should add ``include_usage`` to this chat stream request."""
    if api.operation != "chat" or kwargs.get("stream") is not True:
        return False
    if not call.session.settings.openai_stream_usage:
        return False
    return "stream_options" not in kwargs or type(kwargs["stream_options"]) in _Sdk.sentinels


def _parse_raw(response: Any) -> Any:
    """The value of a ``with_raw_response`` result, through the SDK's cached ``parse()``.

    The SDK keeps what ``parse()`` returns, so the program's own ``parse()`` gets the same object
    (the same stream, for a streamed call).
    """
    return response.parse()


# -- stream helpers and closing --------------------------------------------------------------------


def _helper_entered(helper: str) -> Around:
    """A stream manager's ``__enter__`` / ``__aenter__``: the ``create`` it makes is ``helper``."""

    def before(_manager: Any) -> Token[str | None]:
        return helper_api_var.set(helper)

    def after(_manager: Any, token: Token[str | None]) -> None:
        helper_api_var.reset(token)

    return Around(f"entering an openai {helper} manager", after=after, before=before)


def _stream_closed(stream: Any, _token: None) -> None:
    stream_closed(stream)


CLOSE = Around("closing an openai stream", after=_stream_closed)
"""A stream's ``close``: closing a recorded stream completes its event."""


# -- the provider ---------------------------------------------------------------------------------

_CHAT = "openai.resources.chat.completions"
_BETA_CHAT = "openai.resources.beta.chat.completions"
_RESPONSES = "openai.resources.responses"
_CHAT_HELPERS = "openai.lib.streaming.chat"
_RESPONSE_HELPERS = "openai.lib.streaming.responses"


def _method_patches(
    module: str, sync_class: str, method: str, api: Api, optional: bool
) -> list[Patch]:
    method_recorded = recorded(api)
    return [
        Patch(f"{module}:{sync_class}", method, method_recorded.wrap_sync, optional=optional),
        Patch(f"{module}:Async{sync_class}", method, method_recorded.wrap_async, optional=optional),
    ]


def _helper_patches() -> list[Patch]:
    patches = []
    for module, prefix, helper in (
        (_CHAT_HELPERS, "ChatCompletion", "chat.completions.stream"),
        (_RESPONSE_HELPERS, "Response", "responses.stream"),
    ):
        entered = _helper_entered(helper)
        patches += [
            Patch(f"{module}:{prefix}StreamManager", "__enter__", entered.wrap_sync, True),
            Patch(f"{module}:Async{prefix}StreamManager", "__aenter__", entered.wrap_async, True),
            Patch(f"{module}:{prefix}Stream", "close", CLOSE.wrap_sync, optional=True),
            Patch(f"{module}:Async{prefix}Stream", "close", CLOSE.wrap_async, optional=True),
        ]
    return patches


class OpenAIProvider(Provider):
    """The openai SDK integration (see the module docs for what is recorded)."""

    name = "openai"
    module = "openai"
    sdk_modules = ("openai", "httpx", "httpx2", "httpcore", "anyio")
    distribution = "openai"
    min_version = "1.40.0"
    extra = "openai"

    def patches(self) -> list[Patch]:
        """Chat, Responses and embeddings methods, stream helpers and stream ``close``."""
        _Sdk.load()
        return [
            *_method_patches(_CHAT, "Completions", "create", CHAT_CREATE, optional=False),
            *_method_patches(_CHAT, "Completions", "parse", CHAT_PARSE, optional=True),
            *_method_patches(_BETA_CHAT, "Completions", "parse", CHAT_PARSE, optional=True),
            *_method_patches(_RESPONSES, "Responses", "create", RESPONSES_CREATE, optional=True),
            *_method_patches(_RESPONSES, "Responses", "parse", RESPONSES_PARSE, optional=True),
            *_method_patches(
                "openai.resources.embeddings", "Embeddings", "create", EMBEDDINGS_CREATE, False
            ),
            *_helper_patches(),
            Patch("openai._streaming:Stream", "close", CLOSE.wrap_sync),
            Patch("openai._streaming:AsyncStream", "close", CLOSE.wrap_async),
        ]

"""Opening and completing a provider call in C records what :class:`LLMCall` records in Python.

``aiobs.providers.call.start_call`` and ``complete_call`` are ``aiobs._speedups``'s where the
module is built, else :meth:`LLMCall.start` and :meth:`LLMCall.complete`. These tests record the
same calls both ways, with the same ids and clock (:func:`aiobs.testing.deterministic`), and
compare the exported documents (ids, parents, callsites, times, request and response), the
buffer's admission (full, released), the session totals (past the pending limit), calls that
are not recorded, and aiobs's own failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from openai.types.chat import ChatCompletion  # noqa: E402

from aiobs import _guard, _ids, _native, observe, observer  # noqa: E402
from aiobs._config import Settings  # noqa: E402
from aiobs._context import suppress_instrumentation  # noqa: E402
from aiobs._session import current_session, session_var  # noqa: E402
from aiobs._totals import PENDING_LIMIT  # noqa: E402
from aiobs.exporters import InMemoryExporter  # noqa: E402
from aiobs.providers import call as call_module  # noqa: E402
from aiobs.providers import openai as openai_module  # noqa: E402
from aiobs.providers import wrappers as wrappers_module  # noqa: E402
from aiobs.providers.call import LLMCall  # noqa: E402
from aiobs.providers.openai import CHAT_CREATE, recorded  # noqa: E402
from aiobs.testing import deterministic  # noqa: E402

speedups = _native.speedups
needs_c = pytest.mark.skipif(speedups is None, reason="aiobs._speedups is not built")

MESSAGES = [{"role": "user", "content": "Say hi"}]
COMPLETION = ChatCompletion.model_validate(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi « there » \n"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    }
)


def httpx_response(status: int) -> Any:
    """An HTTP response for an SDK error to carry, from the HTTP library the SDK uses."""
    import openai._base_client as base

    http = getattr(base, "httpx2", None) or getattr(base, "httpx")  # noqa: B009 - either name
    request = http.Request("POST", "https://api.openai.com/v1/chat/completions")
    return http.Response(status, request=request)


def use_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The OpenAI integration opens and completes its calls with the Python methods."""
    monkeypatch.setattr(openai_module, "start_call", call_module._start_in_python)
    monkeypatch.setattr(wrappers_module, "run_call", call_module._run_in_python)
    monkeypatch.setattr(openai_module, "complete_call", LLMCall.complete)


def completer() -> Any:
    """What the OpenAI integration completes a call with (``complete_call``), as it is now."""
    return vars(openai_module)["complete_call"]


def sdk_method(self: object, **kwargs: Any) -> ChatCompletion:
    """The SDK's create, as far as the wrapper can tell: it returns the parsed completion."""
    return COMPLETION


CREATE = recorded(CHAT_CREATE).wrap_sync(sdk_method)


def chat(**extra: Any) -> ChatCompletion:
    result: ChatCompletion = CREATE(None, model="gpt-4o-mini", messages=MESSAGES, **extra)
    return result


def nested(calls: Callable[[], Any]) -> Any:
    """``calls()`` inside an ``@observe``-decorated function: their parent."""

    @observe
    def parent() -> Any:
        return calls()

    return parent()


@pytest.fixture(params=["c", "python"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the C completion, then with the Python method."""
    if request.param == "c":
        if speedups is None:
            pytest.skip("aiobs._speedups is not built")
        assert completer() is speedups.complete_call
        assert vars(openai_module)["start_call"] is speedups.start_call
        assert vars(wrappers_module)["run_call"] is speedups.run_call
    else:
        use_python(monkeypatch)
    return str(request.param)


def document_of(calls: Callable[[], Any], *, path: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The exported document of ``calls()`` in a fresh session, completed along ``path``."""
    with monkeypatch.context() as patch:
        if path == "python":
            use_python(patch)
        exporter = InMemoryExporter()
        with deterministic():
            observer.observe("completions")
            calls()
            observer.flush(exporter=exporter)
        return exporter.documents[-1]


@needs_c
@pytest.mark.parametrize(
    "calls",
    [
        pytest.param(chat, id="one call"),
        pytest.param(lambda: [chat(temperature=0.5) for _ in range(3)], id="three calls"),
        pytest.param(lambda: chat(temperature=1e-5, stop={"not", "json"}), id="request fallback"),
        pytest.param(lambda: nested(chat), id="inside a decorated function"),
        pytest.param(lambda: nested(lambda: [chat(), chat(temperature=0.0)]), id="siblings"),
    ],
)
def test_the_c_and_python_completions_export_the_same_document(
    calls: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    document_of(calls, path="c", monkeypatch=monkeypatch)  # the process's first clock readings
    in_c = document_of(calls, path="c", monkeypatch=monkeypatch)
    in_python = document_of(calls, path="python", monkeypatch=monkeypatch)
    assert in_c["events"]
    assert in_c == in_python
    event = in_c["events"][0]
    assert event["callsite"]["file"] == __file__  # the program's frame, past aiobs's
    assert event["response"]["text"] == "Hi « there » \n"
    assert event["usage"]["total_tokens"] == 12
    assert event["status"] == "ok"


@needs_c
def test_a_response_that_is_not_plain_json_is_frozen_by_pydantic_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The C completion falls back to freeze() for a response plain_json declines."""
    odd = {"id": "x", "model": "m", "text": "t", "usage": {"ratio": 1e-5}, "tags": {"a"}}

    def complete_with(completer: Any) -> Any:
        def calls() -> None:
            call = LLMCall.start("openai", "chat.completions.create", {"model": "m"}, model="m")
            assert call is not None
            completer(call, odd, (1, 2, 3, None, None, None, False), "m")

        return document_of(calls, path="c", monkeypatch=monkeypatch)["events"]

    assert speedups is not None
    complete_with(speedups.complete_call)  # the process's first clock readings
    in_c = complete_with(speedups.complete_call)
    in_python = complete_with(LLMCall.complete)
    assert in_c == in_python
    assert in_c[0]["response"]["usage"] == {"ratio": 1e-05}
    assert in_c[0]["response"]["tags"] == ["a"]


def test_the_first_finish_wins(path: str) -> None:
    observer.observe("once")
    call = LLMCall.start("openai", "chat.completions.create", {"model": "m"}, model="m")
    assert call is not None
    counts = (1, 2, 3, None, None, None, False)
    completer()(call, {"text": "first"}, counts, "m")
    completer()(call, {"text": "second"}, counts, "m")
    call.finish(response={"text": "third"})
    assert observer.buffered_events == 1
    exporter = InMemoryExporter()
    observer.flush(exporter=exporter)
    [event] = exporter.documents[-1]["events"]
    assert event["response"] == {"text": "first"}


def test_a_full_buffer_drops_and_counts(path: str) -> None:
    observer.configure(max_buffered_events=2)
    observer.observe("full")
    for _ in range(5):
        chat()
    exporter = InMemoryExporter()
    observer.flush(exporter=exporter)
    [session] = exporter.documents[-1]["sessions"]
    assert len(exporter.documents[-1]["events"]) == 2
    assert session["dropped_events"] == 3


def test_a_released_session_takes_a_late_record(path: str) -> None:
    with observer.session("late") as session:
        chat()
    exporter = InMemoryExporter()
    observer.flush(exporter=exporter)  # exported and ended: released
    assert observer.buffered_events == 0
    token = session_var.set(session)  # a task that outlived its block records once more
    try:
        chat()
    finally:
        session_var.reset(token)
    assert observer.buffered_events == 1
    observer.flush(exporter=exporter)
    assert [s["name"] for s in exporter.documents[-1]["sessions"]] == ["late"]
    assert len(exporter.documents[-1]["events"]) == 1


def test_totals_are_added_past_the_pending_limit(path: str) -> None:
    observer.observe("many")
    for _ in range(PENDING_LIMIT + 5):
        chat()
    live = current_session()
    assert live is not None
    assert len(live.llm.pending) == 5  # the first PENDING_LIMIT were added when it was reached
    assert live.llm.calls == PENDING_LIMIT


def test_a_call_marks_its_session_changed(path: str) -> None:
    observer.observe("changed")
    live = current_session()
    assert live is not None
    observer.flush(exporter=InMemoryExporter())
    assert not live.dirty  # exported as it is
    chat()
    assert live.dirty


def raised_then_logged(
    create: Callable[[], Any],
    error: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> logging.LogRecord:
    """aiobs's failure ``error`` in ``create()``: raised under the tests, logged outside them.

    Outside them the program gets its result; gives the one error aiobs logged.
    """
    with pytest.raises(RuntimeError, match=error):  # the test suite raises them
        create()
    monkeypatch.setattr(_guard, "_raise_internal_errors", False)
    monkeypatch.setattr(_guard, "_reported", set())
    with caplog.at_level(logging.ERROR, logger="aiobs"):
        assert create() is COMPLETION
    [logged] = [r for r in caplog.records if r.name == "aiobs"]
    return logged


def test_a_failure_while_recording_is_reported_not_raised(
    path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(_settings: Settings) -> Any:
        raise RuntimeError("no price table")

    monkeypatch.setattr(Settings, "price_table", property(fail))
    observer.observe("broken")
    logged = raised_then_logged(chat, "no price table", monkeypatch, caplog)
    assert "recording a openai event" in logged.getMessage()
    assert logged.exc_info is not None
    assert str(logged.exc_info[1]) == "no price table"


@needs_c
@pytest.mark.parametrize("full", [False, True], ids=["buffered", "dropped"])
def test_no_memory_is_kept_per_call(full: bool) -> None:
    """Recorded calls, exported and discarded, leave nothing behind (a lost reference would)."""
    from tests.test_observe_c import bytes_kept_per_call

    if full:
        observer.configure(max_buffered_events=1)

    def run(calls: int) -> None:
        observer.observe("memory")
        for _ in range(calls):
            chat()
        observer.end()
        observer.flush(persist=False)  # discarded

    assert bytes_kept_per_call(run, 5_000) < 8


def test_the_programs_exception_passes_through_and_is_recorded(path: str) -> None:
    refused = openai.BadRequestError(
        "refused", response=httpx_response(400), body={"error": {"message": "refused"}}
    )

    def sdk(self: object, **kwargs: Any) -> ChatCompletion:
        raise refused

    wrapped = recorded(CHAT_CREATE).wrap_sync(sdk)
    observer.observe("errors")
    with pytest.raises(openai.BadRequestError) as raised:
        wrapped(None, model="gpt-4o-mini", messages=MESSAGES)
    assert raised.value is refused
    assert chat() is COMPLETION  # the inside-a-call flag was reset: this one is recorded
    exporter = InMemoryExporter()
    observer.flush(exporter=exporter)
    failed, succeeded = exporter.documents[-1]["events"]
    assert failed["status"] == "error"
    assert failed["exception"]["type"] == "openai.BadRequestError"
    assert succeeded["status"] == "ok"


def test_sdk_calls_made_inside_a_recorded_call_are_not_recorded_again(path: str) -> None:
    def helper(self: object, **kwargs: Any) -> ChatCompletion:
        return chat()  # an SDK helper calling the wrapped create

    wrapped = recorded(CHAT_CREATE).wrap_sync(helper)
    observer.observe("nested")
    assert wrapped(None, model="gpt-4o-mini", messages=MESSAGES) is COMPLETION
    assert observer.buffered_events == 1


def test_calls_nothing_records_are_passed_through(path: str) -> None:
    """No session, or instrumentation suppressed: the SDK is called, nothing is buffered."""
    observer.end()
    assert chat() is COMPLETION
    assert observer.buffered_events == 0
    observer.observe("quiet")
    with suppress_instrumentation():  # what aiobs's own exports run in
        assert chat() is COMPLETION
    assert observer.buffered_events == 0
    assert chat() is COMPLETION
    assert observer.buffered_events == 1


def test_a_failure_while_opening_is_reported_not_raised(
    path: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_ids() -> int:
        raise RuntimeError("no span ids")

    observer.observe("broken")
    monkeypatch.setattr(_ids, "new_span_id", no_ids)
    logged = raised_then_logged(chat, "no span ids", monkeypatch, caplog)  # the SDK still called
    assert "starting a openai event" in logged.getMessage()
    assert observer.buffered_events == 0


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_failure_while_preparing_sends_the_programs_arguments(
    asynchronous: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[dict[str, Any]] = []

    def sdk(self: object, **kwargs: Any) -> ChatCompletion:
        sent.append(kwargs)
        return COMPLETION

    async def sdk_async(self: object, **kwargs: Any) -> ChatCompletion:
        return sdk(self, **kwargs)

    def no_usage(*args: Any) -> bool:
        raise RuntimeError("cannot prepare")

    method = recorded(CHAT_CREATE)
    wrapped = method.wrap_async(sdk_async) if asynchronous else method.wrap_sync(sdk)

    def create() -> Any:
        arguments = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
        result = wrapped(None, **arguments)
        return asyncio.run(result) if asynchronous else result

    monkeypatch.setattr(openai_module, "_asks_stream_usage", no_usage)
    observer.observe("prepare")
    logged = raised_then_logged(create, "cannot prepare", monkeypatch, caplog)
    assert sent == [{"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}]
    assert "preparing a request to openai" in logged.getMessage()


@needs_c
def test_a_subclass_of_the_call_is_completed_by_its_own_method() -> None:
    class TracedCall(LLMCall):
        __slots__ = ()
        completed = 0

        def complete(self, *args: Any) -> None:
            TracedCall.completed += 1
            super().complete(*args)

    observer.observe("subclass")
    call = TracedCall.start("openai", "chat.completions.create", {"model": "m"}, model="m")
    assert type(call) is TracedCall
    assert speedups is not None
    speedups.complete_call(call, {"text": "t"}, None, "m")
    assert TracedCall.completed == 1
    assert observer.buffered_events == 1


@needs_c
def test_complete_call_checks_what_it_is_given() -> None:
    assert speedups is not None
    with pytest.raises(AttributeError, match="complete"):  # not a call: its complete() is asked
        speedups.complete_call(object(), {}, None, None)
    complete: Any = speedups.complete_call  # called wrongly on purpose
    with pytest.raises(TypeError, match="4 arguments"):
        complete(object())
    run: Any = speedups.run_call
    with pytest.raises(TypeError, match="run_call"):
        run(None, chat, [], {})
    start: Any = speedups.start_call
    with pytest.raises(TypeError, match="6 arguments"):
        start("openai", "chat.completions.create", {}, None, "chat")
    with pytest.raises(TypeError, match="6 arguments"):
        start("openai", "chat.completions.create", {}, None, "chat", "two")


@pytest.fixture(autouse=True)
def _no_leftover_session() -> Iterator[None]:
    yield
    observer.end()
    observer.flush(exporter=InMemoryExporter())

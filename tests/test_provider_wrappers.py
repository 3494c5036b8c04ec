"""The wrapper factory: one description of a call gives a sync and an async wrapper that agree.

Each behaviour is checked on both wrappers, from the same description, so the two copies of the
wrapper body (which differ only in awaiting the original) are proven to behave alike.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

import pytest

from aiobs import _guard, observer
from aiobs.providers.call import LLMCall
from aiobs.providers.wrappers import Around, RecordedMethod
from tests.helpers import flush_document


class _Resource:
    """Stands for an SDK resource class: the method receives the resource, then keywords."""


def _sdk_methods(outcome: Any) -> tuple[Callable[..., Any], Callable[..., Any], list[Any]]:
    """A sync and an async SDK method returning (or raising) ``outcome``; and their calls."""
    calls: list[Any] = []

    def create(resource: Any, **kwargs: Any) -> Any:
        calls.append((resource, kwargs))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def acreate(resource: Any, **kwargs: Any) -> Any:
        return create(resource, **kwargs)

    return create, acreate, calls


def _start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
    assert isinstance(args[0], _Resource)
    return LLMCall.start("openai", "things.create", kwargs, model=kwargs.get("model"))


def _record(call: LLMCall, result: Any, kwargs: dict[str, Any], sent: dict[str, Any]) -> Any:
    call.finish(response={"value": result, "sent_changed": sent is not kwargs})
    return ("recorded", result)


def _call(asynchronous: bool, method: RecordedMethod, outcome: Any, **kwargs: Any) -> Any:
    """Call the wrapper of the sync or async SDK method; return (result, what the SDK got)."""
    create, acreate, calls = _sdk_methods(outcome)
    resource = _Resource()
    if asynchronous:
        result = asyncio.run(method.wrap_async(acreate)(resource, **kwargs))
    else:
        result = method.wrap_sync(create)(resource, **kwargs)
    return result, calls


BOTH = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])


@BOTH
def test_nothing_records_the_original_is_called_as_it_is(asynchronous: bool) -> None:
    method = RecordedMethod("openai", start=_start, record=_record)
    result, calls = _call(asynchronous, method, "value", model="m", n=1)
    assert result == "value"
    assert [kwargs for _, kwargs in calls] == [{"model": "m", "n": 1}]


@BOTH
def test_a_recorded_call_is_one_event_and_returns_what_record_gives(asynchronous: bool) -> None:
    observer.observe("s")
    method = RecordedMethod("openai", start=_start, record=_record)
    result, calls = _call(asynchronous, method, "value", model="m")
    assert result == ("recorded", "value")
    assert len(calls) == 1
    [event] = flush_document()["events"]
    assert event["api"] == "things.create"
    assert event["request"] == {"model": "m"}
    assert event["response"] == {"value": "value", "sent_changed": False}


@BOTH
def test_prepare_changes_what_is_sent_not_what_is_recorded(asynchronous: bool) -> None:
    observer.observe("s")

    def prepare(call: LLMCall, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "extra": True}

    method = RecordedMethod("openai", start=_start, record=_record, prepare=prepare)
    _, calls = _call(asynchronous, method, "value", model="m")
    assert [kwargs for _, kwargs in calls] == [{"model": "m", "extra": True}]
    [event] = flush_document()["events"]
    assert event["request"] == {"model": "m"}
    assert event["response"]["sent_changed"] is True


@BOTH
def test_the_sdk_exception_is_recorded_and_reraised_untouched(asynchronous: bool) -> None:
    observer.observe("s")
    error = ValueError("the SDK says no")
    method = RecordedMethod("openai", start=_start, record=_record)
    with pytest.raises(ValueError, match="the SDK says no") as caught:
        _call(asynchronous, method, error, model="m")
    assert caught.value is error
    [event] = flush_document()["events"]
    assert event["status"] == "error"
    assert event["error"] == "ValueError: the SDK says no"


@BOTH
def test_sdk_calls_inside_a_recorded_call_are_not_recorded_again(asynchronous: bool) -> None:
    observer.observe("s")
    seen: list[LLMCall | None] = []

    def record(call: LLMCall, result: Any, kwargs: dict[str, Any], sent: dict[str, Any]) -> Any:
        call.finish()
        return result

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> LLMCall | None:
        call = _start(args, kwargs)
        seen.append(call)
        return call

    method = RecordedMethod("openai", start=start, record=record)
    inner = method.wrap_sync(lambda resource, **kwargs: "inner")

    def outer(resource: Any, **kwargs: Any) -> Any:
        return inner(resource, **kwargs)

    async def aouter(resource: Any, **kwargs: Any) -> Any:
        return inner(resource, **kwargs)

    if asynchronous:
        assert asyncio.run(method.wrap_async(aouter)(_Resource(), model="m")) == "inner"
    else:
        assert method.wrap_sync(outer)(_Resource(), model="m") == "inner"
    assert seen[0] is not None
    assert seen[1] is None
    assert len(flush_document()["events"]) == 1


def _failing(*args: Any) -> Any:
    raise RuntimeError("aiobs bug")


@BOTH
def test_a_failure_in_record_gives_the_sdk_result_and_a_bare_event(
    asynchronous: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_guard, "_raise_internal_errors", False)
    monkeypatch.setattr(_guard, "_reported", set())
    observer.observe("s")
    method = RecordedMethod("openai", start=_start, record=_failing)
    result, _ = _call(asynchronous, method, "value", model="m")
    assert result == "value"
    [event] = flush_document()["events"]
    assert event["status"] == "ok"
    assert event["response"] is None
    assert any(
        "recording what openai returned" in record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.ERROR
    )


@BOTH
def test_a_failure_in_prepare_sends_the_program_arguments(
    asynchronous: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_guard, "_raise_internal_errors", False)
    observer.observe("s")
    method = RecordedMethod("openai", start=_start, record=_record, prepare=_failing)
    result, calls = _call(asynchronous, method, "value", model="m")
    assert result == ("recorded", "value")
    assert [kwargs for _, kwargs in calls] == [{"model": "m"}]


@BOTH
def test_under_the_test_suite_a_failure_in_record_raises(asynchronous: bool) -> None:
    observer.observe("s")
    method = RecordedMethod("openai", start=_start, record=_failing)
    with pytest.raises(RuntimeError, match="aiobs bug"):
        _call(asynchronous, method, "value", model="m")


def test_wrappers_look_like_the_sdk_methods() -> None:
    create, acreate, _ = _sdk_methods("value")
    method = RecordedMethod("openai", start=_start, record=_record)
    sync, asynchronous = method.wrap_sync(create), method.wrap_async(acreate)
    assert sync.__name__ == "create"
    assert getattr(sync, "__wrapped__", None) is create
    assert asynchronous.__name__ == "acreate"
    assert inspect.iscoroutinefunction(asynchronous)
    assert not inspect.iscoroutinefunction(sync)


class TestAround:
    """Work before and after a method that opens no call (stream ``close``, manager enter)."""

    @BOTH
    def test_before_and_after_surround_the_original_even_when_it_raises(
        self, asynchronous: bool
    ) -> None:
        steps: list[Any] = []

        def before(owner: Any) -> str:
            steps.append(("before", owner))
            return "token"

        def after(owner: Any, token: Any) -> None:
            steps.append(("after", owner, token))

        around = Around("testing", after=after, before=before)
        for outcome in ("value", KeyError("closed")):
            steps.clear()
            create, acreate, _ = _sdk_methods(outcome)
            owner = _Resource()
            try:
                if asynchronous:
                    result = asyncio.run(around.wrap_async(acreate)(owner))
                else:
                    result = around.wrap_sync(create)(owner)
            except KeyError:
                result = "raised"
            assert result == ("value" if outcome == "value" else "raised")
            assert steps == [("before", owner), ("after", owner, "token")]

    @BOTH
    def test_a_failure_after_is_logged_not_raised(
        self, asynchronous: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setattr(_guard, "_raise_internal_errors", False)
        monkeypatch.setattr(_guard, "_reported", set())
        around = Around("closing a test stream", after=_failing)
        create, acreate, _ = _sdk_methods("closed")
        if asynchronous:
            assert asyncio.run(around.wrap_async(acreate)(_Resource())) == "closed"
        else:
            assert around.wrap_sync(create)(_Resource()) == "closed"
        assert any("closing a test stream" in record.getMessage() for record in caplog.records)

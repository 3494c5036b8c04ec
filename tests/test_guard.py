"""aiobs's own errors are logged, never raised, outside the test suite."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aiobs import _guard, observe, observer
from aiobs._capture import Capturer
from tests.helpers import flush_document


class Unlucky:
    """An argument whose snapshot makes aiobs itself fail (simulated internal bug)."""


@pytest.fixture
def broken_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: Capturer, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("internal bug")

    monkeypatch.setattr(Capturer, "inputs", fail)


class TestInProduction:
    """With internal errors set to be logged, a failing aiobs leaves the program untouched."""

    def test_call_still_runs_and_returns(
        self, broken_capture: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        _guard.set_raise_internal_errors(False)

        @observe
        def compute(thing: Unlucky) -> str:
            return "done"

        observer.observe()
        with caplog.at_level(logging.ERROR, logger="aiobs"):
            assert compute(Unlucky()) == "done"
            assert compute(Unlucky()) == "done"
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1  # logged once with its traceback, then at debug level
        assert "internal error while starting a span" in errors[0].getMessage()
        assert flush_document()["function_events"] == []

    def test_user_exception_is_untouched_even_when_recording_fails(
        self, broken_capture: None
    ) -> None:
        _guard.set_raise_internal_errors(False)

        @observe
        def fails(thing: Unlucky) -> None:
            raise ValueError("user error")

        observer.observe()
        with pytest.raises(ValueError, match="user error"):
            fails(Unlucky())


class TestInTests:
    """Under the test suite the same failure raises, so bugs are not hidden."""

    def test_internal_error_raises(self, broken_capture: None) -> None:
        @observe
        def compute(thing: Unlucky) -> str:
            return "done"

        observer.observe()
        with pytest.raises(RuntimeError, match="internal bug"):
            compute(Unlucky())

    def test_switch_reads_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib

        monkeypatch.setenv("AIOBS_RAISE_INTERNAL_ERRORS", "1")
        reloaded = importlib.reload(_guard)
        try:
            assert reloaded.raises_internal_errors() is True
        finally:
            monkeypatch.delenv("AIOBS_RAISE_INTERNAL_ERRORS")
            importlib.reload(_guard)
            _guard.set_raise_internal_errors(True)


class TestFailedFlush:
    """A flush that fails inside aiobs exports nothing and forgets nothing."""

    def test_everything_is_exported_by_the_next_flush(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        import sys

        collector_module = sys.modules["aiobs._flush"]
        original = collector_module.build_document

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("writer bug")

        _guard.set_raise_internal_errors(False)

        @observe
        def step() -> int:
            return 1

        observer.observe(session_name="kept")
        step()
        observer.end()
        monkeypatch.setattr(collector_module, "build_document", broken)
        with caplog.at_level(logging.ERROR, logger="aiobs"):
            assert observer.flush(persist=True) is None
        assert "internal error while flushing" in caplog.text
        monkeypatch.setattr(collector_module, "build_document", original)
        document = flush_document()
        [session] = document["sessions"]
        assert session["name"] == "kept"
        assert session["ended_at"] is not None
        assert [e["name"] for e in document["function_events"]] == ["step"]

    def test_a_session_change_alone_is_kept(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        collector_module = sys.modules["aiobs._flush"]
        original = collector_module.build_document

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("writer bug")

        _guard.set_raise_internal_errors(False)
        observer.observe(session_name="only-labels", labels={"stage": "one"})
        observer.end()
        monkeypatch.setattr(collector_module, "build_document", broken)
        assert observer.flush() is None
        monkeypatch.setattr(collector_module, "build_document", original)
        [session] = flush_document()["sessions"]
        assert (session["name"], session["labels"]["stage"]) == ("only-labels", "one")
        assert session["ended_at"] is not None

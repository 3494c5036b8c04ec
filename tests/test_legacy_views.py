"""``observer._sessions`` and ``observer._events``: read-only views built from the buffer."""

from __future__ import annotations

import pytest

from aiobs import Event, FunctionEvent, Session, observe, observer

from .helpers import flush_document


@observe
def double(x: int) -> int:
    return x * 2


class TestLegacyViews:
    """Reading the views changes nothing; they cannot be assigned."""

    def test_reading_changes_nothing(self) -> None:
        session_id = observer.observe("views")
        double(1)
        events = observer._events[session_id]
        assert [type(e) for e in events] == [FunctionEvent]
        assert isinstance(observer._sessions[session_id], Session)
        events.clear()  # a copy
        observer._events.clear()
        double(2)
        assert [e.result for e in observer._events[session_id]] == [2, 4]
        document = flush_document()
        assert [e["result"] for e in document["function_events"]] == [2, 4]
        assert observer._events == {session_id: []}

    def test_read_only(self) -> None:
        with pytest.raises(AttributeError):
            observer._events = {}  # type: ignore[misc]
        with pytest.raises(AttributeError):
            observer._sessions = {}  # type: ignore[misc]

    def test_events_recorded_with_record_event(self) -> None:
        session_id = observer.observe("views")
        observer._record_event(
            Event(
                provider="custom",
                api="chat",
                request={"q": 1},
                response=None,
                error=None,
                callsite=None,
                started_at=1.0,
                ended_at=2.0,
                duration_ms=1000.0,
            )
        )
        [event] = observer._events[session_id]
        assert type(event) is Event
        assert (event.provider, event.api, event.duration_ms) == ("custom", "chat", 1000.0)

    def test_no_session(self) -> None:
        assert observer._sessions == {}
        assert observer._events == {}

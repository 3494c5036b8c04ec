"""A slow ``__repr__`` costs its time at most twice per type and process.

Each test makes its own classes: which types are slow is remembered for the whole process.
"""

from __future__ import annotations

import time
from typing import Any

from aiobs import observe, observer
from aiobs._capture import SLOW_REPR_NS, Capturer
from tests.helpers import flush_document

PAUSE = 3 * SLOW_REPR_NS / 1e9
"""How long the slow reprs below take: three times the budget."""


def slow_class(pause: float = PAUSE) -> type:
    """A fresh class whose repr sleeps ``pause`` seconds and counts its calls."""

    class Slow:
        calls = 0

        def __repr__(self) -> str:
            type(self).calls += 1
            time.sleep(pause)
            return "Slow()"

    return Slow


def test_a_slow_repr_is_not_called_again() -> None:
    slow = slow_class()

    @observe
    def same(value: Any) -> Any:
        return value

    observer.observe("slow")
    value = slow()
    started = time.perf_counter()
    for _ in range(5):
        same(value)
    elapsed = time.perf_counter() - started
    assert slow.calls == 2  # the first call's argument and result; then never again
    assert elapsed < 5 * PAUSE  # not 10 slow reprs
    events = flush_document()["function_events"]
    skipped = f"<{slow.__module__}.{slow.__qualname__} (repr skipped: slow)>"
    assert [(e["args"], e["result"]) for e in events] == [
        (["Slow()"], "Slow()"),
        *[([skipped], skipped)] * 4,
    ]


def test_other_values_and_types_are_unaffected() -> None:
    slow, other = slow_class(), slow_class(pause=0)
    capturer = Capturer()
    capturer.snapshot(slow())
    capturer.snapshot(slow())
    assert capturer.snapshot({"a": slow(), "b": other(), "c": [1, "x"]}) == {
        "a": f"<{slow.__module__}.{slow.__qualname__} (repr skipped: slow)>",
        "b": "Slow()",
        "c": [1, "x"],
    }
    assert other.calls == 1


def test_one_slow_call_does_not_silence_a_type() -> None:
    class Hiccup:
        """Slow once (a pause of the process, say), fast afterwards."""

        calls = 0

        def __repr__(self) -> str:
            Hiccup.calls += 1
            if Hiccup.calls == 1:
                time.sleep(PAUSE)
            return "Hiccup()"

    capturer = Capturer()
    assert [capturer.snapshot(Hiccup()) for _ in range(4)] == ["Hiccup()"] * 4
    assert Hiccup.calls == 4


def test_slow_keys_and_exception_messages() -> None:
    slow = slow_class()

    class SlowError(Exception):
        calls = 0

        def __str__(self) -> str:
            SlowError.calls += 1
            time.sleep(PAUSE)
            return "slow message"

    capturer = Capturer()
    for _ in range(4):
        snap = capturer.snapshot({slow(): 1, "error": SlowError()})
    assert slow.calls == 2
    assert SlowError.calls == 2
    assert snap == {
        f"<{slow.__module__}.{slow.__qualname__} (repr skipped: slow)>": 1,
        "error": {
            "type": f"{SlowError.__module__}.{SlowError.__qualname__}",
            "message": f"<{SlowError.__module__}.{SlowError.__qualname__} (str skipped: slow)>",
        },
    }

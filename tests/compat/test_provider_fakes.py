"""A 0.2 user's fake of an SDK method is recorded as under aiobs 0.2.0 (scripts/openai_fake.py).

aiobs 0.2 records OpenAI calls through OpenTelemetry's openai-v2 instrumentor, which wraps
whatever ``Completions.create`` is when ``observe()`` runs: a fake put there before is recorded.
This package does the same, and reads the fake's ``SimpleNamespace`` result by field name.
"""

from __future__ import annotations

import pytest

from .harness import RunBoth

pytest.importorskip("openai")


def test_a_simple_namespace_fake_is_recorded_like_0_2(run_both: RunBoth) -> None:
    outcome = run_both("openai_fake.py")
    reference, ours = outcome.reference, outcome.ours
    assert reference["returned_the_fake"] is ours["returned_the_fake"] is True
    [theirs] = reference["events"]
    [mine] = ours["events"]
    # What both record: the request's model, and the response's id, model and token counts.
    assert mine["request_model"] == theirs["request_model"] == "gpt-4o-mini"
    assert mine["error"] is theirs["error"] is None
    for key in ("id", "model", "usage"):
        assert mine["response"][key] == theirs["response"][key], key
    assert mine["response"]["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 5,
        "total_tokens": 16,
    }
    # README row "Provider calls through a test's fake": 0.2 (with the current instrumentor)
    # names neither provider nor API and keeps no text; this package does.
    assert (theirs["provider"], theirs["api"]) == ("unknown", "chat")
    assert "text" not in theirs["response"]
    assert (mine["provider"], mine["api"]) == ("openai", "chat.completions.create")
    assert mine["response"]["text"] == "Hello from the fake."
    assert theirs["response"]["finish_reason"] == "stop"
    assert mine["response"]["finish_reasons"] == ["stop"]

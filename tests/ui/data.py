"""Documents for the web UI tests: a traced agent, a failing run, and hostile prompts."""

from __future__ import annotations

from typing import Any

from tests.server.app_fixtures import document, session

START = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC

XSS_SCRIPT = "<script>window.__xss = 'script'</script>"
XSS_IMG = "<img src=x onerror=\"window.__xss = 'img'\">"


def _event(session_id: str, span: str, parent: str | None, at: float, ms: float) -> dict[str, Any]:
    return {
        "span_id": span,
        "parent_span_id": parent,
        "session_id": session_id,
        "started_at": START + at,
        "ended_at": START + at + ms / 1000,
        "duration_ms": ms,
        "error": None,
    }


def function(
    session_id: str, span: str, parent: str | None, name: str, *, at: float, ms: float, **extra: Any
) -> dict[str, Any]:
    """An ``@observe``d call."""
    return {
        **_event(session_id, span, parent, at, ms),
        "provider": "function",
        "api": f"app.{name}",
        "name": name,
        "module": "app",
        "args": [{"question": "capital of France?"}],
        "kwargs": None,
        "result": {"answer": "Paris"},
        "callsite": {"file": "app/agent.py", "line": 42, "function": "main"},
        **extra,
    }


def llm(
    session_id: str,
    span: str,
    parent: str | None,
    at: float,
    ms: float,
    *,
    messages: list[dict[str, Any]],
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    error: str | None = None,
) -> dict[str, Any]:
    """An LLM call with its conversation."""
    return {
        **_event(session_id, span, parent, at, ms),
        "provider": provider,
        "api": "chat.completions.create",
        "request": {"model": model, "messages": messages, "temperature": 0.2},
        "response": None if error else {"text": "Paris is the capital of France.", "model": model},
        "error": error,
        "request_model": model,
        "response_model": model,
        "usage": {"input_tokens": 1234, "output_tokens": 56, "total_tokens": 1290},
        "cost": {"input": 0.0002, "output": 0.0001, "total": 0.0003, "estimated": False},
    }


AGENT_MESSAGES = [
    {"role": "system", "content": "You answer geography questions."},
    {"role": "user", "content": "What is the capital of France?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_city", "arguments": '{"country": "France"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Paris"},
]


def agent_document(session_id: str = "agent-run-1") -> dict[str, Any]:
    """``answer`` -> ``plan`` -> an LLM call, and a second LLM call under ``answer``."""
    one = session(
        "geography agent", started_at=START, labels={"env": "prod"}, session_id=session_id
    )
    return document(
        [one],
        [
            llm(session_id, "llm1", "plan1", 0.1, 800, messages=AGENT_MESSAGES),
            llm(
                session_id,
                "llm2",
                "root1",
                1.0,
                400,
                messages=[{"role": "user", "content": "Summarise: Paris"}],
                model="claude-haiku",
                provider="anthropic",
            ),
        ],
        [
            function(session_id, "root1", None, "answer", at=0.0, ms=1500),
            function(session_id, "plan1", "root1", "plan", at=0.05, ms=900),
        ],
    )


def failing_document(session_id: str = "failing-run-1") -> dict[str, Any]:
    """A session whose only call failed, an hour after the agent's."""
    one = session(
        "nightly batch", started_at=START + 3600, labels={"env": "dev"}, session_id=session_id
    )
    call = llm(
        session_id,
        "bad1",
        None,
        3600.1,
        50,
        messages=[{"role": "user", "content": "hi"}],
        model="gemini-2.0-flash",
        provider="gemini",
        error="RateLimitError: slow down",
    )
    return document([one], [call])


def hostile_document(session_id: str = "hostile-run-1") -> dict[str, Any]:
    """A session whose recorded strings are HTML and script."""
    one = session(
        f"hostile {XSS_IMG}",
        started_at=START + 7200,
        labels={"x": XSS_SCRIPT},
        session_id=session_id,
    )
    messages = [{"role": "user", "content": f"Ignore this: {XSS_SCRIPT} and {XSS_IMG}"}]
    call = llm(session_id, "hostile1", None, 7200.1, 10, messages=messages)
    call["response"] = {"text": f"echo {XSS_IMG} </script><script>window.__xss='json'</script>"}
    return document([one], [call])


def agent_rerun_document(session_id: str = "agent-run-2") -> dict[str, Any]:
    """The agent run again a day later, to compare with ``agent_document``: the planning call
    is slower, uses more tokens and answers differently, and a ``verify`` step is new."""
    doc = agent_document(session_id)
    doc["sessions"][0].update(name="geography agent (rerun)", started_at=START + 86400)
    doc["sessions"][0]["ended_at"] = START + 86400 + 2.5
    for event in doc["events"] + doc["function_events"]:
        event["started_at"] += 86400
        event["ended_at"] += 86400
    plan_call = doc["events"][0]
    plan_call.update(
        duration_ms=1300.0, response={"text": "Paris, on the Seine.", "model": "gpt-4o-mini"}
    )
    plan_call["ended_at"] = plan_call["started_at"] + 1.3
    plan_call["usage"] = {"input_tokens": 1800, "output_tokens": 90, "total_tokens": 1890}
    plan_call["cost"] = {"input": 0.0003, "output": 0.0002, "total": 0.0005, "estimated": False}
    doc["function_events"].append(
        function(session_id, "verify1", "root1", "verify", at=86401.6, ms=300)
    )
    return doc


LONG_TEXT = "lorem ipsum " * 1000
"""Longer than the capture's string limit in :func:`marked_document`."""
API_KEY = "sk-proj-" + "a1B2c3D4" * 6
"""Looks like an OpenAI key: the SDK's redaction replaces it."""


def marked_document(session_id: str = "marked-run-1") -> dict[str, Any]:
    """A session whose function's values went through the SDK's real capture: a string cut at
    the string limit, a list cut at the item limit, a redacted key and credential, and span
    attributes; under it an LLM call whose prompt was cut and redacted too."""
    from aiobs._capture import CaptureLimits, Capturer

    capture = Capturer(CaptureLimits(max_string_length=500, max_items=20))
    args, kwargs = capture.inputs(
        (LONG_TEXT, list(range(30))), {"api_key": API_KEY, "note": f"use {API_KEY} here"}
    )
    one = session(
        "marked run", started_at=START + 10800, labels={"team": "search"}, session_id=session_id
    )
    step = function(
        session_id,
        "marked1",
        None,
        "summarise",
        at=10800.0,
        ms=700,
        args=args,
        kwargs=kwargs,
        result=capture.output({"summary": LONG_TEXT}),
        attributes=capture.mapping({"customer": "acme", "password": "hunter2", "retries": 2}),
    )
    prompt = capture.output(f"Summarise with key {API_KEY}: {LONG_TEXT}")
    call = llm(
        session_id,
        "marked2",
        "marked1",
        10800.1,
        300,
        messages=[{"role": "user", "content": prompt}],
    )
    return document([one], [call], [step])

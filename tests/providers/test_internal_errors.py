"""A failure inside aiobs never reaches the program's SDK call: it is logged, the call goes on.

The fault is injected into aiobs's own event recording; the SDKs, the HTTP traffic and the
stand-in server are real.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from aiobs import _guard, observer
from aiobs._config import Settings
from aiobs.standin import StandinServer

MESSAGES = [{"role": "user", "content": "hello there"}]


def fail(*args: Any, **kwargs: Any) -> None:
    """What the recording of an event meets: the price table cannot be read.

    Both the Python and the C recording paths read it while they record an event.
    """
    raise RuntimeError("injected aiobs failure")


@pytest.fixture
def broken_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording an event raises; aiobs's errors are logged (production mode)."""

    monkeypatch.setattr(Settings, "price_table", property(fail))
    monkeypatch.setattr(_guard, "_raise_internal_errors", False)
    monkeypatch.setattr(_guard, "_reported", set())
    observer.observe("broken")


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "aiobs" and record.levelno >= logging.ERROR
    ]


@pytest.mark.usefixtures("broken_recording")
def test_openai_calls_still_return_their_results(
    standin: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    with openai.OpenAI(base_url=standin.openai_url, api_key="x", max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        chunks = list(
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        )
    assert completion.choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        completion.choices[0].message.content
    )
    assert any("recording a openai event" in message for message in _logged(caplog))


@pytest.mark.usefixtures("broken_recording")
def test_anthropic_calls_still_return_their_results(
    standin: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def call() -> Any:
        async with anthropic.AsyncAnthropic(
            base_url=standin.anthropic_url, api_key="x", max_retries=0
        ) as client:
            return await client.messages.create(
                model="claude-haiku-4-5", max_tokens=50, messages=MESSAGES
            )

    message = asyncio.run(call())
    assert message.content[0].text
    assert any("anthropic" in logged for logged in _logged(caplog))


@pytest.mark.usefixtures("broken_recording")
def test_gemini_calls_still_return_their_results(
    standin: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = genai.Client(api_key="x", http_options=types.HttpOptions(base_url=standin.gemini_url))
    response = client.models.generate_content(model="gemini-2.5-flash", contents="hello there")
    parts = response.candidates[0].content.parts if response.candidates else None
    assert parts
    assert parts[0].text
    assert any("gemini" in logged for logged in _logged(caplog))


def test_under_the_test_suite_the_same_failure_raises(
    standin: StandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Settings, "price_table", property(fail))
    observer.observe("strict")
    with (
        openai.OpenAI(base_url=standin.openai_url, api_key="x", max_retries=0) as client,
        pytest.raises(RuntimeError, match="injected aiobs failure"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

"""Fixtures for provider tests: a stand-in vendor server and the recorded provider events."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from aiobs import observer, providers
from aiobs.standin import StandinServer
from tests.helpers import flush_document


@pytest.fixture
def standin() -> Iterator[StandinServer]:
    """A stand-in OpenAI/Anthropic/Gemini server on 127.0.0.1, stopped after the test."""
    with StandinServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _providers_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with every provider installed and ends with all patches removed."""
    monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    providers.instrument()
    yield
    providers.uninstrument()
    providers.instrument()  # leave auto-installation on for the next test


def next_line() -> int:
    """The line after the caller's: where the SDK call under test starts (its callsite)."""
    return sys._getframe(1).f_lineno + 1


def user(text: str) -> list[dict[str, Any]]:
    """A conversation of one user message."""
    return [{"role": "user", "content": text}]


def provider_events() -> list[dict[str, Any]]:
    """Flush the observer and return the provider events of the document."""
    return list(flush_document()["events"])


def only_event() -> dict[str, Any]:
    """Flush and return the single provider event recorded; fail if there is not exactly one."""
    events = provider_events()
    assert len(events) == 1, [event["api"] for event in events]
    return events[0]


__all__ = ["next_line", "observer", "only_event", "provider_events", "user"]

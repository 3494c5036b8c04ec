"""What the web UI keeps per app: the cookie signer, the templates and which keys are live."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request

from ..server.storage import Storage
from .security import Signer

HERE = Path(__file__).parent
LIVE_KEYS_SECONDS = 5.0
"""How long the list of live keys is reused: a revoked key's sign-ins end at most this late."""


class LiveKeys:
    """Which project each live key belongs to, read from the storage at most every few seconds."""

    def __init__(
        self,
        storage: Storage,
        ttl: float = LIVE_KEYS_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = storage
        self._ttl = ttl
        self._clock = clock
        self._projects: dict[str, str] = {}
        self._expires = float("-inf")
        self._lock = threading.Lock()

    def live_project(self, key_id: str) -> str | None:
        """The project of ``key_id`` while the key is live; ``None`` once revoked or unknown."""
        with self._lock:
            if self._clock() >= self._expires:
                self._projects = {
                    key.key_id: key.project_id
                    for key in self._storage.list_keys()
                    if key.revoked_at is None
                }
                self._expires = self._clock() + self._ttl
            return self._projects.get(key_id)


@dataclass(frozen=True)
class UiState:
    """The web UI's part of an app."""

    signer: Signer
    templates: jinja2.Environment
    keys: LiveKeys
    local_project: str | None = None
    """Set only by the local viewer (``aiobs ui``): every page shows this project, no sign-in."""


def ui_state(request: Request) -> UiState:
    """The UI state of the app serving ``request``."""
    state: UiState = request.app.state.aiobs_ui
    return state


def templates() -> jinja2.Environment:
    """The page templates, autoescaped, with the filters that format recorded values."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(when=when, duration=duration, number=number, cost=cost)
    return environment


def when(epoch: Any) -> str:
    """``2026-01-01 00:00:00`` (UTC) from epoch seconds; empty when unknown."""
    if not isinstance(epoch, (int, float)):
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def duration(milliseconds: Any) -> str:
    """``850 ms``, ``2.4 s`` or ``3 min 5 s``."""
    if not isinstance(milliseconds, (int, float)):
        return ""
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.1f} s"
    minutes, seconds = divmod(round(milliseconds / 1000), 60)
    return f"{minutes} min {seconds} s"


def number(value: Any) -> str:
    """``12,345``; empty when unknown."""
    return f"{value:,}" if isinstance(value, int) else ""


def cost(value: Any) -> str:
    """``$0.0012``; empty when unknown."""
    if not isinstance(value, (int, float)):
        return ""
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"

"""What a session's provider calls add up to: calls, errors, tokens and cost."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .usage import Usage


class LLMTotals:
    """What a session's provider calls add up to, kept as events finish."""

    __slots__ = ("_lock", "calls", "cost", "errors", "priced", "tokens", "unpriced")

    TOKEN_FIELDS = (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.errors = 0
        self.unpriced = 0
        self.priced = 0
        self.tokens = dict.fromkeys(self.TOKEN_FIELDS, 0)
        self.cost = {"input": 0.0, "output": 0.0, "total": 0.0}

    def add(self, usage: Usage | None, cost: Mapping[str, Any] | None, *, failed: bool) -> None:
        """Count one finished call."""
        with self._lock:
            self.calls += 1
            self.errors += failed
            if usage is not None:
                for name in self.TOKEN_FIELDS:
                    self.tokens[name] += getattr(usage, name) or 0
            if cost is None:
                self.unpriced += not failed
            else:
                self.priced += 1
                for name in ("input", "output", "total"):
                    self.cost[name] += cost[name]

    def as_fields(self) -> dict[str, Any]:
        """The session fields ``llm_calls``, ``llm_errors``, ``usage`` and ``cost``."""
        with self._lock:
            if not self.calls:
                return {"llm_calls": 0, "llm_errors": 0, "usage": None, "cost": None}
            return {
                "llm_calls": self.calls,
                "llm_errors": self.errors,
                "usage": dict(self.tokens),
                "cost": None
                if not self.priced
                else {
                    **{name: round(value, 8) for name, value in self.cost.items()},
                    "unpriced_calls": self.unpriced,
                },
            }

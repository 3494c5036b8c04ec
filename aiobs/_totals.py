"""What a session's provider calls add up to: calls, errors, tokens and cost."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ._format import (
    COST_INPUT,
    COST_OUTPUT,
    COST_TOTAL,
    COST_UNPRICED_CALLS,
    SESSION_COST,
    SESSION_LLM_CALLS,
    SESSION_LLM_ERRORS,
    SESSION_USAGE,
    USAGE_CACHED_INPUT_TOKENS,
    USAGE_INPUT_TOKENS,
    USAGE_OUTPUT_TOKENS,
    USAGE_REASONING_TOKENS,
    USAGE_TOTAL_TOKENS,
)
from .usage import Usage

_COST_FIELDS = (COST_INPUT, COST_OUTPUT, COST_TOTAL)


class FinishedCall(Protocol):
    """A finished provider call as the totals read it (``ProviderRecord``)."""

    @property
    def usage(self) -> Usage | None: ...
    @property
    def cost(self) -> Mapping[str, Any] | None: ...
    @property
    def failed(self) -> bool: ...


PENDING_LIMIT = 1024
"""Calls counted later at most: past this many (a flush that does not keep up), they are added."""


class LLMTotals:
    """What a session's provider calls add up to.

    A finished call is only noted (:meth:`count_later`, one append on the call path); its usage
    and cost are added when the totals are read (:meth:`as_fields`, at export).
    """

    __slots__ = ("_lock", "calls", "cost", "errors", "pending", "priced", "tokens", "unpriced")

    TOKEN_FIELDS = (
        USAGE_INPUT_TOKENS,
        USAGE_OUTPUT_TOKENS,
        USAGE_TOTAL_TOKENS,
        USAGE_CACHED_INPUT_TOKENS,
        USAGE_REASONING_TOKENS,
    )
    """The counts summed, by their field names (which :class:`Usage` uses as attributes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.errors = 0
        self.unpriced = 0
        self.priced = 0
        self.tokens = dict.fromkeys(self.TOKEN_FIELDS, 0)
        self.cost = dict.fromkeys(_COST_FIELDS, 0.0)
        self.pending: list[FinishedCall] = []

    def count_later(self, call: FinishedCall) -> None:
        """Note one finished call, to be added when the totals are next read."""
        pending = self.pending
        pending.append(call)
        if len(pending) >= PENDING_LIMIT:
            self._add_pending()

    def _add_pending(self) -> None:
        # Appends may come from other threads meanwhile (without the lock): take a prefix.
        with self._lock:
            pending = self.pending
            taken = len(pending)
            calls = pending[:taken]
            del pending[:taken]
        for call in calls:
            self.add(call.usage, call.cost, failed=call.failed)

    def add(self, usage: Usage | None, cost: Mapping[str, Any] | None, *, failed: bool) -> None:
        """Count one finished call."""
        with self._lock:
            self.calls += 1
            self.errors += failed
            if usage is not None:  # TOKEN_FIELDS, spelled out: this runs on every call
                tokens = self.tokens
                tokens[USAGE_INPUT_TOKENS] += usage.input_tokens or 0
                tokens[USAGE_OUTPUT_TOKENS] += usage.output_tokens or 0
                tokens[USAGE_TOTAL_TOKENS] += usage.total_tokens or 0
                tokens[USAGE_CACHED_INPUT_TOKENS] += usage.cached_input_tokens or 0
                tokens[USAGE_REASONING_TOKENS] += usage.reasoning_tokens or 0
            if cost is None:
                self.unpriced += not failed
            else:
                self.priced += 1
                total = self.cost
                total[COST_INPUT] += cost[COST_INPUT]
                total[COST_OUTPUT] += cost[COST_OUTPUT]
                total[COST_TOTAL] += cost[COST_TOTAL]

    def as_fields(self) -> dict[str, Any]:
        """The session fields ``llm_calls``, ``llm_errors``, ``usage`` and ``cost``."""
        self._add_pending()
        with self._lock:
            if not self.calls:
                return {
                    SESSION_LLM_CALLS: 0,
                    SESSION_LLM_ERRORS: 0,
                    SESSION_USAGE: None,
                    SESSION_COST: None,
                }
            return {
                SESSION_LLM_CALLS: self.calls,
                SESSION_LLM_ERRORS: self.errors,
                SESSION_USAGE: dict(self.tokens),
                SESSION_COST: None
                if not self.priced
                else {
                    **{name: round(value, 8) for name, value in self.cost.items()},
                    COST_UNPRICED_CALLS: self.unpriced,
                },
            }

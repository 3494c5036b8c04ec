"""Settings of ``aiobs server`` that come from the environment or the command line."""

from __future__ import annotations

from collections.abc import Mapping

from .._env import SERVER_DB, SERVER_MAX_EVENTS_PER_UPLOAD, get_positive_int
from .limits import DEFAULT_MAX_EVENTS
from .storage.base import DEFAULT_QUOTAS, TIERS

__all__ = [
    "DEFAULT_DB",
    "SERVER_DB",
    "SERVER_MAX_EVENTS_PER_UPLOAD",
    "default_max_events",
    "describe_quotas",
    "parse_quotas",
]

DEFAULT_DB = "sqlite:///aiobs-server.db"
"""The database used when neither ``--db`` nor ``AIOBS_SERVER_DB`` says otherwise."""

_UNLIMITED = frozenset({"none", "unlimited", "-1"})


def parse_quotas(items: list[str]) -> dict[str, int | None]:
    """The default quotas overridden by ``TIER=N`` items (``N`` may be ``unlimited``).

    Raises:
        ValueError: an unknown tier or a count that is not a non-negative integer.
    """
    limits: dict[str, int | None] = dict(DEFAULT_QUOTAS)
    for item in items:
        tier, equals, count = item.partition("=")
        if not equals or tier not in TIERS:
            raise ValueError(f"--quota takes TIER=N with TIER one of {', '.join(TIERS)}: {item!r}")
        limits[tier] = _count(count.strip(), item)
    return limits


def _count(text: str, item: str) -> int | None:
    if text.lower() in _UNLIMITED:
        return None
    if not text.isdigit():
        raise ValueError(f"--quota N must be a whole number or 'unlimited': {item!r}")
    return int(text)


def describe_quotas(limits: Mapping[str, int | None]) -> str:
    """``free=10000, pro=1000000, enterprise=unlimited`` for the startup message."""
    return ", ".join(
        f"{tier}={'unlimited' if limit is None else limit}" for tier, limit in limits.items()
    )


def default_max_events() -> int:
    """Events per upload when ``--max-events-per-upload`` is not given.

    ``AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD``, else 10,000.

    Raises:
        ValueError: ``AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD`` is not a positive integer.
    """
    return get_positive_int(SERVER_MAX_EVENTS_PER_UPLOAD, DEFAULT_MAX_EVENTS)

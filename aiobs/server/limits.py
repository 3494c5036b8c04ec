"""What one upload may be: its size, its shape, how long it may take, the memory it may hold.

Every limit has a default safe for a server on the internet; ``aiobs server`` options and
:func:`aiobs.server.app.create_app` change them (see ``docs/server.md``, "Limits").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._format import DOC_EVENTS, DOC_FUNCTION_EVENTS

MIB = 1024 * 1024

DEFAULT_MAX_BODY_BYTES = 10 * MIB
"""Largest request body accepted, as sent (compressed or not)."""

DEFAULT_MAX_DOCUMENT_BYTES = 100 * MIB
"""Largest export document accepted once decompressed."""

DEFAULT_MAX_VALUES = 2_000_000
"""JSON values (array elements, object members) in one document, counted before it is parsed.
10,000 events of the SDK hold about 350,000."""

DEFAULT_MAX_DEPTH = 64
"""Levels of nested arrays and objects in a document. The SDK keeps at most 32 levels of a
recorded argument, which sits 4 levels deep in the document."""

DEFAULT_MAX_EVENTS = 10_000
"""Events (LLM calls and function events) in one upload; the SDK splits larger flushes."""

DEFAULT_BODY_TIMEOUT = 60.0
"""Seconds a request body may take to arrive once its headers have."""

DEFAULT_MEMORY_BYTES = 512 * MIB
"""Memory the uploads in progress may hold together (see :mod:`.budget`)."""


@dataclass(frozen=True)
class UploadLimits:
    """The limits of ``POST /v1/traces``; build a changed copy with :meth:`replace`."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    max_values: int = DEFAULT_MAX_VALUES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_events: int = DEFAULT_MAX_EVENTS
    body_timeout: float | None = DEFAULT_BODY_TIMEOUT
    """``None``: a body may take as long as it likes (only behind a proxy that bounds it)."""
    memory_bytes: int = DEFAULT_MEMORY_BYTES

    def __post_init__(self) -> None:
        counts = {
            "max_body_bytes": self.max_body_bytes,
            "max_document_bytes": self.max_document_bytes,
            "max_values": self.max_values,
            "max_depth": self.max_depth,
            "max_events": self.max_events,
            "memory_bytes": self.memory_bytes,
        }
        for name, value in counts.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.body_timeout is not None and self.body_timeout <= 0:
            raise ValueError(f"body_timeout must be positive or None, got {self.body_timeout}")

    def replace(self, **changes: object) -> UploadLimits:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class TooManyEventsError(Exception):
    """An upload holds more events than the server takes at once (HTTP 413)."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"the document has {count} events, more than the limit of {limit} per upload: "
            "send them in several uploads (the SDK splits larger flushes by itself), or start "
            "the server with a larger --max-events-per-upload"
        )
        self.count = count
        self.limit = limit


def check_event_count(document: object, limit: int) -> None:
    """Refuse a document with more than ``limit`` LLM and function events.

    Raises:
        TooManyEventsError: it has more.
    """
    if not isinstance(document, dict):
        return  # the storage says what is wrong with it
    count = 0
    for key in (DOC_EVENTS, DOC_FUNCTION_EVENTS):
        events = document.get(key)
        if isinstance(events, list):
            count += len(events)
    if count > limit:
        raise TooManyEventsError(count, limit)

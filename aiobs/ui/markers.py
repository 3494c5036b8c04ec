"""Where the SDK cut or replaced a recorded value, found so that the detail pane can say so.

The SDK never drops part of a value silently: a string cut at the string limit ends with
``...[aiobs: truncated N chars]``, a value cut by the event's size budget with
``...[aiobs: event size limit reached]``, a long list with ``[aiobs: N more items]``, a large
mapping gets the key ``[aiobs: truncated]``, a value nested too deep becomes
``[aiobs: max depth N reached: type]``, and a credential, or the value of a secret-looking key,
becomes ``[REDACTED]``. (A node placed beside its parent because the trace tree reached its
depth limit is marked by :mod:`.trace` itself.) The server may not import the SDK's capture or
redaction modules (see ``docs/architecture.md``), so the marker texts are spelled again here;
``tests/ui/test_markers.py`` checks them against what the SDK really writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"
"""What the SDK writes in place of a secret (``aiobs.redaction.REDACTED``)."""
MAX_MARKERS = 50
"""Markers listed for one node; the count says how many more there were."""

_MARKER = re.compile(r"\[REDACTED\]|\[aiobs: [^\]\n]{1,200}\]")
_CUT = ("truncated", "size limit", "more items", "more keys", "max depth")
_SKIPPED = frozenset({"span_id", "parent_span_id", "trace_id", "session_id", "children"})


def kind_of(marker: str) -> str:
    """``redacted``, ``truncated`` (a value cut short) or ``replaced`` (cycles, bad text)."""
    if marker == REDACTED:
        return "redacted"
    return "truncated" if any(word in marker for word in _CUT) else "replaced"


def markers(event: Mapping[str, Any]) -> dict[str, Any]:
    """The markers in ``event``'s values, counted by kind, and the first of them listed.

    The answer is ``{"truncated": n, "redacted": n, "replaced": n, "items": [...]}``, each item
    ``{"kind", "path", "marker"}`` (at most :data:`MAX_MARKERS` items); ``path`` says where
    the value is (``request.messages[1].content``).
    """
    found: list[dict[str, str]] = []
    counts = {"truncated": 0, "redacted": 0, "replaced": 0}

    def note(marker: str, path: str) -> None:
        kind = kind_of(marker)
        counts[kind] += 1
        if len(found) < MAX_MARKERS:
            found.append({"kind": kind, "path": path, "marker": marker})

    stack: list[tuple[str, Any]] = [
        (str(key), value) for key, value in reversed(list(event.items())) if key not in _SKIPPED
    ]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "[" in value:
                for match in _MARKER.finditer(value):
                    note(match.group(), path)
        elif isinstance(value, Mapping):
            for key, item in reversed(list(value.items())):
                key_text = str(key)
                if key_text.startswith("[aiobs: "):
                    note(f"{key_text}: {item}", path)
                    continue
                stack.append((f"{path}.{key_text}", item))
        elif isinstance(value, list):
            stack.extend(
                (f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value)))
            )
    return {**counts, "items": found}

"""Opaque page cursors: the sort key of the last session on a page."""

from __future__ import annotations

import base64
import binascii
import json


def encode_cursor(started_at: float, session_id: str) -> str:
    """A cursor that resumes after the session ``(started_at, session_id)``."""
    raw = json.dumps([started_at, session_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The sort key inside a cursor.

    Raises:
        ValueError: the cursor was not made by :func:`encode_cursor`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, session_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc
    valid_time = isinstance(started_at, (int, float)) and not isinstance(started_at, bool)
    if not valid_time or not isinstance(session_id, str):
        raise ValueError("invalid cursor")
    return float(started_at), session_id

"""Environment variables that aiobs reads, each defined and documented once.

Every variable is optional. Values are read when the setting they feed is first needed (for example
when a session starts or when ``flush()`` picks a path), so a test can change them with
``monkeypatch.setenv`` before that point.
"""

from __future__ import annotations

import os

OUTPUT_PATH = "LLM_OBS_OUT"
"""Default file that ``flush()`` writes when it is given no path (aiobs 0.2 name, kept)."""

API_KEY = "AIOBS_API_KEY"
"""API key for remote destinations. Never needed for local recording or for writing files."""

LABEL_PREFIX = "AIOBS_LABEL_"
"""``AIOBS_LABEL_<KEY>=value`` adds the label ``<key>: value`` to every new session."""

FLUSH_AT_EXIT = "AIOBS_FLUSH_AT_EXIT"
"""``0``/``false`` turns off the flush of unexported data at interpreter exit (default on)."""

PROPAGATE_TO_THREADS = "AIOBS_PROPAGATE_TO_THREADS"
"""``0``/``false`` stops threads and thread pools from inheriting the current session and span."""

MAX_BUFFERED_EVENTS = "AIOBS_MAX_BUFFERED_EVENTS"
"""How many events a collector buffers before it drops (and counts) further ones."""

RAISE_INTERNAL_ERRORS = "AIOBS_RAISE_INTERNAL_ERRORS"
"""``1`` makes aiobs's own errors raise instead of being logged. The test suite sets it."""

PURE_PYTHON = "AIOBS_PURE_PYTHON"
"""``1``: ``@observe`` uses its pure-Python wrapper even where the C one (``aiobs._speedups``) is
built; read once, when :mod:`aiobs.observe` is imported."""

AUTO_INSTRUMENT = "AIOBS_AUTO_INSTRUMENT"
"""``0``/``false``: starting a session does not instrument the installed LLM SDKs (default on)."""

OPENAI_STREAM_USAGE = "AIOBS_OPENAI_STREAM_USAGE"
"""``1``: ask OpenAI chat streams for usage when the program did not (default off)."""

ESTIMATE_USAGE = "AIOBS_ESTIMATE_USAGE"
"""``1``: count tokens locally, flagged as an estimate, when a stream reports no usage."""

PRICING_FILE = "AIOBS_PRICING_FILE"
"""A JSON pricing table that extends or overrides the shipped one (see :mod:`aiobs.pricing`)."""

SPOOL_DIR = "AIOBS_SPOOL_DIR"
"""Directory for documents the flush server has not taken yet (see :mod:`aiobs.delivery.spool`)."""

FLUSH_SERVER_URL = "AIOBS_FLUSH_SERVER_URL"
"""Base URL of an aiobs flush server; with an API key, ``flush()`` also delivers there."""

MAX_EVENTS_PER_UPLOAD = "AIOBS_MAX_EVENTS_PER_UPLOAD"
"""Events per upload to a flush server above which a document is split (default 5,000)."""

SERVER_DB = "AIOBS_SERVER_DB"
"""Database URL of ``aiobs server`` and ``aiobs keys`` when ``--db`` is not given."""

SERVER_MAX_EVENTS_PER_UPLOAD = "AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD"
"""Most events ``aiobs server`` takes in one upload, when ``--max-events-per-upload`` is not set."""

_FALSE = frozenset({"0", "false", "no", "off"})
_TRUE = frozenset({"1", "true", "yes", "on"})


def get_bool(name: str, default: bool) -> bool:
    """Read a boolean switch; unset or empty means ``default``.

    Raises:
        ValueError: the value is not one of 1/0, true/false, yes/no, on/off.
    """
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def get_positive_int(name: str, default: int) -> int:
    """Read a positive integer; unset or empty means ``default``.

    Raises:
        ValueError: the value is not a positive integer.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be a positive integer, for example {default}")
    return value

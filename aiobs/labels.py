"""Session labels: the rules they follow and where they come from.

A label is a ``key: value`` pair attached to a session, for filtering and grouping. The rules are
those of aiobs 0.2: keys match ``^[a-z][a-z0-9_]{0,62}$``, values are strings of at most 256
characters, a session holds at most 64 labels, and the prefix ``aiobs_`` is reserved for the system
labels that aiobs adds itself. Labels are merged with this precedence, lowest first::

    system labels  <  AIOBS_LABEL_<KEY> environment variables  <  labels passed in code
"""

from __future__ import annotations

import os
import platform
import re
import socket
from collections.abc import Mapping

from . import _env
from ._format import (
    LABEL_HOSTNAME,
    LABEL_OS,
    LABEL_PYTHON_VERSION,
    LABEL_SDK_VERSION,
    RESERVED_LABEL_PREFIX,
)
from ._version import __version__

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_VALUE_LENGTH = 256
MAX_LABELS = 64
RESERVED_PREFIX = RESERVED_LABEL_PREFIX

_KEY_RULE = "a lowercase letter, then up to 62 lowercase letters, digits or '_'"

# The messages start with aiobs 0.2's wording (code may match on it) and go on to say what to do.


def validate_key(key: object) -> str:
    """Check one user label key and return it.

    Raises:
        ValueError: the key is not a string, breaks the pattern, or uses the reserved prefix.
    """
    if not isinstance(key, str):
        raise ValueError(
            f"Label key must be a string, got {type(key).__name__} ({key!r}); "
            "use a name such as 'env'"
        )
    if key.startswith(RESERVED_PREFIX):
        raise ValueError(
            f"Label key '{key}' uses reserved prefix '{RESERVED_PREFIX}': it is kept for the "
            "labels aiobs adds itself; choose another name"
        )
    if not KEY_PATTERN.match(key):
        raise ValueError(
            f"Label key '{key}' is invalid. Keys must match pattern {KEY_PATTERN.pattern} "
            f"({_KEY_RULE})"
        )
    return key


def validate_value(key: str, value: object) -> str:
    """Check the value of label ``key`` and return it.

    Raises:
        ValueError: the value is not a string or is longer than 256 characters.
    """
    if not isinstance(value, str):
        raise ValueError(
            f"Label value for '{key}' must be a string, got {type(value).__name__}; "
            "convert it with str() first"
        )
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(
            f"Label value for '{key}' exceeds maximum length of {MAX_VALUE_LENGTH} characters. "
            f"Label value for '{key}' is {len(value)} characters long; the maximum is "
            f"{MAX_VALUE_LENGTH}: shorten it"
        )
    return value


def validate_labels(labels: object) -> dict[str, str]:
    """Check a mapping of user labels and return it as a new dict.

    Raises:
        ValueError: ``labels`` is not a mapping, has too many entries, or holds an invalid pair.
    """
    if not isinstance(labels, Mapping):
        raise ValueError(
            f"Labels must be a dictionary, got {type(labels).__name__}; pass a dict of str to str"
        )
    check_count(labels)
    checked: dict[str, str] = {}
    for key, value in labels.items():
        checked[validate_key(key)] = validate_value(key, value)
    return checked


def check_count(labels: Mapping[str, str]) -> None:
    """Raise ``ValueError`` when a label set exceeds the per-session maximum."""
    if len(labels) > MAX_LABELS:
        raise ValueError(
            f"Too many labels ({len(labels)}). Maximum allowed is {MAX_LABELS}. "
            "A session holds at most that many, system labels included"
        )


def env_labels(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels from ``AIOBS_LABEL_<KEY>`` variables; the key is lowercased.

    Variables whose key breaks the key rules are ignored, and values are cut to 256 characters, so
    that a stray variable cannot stop a program from starting.
    """
    source = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name, value in source.items():
        if not name.startswith(_env.LABEL_PREFIX):
            continue
        key = name[len(_env.LABEL_PREFIX) :].lower()
        if KEY_PATTERN.match(key) and not key.startswith(RESERVED_PREFIX):
            found[key] = value[:MAX_VALUE_LENGTH]
    return found


def system_labels() -> dict[str, str]:
    """Labels that aiobs adds to every session, all under the reserved ``aiobs_`` prefix."""
    return {
        LABEL_SDK_VERSION: __version__,
        LABEL_PYTHON_VERSION: platform.python_version(),
        LABEL_HOSTNAME: socket.gethostname()[:MAX_VALUE_LENGTH],
        LABEL_OS: platform.system().lower(),
    }


def merge_labels(explicit: Mapping[str, str] | None) -> dict[str, str]:
    """Validate ``explicit`` and merge it over the environment and system labels.

    Raises:
        ValueError: an explicit label is invalid or the merged set is too large.
    """
    merged = system_labels()
    merged.update(env_labels())
    if explicit is not None:
        merged.update(validate_labels(explicit))
    check_count(merged)
    return merged

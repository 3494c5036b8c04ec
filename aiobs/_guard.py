"""The one place where aiobs's own errors are caught.

Telemetry must never break the program it observes: an exception raised by aiobs's own code is
logged and recording carries on. The user's exceptions never pass through here; wrappers re-raise
them untouched. Under the test suite (``AIOBS_RAISE_INTERNAL_ERRORS=1`` or
``set_raise_internal_errors(True)``) internal errors raise instead, so that bugs are not hidden.

Usage::

    with guard("building the export document"):
        ...  # aiobs's own work

    try:
        ...  # hot path, where a context manager costs too much
    except Exception as exc:
        report_internal_error("capturing arguments", exc)
"""

from __future__ import annotations

import logging
from types import TracebackType

from . import _env

logger = logging.getLogger("aiobs")

_raise_internal_errors = _env.get_bool(_env.RAISE_INTERNAL_ERRORS, default=False)
_reported: set[str] = set()


def set_raise_internal_errors(enabled: bool) -> None:
    """Make aiobs's own errors raise (tests) or be logged (production, the default)."""
    global _raise_internal_errors  # noqa: PLW0603 - the switch is process-wide by design
    _raise_internal_errors = enabled


def raises_internal_errors() -> bool:
    """Whether aiobs's own errors currently raise instead of being logged."""
    return _raise_internal_errors


def report_internal_error(what: str, exc: BaseException) -> None:
    """Log an internal error (with its traceback the first time per ``what``), or re-raise it.

    Must be called from inside the ``except`` block that caught ``exc``.
    """
    if _raise_internal_errors:
        raise exc
    first = what not in _reported  # no lock: at worst a race logs the traceback twice
    _reported.add(what)
    if first:
        logger.error("aiobs internal error while %s; recording continues", what, exc_info=exc)
    else:
        logger.debug("aiobs internal error while %s: %r", what, exc)


class guard:  # noqa: N801 - used like a function: `with guard("...")`
    """Context manager that runs aiobs's own work and contains its errors (see module docs)."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        report_internal_error(self._what, exc)
        return True

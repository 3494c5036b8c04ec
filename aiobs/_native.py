"""The optional C module ``aiobs._speedups``, loaded once: ``speedups`` is it, or ``None``.

``None`` where it was not built (no C compiler at install time, not CPython, Windows) or when
``AIOBS_PURE_PYTHON=1`` is set at import; aiobs then does the same work in Python. Imported by
name so that the layer check reads it as this module's own dependency.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from . import _env


def _load() -> ModuleType | None:
    if _env.get_bool(_env.PURE_PYTHON, default=False):
        return None
    try:
        return importlib.import_module(f"{__package__}._speedups")
    except ImportError:
        return None


speedups: ModuleType | None = _load()
"""``aiobs._speedups`` when built and not turned off, else ``None``."""

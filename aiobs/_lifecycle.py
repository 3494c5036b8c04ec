"""The process around the collectors: interpreter exit and ``fork()``.

Every collector registers here when it is made. At exit each one flushes what it still holds
(``_flush_at_exit``); in a child process made by ``fork()`` each one drops the
parent's threads, locks and buffered records (``_after_fork_in_child``). The registry
holds collectors weakly, so a collector that is no longer used is simply forgotten.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Protocol

from . import _threads
from ._config import propagate_to_threads_from_env
from ._guard import guard


class Managed(Protocol):
    """What the process hooks call on a collector."""

    def _flush_at_exit(self) -> None:
        """Flush what is left, at interpreter exit."""

    def _after_fork_in_child(self) -> None:
        """Start clean in a child process."""


_live: weakref.WeakSet[Managed] = weakref.WeakSet()


def register(collector: Managed) -> None:
    """Include ``collector`` in the exit flush and the fork handling."""
    _live.add(collector)


def _flush_all_at_exit() -> None:
    for collector in list(_live):
        with guard("flushing at exit"):
            collector._flush_at_exit()


def _after_fork_in_child() -> None:
    for collector in list(_live):
        collector._after_fork_in_child()


_threads.enabled = propagate_to_threads_from_env()
atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

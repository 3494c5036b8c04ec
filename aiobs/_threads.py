"""Carry the current session and span into threads and thread-pool work.

A new ``threading.Thread`` starts with an empty context, and so does work run by a
``ThreadPoolExecutor``; without help, a span opened there would have no parent and, inside a
``with observer.session()`` block, no session. :func:`install` patches ``Thread.start`` and
``ThreadPoolExecutor.submit`` so that, when a session or span is current at the moment of the call,
exactly those two values (and none of the user's own context variables) are set around the work.
Nothing changes for threads started when nothing is being recorded.

The switch is ``observer.configure(propagate_to_threads=False)`` or
``AIOBS_PROPAGATE_TO_THREADS=0``.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

from ._context import span_var
from ._session import session_var

_lock = threading.Lock()
_POOL_WORKER = getattr(concurrent.futures.thread, "_worker", None)
_original_start: Callable[..., None] | None = None
_original_submit: Callable[..., Any] | None = None
enabled = True
"""Whether installed patches propagate; read at each call so switching off is immediate."""


def _bind(fn: Callable[..., Any], session: Any, span: Any) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run_in_parent_context(*args: Any, **kwargs: Any) -> Any:
        session_token = session_var.set(session)
        span_token = span_var.set(span)
        try:
            return fn(*args, **kwargs)
        finally:
            span_var.reset(span_token)
            session_var.reset(session_token)

    return run_in_parent_context


def _start(self: threading.Thread, *args: Any, **kwargs: Any) -> None:
    # A pool's worker thread outlives the submit that started it: it gets no context of its
    # own, and each piece of work brings its submitter's (see _submit).
    if enabled and getattr(self, "_target", None) is not _POOL_WORKER:
        session = session_var.get()
        span = span_var.get()
        if session is not None or span is not None:
            # An instance attribute shadows run() for subclasses that override it, too.
            self.run = _bind(self.run, session, span)  # type: ignore[method-assign]
    assert _original_start is not None
    _original_start(self, *args, **kwargs)


def _submit(
    self: concurrent.futures.Executor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    if enabled and not _is_interpreter_pool(self):
        session = session_var.get()
        span = span_var.get()
        if session is not None or span is not None:
            fn = _bind(fn, session, span)
    assert _original_submit is not None
    return _original_submit(self, fn, *args, **kwargs)


def _is_interpreter_pool(executor: object) -> bool:
    # Work for sub-interpreters must stay shareable; a closure is not.
    pool = getattr(concurrent.futures, "InterpreterPoolExecutor", None)
    return pool is not None and isinstance(executor, pool)


def install() -> None:
    """Patch ``Thread.start`` and ``ThreadPoolExecutor.submit``; calling it again does nothing."""
    global _original_start, _original_submit  # noqa: PLW0603 - the saved originals
    with _lock:
        if _original_start is not None:
            return
        _original_start = threading.Thread.start
        _original_submit = concurrent.futures.ThreadPoolExecutor.submit
        threading.Thread.start = _start  # type: ignore[method-assign]
        concurrent.futures.ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore the original methods (used by ``observer.reset()``)."""
    global _original_start, _original_submit  # noqa: PLW0603 - the saved originals
    with _lock:
        if _original_start is None:
            return
        threading.Thread.start = _original_start  # type: ignore[method-assign]
        concurrent.futures.ThreadPoolExecutor.submit = _original_submit  # type: ignore[assignment, method-assign]
        _original_start = None
        _original_submit = None


def installed() -> bool:
    """Whether the patches are in place."""
    return _original_start is not None


def _after_fork_in_child() -> None:
    global _lock  # noqa: PLW0603 - another thread may have held it at the fork
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

"""Flushing in the background, for long-running services.

One daemon thread per collector, started on first need, runs flushes so that the program never
waits for them:

* ``flush(block=False)`` hands the flush to the thread and returns at once;
* ``configure(flush_interval=seconds)`` flushes every so many seconds when anything is buffered;
* ``configure(flush_every=n)`` flushes as soon as ``n`` events are buffered;
* :meth:`FlushWorker.deliver_later` offers the documents waiting in the spool to the flush server
  again after a delay.

The thread checks the buffer a few times a second (reading one length: recording itself does
nothing more than without it). Flushes it runs go to the destination of the last explicit flush,
or to the default file. In a forked child the thread does not exist; the child starts its own
when it needs one. At exit the collector stops the thread, waiting at most
``configure(exit_timeout=...)`` seconds for a flush in progress, then flushes what is left.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .._guard import guard

FlushRequest = tuple[tuple[Any, ...], dict[str, Any]]
"""Positional and keyword arguments of one ``flush()`` call."""

POLL_SECONDS = 0.1
"""How often the thread looks at the buffer when periodic or size-based flushing is on."""


class FlushWorker:
    """The background thread of one collector.

    Args:
        flush: the collector's blocking flush (called with a request's arguments).
        buffered: how many events the collector holds now.
        deliver: offers the spooled documents to the flush server; returns the seconds until
            the next offer, or ``None`` when nothing waits any more.
    """

    def __init__(
        self,
        flush: Callable[..., Any],
        buffered: Callable[[], int],
        deliver: Callable[[], float | None] | None = None,
    ) -> None:
        self._flush = flush
        self._buffered = buffered
        self._deliver = deliver
        self._deliver_at: float | None = None
        self._requests: deque[FlushRequest] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._busy = False
        self.interval: float | None = None
        self.every: int | None = None
        self._last_flush = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="aiobs-flush", daemon=True)
        self._thread.start()

    def submit(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run ``flush(*args, **kwargs)`` on the thread, after the requests before it."""
        with self._wake:
            self._requests.append((args, kwargs))
            self._wake.notify()

    def schedule(self, interval: float | None, every: int | None) -> None:
        """Flush every ``interval`` seconds and/or when ``every`` events are buffered."""
        with self._wake:
            self.interval = interval
            self.every = every
            self._wake.notify()

    def deliver_later(self, delay: float) -> None:
        """Offer the spooled documents in ``delay`` seconds (sooner if already planned)."""
        with self._wake:
            at = time.monotonic() + delay
            if self._deliver_at is None or at < self._deliver_at:
                self._deliver_at = at
            self._wake.notify()

    @property
    def delivery_planned(self) -> bool:
        """Whether an offer of the spooled documents is planned."""
        return self._deliver_at is not None

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no request is queued or running; ``False`` if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            while self._requests or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True

    def stop(self, timeout: float | None) -> tuple[bool, list[FlushRequest]]:
        """Stop the thread after the flush in progress.

        Returns whether it stopped within ``timeout``, and the requests it had not started
        (the caller runs them itself, so an asked-for flush is never dropped).
        """
        with self._wake:
            self._stopping = True
            left = list(self._requests)
            self._requests.clear()
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive(), left

    @property
    def alive(self) -> bool:
        """Whether the thread runs (it does not survive a fork)."""
        return self._thread.is_alive() and not self._stopping

    def _next(self) -> Callable[[], Any] | None:
        """Block until there is something to do; ``None`` means stop."""
        with self._wake:
            while True:
                if self._stopping:
                    return None
                if self._requests:
                    self._busy = True
                    args, kwargs = self._requests.popleft()
                    return functools.partial(self._flush, *args, **kwargs)
                if self._due():
                    self._busy = True
                    return self._flush
                now = time.monotonic()
                if self._deliver_at is not None and now >= self._deliver_at:
                    self._deliver_at = None
                    self._busy = True
                    return self._deliver_spooled
                periodic = self.interval is not None or self.every is not None
                wait = POLL_SECONDS if periodic else None
                if self._deliver_at is not None:
                    until = self._deliver_at - now
                    wait = until if wait is None else min(wait, until)
                self._wake.wait(wait)

    def _due(self) -> bool:
        buffered = self._buffered()
        if self.every is not None and buffered >= self.every:
            return True
        return (
            self.interval is not None
            and buffered > 0
            and time.monotonic() - self._last_flush >= self.interval
        )

    def _deliver_spooled(self) -> None:
        if self._deliver is None:
            return
        delay = self._deliver()
        if delay is not None:
            self.deliver_later(delay)

    def _run(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            try:
                with guard("flushing in the background"):
                    job()
            finally:
                with self._wake:
                    if job != self._deliver_spooled:
                        self._last_flush = time.monotonic()
                    self._busy = False
                    self._wake.notify_all()

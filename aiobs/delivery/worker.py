"""Flushing and delivering in the background, so that the program never waits for either.

:class:`FlushWorker`, one daemon thread per collector started on first need, runs flushes:

* ``flush(block=False)`` hands the flush to the thread and returns at once;
* ``configure(flush_interval=seconds)`` flushes every so many seconds when anything is buffered;
* ``configure(flush_every=n)`` flushes as soon as ``n`` events are buffered.

It checks the buffer a few times a second (reading one length: recording itself does nothing
more than without it). Flushes it runs go to the destination of the last explicit flush, or to
the default file.

:class:`DeliveryThread`, a second daemon thread started when there is something for a flush
server, offers the spooled documents to it: at once after each flush (:meth:`~DeliveryThread.
wake`), and later again while documents wait. It is a thread of its own so that a slow or
unreachable server never holds up a flush.

In a forked child neither thread exists; the child starts its own when it needs one. At exit the
collector stops both, waiting at most ``configure(exit_timeout=...)`` seconds for a flush in
progress, flushes what is left, and offers the spool once more within ``exit_timeout``.
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
    """The flush thread of one collector.

    Args:
        flush: the collector's blocking flush (called with a request's arguments).
        buffered: how many events the collector holds now.
    """

    def __init__(self, flush: Callable[..., Any], buffered: Callable[[], int]) -> None:
        self._flush = flush
        self._buffered = buffered
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
                periodic = self.interval is not None or self.every is not None
                self._wake.wait(POLL_SECONDS if periodic else None)

    def _due(self) -> bool:
        buffered = self._buffered()
        if self.every is not None and buffered >= self.every:
            return True
        return (
            self.interval is not None
            and buffered > 0
            and time.monotonic() - self._last_flush >= self.interval
        )

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
                    self._last_flush = time.monotonic()
                    self._busy = False
                    self._wake.notify_all()


class DeliveryThread:
    """The thread that offers a collector's spooled documents to the flush server.

    Args:
        deliver: makes one offer (ending early once the event it is given is set); returns the
            seconds until the next one, or ``None`` when nothing waits any more.
    """

    def __init__(self, deliver: Callable[[threading.Event], float | None]) -> None:
        self._deliver = deliver
        self._wake = threading.Condition()
        self._due: float | None = None
        self._busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aiobs-deliver", daemon=True)
        self._thread.start()

    def wake(self, delay: float = 0.0) -> None:
        """Make an offer in ``delay`` seconds (sooner if one is planned sooner)."""
        with self._wake:
            at = time.monotonic() + delay
            if self._due is None or at < self._due:
                self._due = at
            self._wake.notify_all()

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no offer runs and none is due now; ``False`` if ``timeout`` ran out.

        Offers planned for later (after a failure) are not waited for.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            while self._thread.is_alive() and (
                self._busy or (self._due is not None and self._due <= time.monotonic())
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(0.1 if remaining is None else min(remaining, 0.1))
        return True

    def stop(self, timeout: float | None = 0.0) -> bool:
        """End the thread after the request in progress; whether it ended within ``timeout``."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """Whether the thread runs (it does not survive a fork)."""
        return self._thread.is_alive() and not self._stop.is_set()

    def _next(self) -> bool:
        """Block until an offer is due; ``False`` means stop."""
        with self._wake:
            while not self._stop.is_set():
                now = time.monotonic()
                if self._due is not None and now >= self._due:
                    self._due = None
                    self._busy = True
                    return True
                self._wake.wait(None if self._due is None else self._due - now)
            return False

    def _run(self) -> None:
        while self._next():
            delay = None
            try:
                with guard("delivering to the flush server"):
                    delay = self._deliver(self._stop)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()
            if delay is not None and not self._stop.is_set():
                self.wake(delay)

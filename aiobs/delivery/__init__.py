"""Getting documents out of the process: the flush server, its spool, the background threads.

:class:`Delivery` is one collector's share of it. With an API key and a flush server URL, every
flush's document is also delivered to the server (:mod:`.remote`): the flush writes it to the
spool of that server and key (:mod:`.spool`) and returns, and the delivery thread
(:mod:`.worker`) offers it, keeping what the server does not take for later. The flush thread
(:mod:`.worker`) runs ``flush(block=False)`` and periodic and size-based flushes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import _env
from .._config import Settings
from .._guard import guard
from ..exporters.document import ExportDocument
from .remote import RemoteDelivery
from .spool import Spool, default_directory
from .worker import DeliveryThread, FlushRequest, FlushWorker

if TYPE_CHECKING:
    from ..exporters.remote import RemoteUsage

__all__ = [
    "Delivery",
    "DeliveryThread",
    "FlushWorker",
    "RemoteDelivery",
    "Spool",
    "default_directory",
]

logger = logging.getLogger("aiobs")


class Delivery:
    """A collector's flush-server delivery and background thread.

    Args:
        settings: the collector's settings (replaced through :meth:`use`).
        flush: the collector's blocking flush, run by the background thread.
        buffered: how many events the collector holds now (a cheap reading).
    """

    def __init__(
        self, settings: Settings, flush: Callable[..., Any], buffered: Callable[[], int]
    ) -> None:
        self.settings = settings
        self.api_key: str | None = None
        """The key given to ``observe(api_key=...)``; ``AIOBS_API_KEY`` applies without it."""
        self._flush = flush
        self._buffered = buffered
        self._lock = threading.RLock()
        self._worker: FlushWorker | None = None
        self._sender: DeliveryThread | None = None
        self._closing = False  # at exit: the last offer is made by finish(), not the thread
        self._remote: RemoteDelivery | None = None
        self._remote_for: tuple[str, str] | None = None
        self._spool_offered = False  # once per process, at its first session

    def key(self) -> str | None:
        """The API key in use: the one given to ``observe()``, else ``AIOBS_API_KEY``."""
        return self.api_key or os.environ.get(_env.API_KEY)

    # -- the flush server --------------------------------------------------------------------------

    def remote(self) -> RemoteDelivery | None:
        """The flush server delivery, when an API key and a server URL are both configured."""
        url = self.settings.server_url()
        key = self.key()
        if not url or not key:
            return None
        with self._lock:
            if self._remote is None or self._remote_for != (url, key):
                from ..exporters.remote import RemoteExporter, _checked_url

                exporter: RemoteExporter | Callable[[], RemoteExporter]
                try:
                    exporter = RemoteExporter(url, key)
                except ImportError:  # no requests: spool now, send from a run that has it
                    exporter = partial(RemoteExporter, url, key)
                spool = Spool.for_destination(default_directory(), _checked_url(url), key)
                self._remote = RemoteDelivery(exporter, spool)
                self._remote_for = (url, key)
            self._remote.retry_interval = self.settings.delivery_retry_interval
            return self._remote

    def usage(self) -> RemoteUsage:
        """The API key's tier and quota as the flush server reports them (see ``usage()``)."""
        remote = self.remote()
        if remote is None:
            raise ValueError(
                "observer.usage() needs an API key (observer.observe(api_key=...) or "
                f"{_env.API_KEY}) and a flush server URL ({_env.FLUSH_SERVER_URL} or "
                "observer.configure(flush_server_url=...))"
            )
        return remote.usage()

    def after_flush(self, document: ExportDocument) -> None:
        """Hand a flushed document to the flush server delivery, if one is configured.

        Writes it to the spool and wakes the delivery thread: the caller never waits on the
        network. Never raises.
        """
        with guard("delivering to the flush server"):
            remote = self.remote()
            if remote is None or not (document.event_count + len(document.session_ids)):
                return
            remote.put(document)
            if not self._closing:
                self.sender().wake(0.0)

    def deliver_pending(self) -> None:
        """Offer the waiting documents to the flush server now, in this thread (never raises)."""
        with guard("delivering spooled documents"):
            remote = self.remote()
            if remote is not None:
                remote.deliver()

    def offer_at_start(self) -> None:
        """Once per process: documents an earlier run could not deliver go out in the background."""
        if self._spool_offered:
            return
        self._spool_offered = True
        with guard("looking for undelivered documents"):
            remote = self.remote()
            if remote is not None and remote.waiting():
                self.sender().wake(0.0)

    def finish(self, timeout: float) -> None:
        """At exit, after the last flush: offer what waits, for at most ``timeout`` seconds.

        What the server has not taken by then stays in the spool for the next run. A process
        that delivered nothing leaves the spool alone (its documents wait for a process that
        starts a session).
        """
        with guard("delivering to the flush server at exit"):
            self._closing = True
            sender, self._sender = self._sender, None
            if sender is not None:
                sender.stop(0.0)  # it ends after its request in progress
            remote = self._remote
            if remote is None or not remote.waiting():
                return
            if not remote.deliver(deadline=time.monotonic() + timeout):
                logger.warning(
                    "aiobs: documents not delivered to the flush server within %.1f s at exit "
                    "wait in %s for the next run",
                    timeout,
                    remote.spool.directory,
                )

    def _deliver_in_background(self, stop: threading.Event) -> float | None:
        """The delivery thread's offer; return the seconds until the next one."""
        remote = self.remote()
        if remote is None:
            return None
        remote.deliver(stop=stop, everything=False)
        return remote.next_retry(self.settings.delivery_retry_interval)

    # -- the background thread ---------------------------------------------------------------------

    def worker(self) -> FlushWorker:
        """The flush thread, started on first need (again in a forked child)."""
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = FlushWorker(self._flush, self._buffered)
                self._worker.schedule(self.settings.flush_interval, self.settings.flush_every)
            return self._worker

    def sender(self) -> DeliveryThread:
        """The delivery thread, started on first need (again in a forked child)."""
        with self._lock:
            if self._sender is None or not self._sender.alive:
                self._sender = DeliveryThread(self._deliver_in_background)
            return self._sender

    def use(self, settings: Settings) -> None:
        """Apply new settings: start, change or stop periodic and size-based flushing."""
        self.settings = settings
        if settings.background:
            self.worker().schedule(settings.flush_interval, settings.flush_every)
        elif self._worker is not None:
            self._worker.schedule(None, None)

    def submit(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run a flush with these arguments on the background thread."""
        self.worker().submit(args, kwargs)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flushes handed to the flush thread are done; ``False`` on timeout.

        Also waits for the deliveries due now (not those planned for later, after a failure).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        worker = self._worker
        if worker is not None and not worker.idle(timeout):
            return False
        sender = self._sender
        if sender is None:
            return True
        return sender.idle(None if deadline is None else max(deadline - time.monotonic(), 0.0))

    def stop(self, timeout: float | None) -> tuple[bool, list[FlushRequest]]:
        """Stop the flush thread after its flush in progress (see :meth:`FlushWorker.stop`).

        From now on flushes leave their documents in the spool for :meth:`finish`.
        """
        self._closing = True
        worker, self._worker = self._worker, None
        if worker is None:
            return True, []
        return worker.stop(timeout)

    def reset(self, settings: Settings) -> None:
        """Back to a new collector's state: no thread, no key, the spool not offered yet."""
        self.stop(timeout=1.0)  # requests not started are dropped with the data
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.stop(timeout=1.0)
        self._closing = False
        self.settings = settings
        self.api_key = None
        self._remote = None
        self._remote_for = None
        self._spool_offered = False

    def after_fork_in_child(self) -> None:
        """Threads and connections belong to the parent: the child starts its own when needed."""
        self._lock = threading.RLock()
        self._remote = None
        self._worker = None
        self._sender = None
        if self.settings.background:
            self.worker()

"""Getting documents out of the process: the flush server, its spool, the background thread.

:class:`Delivery` is one collector's share of it. With an API key and a flush server URL, every
flush's document is also delivered to the server after the flush (:mod:`.remote`), and what the
server does not take waits in a local spool (:mod:`.spool`) to be offered again. The background
thread (:mod:`.worker`) runs ``flush(block=False)``, periodic and size-based flushes, and the
later offers of the spool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _env
from .._config import Settings
from .._guard import guard
from ..exporters.document import ExportDocument
from .remote import RemoteDelivery
from .spool import Spool, default_directory
from .worker import FlushRequest, FlushWorker

if TYPE_CHECKING:
    from ..exporters.remote import RemoteUsage

__all__ = ["Delivery", "FlushWorker", "RemoteDelivery", "Spool", "default_directory"]


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
                from ..exporters.remote import RemoteExporter

                self._remote = RemoteDelivery(RemoteExporter(url, key), Spool(default_directory()))
                self._remote_for = (url, key)
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
        """Deliver a flushed document to the flush server, if one is configured; never raises."""
        with guard("delivering to the flush server"):
            remote = self.remote()
            if remote is None or not (document.event_count + len(document.session_ids)):
                return
            remote.deliver(document)
            self._retry_later(remote)

    def deliver_pending(self) -> None:
        """Offer the spooled documents to the flush server now (never raises)."""
        with guard("delivering spooled documents"):
            remote = self.remote()
            if remote is not None:
                remote.deliver(None)

    def offer_at_start(self) -> None:
        """Once per process: documents an earlier run could not deliver go out in the background."""
        if self._spool_offered:
            return
        self._spool_offered = True
        with guard("looking for undelivered documents"):
            remote = self.remote()
            if remote is not None and remote.waiting():
                self.worker().deliver_later(0.0)

    def _deliver_in_background(self) -> float | None:
        """The worker's spool offer: deliver, then return the seconds until the next one."""
        remote = self.remote()
        if remote is None:
            return None
        with guard("delivering spooled documents"):
            remote.deliver(None)
        return remote.next_retry(self.settings.delivery_retry_interval)

    def _retry_later(self, remote: RemoteDelivery) -> None:
        delay = remote.next_retry(self.settings.delivery_retry_interval)
        if delay is not None:
            self.worker().deliver_later(delay)

    # -- the background thread ---------------------------------------------------------------------

    def worker(self) -> FlushWorker:
        """The background thread, started on first need (again in a forked child)."""
        with self._lock:
            if self._worker is None or not self._worker.alive:
                self._worker = FlushWorker(self._flush, self._buffered, self._deliver_in_background)
                self._worker.schedule(self.settings.flush_interval, self.settings.flush_every)
            return self._worker

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
        """Wait until the flushes handed to the thread are done; ``False`` on timeout."""
        worker = self._worker
        return True if worker is None else worker.idle(timeout)

    def stop(self, timeout: float | None) -> tuple[bool, list[FlushRequest]]:
        """Stop the thread after its flush in progress (see :meth:`FlushWorker.stop`)."""
        worker, self._worker = self._worker, None
        if worker is None:
            return True, []
        return worker.stop(timeout)

    def reset(self, settings: Settings) -> None:
        """Back to a new collector's state: no thread, no key, the spool not offered yet."""
        self.stop(timeout=1.0)  # requests not started are dropped with the data
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
        if self.settings.background:
            self.worker()

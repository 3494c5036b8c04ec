"""Delivery to an aiobs flush server, in addition to the local destination, without loss.

With an API key (``observe(api_key=...)`` or ``AIOBS_API_KEY``) and a server URL
(``AIOBS_FLUSH_SERVER_URL``), every successful flush also sends its document to the flush server,
as aiobs 0.2 did. Nothing goes to any server by default. The upload happens after the flush has
released its lock, so recording and other flushes never wait on the network.

A document the server does not take (down, slow, restarting, connection dropped) is kept in the
spool (:mod:`aiobs.delivery.spool`) and offered again, oldest first, before the next document; its
bytes, and so its idempotency key, are unchanged, so the server stores and counts it once. When the
key's quota is used up, documents are still written locally; aiobs says so once and does not
spool them. An invalid key is reported once, with how to fix it.

Spooled documents are offered again at the next flush, by the collector's background thread
after a delay that doubles while the server keeps refusing (:meth:`RemoteDelivery.next_retry`),
and when the first session of a process starts.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .._config import DEFAULT_RETRY_SECONDS
from ..exporters.base import ExportResult
from ..exporters.document import ExportDocument
from .spool import Spool

if TYPE_CHECKING:
    from ..exporters.remote import RemoteExporter, RemoteUsage

logger = logging.getLogger("aiobs")

MAX_RETRY_SECONDS = 600.0
"""The longest wait between two background offers while the server keeps refusing."""


class RemoteDelivery:
    """Sends documents to one flush server, spooling what it cannot take."""

    def __init__(self, exporter: RemoteExporter, spool: Spool) -> None:
        self.exporter = exporter
        self.spool = spool
        self._lock = threading.Lock()  # one delivery at a time; never held by a flush
        self._said: set[str] = set()
        self._refusals = 0  # background offers in a row that left documents waiting

    def deliver(self, document: ExportDocument | None) -> ExportResult | None:
        """Offer the spooled documents, then ``document``; return ``document``'s result."""
        with self._lock:
            if not self._drain():
                if document is not None:
                    self._keep(document, "earlier documents are still waiting")
                return None
            if document is None:
                return None
            result = self.exporter.export_document(document)
            if not result.success:
                self._failed(document, result)
            return result

    def waiting(self) -> bool:
        """Whether documents wait in the spool."""
        return bool(self.spool.pending())

    def next_retry(self, first: float = DEFAULT_RETRY_SECONDS) -> float | None:
        """Seconds until the spool should be offered again; ``None`` when nothing waits.

        The wait starts at ``first`` and doubles with every call that still finds documents
        waiting, up to :data:`MAX_RETRY_SECONDS` (or ``first``, if that is longer).
        """
        if not self.waiting():
            self._refusals = 0
            return None
        delay: float = min(first * 2.0**self._refusals, max(first, MAX_RETRY_SECONDS))
        self._refusals = min(self._refusals + 1, 32)
        return delay

    def usage(self) -> RemoteUsage:
        """The key's tier and quota, as the server reports them."""
        return self.exporter.usage()

    def _drain(self) -> bool:
        """Deliver the spooled documents, oldest first; ``False`` if one is still refused."""
        for path in self.spool.pending():
            payload = Spool.read(path)
            if payload is None:
                continue
            try:
                document = ExportDocument.from_json(payload)
            except ValueError:
                logger.warning("aiobs: %s is not an export document; removed from the spool", path)
                Spool.remove(path)
                continue
            result = self.exporter.export_document(document)
            if not result.success:
                if result.metadata.get("quota_exhausted"):
                    self._say_once("quota", "aiobs: %s", result.error)
                return False
            Spool.remove(path)
        return True

    def _failed(self, document: ExportDocument, result: ExportResult) -> None:
        if result.metadata.get("quota_exhausted"):
            self._say_once(
                "quota",
                "aiobs: %s; recording and local files go on, the flush server gets nothing "
                "more until the quota is renewed",
                result.error,
            )
            return
        if result.metadata.get("invalid_key"):
            self._say_once("key", "aiobs: %s", result.error)
        self._keep(document, result.error or "delivery failed")

    def _keep(self, document: ExportDocument, reason: str) -> None:
        try:
            path = self.spool.put(document.to_json())
        except OSError as exc:
            logger.error(
                "aiobs: flush server delivery failed (%s) and the spool %s is not writable "
                "(%s); this document reached only the local destination",
                reason,
                self.spool.directory,
                exc,
            )
            return
        logger.warning(
            "aiobs: flush server delivery failed (%s); kept in %s for the next flush",
            reason,
            Path(path).name,
        )

    def _say_once(self, topic: str, message: str, *args: object) -> None:
        if topic in self._said:
            return
        self._said.add(topic)
        logger.warning(message, *args)

"""Delivery to an aiobs flush server, in addition to the local destination, without loss.

With an API key (``observe(api_key=...)`` or ``AIOBS_API_KEY``) and a server URL
(``AIOBS_FLUSH_SERVER_URL``), every successful flush also sends its document to the flush server,
as aiobs 0.2 did. Nothing goes to any server by default.

The flush itself never waits on the network: it writes the document's exact bytes to the spool of
its destination (:mod:`aiobs.delivery.spool`; :meth:`RemoteDelivery.put`) and returns; the
delivery thread then offers the spooled documents, oldest first (:meth:`RemoteDelivery.deliver`).
A document of more than the exporter's ``max_events_per_upload`` events is first replaced in the
spool by its parts (:func:`aiobs.exporters.remote.split_document`), each delivered and, if need
be, kept on its own. Each document's bytes, so its idempotency key, never change: the server
stores and counts it once however often it is offered.

What the server answers decides what happens to a document:

* stored: it leaves the spool;
* refused for good (400, 409, 413, 422, or not an export document): it is moved to the spool's
  ``rejected/`` directory with the reason, counted (:attr:`RemoteDelivery.rejected`) and
  logged once, and the next documents are offered;
* not taken for a passing reason (connection errors, timeouts, 408, 425, 429, 5xx): it stays,
  and the offer ends there: the server is probably down, so the documents after it wait too.
  Except when the next document goes through, which shows the failure was the document's own:
  it is held back (the count is kept in its file name), offered after the documents that were
  not refused, and not again before ``delivery_retry_interval`` seconds, doubling with each such
  refusal up to :data:`MAX_RETRY_SECONDS`. So one document can never hold up the others;
* the key's quota is used up: aiobs says so once; documents never offered before leave the
  spool (they are in the local files; the server would not take them), earlier ones stay;
* the key is refused (401, 403): aiobs says once how to fix it; the documents stay.

Documents left waiting are offered again at the next flush, by the delivery thread after a delay
that doubles while the server keeps refusing (:meth:`RemoteDelivery.next_retry`), when the first
session of a process starts, and, within ``exit_timeout``, at exit.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._config import DEFAULT_RETRY_SECONDS
from ..exporters.document import ExportDocument
from .spool import Entry, Spool

if TYPE_CHECKING:
    from ..exporters.base import ExportResult
    from ..exporters.remote import RemoteExporter, RemoteUsage

logger = logging.getLogger("aiobs")

MAX_RETRY_SECONDS = 600.0
"""The longest wait between two background offers while the server keeps refusing."""
MAX_IN_MEMORY = 16
"""Documents kept in memory for delivery when the spool cannot be written."""


class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # refused for good, set aside
    FAILED = "failed"  # not taken for a passing reason
    STOP = "stop"  # the key, the quota, a deadline: offer nothing more now
    GONE = "gone"  # the file went away meanwhile


class RemoteDelivery:
    """Sends documents to one flush server (one URL and key), through its spool.

    Args:
        exporter: uploads a document; or a function that makes it, called at the first offer
            (so that documents are spooled even where it cannot be made: without ``requests``).
        spool: this destination's spool.
        retry_interval: the first wait before a held-back document is offered again.
    """

    def __init__(
        self,
        exporter: RemoteExporter | Callable[[], RemoteExporter],
        spool: Spool,
        retry_interval: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._exporter = None if callable(exporter) else exporter
        self._make_exporter = exporter if callable(exporter) else None
        self.spool = spool
        self.retry_interval = retry_interval
        self.rejected = 0
        """Documents this process moved to the spool's ``rejected/`` directory."""
        self._lock = threading.Lock()  # one offer at a time; never held by a flush
        self._said: set[str] = set()
        self._refusals = 0  # background offers in a row that left documents waiting
        self._known: dict[str, tuple[list[str], int]] = {}  # stem: (session ids, events)
        self._fresh: set[str] = set()  # stems of documents not offered yet
        self._in_memory: deque[ExportDocument] = deque()  # when the spool is not writable

    @property
    def exporter(self) -> RemoteExporter:
        """The uploader, made on first use.

        Raises:
            ImportError: it needs a package that is not installed (the message says which).
        """
        if self._exporter is None:
            assert self._make_exporter is not None
            self._exporter = self._make_exporter()
        return self._exporter

    # -- keeping ---------------------------------------------------------------------------------

    def put(self, document: ExportDocument) -> None:
        """Keep ``document`` for delivery: a write to the spool, no network."""
        try:
            path = self.spool.put(document.to_json())
        except OSError as exc:
            self._say_once(
                "spool",
                "aiobs: the spool %s is not writable (%s); documents wait in memory for the "
                "flush server, and those not delivered when the process ends are lost",
                self.spool.directory,
                exc,
            )
            if len(self._in_memory) >= MAX_IN_MEMORY:
                self._in_memory.popleft()
                logger.warning(
                    "aiobs: more than %d documents wait for the flush server in memory; "
                    "dropped the oldest (it is in the local destination only)",
                    MAX_IN_MEMORY,
                )
            self._in_memory.append(document)
            return
        self._register(path, document, fresh=True)

    def _register(self, path: Path, document: ExportDocument, *, fresh: bool) -> None:
        """Remember what a spooled file holds, so that offering it needs no parsing."""
        entry = Entry.parse(path.name)
        if entry is not None:
            self._known[entry.stem] = (document.session_ids, document.event_count)
            if fresh:
                self._fresh.add(entry.stem)

    def waiting(self) -> bool:
        """Whether documents wait for delivery."""
        return bool(self._in_memory) or bool(self.spool.pending())

    # -- delivering ------------------------------------------------------------------------------

    def deliver(
        self,
        document: ExportDocument | None = None,
        *,
        deadline: float | None = None,
        stop: threading.Event | None = None,
        everything: bool = True,
    ) -> bool:
        """Keep ``document`` (if given), then offer the waiting documents; see the module docs.

        ``deadline`` (a :func:`time.monotonic` value) bounds the whole call, including the wait
        for an offer running in another thread; ``stop`` ends it after the request in progress.
        ``everything=False`` skips the held-back documents whose wait is not over (the delivery
        thread's offers); by default they are offered too, after the others. Returns whether
        nothing is left waiting.
        """
        if document is not None:
            self.put(document)
        try:
            self.exporter  # noqa: B018 - made here, so that a missing package is said once
        except ImportError as exc:
            self._say_once(
                "exporter",
                "aiobs: documents for the flush server wait in %s and are not sent: %s",
                self.spool.directory,
                exc,
            )
            return not self.waiting()
        timeout = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._lock.acquire(timeout=timeout):
            return False
        try:
            self._offer_all(deadline, stop, everything)
        finally:
            self._lock.release()
        return not self.waiting()

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

    def _offer_all(
        self, deadline: float | None, stop: threading.Event | None, everything: bool
    ) -> None:
        queue = deque(self.spool.pending())
        suspect: Path | None = None  # failed for a passing reason: its own fault, or the server's?
        failure: str | None = None
        while queue:
            if (stop is not None and stop.is_set()) or (
                deadline is not None and time.monotonic() >= deadline
            ):
                break
            path = queue.popleft()
            if not (everything or self._due(path)):
                continue
            outcome, detail = self._offer(path, deadline, stop)
            if isinstance(outcome, list):  # split: its parts go next
                queue.extendleft(reversed(outcome))
                continue
            if outcome is _Outcome.DELIVERED and suspect is not None:
                self._hold_back(suspect, failure)
                suspect = None
            elif outcome is _Outcome.FAILED:
                failure = detail
                if suspect is not None:  # two in a row: the server, not the documents
                    break
                suspect = path
            elif outcome is _Outcome.STOP:
                break
        else:
            self._offer_in_memory(deadline, stop)
        self._forget_gone()
        if failure is not None and self.waiting():
            logger.warning(
                "aiobs: flush server delivery failed (%s); the documents wait in %s and are "
                "offered again later",
                failure,
                self.spool.directory,
            )

    def _offer(
        self, path: Path, deadline: float | None, stop: threading.Event | None
    ) -> tuple[_Outcome | list[Path], str | None]:
        """Offer one spooled document; what happened, and the reason of a failure."""
        entry = Entry.parse(path.name)
        payload = Spool.read(path)
        if entry is None or payload is None:
            return _Outcome.GONE, None
        document = self._document(entry.stem, payload)
        if document is None:
            self._reject(path, entry, "not an aiobs export document")
            return _Outcome.REJECTED, None
        if document.event_count > self.exporter.max_events_per_upload:
            return self._split(path, entry, document), None
        fresh = entry.stem in self._fresh
        self._fresh.discard(entry.stem)
        result = self.exporter.send(document, deadline=deadline, stop=stop)
        if result.success:
            Spool.remove(path)
            self._known.pop(entry.stem, None)
            return _Outcome.DELIVERED, None
        return self._refused(path, entry, result, fresh), result.error

    def _refused(self, path: Path, entry: Entry, result: ExportResult, fresh: bool) -> _Outcome:
        metadata = result.metadata
        if metadata.get("quota_exhausted"):
            self._say_once(
                "quota",
                "aiobs: %s; recording and local files go on, the flush server gets nothing "
                "more until the quota is renewed",
                result.error,
            )
            if fresh:  # the server would not take it; it is in the local destination
                Spool.remove(path)
                self._known.pop(entry.stem, None)
            return _Outcome.STOP
        if metadata.get("invalid_key"):
            self._say_once("key", "aiobs: %s", result.error)
            return _Outcome.STOP
        if metadata.get("permanent"):
            self._reject(path, entry, result.error or "refused")
            return _Outcome.REJECTED
        if metadata.get("interrupted") or not metadata.get("transient"):
            return _Outcome.STOP
        return _Outcome.FAILED

    def _document(self, stem: str, payload: bytes) -> ExportDocument | None:
        """The spooled bytes as a document (parsed only if another process spooled them)."""
        known = self._known.get(stem)
        if known is not None:
            session_ids, events = known
            return ExportDocument(
                chunks=lambda: iter((payload,)), session_ids=list(session_ids), event_count=events
            )
        try:
            return ExportDocument.from_json(payload)
        except ValueError:
            return None

    def _split(self, path: Path, entry: Entry, document: ExportDocument) -> list[Path]:
        """Replace a large spooled document by its parts, at its place; return their files."""
        from ..exporters.remote import split_document

        fresh = entry.stem in self._fresh
        paths = []
        for part in split_document(document, self.exporter.max_events_per_upload):
            kept = self.spool.put(part.to_json(), order=entry.order)
            self._register(kept, part, fresh=fresh)
            paths.append(kept)
        Spool.remove(path)  # only now: a crash before leaves it, to be split again the same way
        self._known.pop(entry.stem, None)
        self._fresh.discard(entry.stem)
        return paths

    def _due(self, path: Path) -> bool:
        """Whether a held-back document has waited long enough to be offered again."""
        attempts = Spool.attempts(path)
        if not attempts:
            return True
        since = Spool.held_since(path)
        if since is None:
            return False
        first = self.retry_interval
        wait = min(first * 2.0 ** (attempts - 1), max(first, MAX_RETRY_SECONDS))
        return time.time() >= since + wait

    def _hold_back(self, path: Path, reason: str | None) -> None:
        held = self.spool.hold_back(path)
        if held is not None:
            logger.warning(
                "aiobs: the flush server did not take %s (%s) but took the next document; it "
                "is offered after the others from now on (refused %d times)",
                path.name,
                reason,
                Spool.attempts(held),
            )

    def _reject(self, path: Path, entry: Entry, reason: str) -> None:
        try:
            target = self.spool.set_aside(path, reason)
        except OSError as exc:
            logger.error(
                "aiobs: the flush server refused %s for good (%s) and it cannot be moved to %s "
                "(%s); removed",
                path,
                reason,
                self.spool.rejected,
                exc,
            )
            Spool.remove(path)
            target = None
        else:
            if target is None:
                return
            self.rejected += 1
            logger.warning(
                "aiobs: the flush server refused a document for good (%s); moved to %s "
                "(%d set aside by this process)",
                reason,
                target,
                self.rejected,
            )
        self._known.pop(entry.stem, None)
        self._fresh.discard(entry.stem)

    def _offer_in_memory(self, deadline: float | None, stop: threading.Event | None) -> None:
        """Documents the spool could not take: to the spool if it can now, else to the server."""
        while self._in_memory:
            if (stop is not None and stop.is_set()) or (
                deadline is not None and time.monotonic() >= deadline
            ):
                return
            document = self._in_memory[0]
            try:
                self._register(self.spool.put(document.to_json()), document, fresh=False)
            except OSError:
                result = self.exporter.send(document, deadline=deadline, stop=stop)
                metadata = result.metadata
                if not (result.success or metadata.get("quota_exhausted")):
                    if not metadata.get("permanent"):
                        return
                    logger.warning(
                        "aiobs: the flush server refused a document for good (%s); it is in "
                        "the local destination only",
                        result.error,
                    )
            self._in_memory.popleft()

    def _forget_gone(self) -> None:
        """Drop what is known of documents no longer spooled (delivered or dropped)."""
        if not self._known:
            return
        before = list(self._known)  # documents spooled from now on are not looked at
        stems = {entry.stem for p in self.spool.pending() if (entry := Entry.parse(p.name))}
        for stem in before:
            if stem not in stems:
                self._known.pop(stem, None)
                self._fresh.discard(stem)

    def _say_once(self, topic: str, message: str, *args: object) -> None:
        if topic in self._said:
            return
        self._said.add(topic)
        logger.warning(message, *args)

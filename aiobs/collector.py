"""The collector: sessions, labels, the record buffer, flush, and the exit and fork hooks.

``aiobs.observer`` is the process's default :class:`Collector`; most programs use only it::

    from aiobs import observer

    observer.observe(session_name="nightly-eval", labels={"env": "dev"})
    ...                                   # decorated functions and LLM calls are recorded
    observer.flush()                      # writes <session-id>.json

For concurrent work (a server handling requests, many asyncio tasks) give each unit of work its own
session; it is current only inside the block::

    async with observer.session("request", labels={"route": "/chat"}) as session:
        ...
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _env, _ids, _threads
from . import labels as label_rules
from . import providers as provider_registry
from ._capture import DEFAULT_CAPTURER, CaptureLimits, Capturer
from ._context import current_session, default, session_var, span_var, suppress_instrumentation
from ._delivery import FIRST_RETRY_SECONDS, RemoteDelivery
from ._document import build_document, session_dict
from ._guard import guard, report_internal_error
from ._legacy import model_record
from ._recording import append
from ._records import RECORD_WIDTH
from ._session import RecordingSession
from ._spans import Span, point_event
from ._worker import FlushWorker
from .exporters.base import BaseExporter, ExportError, ExportResult
from .exporters.document import ExportDocument
from .exporters.file import FileExporter
from .models import Event, FunctionEvent
from .pricing import Pricing, PricingError
from .redaction import Redaction
from .spool import Spool, default_directory

if TYPE_CHECKING:
    from .exporters.remote import RemoteUsage

logger = logging.getLogger("aiobs")

DEFAULT_MAX_BUFFERED_EVENTS = 100_000
DEFAULT_FILE_NAME = "llm_observability.json"
DEFAULT_EXIT_TIMEOUT = 5.0

_live_collectors: weakref.WeakSet[Collector] = weakref.WeakSet()


def _env_setting(read: Any, name: str, default_value: Any) -> Any:
    """Read an environment setting; a bad value is logged, not raised, so imports never fail."""
    try:
        return read(name, default_value)
    except ValueError as exc:
        logger.error("aiobs: ignoring %s (%s); using %r", name, exc, default_value)
        return default_value


class Collector:
    """Records sessions and their events, and exports them on :meth:`flush`.

    All arguments are optional; see :meth:`configure`.
    """

    def __init__(
        self,
        *,
        capture_limits: CaptureLimits | None = None,
        redaction: Redaction | None = None,
        max_buffered_events: int | None = None,
        flush_at_exit: bool | None = None,
        propagate_to_threads: bool | None = None,
    ) -> None:
        self._state_lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._flushing_thread: int | None = None
        self._count_lock = threading.Lock()
        self._sessions: dict[str, RecordingSession] = {}
        self._api_key: str | None = None
        self._paths_written: set[str] = set()
        self._last_destination: tuple[str | None, BaseExporter | None, dict[str, Any]] | None = None
        self._forked = False
        self._to_deliver: tuple[RemoteDelivery, ExportDocument] | None = None
        self._delivery: RemoteDelivery | None = None
        self._delivery_for: tuple[str, str] | None = None
        self._flush_server_url: str | None = None
        self._worker: FlushWorker | None = None
        self._spool_offered = False  # the spool is offered once per process, at its first session
        self._apply_defaults()
        self._reset_counters()
        self.configure(
            capture_limits=capture_limits,
            redaction=redaction,
            max_buffered_events=max_buffered_events,
            flush_at_exit=flush_at_exit,
            propagate_to_threads=propagate_to_threads,
        )
        _live_collectors.add(self)

    def __repr__(self) -> str:
        return f"<Collector sessions={len(self._sessions)}>"

    # -- configuration --------------------------------------------------------------------------

    def _apply_defaults(self) -> None:
        self.capturer: Capturer = DEFAULT_CAPTURER
        self.max_buffered_events: int = _env_setting(
            _env.get_positive_int, _env.MAX_BUFFERED_EVENTS, DEFAULT_MAX_BUFFERED_EVENTS
        )
        self.flush_at_exit: bool = _env_setting(_env.get_bool, _env.FLUSH_AT_EXIT, True)
        self.auto_instrument: bool = _env_setting(_env.get_bool, _env.AUTO_INSTRUMENT, True)
        self.openai_stream_usage: bool = _env_setting(
            _env.get_bool, _env.OPENAI_STREAM_USAGE, False
        )
        self.estimate_usage: bool = _env_setting(_env.get_bool, _env.ESTIMATE_USAGE, False)
        self._pricing: Pricing | None = None
        self.flush_interval: float | None = None
        self.flush_every: int | None = None
        self.exit_timeout: float = DEFAULT_EXIT_TIMEOUT
        self.delivery_retry_interval: float = FIRST_RETRY_SECONDS

    def configure(
        self,
        *,
        capture_limits: CaptureLimits | None = None,
        redaction: Redaction | None = None,
        max_buffered_events: int | None = None,
        flush_at_exit: bool | None = None,
        propagate_to_threads: bool | None = None,
        auto_instrument: bool | None = None,
        openai_stream_usage: bool | None = None,
        estimate_usage: bool | None = None,
        pricing: str | Path | Mapping[str, Any] | Pricing | None = None,
        flush_server_url: str | None = None,
        flush_interval: float | None = None,
        flush_every: int | None = None,
        exit_timeout: float | None = None,
        delivery_retry_interval: float | None = None,
    ) -> None:
        """Change settings; arguments left as ``None`` keep their current value.

        Args:
            capture_limits: bounds on captured values (string length, items, depth, bytes).
            redaction: which keys and values are hidden (see :mod:`aiobs.redaction`).
            max_buffered_events: events buffered before further ones are dropped and counted
                (default 100,000 or ``AIOBS_MAX_BUFFERED_EVENTS``).
            flush_at_exit: flush unexported data when the interpreter exits (default on, or
                ``AIOBS_FLUSH_AT_EXIT``).
            propagate_to_threads: threads and thread pools started inside a span inherit the
                session and span (default on, or ``AIOBS_PROPAGATE_TO_THREADS``). Process-wide.
            auto_instrument: starting a session instruments the installed LLM SDKs (default on,
                or ``AIOBS_AUTO_INSTRUMENT``).
            openai_stream_usage: ask OpenAI chat streams for usage (``stream_options.
                include_usage``) when the program did not, and hide the extra usage chunk from
                it (default off, or ``AIOBS_OPENAI_STREAM_USAGE``).
            estimate_usage: count tokens with a local tokenizer (tiktoken) when a stream reports
                no usage; such usage and its cost are flagged ``estimated`` (default off, or
                ``AIOBS_ESTIMATE_USAGE``).
            pricing: model prices that extend or override the shipped table: a dict or a JSON
                file, or an :class:`aiobs.pricing.Pricing` used as it is (default: the shipped
                table, extended by ``AIOBS_PRICING_FILE`` when set).
            flush_server_url: an aiobs flush server; with an API key, each flush also delivers
                there (default ``AIOBS_FLUSH_SERVER_URL``; nothing is sent anywhere without both).
            flush_interval: flush in the background every so many seconds when anything is
                buffered (``0`` turns it off; default off).
            flush_every: flush in the background as soon as this many events are buffered
                (``0`` turns it off; default off).
            exit_timeout: seconds the exit flush waits for a background flush in progress
                (default 5).
            delivery_retry_interval: seconds before documents the flush server did not take
                are offered again in the background; the wait doubles while it keeps refusing,
                up to 10 minutes (default 30).

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: ``max_buffered_events`` is not positive.
            aiobs.pricing.PricingError: the pricing table is malformed or unreadable.
        """
        _check_type("capture_limits", capture_limits, CaptureLimits, "an aiobs.CaptureLimits")
        _check_type("redaction", redaction, Redaction, "an aiobs.Redaction")
        if max_buffered_events is not None and (
            type(max_buffered_events) is not int or max_buffered_events <= 0
        ):
            raise ValueError(
                f"max_buffered_events must be a positive int, got {max_buffered_events!r}"
            )
        for flag_name, flag in (
            ("flush_at_exit", flush_at_exit),
            ("propagate_to_threads", propagate_to_threads),
            ("auto_instrument", auto_instrument),
            ("openai_stream_usage", openai_stream_usage),
            ("estimate_usage", estimate_usage),
        ):
            if flag is not None and not isinstance(flag, bool):
                raise TypeError(f"{flag_name} must be True or False, got {flag!r}")
        self._set_destinations(pricing, flush_server_url)
        self._set_background(flush_interval, flush_every, exit_timeout, delivery_retry_interval)
        if auto_instrument is not None:
            self.auto_instrument = auto_instrument
        if openai_stream_usage is not None:
            self.openai_stream_usage = openai_stream_usage
        if estimate_usage is not None:
            self.estimate_usage = estimate_usage
        if capture_limits is not None or redaction is not None:
            self.capturer = Capturer(
                capture_limits or self.capturer.limits, redaction or self.capturer.redaction
            )
        if max_buffered_events is not None:
            self._resize(max_buffered_events)
        if flush_at_exit is not None:
            self.flush_at_exit = flush_at_exit
        if propagate_to_threads is not None:
            _threads.enabled = propagate_to_threads
            if propagate_to_threads and self._sessions:
                _threads.install()

    def _set_background(
        self,
        interval: float | None,
        every: int | None,
        exit_timeout: float | None,
        retry_interval: float | None,
    ) -> None:
        """The background flushing settings of :meth:`configure`, checked and applied."""
        for name, value in (
            ("flush_interval", interval),
            ("exit_timeout", exit_timeout),
            ("delivery_retry_interval", retry_interval),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
        if every is not None and (type(every) is not int or every < 0):
            raise ValueError(f"flush_every must be a number of events >= 0, got {every!r}")
        if exit_timeout is not None:
            self.exit_timeout = float(exit_timeout)
        if retry_interval is not None:
            self.delivery_retry_interval = float(retry_interval)
        if interval is None and every is None:
            return
        if interval is not None:
            self.flush_interval = float(interval) or None
        if every is not None:
            self.flush_every = every or None
        if self.flush_interval is not None or self.flush_every is not None:
            self._flush_worker().schedule(self.flush_interval, self.flush_every)
        elif self._worker is not None:
            self._worker.schedule(None, None)

    def _flush_worker(self) -> FlushWorker:
        """The background flush thread, started on first need (again in a forked child)."""
        with self._state_lock:
            if self._worker is None or not self._worker.alive:
                self._worker = FlushWorker(
                    self._background_flush, self._buffered_events, self._deliver_in_background
                )
                self._worker.schedule(self.flush_interval, self.flush_every)
            return self._worker

    def _buffered_events(self) -> int:
        return self.max_buffered_events - len(self._places)

    def _background_flush(self, *args: Any, **kwargs: Any) -> Any:
        """A flush run by the worker: as asked, or to the last explicit destination."""
        if args or kwargs:
            return self.flush(*args, **kwargs)
        if self._last_destination is not None:
            path, exporter, options = self._last_destination
            return self.flush(path, exporter=exporter, **options)
        return self.flush()

    def wait_for_background_flushes(self, timeout: float | None = None) -> bool:
        """Wait until the flushes handed to the background thread are done.

        Returns ``False`` if ``timeout`` seconds passed first.
        """
        worker = self._worker
        return True if worker is None else worker.idle(timeout)

    def _set_destinations(
        self, pricing: str | Path | Mapping[str, Any] | Pricing | None, flush_server_url: str | None
    ) -> None:
        """The pricing table and the flush server of :meth:`configure`, checked."""
        if pricing is not None:
            self._pricing = (
                pricing
                if isinstance(pricing, Pricing)
                else Pricing.default().extended(Pricing.load(pricing))
            )
        if flush_server_url is not None:
            if not flush_server_url.startswith(("http://", "https://")):
                raise ValueError(
                    "flush_server_url must be an http(s) URL, e.g. https://aiobs.example.com, "
                    f"got {flush_server_url!r}"
                )
            self._flush_server_url = flush_server_url

    @property
    def pricing(self) -> Pricing:
        """The model prices that events' costs are computed from."""
        if self._pricing is None:
            table = Pricing.default()
            extra = os.environ.get(_env.PRICING_FILE)
            if extra:
                try:
                    table = table.extended(Pricing.load(extra))
                except PricingError as exc:
                    logger.error("aiobs: ignoring %s (%s)", _env.PRICING_FILE, exc)
            self._pricing = table
        return self._pricing

    def instrument(self, *providers: str) -> list[str]:
        """Instrument LLM SDKs now: the named providers, or every installed one; return them.

        Starting a session does this by itself for every installed SDK (see
        ``auto_instrument``); call this to instrument before any session, or after
        :meth:`uninstrument`. Names: ``"openai"``, ``"gemini"``, ``"anthropic"``.

        Raises:
            aiobs.providers.ProviderUnavailable: a named provider's SDK is missing or older than
                supported (the message says what to install).
            ValueError: an unknown provider name.
        """
        return provider_registry.instrument(list(providers) if providers else None)

    def uninstrument(self, *providers: str) -> None:
        """Restore the SDKs' original methods: the named providers', or all of them.

        Without names, sessions no longer instrument SDKs by themselves until
        :meth:`instrument` is called.
        """
        provider_registry.uninstrument(list(providers) if providers else None)

    # -- the flush server -----------------------------------------------------------------------

    def _remote_delivery(self) -> RemoteDelivery | None:
        """The flush server delivery, when an API key and a server URL are both configured."""
        url = self._flush_server_url or os.environ.get(_env.FLUSH_SERVER_URL)
        key = self.api_key
        if not url or not key:
            return None
        if self._delivery is None or self._delivery_for != (url, key):
            from .exporters.remote import RemoteExporter

            self._delivery = RemoteDelivery(RemoteExporter(url, key), Spool(default_directory()))
            self._delivery_for = (url, key)
        return self._delivery

    def usage(self) -> RemoteUsage:
        """The API key's tier and trace quota as the flush server reports them.

        Returns:
            :class:`aiobs.exporters.remote.RemoteUsage`: ``tier``, ``used``, ``limit``,
            ``remaining``, ``is_rate_limited``.

        Raises:
            ValueError: no API key or no flush server URL is configured.
            aiobs.exporters.remote.InvalidAPIKeyError: the server refused the key.
            aiobs.ExportError: the server could not be reached or answered nonsense.
        """
        delivery = self._remote_delivery()
        if delivery is None:
            raise ValueError(
                "observer.usage() needs an API key (observer.observe(api_key=...) or "
                f"{_env.API_KEY}) and a flush server URL ({_env.FLUSH_SERVER_URL} or "
                "observer.configure(flush_server_url=...))"
            )
        return delivery.usage()

    def deliver_pending(self) -> None:
        """Offer the documents waiting in the spool to the flush server now (never raises).

        This also happens by itself: at every flush, in the background after a failed delivery
        (see ``delivery_retry_interval``), and when a process starts its first session.
        """
        delivery = self._remote_delivery()
        if delivery is not None:
            with guard("delivering spooled documents"):
                delivery.deliver(None)

    def _deliver_in_background(self) -> float | None:
        """The worker's spool offer: deliver, then return the seconds until the next one."""
        delivery = self._remote_delivery()
        if delivery is None:
            return None
        with guard("delivering spooled documents"):
            delivery.deliver(None)
        return delivery.next_retry(self.delivery_retry_interval)

    def _retry_later(self, delivery: RemoteDelivery) -> None:
        """Plan a background offer of the spool if documents wait in it."""
        delay = delivery.next_retry(self.delivery_retry_interval)
        if delay is not None:
            self._flush_worker().deliver_later(delay)

    def _offer_spool_at_start(self) -> None:
        """Once per process: documents an earlier run could not deliver go out in the background."""
        if self._spool_offered:
            return
        self._spool_offered = True
        with guard("looking for undelivered documents"):
            delivery = self._remote_delivery()
            if delivery is not None and delivery.waiting():
                self._flush_worker().deliver_later(0.0)

    @property
    def api_key(self) -> str | None:
        """The API key given to :meth:`observe`, else ``AIOBS_API_KEY``; used by remote delivery.

        Read from the environment at each use, so sessions started with :meth:`session` (which
        takes no key) deliver too.
        """
        return self._api_key or os.environ.get(_env.API_KEY)

    # -- sessions -------------------------------------------------------------------------------

    def _new_session(self, name: str | None, labels: Mapping[str, str] | None) -> RecordingSession:
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Session name must be a string, got {type(name).__name__}")
        merged = label_rules.merge_labels(labels)
        if _threads.enabled:
            _threads.install()
        if self.auto_instrument:
            with guard("instrumenting LLM SDKs"):
                provider_registry.install_available()
        session = RecordingSession(self, name, merged)
        with self._state_lock:
            self._sessions[session.id] = session
        self._offer_spool_at_start()
        return session

    def observe(
        self,
        session_name: str | None = None,
        api_key: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Start a session and make it the process-wide default; return its id.

        The previous default session, if any, is ended. Needs no API key and makes no network
        call; ``api_key`` (or ``AIOBS_API_KEY``) is kept for remote destinations.

        Raises:
            ValueError: the name is not a string, or a label breaks the label rules.
        """
        self._api_key = api_key or self._api_key
        session = self._new_session(session_name, labels)
        with self._state_lock:
            previous = default.session
            if previous is not None and previous.collector is self:
                previous.end()
            default.session = session
        return session.id

    def session(
        self, name: str | None = None, labels: Mapping[str, str] | None = None
    ) -> SessionScope:
        """A session current only inside ``with``/``async with``; ended when the block exits.

        The block starts with no current span, so its spans are the roots of their traces.

        Raises:
            ValueError: (on entering) the name is not a string, or a label is invalid.
        """
        return SessionScope(self, name, labels)

    def current_session(self) -> RecordingSession | None:
        """The session that recording would use here and now, or ``None``."""
        return current_session()

    def end(self) -> None:
        """End the current session; ended sessions are exported by the next flush.

        When it is the default session, recording stops until the next :meth:`observe`.
        """
        session = current_session()
        if session is None:
            return
        session.end()
        with self._state_lock:
            if default.session is session:
                default.session = None

    def _require_session(self) -> RecordingSession:
        session = current_session()
        if session is None:
            raise RuntimeError(
                "No active session: call observer.observe() or enter "
                "'with observer.session():' first"
            )
        return session

    # -- labels (of the current session) --------------------------------------------------------

    def set_labels(self, labels: Mapping[str, str], merge: bool = True) -> None:
        """Merge labels into the current session's, or replace its user labels (``merge=False``).

        Raises:
            RuntimeError: no session is current.
            ValueError: a label is invalid or the session would exceed 64 labels.
        """
        self._require_session().set_labels(
            dict(labels) if isinstance(labels, Mapping) else labels, merge
        )

    def add_label(self, key: str, value: str) -> None:
        """Add or overwrite one label of the current session.

        Raises:
            RuntimeError: no session is current.
            ValueError: the key or value is invalid, or the session already has 64 labels.
        """
        self._require_session().add_label(key, value)

    def remove_label(self, key: str) -> None:
        """Remove a label from the current session.

        Raises:
            RuntimeError: no session is current.
            ValueError: ``key`` is a system label.
        """
        self._require_session().remove_label(key)

    def get_labels(self) -> dict[str, str]:
        """The current session's labels, system labels included.

        Raises:
            RuntimeError: no session is current.
        """
        return self._require_session().get_labels()

    # -- spans and events -----------------------------------------------------------------------

    def span(self, name: str, **attributes: Any) -> Span:
        """A manual span for ``with``/``async with``; ``span.set(key, value)`` adds attributes."""
        return Span(name, attributes)

    def event(self, name: str, **data: Any) -> str | None:
        """Record a point event (a tool call, a decision) under the current span.

        Returns the event's span id, or ``None`` when no session is current.
        """
        import sys

        return point_event(name, data, sys._getframe(1))

    def get_current_span_id(self) -> str | None:
        """Hex id of the innermost open span here, or ``None`` (aiobs 0.2 API)."""
        span = span_var.get()
        return f"{span[0]:016x}" if span is not None else None

    def _record_event(self, payload: Event | FunctionEvent | Mapping[str, Any]) -> None:
        """Record an event given as an aiobs 0.2 model or dict into the current session."""
        session = current_session()
        if session is None:
            return
        with guard("recording an event"):
            append(session, model_record(payload, session.collector.capturer).as_record())

    # -- buffer accounting (called from the hot path) -------------------------------------------

    def _reset_counters(self) -> None:
        # The free places of the buffer, one byte each. Taking one is `_places.pop()`, a single
        # C call, so admission is exact under threads without a lock; IndexError means full.
        # Places go back when their records are exported. `_owed` counts places to withhold
        # after max_buffered_events was lowered below what is buffered.
        self._places = bytearray(self.max_buffered_events)
        self._owed = 0

    def _give_back(self, places: int) -> None:
        with self._count_lock:
            settled = min(places, self._owed)
            self._owed -= settled
            self._places.extend(bytes(places - settled))

    def _resize(self, maximum: int) -> None:
        with self._count_lock:
            change = maximum - self.max_buffered_events
            self.max_buffered_events = maximum
            if change >= 0:
                self._places.extend(bytes(change))
            else:
                taken = min(-change, len(self._places))
                del self._places[:taken]
                self._owed += -change - taken

    def reject(self, session: RecordingSession) -> None:
        """Count a record that found the buffer full."""
        with self._count_lock:
            session.dropped += 1
        session.dirty = True

    def reattach(self, session: RecordingSession) -> None:
        """Take back a released session that received a late record, so the record is exported."""
        with self._state_lock:
            if session.released:
                session.released = False
                session.dirty = True
                self._sessions[session.id] = session

    @property
    def buffered_events(self) -> int:
        """Records waiting for the next flush, over all sessions."""
        with self._state_lock:
            return sum(len(s.records) for s in self._sessions.values()) // RECORD_WIDTH

    def pending(self) -> bool:
        """Whether a flush would export anything new."""
        with self._state_lock:
            return any(s.records or s.dirty for s in self._sessions.values())

    # -- flush ----------------------------------------------------------------------------------

    def flush(
        self,
        path: str | os.PathLike[str] | None = None,
        include_trace_tree: bool = True,
        exporter: BaseExporter | None = None,
        persist: bool = True,
        block: bool = True,
        **exporter_kwargs: Any,
    ) -> str | ExportResult | None:
        """Export every session and buffered event, then forget what was exported.

        Without ``exporter`` the document is written atomically to a JSON file: ``path``, else
        ``LLM_OBS_OUT``, else ``<session-id>.json`` (the default session's, or the first one's),
        else ``llm_observability.json``; repeated flushes to one file within a process
        accumulate. Records added while the flush runs stay for the next one. Recording never
        waits for the flush: the buffer is only read here, and trimmed when the export succeeded.

        Args:
            path: file to write.
            include_trace_tree: also write the nested ``trace_tree``.
            exporter: send the document there instead of to a file.
            persist: ``False`` (with no exporter) discards the buffered data without writing.
            block: ``False`` hands the flush to the background thread and returns ``None`` at
                once (see :meth:`wait_for_background_flushes`).
            **exporter_kwargs: passed on to the exporter.

        Returns:
            The file path written, the exporter's :class:`ExportResult`, or ``None`` when nothing
            was written. A failed export is logged and keeps the data for the next flush.
        """
        if not block:
            self._flush_worker().submit(
                (path, include_trace_tree, exporter, persist), dict(exporter_kwargs)
            )
            return None
        if self._flushing_thread == threading.get_ident():
            # Called from inside an exporter: the records being exported are not released yet,
            # and exporting them again would duplicate them.
            logger.warning("aiobs: flush() called during a flush (from an exporter?); ignored")
            return None
        outcome: str | ExportResult | None = None
        with self._flush_lock:
            self._flushing_thread = threading.get_ident()
            try:
                outcome = self._flush(path, include_trace_tree, exporter, persist, exporter_kwargs)
            except Exception as exc:  # noqa: BLE001 - telemetry must not break the program
                report_internal_error("flushing", exc)
            finally:
                self._flushing_thread = None
                delivered, self._to_deliver = self._to_deliver, None
        if delivered is not None:  # after the lock: the network never holds up a flush
            with guard("delivering to the flush server"):
                delivered[0].deliver(delivered[1])
                self._retry_later(delivered[0])
        return outcome

    def _flush(
        self,
        path: str | os.PathLike[str] | None,
        include_trace_tree: bool,
        exporter: BaseExporter | None,
        persist: bool,
        exporter_kwargs: dict[str, Any],
    ) -> str | ExportResult | None:
        snapshot, document = self._snapshot(include_trace_tree)
        if exporter is None and not persist:
            self._commit(snapshot)
            return None
        target: str | None = None
        try:
            if exporter is None:
                target = self._default_path(path, [session for session, _ in snapshot])
                merge = os.path.abspath(target) in self._paths_written
                destination: BaseExporter = FileExporter(target, merge=merge)
            else:
                destination = exporter
            result = _export(destination, document, exporter_kwargs)
        except BaseException:
            _mark_changed(snapshot)
            raise
        if not result.success:
            _mark_changed(snapshot)
            logger.warning(
                "aiobs: export to %s failed (%s); %d events kept for the next flush",
                result.destination or getattr(destination, "name", destination),
                result.error,
                document.event_count,
            )
            return None if exporter is None else result
        self._commit(snapshot)
        delivery = self._remote_delivery()
        if delivery is not None and document.event_count + len(document.session_ids):
            self._to_deliver = (delivery, document)
        if target is not None:
            self._paths_written.add(os.path.abspath(target))
        self._last_destination = (
            os.fspath(path) if path is not None else None,
            exporter,
            exporter_kwargs,
        )
        return target if exporter is None else result

    def _snapshot(
        self, include_trace_tree: bool
    ) -> tuple[list[tuple[RecordingSession, int]], ExportDocument]:
        with self._state_lock:
            sessions = [s for s in self._sessions.values() if s.records or s.dirty]
        snapshot: list[tuple[RecordingSession, int]] = []
        session_dicts: list[dict[str, Any]] = []
        batches: list[tuple[str, tuple[float, int], list[Any], int]] = []
        for session in sessions:
            session.dirty = False  # a change made during the flush sets it again; see below
            count = len(session.records)
            snapshot.append((session, count))
            batches.append((session.id, session.clock_anchor, session.records, count))
            session.reanchor()
            session_dicts.append(
                session_dict(
                    session_id=session.id,
                    name=session.name,
                    started_at=session.started_at,
                    ended_at=session.ended_at,
                    pid=session.pid,
                    cwd=session.cwd,
                    labels=session.labels,
                    dropped=session.dropped,
                    llm=session.llm.as_fields(),
                )
            )
        try:
            with _collection_paused():
                document = build_document(
                    session_dicts,
                    batches,
                    capturer=self.capturer,
                    include_trace_tree=include_trace_tree,
                    generated_at=_ids.wall_clock(),
                )
        except BaseException:
            _mark_changed(snapshot)  # nothing was exported: export these sessions next time
            raise
        return snapshot, document

    def _commit(self, snapshot: list[tuple[RecordingSession, int]]) -> None:
        exported = 0
        for session, count in snapshot:
            del session.records[:count]
            exported += count // RECORD_WIDTH
        self._give_back(exported)
        with self._state_lock:
            for session, _ in snapshot:
                if session.ended_at is None or session.records or session.dirty:
                    continue
                session.released = True
                self._sessions.pop(session.id, None)
                if session.records:  # a record slipped in before `released` was visible
                    session.released = False
                    self._sessions[session.id] = session

    def _default_path(
        self, path: str | os.PathLike[str] | None, sessions: list[RecordingSession]
    ) -> str:
        if path is not None:
            return os.fspath(path)
        # A forked child never takes the parent's default file: its name gets the child's pid.
        suffix = f"-{os.getpid()}" if self._forked else ""
        from_env = os.environ.get(_env.OUTPUT_PATH)
        if from_env:
            if not suffix:
                return from_env
            stem, extension = os.path.splitext(from_env)
            return f"{stem}{suffix}{extension}"
        own_default = default.session
        if own_default is not None and own_default.collector is not self:
            own_default = None
        chosen = own_default or (sessions[0] if sessions else None)
        if chosen is None:
            return DEFAULT_FILE_NAME
        return f"{chosen.id}{suffix}.json"

    # -- lifecycle ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all sessions and data and restore default settings (for tests and notebooks)."""
        with self._state_lock:
            for session in self._sessions.values():
                session.end()
                session.released = True
                del session.records[:]  # a block still open must not bring this data back
            self._sessions.clear()
            if default.session is not None and default.session.collector is self:
                default.session = None
        self._api_key = None
        self._paths_written.clear()
        self._last_destination = None
        self._forked = False
        self._to_deliver = None
        self._delivery = None
        self._delivery_for = None
        self._flush_server_url = None
        self._spool_offered = False
        if self._worker is not None:
            self._worker.stop(timeout=1.0)  # requests not started are dropped with the data
            self._worker = None
        self._apply_defaults()
        self._reset_counters()
        _threads.uninstall()
        _threads.enabled = _env_setting(_env.get_bool, _env.PROPAGATE_TO_THREADS, True)

    def _flush_at_exit(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            stopped, left = worker.stop(self.exit_timeout)
            if not stopped:
                logger.warning(
                    "aiobs: a background flush was still running after %.1f s at exit",
                    self.exit_timeout,
                )
                return  # it holds the flush lock: flushing again here would wait for it
            for args, kwargs in left:  # flushes the program asked for: run them now
                with guard("flushing at exit"):
                    self.flush(*args, **kwargs)
        if not self.flush_at_exit:
            return
        with guard("flushing at exit"):
            if not self.pending():
                return
            with self._state_lock:
                for session in self._sessions.values():
                    session.end()
            if self._last_destination is not None:
                path, exporter, kwargs = self._last_destination
                self.flush(path, exporter=exporter, **kwargs)
            else:
                self.flush()

    def _after_fork_in_child(self) -> None:
        self._state_lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._flushing_thread = None
        self._count_lock = threading.Lock()
        self._reset_counters()
        self._forked = True
        # The parent exports what it recorded and writes its files; the child starts clean.
        self._last_destination = None
        self._paths_written = set()
        self._to_deliver = None
        self._delivery = None  # its lock and HTTP connections belong to the parent
        self._worker = None  # threads do not survive a fork: the child starts its own
        if self.flush_interval is not None or self.flush_every is not None:
            self._flush_worker()
        for session in self._sessions.values():
            session._after_fork_in_child()


class SessionScope:
    """What :meth:`Collector.session` returns: enter it with ``with`` or ``async with``."""

    __slots__ = ("_collector", "_labels", "_name", "_session", "_tokens")

    def __init__(
        self, collector: Collector, name: str | None, labels: Mapping[str, str] | None
    ) -> None:
        self._collector = collector
        self._name = name
        self._labels = labels
        self._session: RecordingSession | None = None
        self._tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> RecordingSession:
        if self._session is not None:
            raise RuntimeError(
                "This session block is already in use; call observer.session() again"
            )
        session = self._collector._new_session(self._name, self._labels)
        self._session = session
        self._tokens = (session_var.set(session), span_var.set(None))
        return session

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, tokens = self._session, self._tokens
        if session is None or tokens is None:
            return
        session_token, span_token = tokens
        span_var.reset(span_token)
        session_var.reset(session_token)
        session.end()

    async def __aenter__(self) -> RecordingSession:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a flush builds its document.

    Building it makes a few short-lived objects per event; with the collector running, each batch
    of them triggers a pass over every tracked object in the process, which costs more than the
    building itself. Nothing is lost: cycles made meanwhile are collected afterwards. The export
    (file or network) runs with the collector on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _mark_changed(snapshot: list[tuple[RecordingSession, int]]) -> None:
    for session, _ in snapshot:
        session.dirty = True


def _check_type(name: str, value: object, expected: type, description: str) -> None:
    if value is not None and not isinstance(value, expected):
        raise TypeError(f"{name} must be {description}, got {type(value).__name__}")


def _export(
    destination: BaseExporter, document: ExportDocument, kwargs: dict[str, Any]
) -> ExportResult:
    try:
        # An exporter's own HTTP calls (cloud SDKs, OTLP) must never become events.
        with suppress_instrumentation():
            result: object = destination.export_document(document, **kwargs)
    except ExportError as exc:
        return ExportResult(False, error=str(exc))
    except Exception as exc:
        logger.debug("aiobs: exporter %r raised", destination, exc_info=True)
        return ExportResult(False, error=f"{type(exc).__name__}: {exc}")
    if not isinstance(result, ExportResult):
        return ExportResult(True, metadata={"returned": repr(result)})
    return result


def _flush_all_at_exit() -> None:
    for collector in list(_live_collectors):
        collector._flush_at_exit()


def _after_fork_in_child() -> None:
    for collector in list(_live_collectors):
        collector._after_fork_in_child()


_threads.enabled = _env_setting(_env.get_bool, _env.PROPAGATE_TO_THREADS, True)
atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

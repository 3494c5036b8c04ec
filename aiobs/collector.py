"""The collector: the public facade over settings, the buffer, flush, delivery and lifecycle.

``aiobs.observer`` is the process's default :class:`Collector`; most programs use only it::

    from aiobs import observer

    observer.observe(session_name="nightly-eval", labels={"env": "dev"})
    ...                                   # decorated functions and LLM calls are recorded
    observer.flush()                      # writes <session-id>.json

For concurrent work (a server handling requests, many asyncio tasks) give each unit of work its own
session; it is current only inside the block::

    async with observer.session("request", labels={"route": "/chat"}) as session:
        ...

The work is done below: :mod:`aiobs._config` (settings), :mod:`aiobs._buffer` (records and their
bound), :mod:`aiobs._flush` (snapshot, document, export, commit), :mod:`aiobs.delivery` (flush
server, spool, background thread) and :mod:`aiobs._lifecycle` (exit and fork).
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _env, _lifecycle, _threads
from . import labels as label_rules
from . import providers as provider_registry
from ._buffer import RecordBuffer
from ._capture import CaptureLimits, Capturer
from ._config import Settings, propagate_to_threads_from_env
from ._context import span_var
from ._current import CurrentContext
from ._flush import DEFAULT_FILE_NAME, FlushPipeline
from ._guard import guard
from ._legacy import legacy_span_id
from ._session import RecordingSession, SessionScope, current_session, default, make_score
from ._version import __version__
from .delivery import Delivery
from .exporters.base import BaseExporter, ExportResult
from .exporters.document import ExportDocument
from .models import Event as ObsEvent
from .models import FunctionEvent as ObsFunctionEvent
from .models import ObservabilityExport, ObservedEvent, ObservedFunctionEvent
from .models import Session as ObsSession
from .models import SessionMeta as ObsSessionMeta
from .pricing import Pricing
from .redaction import Redaction

if TYPE_CHECKING:
    from .exporters.remote import RemoteUsage

__all__ = ["DEFAULT_FILE_NAME", "Collector", "SessionScope"]

logger = logging.getLogger("aiobs")

# -- aiobs 0.2's module-level names (code written for 0.2 imports them from here) ------------------

LABEL_KEY_PATTERN = label_rules.KEY_PATTERN
LABEL_VALUE_MAX_LENGTH = label_rules.MAX_VALUE_LENGTH
LABEL_MAX_COUNT = label_rules.MAX_LABELS
LABEL_RESERVED_PREFIX = label_rules.RESERVED_PREFIX
LABEL_ENV_PREFIX = _env.LABEL_PREFIX
SDK_VERSION = __version__
"""The version in the ``aiobs_sdk_version`` system label."""

__legacy_models__ = (
    ObsEvent,
    ObsFunctionEvent,
    ObsSession,
    ObsSessionMeta,
    ObservabilityExport,
    ObservedEvent,
    ObservedFunctionEvent,
)
"""0.2 imported the models here under these names; they stay importable from this module."""


def _validate_label_key(key: str) -> None:
    """Raise ``ValueError`` unless ``key`` is a valid user label key (see :mod:`aiobs.labels`)."""
    label_rules.validate_key(key)


def _validate_label_value(value: str, key: str = "") -> None:
    """Raise ``ValueError`` unless ``value`` is a valid value for label ``key``."""
    label_rules.validate_value(key, value)


def _validate_labels(labels: dict[str, str]) -> None:
    """Raise ``ValueError`` unless ``labels`` is a valid set of user labels."""
    label_rules.validate_labels(labels)


def _get_env_labels() -> dict[str, str]:
    """Labels from the ``AIOBS_LABEL_<KEY>`` environment variables."""
    return label_rules.env_labels()


def _get_system_labels() -> dict[str, str]:
    """The ``aiobs_*`` labels aiobs adds to every session."""
    return label_rules.system_labels()


class Collector(CurrentContext):
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
        settings = Settings.from_env()
        self._buffer: RecordBuffer[RecordingSession] = RecordBuffer(settings)
        self._pipeline = FlushPipeline(self._buffer)
        self._delivery = Delivery(settings, self._background_flush, self._buffer.held)
        self.configure(
            capture_limits=capture_limits,
            redaction=redaction,
            max_buffered_events=max_buffered_events,
            flush_at_exit=flush_at_exit,
            propagate_to_threads=propagate_to_threads,
        )
        _lifecycle.register(self)

    def __repr__(self) -> str:
        return f"<Collector sessions={len(self._buffer.sessions)}>"

    # -- configuration -----------------------------------------------------------------------------

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
        evaluators: Sequence[Any] | None = None,
        eval_sample_rate: float | None = None,
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
            exit_timeout: seconds the exit flush waits for a background flush, and then
                for the flush server to take what waits (default 5).
            delivery_retry_interval: seconds before documents the flush server did not take
                are offered again in the background; the wait doubles while it keeps refusing,
                up to 10 minutes (default 30).
            evaluators: ``aiobs.evals`` evaluators run over the LLM calls and functions of each
                flushed document, in the thread that flushes (the background worker with
                ``flush_interval``/``flush_every``), never while a call is recorded; their
                passed/failed results are written on the events as scores (``[]`` turns them off;
                default none).
            eval_sample_rate: the share of flushed events the evaluators judge, 0 to 1
                (default 1).

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: a number is out of range, or the URL is not http(s).
            aiobs.pricing.PricingError: the pricing table is malformed or unreadable.
        """
        settings = self.settings.replace(
            capture_limits=capture_limits,
            redaction=redaction,
            max_buffered_events=max_buffered_events,
            flush_at_exit=flush_at_exit,
            propagate_to_threads=propagate_to_threads,
            auto_instrument=auto_instrument,
            openai_stream_usage=openai_stream_usage,
            estimate_usage=estimate_usage,
            pricing=pricing,
            flush_server_url=flush_server_url,
            flush_interval=flush_interval,
            flush_every=flush_every,
            exit_timeout=exit_timeout,
            delivery_retry_interval=delivery_retry_interval,
            evaluators=evaluators,
            eval_sample_rate=eval_sample_rate,
        )
        self._buffer.use(settings)
        self._delivery.use(settings)
        if propagate_to_threads is not None:
            _threads.enabled = propagate_to_threads
            if propagate_to_threads and self._buffer.sessions:
                _threads.install()

    @property
    def settings(self) -> Settings:
        """The current settings (read-only: change them with :meth:`configure`)."""
        return self._buffer.settings

    @property
    def capturer(self) -> Capturer:
        """How values are captured: the configured limits and redaction."""
        return self.settings.capturer

    @property
    def pricing(self) -> Pricing:
        """The model prices that events' costs are computed from."""
        return self.settings.price_table

    @property
    def max_buffered_events(self) -> int:
        """Events buffered before further ones are dropped and counted."""
        return self.settings.max_buffered_events

    @property
    def flush_at_exit(self) -> bool:
        """Whether unexported data is flushed when the interpreter exits."""
        return self.settings.flush_at_exit

    def instrument(self, *providers: str) -> list[str]:
        """Instrument LLM SDKs now: the named providers, or every installed one; return them.

        Sessions do this by themselves (``auto_instrument``); call it to instrument before any
        session, or after :meth:`uninstrument`. Names: ``"openai"``, ``"gemini"``, ``"anthropic"``.

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

    # -- the flush server --------------------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        """The API key given to :meth:`observe`, else ``AIOBS_API_KEY``; used by remote delivery.

        Read from the environment at each use, so sessions started with :meth:`session` (which
        takes no key) deliver too.
        """
        return self._delivery.key()

    def usage(self) -> RemoteUsage:
        """The API key's tier and trace quota as the flush server reports them.

        Returns a :class:`aiobs.exporters.remote.RemoteUsage` (``tier``, ``used``, ``limit``,
        ``remaining``, ``is_rate_limited``).

        Raises:
            ValueError: no API key or no flush server URL is configured.
            aiobs.exporters.remote.InvalidAPIKeyError: the server refused the key.
            aiobs.ExportError: the server could not be reached or answered nonsense.
        """
        return self._delivery.usage()

    def deliver_pending(self) -> None:
        """Offer the documents waiting in the spool to the flush server now (never raises).

        This also happens at every flush, in the background after a failed delivery (see
        ``delivery_retry_interval``), and when a process starts its first session.
        """
        self._delivery.deliver_pending()

    # -- aiobs 0.2's in-memory store, as read-only views ------------------------------------------

    @property
    def _sessions(self) -> dict[str, ObsSession]:
        """Legacy (aiobs 0.2): the buffered sessions by id, as ``Session`` models.

        Built from the buffer at each read (a copy: changing it changes nothing). For tests and
        tools written for 0.2; :meth:`flush` with an ``InMemoryExporter`` is the supported way.
        """
        return {session.id: session for session in self._pipeline.preview().model().sessions}

    @property
    def _events(self) -> dict[str, list[ObsEvent | ObsFunctionEvent]]:
        """Legacy (aiobs 0.2): each buffered session's events by session id, as models.

        ``Event`` for LLM calls and ``FunctionEvent`` for functions, in the order they finished
        (0.2's recording order). Built from the buffer at each read, like :attr:`_sessions`.
        """
        export = self._pipeline.preview().model()
        events: dict[str, list[ObsEvent | ObsFunctionEvent]] = {s.id: [] for s in export.sessions}
        for event in export.events:
            fields = {name: getattr(event, name) for name in ObsEvent.model_fields}
            events.setdefault(event.session_id, []).append(ObsEvent.model_construct(**fields))
        for function in export.function_events:
            fields = {name: getattr(function, name) for name in ObsFunctionEvent.model_fields}
            events.setdefault(function.session_id, []).append(
                ObsFunctionEvent.model_construct(**fields)
            )
        for session_events in events.values():
            session_events.sort(key=lambda event: (event.ended_at, event.started_at))
        return events

    # -- aiobs 0.2's network hooks -----------------------------------------------------------------
    #
    # aiobs 0.2 validated the key, delivered and counted usage through these three methods, and
    # its users' tests patch them on the class to stay off the network. Here too every flush goes
    # through them: patched (on the class or the instance) or overridden, what they do replaces
    # this package's delivery. They run once per flush or session, never per event.

    def _validate_api_key(self) -> None:
        """Check the API key in use; called by :meth:`observe` when a key is given or set.

        The check is local (observe() makes no network call): the key must be a string. The
        flush server judges it at delivery, and :meth:`usage` asks it.

        Raises:
            ValueError: the key is not a string.
        """
        key = self.api_key
        if key is not None and not isinstance(key, str):
            raise ValueError(
                f"Invalid API key provided to aiobs: expected a string, got {type(key).__name__}"
            )

    def _record_usage(self, trace_count: int) -> None:
        """Count ``trace_count`` events against the key; called after each flush that delivers.

        The flush server delivery reports the stored sessions with each upload, so nothing more
        is sent here; the hook keeps 0.2's place in the flush for code that patches it.
        """

    def _flush_to_server(self, export: ObservabilityExport | ExportDocument) -> None:
        """Deliver a flushed document to the flush server (needs a key and a server URL).

        The document goes to the spool of that server and key, and the delivery thread offers
        it, so the caller never waits on the network. Never raises.
        """
        document = export if isinstance(export, ExportDocument) else _as_document(export)
        self._delivery.after_flush(document)

    def _delivers_itself(self) -> bool:
        """Whether :meth:`_flush_to_server` is this class's own (neither patched nor overridden)."""
        return getattr(self._flush_to_server, "__func__", None) is _OWN_FLUSH_TO_SERVER

    def _deliver(self, document: ExportDocument) -> None:
        """After a flush: the flush server hooks, called as aiobs 0.2 called them."""
        if not self.api_key:
            return
        with guard("delivering to the flush server"):
            if self._delivers_itself():
                self._flush_to_server(document)
            else:  # code written for 0.2 gets 0.2's argument, the document's models
                self._flush_to_server(document.model())
            if document.event_count > 0:
                self._record_usage(document.event_count)

    # -- the current span id (aiobs 0.2 API) -------------------------------------------------------

    def get_current_span_id(self) -> str | None:
        """Hex id of the innermost open span here, else that of :meth:`set_current_span_id`."""
        return super().get_current_span_id() or legacy_span_id.get()

    def set_current_span_id(self, span_id: str | None) -> contextvars.Token[str | None]:
        """Make ``span_id`` the parent of events recorded with ``_record_event`` here.

        It applies in this context while no aiobs span is open; returns a token for
        :meth:`reset_span_id`. For spans of your own, prefer :meth:`span`.
        """
        return legacy_span_id.set(span_id)

    def reset_span_id(self, token: contextvars.Token[str | None]) -> None:
        """Restore the span id that :meth:`set_current_span_id` replaced."""
        legacy_span_id.reset(token)

    # -- scores ------------------------------------------------------------------------------------

    def score(
        self,
        name: str,
        value: float | bool | str,
        *,
        span_id: str | None = None,
        session_id: str | None = None,
        comment: str | None = None,
        evaluator: str | None = None,
    ) -> str | None:
        """Attach a score (a finite number, a bool, or a category of at most 64 characters).

        It goes to ``span_id`` if given, else (without ``session_id``) to the innermost open span
        here (an ``@observe`` call or ``observer.span()`` block), else to the session itself.
        The session is ``session_id`` if given, else the current one. It is written with the
        session's next flush, on its span's event (``scores``), or on the session when that event
        was exported earlier. Returns the span id scored (``None`` for the session); with no
        session to score, logs a warning and returns ``None``.

        Example::

            with observer.span("answer"):
                reply = answer(question)
                observer.score("helpful", 0.8, comment="graded by the reviewer")

        Raises:
            ValueError: the name, value, span id or comment is invalid, or ``session_id`` is not
                a session this collector is recording (for a flushed file, use
                ``aiobs.evals.evaluate(path, ..., attach=True)``).
        """
        if span_id is None and session_id is None:
            span = span_var.get()
            span_id = f"{span[0]:016x}" if span is not None else legacy_span_id.get()
        score = make_score(name, value, span_id=span_id, comment=comment, evaluator=evaluator)
        session = self._scored_session(session_id)
        if session is None:
            logger.warning("aiobs: score %r not recorded: no session is current here", name)
            return None
        session.add_score(score)
        return span_id

    def _scored_session(self, session_id: str | None) -> RecordingSession | None:
        current = current_session()
        if session_id is None:
            return current if current is not None and current.buffer is self._buffer else None
        if current is not None and current.id == session_id and current.buffer is self._buffer:
            return current
        with self._buffer.lock:
            session = self._buffer.sessions.get(session_id)
        if session is None:
            raise ValueError(
                f"session_id {session_id!r} is not a session this collector is recording (it "
                "ended and was flushed, or never existed); to score a flushed file use "
                "aiobs.evals.evaluate(path, evaluators, attach=True)"
            )
        return session

    # -- sessions ----------------------------------------------------------------------------------

    def _new_session(self, name: str | None, labels: Mapping[str, str] | None) -> RecordingSession:
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Session name must be a string, got {type(name).__name__}")
        merged = label_rules.merge_labels(labels)
        if _threads.enabled:
            _threads.install()
        if self.settings.auto_instrument:
            with guard("instrumenting LLM SDKs"):
                provider_registry.install_available()
        session = RecordingSession(self._buffer, name, merged)
        self._buffer.register(session)
        if self._delivers_itself():
            self._delivery.offer_at_start()
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
        self._delivery.api_key = api_key or self._delivery.api_key
        if self.api_key:
            self._validate_api_key()
        session = self._new_session(session_name, labels)
        with self._buffer.lock:
            previous = default.session
            if previous is not None and previous.buffer is self._buffer:
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
        return SessionScope(self._new_session, name, labels)

    def end(self) -> None:
        """End the current session; ended sessions are exported by the next flush.

        When it is the default session, recording stops until the next :meth:`observe`.
        """
        session = current_session()
        if session is None:
            return
        session.end()
        with self._buffer.lock:
            if default.session is session:
                default.session = None

    @property
    def buffered_events(self) -> int:
        """Records waiting for the next flush, over all sessions."""
        return self._buffer.buffered_events()

    def pending(self) -> bool:
        """Whether a flush would export anything new."""
        return self._buffer.pending()

    # -- flush -------------------------------------------------------------------------------------

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
            self._delivery.submit(
                (path, include_trace_tree, exporter, persist), dict(exporter_kwargs)
            )
            return None
        outcome, exported = self._pipeline.flush(
            path, include_trace_tree, exporter, persist, exporter_kwargs
        )
        if exported is not None:  # after the flush: the network never holds one up
            self._deliver(exported)
        return outcome

    def _background_flush(self, *args: Any, **kwargs: Any) -> Any:
        """A flush run by the background thread: as asked, or to the last explicit destination."""
        if args or kwargs:
            return self.flush(*args, **kwargs)
        if self._pipeline.last_destination is not None:
            path, exporter, options = self._pipeline.last_destination
            return self.flush(path, exporter=exporter, **options)
        return self.flush()

    def wait_for_background_flushes(self, timeout: float | None = None) -> bool:
        """Wait until the background flushes asked for are done; ``False`` after ``timeout`` s.

        Also waits for the flush server deliveries they and earlier flushes started (not for
        retries planned later, after a failure: :meth:`deliver_pending` offers those at once).
        """
        return self._delivery.wait(timeout)

    # -- lifecycle ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget all sessions and data and restore default settings (for tests and notebooks)."""
        settings = Settings.from_env()
        self._delivery.reset(settings)  # first: a background flush must not run meanwhile
        with self._buffer.lock:
            if default.session is not None and default.session.buffer is self._buffer:
                default.session = None
        self._buffer.reset(settings)
        self._pipeline.reset()
        _threads.uninstall()
        _threads.enabled = propagate_to_threads_from_env()

    def _flush_at_exit(self) -> None:
        try:
            self._flush_left_at_exit()
        finally:  # then the flush server gets what waits, within exit_timeout
            self._delivery.finish(self.settings.exit_timeout)

    def _flush_left_at_exit(self) -> None:
        stopped, left = self._delivery.stop(self.settings.exit_timeout)
        if not stopped:
            logger.warning(
                "aiobs: a background flush was still running after %.1f s at exit",
                self.settings.exit_timeout,
            )
            return  # it holds the flush lock: flushing again here would wait for it
        for args, kwargs in left:  # flushes the program asked for: run them now
            with guard("flushing at exit"):
                self.flush(*args, **kwargs)
        if not self.settings.flush_at_exit or not self.pending():
            return
        with self._buffer.lock:
            for session in self._buffer.sessions.values():
                session.end()
        self._background_flush()

    def _after_fork_in_child(self) -> None:
        self._buffer.after_fork_in_child()
        self._pipeline.after_fork_in_child()
        self._delivery.after_fork_in_child()
        for session in self._buffer.sessions.values():
            session._after_fork_in_child()


_OWN_FLUSH_TO_SERVER = Collector._flush_to_server


def _as_document(export: ObservabilityExport) -> ExportDocument:
    """A 0.2 export model as the document the delivery spools."""
    return ExportDocument(data=export.model_dump(mode="json"))

"""Send export documents to an aiobs flush server over HTTP.

::

    from aiobs.exporters.remote import RemoteExporter
    observer.flush(exporter=RemoteExporter("https://flush.example.com", api_key))

Needs ``pip install 'aiobs[remote]'``. Every request carries ``Authorization: Bearer <key>``.
A document is posted gzipped to ``/v1/traces`` with an ``Idempotency-Key`` made from the hash of
its JSON, so every retry of it (by this exporter, or by a later flush that offers the same bytes
again) is stored and counted once. A document of more than ``max_events_per_upload`` events
(default 5,000, or ``AIOBS_MAX_EVENTS_PER_UPLOAD``) is sent as several uploads, each a valid
document with its own idempotency key (:func:`split_document`). After the uploads, the number of
sessions is reported to ``/v1/usage``. Connection errors, timeouts, 408, 425, 429 and 5xx answers
are retried with exponential backoff and jitter (a ``Retry-After`` in seconds or as an HTTP date
is honoured, up to a minute; any other value is ignored); a used-up quota, a refused key and other
client errors fail at once (``metadata["permanent"]`` marks the refusals of the document itself,
which no retry can change). The API key never appears in logs, results or exceptions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import email.utils
import gc
import gzip
import hashlib
import importlib
import json
import logging
import math
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pydantic_core

from .. import _env
from .._context import suppress_instrumentation
from .._env import API_KEY
from .._format import (
    DOC_ENH_PROMPT_TRACES,
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    DOC_VERSION,
    EVENT_SESSION_ID,
    FORMAT_VERSION,
    SESSION_ID,
)
from ._backoff import backoff_delay
from .base import BaseExporter, ExportError, ExportResult
from .document import GZIP_LEVEL, ExportDocument

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("aiobs")

_INSTALL_HINT = "the remote exporter needs requests: pip install 'aiobs[remote]'"
INVALID_KEY_MESSAGE = (
    "the flush server refused the API key (invalid or revoked): set a valid key with "
    f"{API_KEY} or observer.observe(api_key=...)"
)
"""Error text for a refused key (401/403); it never contains the key."""
MAX_RETRY_AFTER = 60.0
"""Longest ``Retry-After`` wait honoured, in seconds."""
DEFAULT_MAX_EVENTS_PER_UPLOAD = 5_000
"""Events per upload above which a document is split (``AIOBS_MAX_EVENTS_PER_UPLOAD``)."""
_SUCCESS = frozenset({200, 201, 202})
_TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})
_REFUSED_DOCUMENT = frozenset({400, 409, 413, 422})
"""Answers that refuse the document itself: sending it again cannot succeed."""
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_MESSAGE_LIMIT = 300


class InvalidAPIKeyError(ExportError):
    """The flush server refused the API key (HTTP 401)."""


@dataclasses.dataclass(frozen=True)
class RemoteUsage:
    """An API key's tier and trace quota, as the flush server reports them."""

    tier: str
    used: int
    limit: int
    remaining: int
    is_rate_limited: bool

    @classmethod
    def from_response(cls, body: Any) -> RemoteUsage:
        """Parse ``{"success": true, "usage": {...}}`` from ``/v1/usage``.

        Raises:
            ExportError: ``body`` is not a usage answer.
        """
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            raise ExportError(f"the flush server sent no usage object: {_short(body)}")
        try:
            parsed = cls(
                tier=_field(usage, "tier", str),
                used=_field(usage, "traces_used", int),
                limit=_field(usage, "traces_limit", int),
                remaining=_field(usage, "traces_remaining", int),
                is_rate_limited=_field(usage, "is_rate_limited", bool),
            )
        except (KeyError, TypeError) as exc:
            raise ExportError(f"the flush server sent a malformed usage object: {exc}") from exc
        return parsed


def _field(usage: dict[str, Any], name: str, kind: type[Any]) -> Any:
    """``usage[name]``, checked to be a ``kind`` (a bool is not taken for an int)."""
    if name not in usage:
        raise KeyError(f"missing {name!r}")
    value = usage[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{name!r} should be {kind.__name__}, got {value!r}")
    return value


class _RequestError(Exception):
    """A request that failed; ``transient`` says whether another attempt may help."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        metadata: dict[str, Any] | None = None,
        usage: RemoteUsage | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.metadata = metadata or {}
        self.usage = usage


def _import_requests() -> ModuleType:
    """The ``requests`` module, or an ImportError that says what to install."""
    try:
        return importlib.import_module("requests")
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def idempotency_key(payload: bytes) -> str:
    """The ``Idempotency-Key`` of a document's JSON bytes: the same for every retry of it."""
    return "aiobs-" + hashlib.sha256(payload).hexdigest()


class RemoteExporter(BaseExporter):
    """Uploads each export document to an aiobs flush server.

    Args:
        url: the server's base URL (``https://flush.example.com``); a trailing slash is ignored.
        api_key: the key sent as a bearer token.
        timeout: seconds allowed for each HTTP request.
        max_attempts: attempts per request, counting the first one.
        backoff: seconds before the second attempt; doubled (with jitter) for each next one.
        max_events_per_upload: a document with more events than this is sent as several
            uploads (default 5,000, or ``AIOBS_MAX_EVENTS_PER_UPLOAD``); keep it below the
            server's own limit.
        session: a ``requests.Session`` to send with (tests, proxies); one is made otherwise.

    Raises:
        ValueError: ``url`` is not http(s), ``api_key`` is empty, or a limit is not positive.
        ImportError: requests is not installed (and no ``session`` was given).
    """

    name = "remote"
    max_backoff: float = 30.0
    """Upper bound of the wait between two attempts (a ``Retry-After`` may ask for more)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_events_per_upload: int | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = _checked_url(url)
        if not api_key or not api_key.strip():
            raise ValueError(f"RemoteExporter needs an API key: set {API_KEY} or pass api_key=...")
        if timeout <= 0 or max_attempts < 1 or backoff < 0:
            raise ValueError("timeout must be positive, max_attempts at least 1, backoff >= 0")
        if max_events_per_upload is None:
            max_events_per_upload = _max_events_from_env()
        elif type(max_events_per_upload) is not int or max_events_per_upload < 1:
            raise ValueError(
                "max_events_per_upload must be a positive number of events, got "
                f"{max_events_per_upload!r}"
            )
        self._api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_events_per_upload = max_events_per_upload
        if session is None:
            session = _import_requests().Session()
        self._session: requests.Session = session

    def __repr__(self) -> str:
        return f"RemoteExporter(url={self.url!r})"

    # -- export ---------------------------------------------------------------------------------

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Upload ``document`` and report its sessions; on failure the result says what to fix."""
        return self.send(document)

    def send(
        self,
        document: ExportDocument,
        *,
        deadline: float | None = None,
        stop: threading.Event | None = None,
    ) -> ExportResult:
        """Upload ``document`` (in parts when it is large), then report its sessions.

        The parts go in order; the result fails at the first part that fails (the parts before
        it are stored, and sending the document again stores them once). ``deadline`` (a
        :func:`time.monotonic` value) and ``stop`` end the retries early: no request is started
        after either, and none lasts past the deadline.
        """
        parts = split_document(document, self.max_events_per_upload)
        destination = f"{self.url}/v1/traces"
        keys: list[str] = []
        attempts = 0
        written = 0
        response: requests.Response | None = None
        with suppress_instrumentation():
            for part in parts:
                payload = part.to_json()
                key = idempotency_key(payload)
                try:
                    response, tries, size = self._upload(payload, key, deadline, stop)
                except _RequestError as exc:
                    metadata: dict[str, Any] = {
                        "idempotency_key": key,
                        **exc.metadata,
                        "transient": exc.transient,
                    }
                    if len(parts) > 1:
                        metadata |= {"parts": len(parts), "parts_stored": len(keys)}
                    return ExportResult(
                        False,
                        destination=destination,
                        metadata=metadata,
                        error=self._scrub(str(exc)),
                    )
                keys.append(key)
                attempts += tries
                written += size
            metadata = {"idempotency_key": keys[0], "attempts": attempts}
            if len(parts) > 1:
                metadata |= {"parts": len(parts), "idempotency_keys": keys}
            metadata["response"] = None if response is None else self._body(response)
            metadata.update(self._report_usage(len(document.session_ids), deadline))
        return ExportResult(True, destination=destination, bytes_written=written, metadata=metadata)

    def _upload(
        self, payload: bytes, key: str, deadline: float | None, stop: threading.Event | None
    ) -> tuple[requests.Response, int, int]:
        """POST one document; return the answer, the attempts made and the bytes sent."""
        body = gzip.compress(payload, GZIP_LEVEL, mtime=0)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": key,
        }
        response, attempts = self._request(
            "POST", "/v1/traces", deadline=deadline, stop=stop, data=body, headers=headers
        )
        return response, attempts, len(body)

    def _report_usage(self, trace_count: int, deadline: float | None = None) -> dict[str, Any]:
        """Tell the server how many sessions were stored; failures are logged, not raised.

        Sent once, without retries: the report carries no idempotency key, and a retry of a
        report the server counted but whose answer was lost would count the sessions twice.
        """
        timeout = self.timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                return {"usage_report_error": "no time left to report the usage"}
        try:
            response = self._once(
                "POST", "/v1/usage", timeout=timeout, json={"trace_count": trace_count}
            )
            return {"usage": RemoteUsage.from_response(self._body(response))}
        except _RequestError as exc:
            if exc.usage is not None:  # counted; the quota is now used up
                return {"usage": exc.usage}
            reason = self._scrub(str(exc))
            logger.warning("aiobs: the upload was stored but its usage report failed: %s", reason)
            return {"usage_report_error": reason}
        except ExportError as exc:
            reason = self._scrub(str(exc))
            logger.warning("aiobs: the upload was stored but its usage report failed: %s", reason)
            return {"usage_report_error": reason}

    # -- usage ----------------------------------------------------------------------------------

    def usage(self) -> RemoteUsage:
        """The key's tier and trace quota.

        Raises:
            InvalidAPIKeyError: the server refused the key.
            ExportError: the server could not be reached or sent a malformed answer.
        """
        with suppress_instrumentation():
            try:
                response, _ = self._request("GET", "/v1/usage")
            except _RequestError as exc:
                if exc.usage is not None:
                    return exc.usage
                message = self._scrub(str(exc))
                if exc.metadata.get("invalid_key"):
                    raise InvalidAPIKeyError(message) from None
                raise ExportError(message) from None
        return RemoteUsage.from_response(self._body(response))

    # -- HTTP -----------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        deadline: float | None = None,
        stop: threading.Event | None = None,
        **kwargs: Any,
    ) -> tuple[requests.Response, int]:
        """Send, retrying transient failures; return the answer and the attempts made."""
        for attempt in range(1, self.max_attempts + 1):
            timeout = self.timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise _RequestError(
                        "no time left to send", transient=True, metadata=_cut_short(attempt - 1)
                    )
            try:
                return self._once(method, path, timeout=timeout, **kwargs), attempt
            except _RequestError as exc:
                if not exc.transient:
                    raise
                if attempt == self.max_attempts:
                    raise _RequestError(
                        f"{exc} (gave up after {attempt} attempts)",
                        transient=True,
                        metadata={**exc.metadata, "attempts": attempt},
                    ) from None
                delay = self._delay(attempt, exc.retry_after)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise _RequestError(
                        f"{exc} (no time left for another attempt)",
                        transient=True,
                        metadata={**exc.metadata, **_cut_short(attempt)},
                    ) from None
                logger.info(
                    "aiobs: %s %s attempt %d failed (%s); retrying in %.2fs",
                    method,
                    path,
                    attempt,
                    self._scrub(str(exc)),
                    delay,
                )
                if stop is None:
                    time.sleep(delay)
                elif stop.wait(delay):
                    raise _RequestError(
                        f"{exc} (delivery stopped)",
                        transient=True,
                        metadata={**exc.metadata, **_cut_short(attempt)},
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt ``attempt``: the server's word, else backoff."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        return backoff_delay(attempt, self.backoff, self.max_backoff)

    def _once(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> requests.Response:
        """One request; a failure becomes :class:`_RequestError`."""
        requests_module = _import_requests()
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self._api_key}"}
        timeout = self.timeout if timeout is None else timeout
        try:
            response = self._session.request(
                method, self.url + path, headers=headers, timeout=timeout, **kwargs
            )
        except requests_module.Timeout as exc:
            raise _RequestError(f"no answer within {timeout:.3g}s", transient=True) from exc
        except requests_module.ConnectionError as exc:
            message = f"cannot reach the flush server at {self.url}: {type(exc).__name__}"
            raise _RequestError(message, transient=True) from exc
        except requests_module.RequestException as exc:
            raise _RequestError(f"request failed: {type(exc).__name__}", transient=False) from exc
        if response.status_code in _SUCCESS:
            return response
        raise self._refusal(response)

    def _refusal(self, response: requests.Response) -> _RequestError:
        """What a non-success answer means, and whether another attempt may help."""
        status = response.status_code
        meta: dict[str, Any] = {"status": status}
        if status in (401, 403):
            return _RequestError(
                INVALID_KEY_MESSAGE, transient=False, metadata={**meta, "invalid_key": True}
            )
        if status == 413:
            return _RequestError(
                f"the document is too large for the flush server (HTTP 413: "
                f"{self._server_message(response)}): lower max_events_per_upload "
                "(AIOBS_MAX_EVENTS_PER_UPLOAD) or flush more often so that each document is "
                "smaller",
                transient=False,
                metadata={**meta, "permanent": True},
            )
        if status == 429:
            quota = _quota_exhausted(self._body(response))
            if quota is not None:
                return _RequestError(
                    f"the API key's trace quota is used up ({quota.used} of {quota.limit}, "
                    f"tier {quota.tier}): nothing more is accepted until it is renewed",
                    transient=False,
                    metadata={**meta, "quota_exhausted": True},
                    usage=quota,
                )
        message = f"HTTP {status} from the flush server: {self._server_message(response)}"
        transient = status in _TRANSIENT or status >= 500
        if status in _REFUSED_DOCUMENT:
            meta["permanent"] = True
        return _RequestError(
            message, transient=transient, retry_after=_retry_after(response), metadata=meta
        )

    def _body(self, response: requests.Response) -> Any:
        """The answer's JSON, else its text (scrubbed and shortened)."""
        try:
            return response.json()
        except ValueError:
            return self._scrub(response.text[:_MESSAGE_LIMIT])

    def _server_message(self, response: requests.Response) -> str:
        """The server's own explanation, from its JSON ``error``/``message``/``detail``."""
        body = self._body(response)
        if isinstance(body, dict):
            for field in ("error", "message", "detail"):
                if isinstance(body.get(field), str):
                    return self._scrub(body[field][:_MESSAGE_LIMIT])
        return self._scrub(_short(body)) or response.reason or "no message"

    def _scrub(self, text: str) -> str:
        """``text`` with the API key masked, should a server or library ever echo it."""
        return text.replace(self._api_key, "***")

    def shutdown(self) -> None:
        """Close the HTTP session's connections."""
        self._session.close()


def split_document(document: ExportDocument, max_events: int) -> list[ExportDocument]:
    """``document`` as uploads of at most ``max_events`` events each (itself, when it fits).

    Each part is a valid document: its events and the sessions they belong to. A session's
    events stay together and in order; a session whose events do not fit in one part appears
    in each part that holds some of them (the server merges uploads of a session). Sessions
    without events go in the first part. Parts carry no trace tree (the server builds it from
    the events). The parts depend only on the document's bytes: splitting it again gives the
    same parts, with the same idempotency keys.
    """
    if document.event_count <= max_events:
        return [document]
    with _collection_paused():  # the parse makes many containers, none of them cyclic
        return _split(_parsed(document), max_events)


def _split(data: dict[str, Any], max_events: int) -> list[ExportDocument]:
    """The parts of a parsed document (see :func:`split_document`)."""
    sessions: list[Any] = list(data.get(DOC_SESSIONS) or [])
    position: dict[Any, int] = {}
    for index, session in enumerate(sessions):
        position.setdefault(session.get(SESSION_ID), index)
    only = sessions[0].get(SESSION_ID) if len(sessions) == 1 else None
    unowned = len(sessions)  # events naming no session of the document go last
    items: list[tuple[int, str, Any]] = []
    for kind in (DOC_EVENTS, DOC_FUNCTION_EVENTS):
        for event in data.get(kind) or []:
            owner = (event.get(EVENT_SESSION_ID) if isinstance(event, dict) else None) or only
            items.append((position.get(owner, unowned), kind, event))
    items.sort(key=lambda item: item[0])  # stable: each session's events keep their order
    chunks = [items[start : start + max_events] for start in range(0, len(items), max_events)]
    owners = [{owner for owner, _, _ in chunk if owner != unowned} for chunk in chunks]
    owners[0] |= set(range(len(sessions))) - set().union(*owners)
    parts = []
    for chunk, held in zip(chunks, owners, strict=True):
        part: dict[str, Any] = {
            DOC_SESSIONS: [sessions[index] for index in sorted(held)],
            DOC_EVENTS: [event for _, kind, event in chunk if kind == DOC_EVENTS],
            DOC_FUNCTION_EVENTS: [event for _, kind, event in chunk if kind == DOC_FUNCTION_EVENTS],
            DOC_TRACE_TREE: None,
            DOC_ENH_PROMPT_TRACES: None,
            DOC_GENERATED_AT: data.get(DOC_GENERATED_AT),
            DOC_VERSION: data.get(DOC_VERSION, FORMAT_VERSION),
        }
        parts.append(ExportDocument(data=part))
    return parts


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, which would otherwise run again and again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parsed(document: ExportDocument) -> dict[str, Any]:
    """The document's data, parsed with pydantic-core (about twice as fast as ``json``)."""
    payload = document.to_json()
    try:
        data = pydantic_core.from_json(payload, cache_strings="keys")
    except ValueError:  # what pydantic-core refuses (a lone surrogate escape), json takes
        data = json.loads(payload)
    if not isinstance(data, dict):
        raise ExportError("not an aiobs export document: not a JSON object")
    return data


def _cut_short(attempts: int) -> dict[str, Any]:
    """Metadata of an upload ended early by a deadline or a stop, not by the server."""
    return {"attempts": attempts, "interrupted": True}


def _max_events_from_env() -> int:
    """``AIOBS_MAX_EVENTS_PER_UPLOAD``, else the default (a bad value is logged and ignored)."""
    name = _env.MAX_EVENTS_PER_UPLOAD
    try:
        return _env.get_positive_int(name, DEFAULT_MAX_EVENTS_PER_UPLOAD)
    except ValueError as exc:
        logger.error("aiobs: ignoring %s (%s); using %d", name, exc, DEFAULT_MAX_EVENTS_PER_UPLOAD)
        return DEFAULT_MAX_EVENTS_PER_UPLOAD


def _checked_url(url: str) -> str:
    """``url`` without its trailing slash; ValueError unless it is an http(s) URL."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"RemoteExporter url must be an http(s) URL such as https://flush.example.com, "
            f"got {url!r}"
        )
    return url.rstrip("/")


def _quota_exhausted(body: Any) -> RemoteUsage | None:
    """The usage in a 429 body when it says the quota is used up (not a passing rate limit)."""
    try:
        usage = RemoteUsage.from_response(body)
    except ExportError:
        return None
    return usage if usage.is_rate_limited else None


def _retry_after(response: requests.Response) -> float | None:
    """The ``Retry-After`` header in seconds (see :func:`parse_retry_after`), if any."""
    value = response.headers.get("Retry-After")
    return None if value is None else parse_retry_after(value)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """A ``Retry-After`` value in seconds: a number of seconds, or an HTTP date (RFC 9110).

    Anything else is ``None`` (and the usual backoff applies): negative or non-finite numbers
    (``-1``, ``nan``, ``inf``, ``1e999``), text, a date that cannot be read. A date in the past
    means at once. ``now`` is the current time (``time.time()`` when not given).
    """
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is in GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    try:
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (OverflowError, OSError, ValueError):
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _short(value: Any) -> str:
    """``value`` as short text, for messages."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MESSAGE_LIMIT]

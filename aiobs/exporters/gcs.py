"""Upload export documents to a Google Cloud Storage bucket as JSON objects, as aiobs 0.2 did.

Each export becomes the object ``<prefix><filename>``; the file name comes from a template
(``{session_id}.json`` by default), or from the ``filename`` option of ``flush()``::

    from aiobs.exporters import GCSExporter
    exporter = GCSExporter("my-bucket", prefix="traces/", project="my-project")
    observer.flush(exporter=exporter)                      # traces/<session id>.json
    observer.flush(exporter=exporter, filename="run.json", metadata={"team": "search"})

or, configured from the environment (``AIOBS_GCS_BUCKET`` and friends)::

    observer.flush(exporter=GCSExporter.from_env())

Needs ``pip install 'aiobs[gcs]'``. The storage client is made at the first export, from a
service-account file when one is given, else from application default credentials. A failed
export raises :class:`ExportError` (``"Failed to export to GCS: ..."``, followed here by what to
check), and ``flush()`` keeps the data for the next flush. Added to 0.2: transient errors (429,
5xx, connection errors, timeouts) are retried with exponential backoff and jitter; and when an
exporter writes a session again to an object it wrote before (a later flush of a session that
is still recording, with the default template), the object is read and the two documents
merged, so that it keeps the whole session.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import string
import threading
import time
import uuid
from typing import Any

import pydantic_core

from .._context import suppress_instrumentation
from .._format import (
    DOC_EVENTS,
    DOC_FUNCTION_EVENTS,
    DOC_GENERATED_AT,
    DOC_SESSIONS,
    DOC_TRACE_TREE,
    SESSION_ID,
)
from ..models import ObservabilityExport
from ._backoff import backoff_delay
from .base import (
    BaseExporter,
    ExportError,
    ExportResult,
    document_of,
    validates,
    wants_documents,
    wants_models,
)
from .document import ExportDocument, assemble

logger = logging.getLogger("aiobs")

ENV_BUCKET = "AIOBS_GCS_BUCKET"
"""Bucket to upload to (required by :meth:`GCSExporter.from_env`)."""
ENV_PREFIX = "AIOBS_GCS_PREFIX"
"""Folder (object name prefix) inside the bucket."""
ENV_PROJECT = "AIOBS_GCS_PROJECT"
"""Google Cloud project of the storage client."""
ENV_CREDENTIALS = "GOOGLE_APPLICATION_CREDENTIALS"
"""Path of a service-account JSON key file."""

PLACEHOLDERS = ("session_id", "timestamp", "date", "pid", "uuid")
"""Names a ``filename_template`` may use (``pid`` and ``uuid`` are additions to aiobs 0.2)."""

NO_SESSION = "unknown"
"""``{session_id}`` of a document without sessions."""

_MISSING_LIBRARY = (
    "google-cloud-storage is required for GCSExporter. Install it with: "
    "pip install google-cloud-storage (or pip install 'aiobs[gcs]')"
)
_TRANSIENT_STATUS = frozenset({408, 412, 429, 500, 502, 503, 504})
_PERMANENT_HINTS = {
    400: "the request was rejected: check the bucket and object names (prefix, filename template)",
    401: "not authenticated: check the credentials (credentials_path or "
    "GOOGLE_APPLICATION_CREDENTIALS, or application default credentials)",
    403: "permission denied: check that the credentials may create objects in the bucket "
    "(roles/storage.objectCreator) and that the project is right",
    404: "bucket not found: check the bucket name and that it exists",
}


def _failure(cause: BaseException, hint: str) -> str:
    """The message of aiobs 0.2, then what to check."""
    return f"Failed to export to GCS: {cause} ({hint})"


class _UploadError(Exception):
    """An upload attempt that failed; ``transient`` says whether another attempt may help."""

    def __init__(self, cause: BaseException, hint: str, *, transient: bool) -> None:
        super().__init__(_failure(cause, hint))
        self.cause = cause
        self.hint = hint
        self.transient = transient


class MissingSettingError(ExportError, ValueError):
    """A setting :meth:`GCSExporter.from_env` needs is not in the environment.

    An :class:`ExportError`, as aiobs 0.2 raised, and a ``ValueError``.
    """


class GCSExporter(BaseExporter):
    """Uploads each export document to ``gs://<bucket>/<prefix><filename>``.

    Args:
        bucket: name of an existing bucket.
        prefix: folder inside the bucket; a ``/`` is added when missing (``"traces"`` becomes
            ``"traces/"``), nothing else is changed. Empty for the top.
        project: Google Cloud project of the client; the credentials' own project by default.
        credentials_path: service-account JSON key file; application default credentials when
            not given (or empty).
        filename_template: object file name; may use ``{session_id}`` (the document's first
            session, ``unknown`` if none), ``{timestamp}`` (Unix seconds), ``{date}``
            (``2026-11-23``, local time), ``{pid}`` and ``{uuid}`` (random, so that uploads
            never replace each other).
        content_type: the objects' ``Content-Type``.
        client: a ready ``google.cloud.storage.Client`` (tests, custom endpoints).
        max_attempts: attempts per upload, counting the first one.
        timeout: seconds allowed for each HTTP request.
        indent: JSON indentation of the objects; compact by default.

    Raises:
        ValueError: the bucket name is empty, ``filename_template`` uses an unknown placeholder,
            or a limit is not positive.
    """

    name: str = "gcs"
    initial_backoff: float = 0.5
    """Seconds before the second attempt; doubled (with jitter) for each following one."""
    max_backoff: float = 30.0
    """Upper bound of the wait between two attempts."""

    def __init__(  # noqa: PLR0917 - positional as in aiobs 0.2
        self,
        bucket: str,
        prefix: str = "",
        project: str | None = None,
        credentials_path: str | os.PathLike[str] | None = None,
        filename_template: str = "{session_id}.json",
        content_type: str = "application/json",
        *,
        client: Any = None,
        max_attempts: int = 5,
        timeout: float = 60.0,
        indent: int | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("GCSExporter needs a bucket name")
        if max_attempts < 1 or timeout <= 0:
            raise ValueError("max_attempts must be at least 1 and timeout positive")
        _check_template(filename_template)
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.project = project
        self.credentials_path = None if credentials_path is None else os.fspath(credentials_path)
        self.filename_template = filename_template
        self.content_type = content_type
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.indent = indent
        self._client = client
        self._written: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(
        cls,
        bucket_env: str = ENV_BUCKET,
        prefix_env: str = ENV_PREFIX,
        project_env: str = ENV_PROJECT,
        credentials_env: str = ENV_CREDENTIALS,
        **overrides: Any,
    ) -> GCSExporter:
        """An exporter configured from the environment variables named by the arguments.

        ``overrides`` (any argument of :class:`GCSExporter`, ``bucket`` included) take
        precedence over the environment.

        Raises:
            MissingSettingError: no bucket: the variable ``bucket_env`` is not set (an
                :class:`ExportError` and a ``ValueError``).
        """
        bucket = overrides.pop("bucket", None) or os.getenv(bucket_env)
        if not bucket:
            raise MissingSettingError(f"Environment variable {bucket_env} is required")
        settings: dict[str, Any] = {
            "prefix": os.getenv(prefix_env, ""),
            "project": os.getenv(project_env),
            "credentials_path": os.getenv(credentials_env),
            **overrides,
        }
        return cls(bucket, **settings)

    def __repr__(self) -> str:
        return f"GCSExporter(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_name(self, document: ExportDocument, filename: str | None = None) -> str:
        """The object name for ``document``: the prefix and ``filename`` or the template."""
        return f"{self.prefix}{filename or self._filename(document)}"

    def _filename(self, document: ExportDocument) -> str:
        if type(self)._generate_filename is not GCSExporter._generate_filename:
            return self._generate_filename(document.model())  # a 0.2 subclass names objects
        return self._fill_template(document.session_ids[0] if document.session_ids else None)

    def _generate_filename(self, data: ObservabilityExport) -> str:
        """The file name for ``data`` (aiobs 0.2's hook; subclasses may override it)."""
        return self._fill_template(data.sessions[0].id if data.sessions else None)

    def _fill_template(self, session_id: str | None) -> str:
        return self.filename_template.format(
            session_id=session_id or NO_SESSION,
            timestamp=int(time.time()),
            date=time.strftime("%Y-%m-%d"),
            pid=os.getpid(),
            uuid=uuid.uuid4().hex,
        )

    def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
        """Upload ``data``; options ``filename`` (instead of the template) and ``metadata``.

        Raises:
            ExportError: the upload failed (``cause`` is the underlying error).
        """
        if wants_documents(self, GCSExporter):
            return self.export_document(document_of(data), **kwargs)
        self.validate(data)
        return self._upload(document_of(data), kwargs)

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        """Upload ``document``; the options of :meth:`export`."""
        if wants_models(self, GCSExporter):
            return self.export(document.model(), **kwargs)
        if validates(self):
            self.validate(document.model())
        return self._upload(document, kwargs)

    def _upload(self, document: ExportDocument, options: dict[str, Any]) -> ExportResult:
        name = self.object_name(document, options.get("filename"))
        metadata = options.get("metadata") or None
        with suppress_instrumentation():
            client = self._get_client()
            try:
                payload, generation, attempts = self._upload_with_retries(
                    client, name, document, metadata
                )
            except _UploadError as exc:
                raise ExportError(str(exc), cause=exc.cause) from exc.cause
        data = document.data
        return ExportResult(
            success=True,
            destination=f"gs://{self.bucket}/{name}",
            bytes_written=len(payload),
            metadata={
                "bucket": self.bucket,
                "blob_path": name,
                "content_type": self.content_type,
                "sessions_count": len(data[DOC_SESSIONS]),
                "events_count": len(data[DOC_EVENTS]),
                "function_events_count": len(data[DOC_FUNCTION_EVENTS]),
                "object": name,
                "generation": generation,
                "attempts": attempts,
            },
        )

    def _upload_with_retries(
        self, client: Any, name: str, document: ExportDocument, metadata: dict[str, Any] | None
    ) -> tuple[bytes, int | None, int]:
        """Upload, retrying transient failures; return the payload, generation and attempts."""
        sessions = frozenset(document.session_ids)
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self._lock:
                    merge = bool(sessions & self._written.get(name, frozenset()))
                payload, generation = self._upload_once(client, name, document, metadata, merge)
            except _UploadError as exc:  # noqa: PERF203 - a retry loop catches by design
                if not exc.transient:
                    raise
                if attempt == self.max_attempts:
                    raise _UploadError(
                        exc.cause, f"{exc.hint}; gave up after {attempt} attempts", transient=True
                    ) from exc.cause
                delay = backoff_delay(attempt, self.initial_backoff, self.max_backoff)
                logger.info(
                    "aiobs: GCS upload attempt %d failed (%s); retrying in %.2fs",
                    attempt,
                    exc,
                    delay,
                )
                time.sleep(delay)
            else:
                with self._lock:
                    self._written[name] = self._written.get(name, frozenset()) | sessions
                return payload, generation, attempt
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _upload_once(
        self,
        client: Any,
        name: str,
        document: ExportDocument,
        metadata: dict[str, Any] | None,
        merge: bool,
    ) -> tuple[bytes, int | None]:
        """One attempt; failures become :class:`_UploadError`."""
        try:
            bucket = client.bucket(self.bucket)
            blob = bucket.blob(name)
            precondition: dict[str, Any] = {}
            if merge:
                document, precondition = self._merged_with_stored(bucket, name, document)
            payload = document.to_json(indent=self.indent)
            if metadata:
                blob.metadata = metadata
            # retry=None: the retries are ours, counted and bounded by max_attempts.
            blob.upload_from_string(
                payload,
                content_type=self.content_type,
                timeout=self.timeout,
                retry=None,
                **precondition,
            )
        except Exception as exc:
            raise _classify(exc) from exc
        generation = blob.generation
        return payload, None if generation is None else int(generation)

    def _merged_with_stored(
        self, bucket: Any, name: str, document: ExportDocument
    ) -> tuple[ExportDocument, dict[str, Any]]:
        """``document`` merged with the object this exporter wrote there before.

        The upload is made conditional on the object's generation when the server reports it,
        so that a concurrent writer makes the attempt fail (and retry) rather than be lost.
        """
        stored = bucket.get_blob(name, timeout=self.timeout, retry=None)
        if stored is None:
            return document, {"if_generation_match": 0}
        precondition = (
            {} if stored.generation is None else {"if_generation_match": stored.generation}
        )
        try:
            existing = pydantic_core.from_json(
                stored.download_as_bytes(timeout=self.timeout, retry=None)
            )
        except ValueError:
            logger.warning("aiobs: gs://%s/%s is not an aiobs export; replaced", self.bucket, name)
            return document, precondition
        return merged(existing, document), precondition

    def _get_client(self) -> Any:
        """The storage client, made on first use (constructing the exporter stays offline).

        Raises:
            ExportError: google-cloud-storage is missing, or no client can be made from the
                credentials.
        """
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        try:
            # By name: the package ships no type information for the strict type check.
            storage = importlib.import_module("google.cloud.storage")
        except ImportError as exc:
            raise ExportError(_MISSING_LIBRARY, cause=exc) from exc
        from google.auth.exceptions import DefaultCredentialsError

        try:
            if self.credentials_path:
                return storage.Client.from_service_account_json(
                    self.credentials_path, project=self.project
                )
            return storage.Client(project=self.project)
        except (OSError, ValueError, DefaultCredentialsError) as exc:
            message = _failure(exc, _credentials_hint(self.credentials_path))
            raise ExportError(message, cause=exc) from exc

    def shutdown(self) -> None:
        """Close the client's HTTP session, if a client was made."""
        if self._client is not None:
            self._client.close()


def merged(existing: Any, document: ExportDocument) -> ExportDocument:
    """An aiobs document already stored, with ``document`` added (sessions by id, events after)."""
    if not isinstance(existing, dict) or DOC_SESSIONS not in existing:
        return document
    new = document.data
    sessions = {s[SESSION_ID]: s for s in existing.get(DOC_SESSIONS) or []}
    sessions.update({s[SESSION_ID]: s for s in new[DOC_SESSIONS]})
    return assemble(
        list(sessions.values()),
        [*(existing.get(DOC_EVENTS) or []), *new[DOC_EVENTS]],
        [*(existing.get(DOC_FUNCTION_EVENTS) or []), *new[DOC_FUNCTION_EVENTS]],
        include_trace_tree=new[DOC_TRACE_TREE] is not None,
        generated_at=new[DOC_GENERATED_AT],
    )


def _check_template(template: str) -> None:
    """Raise ValueError when ``template`` uses a placeholder outside :data:`PLACEHOLDERS`."""
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template)]
    except ValueError as exc:
        raise ValueError(f"invalid filename_template {template!r}: {exc}") from exc
    for field in fields:
        # The name before any attribute or index: "{session_id[:8]}" uses session_id.
        if field is not None and re.match(r"\w*", field).group() not in PLACEHOLDERS:  # type: ignore[union-attr]
            raise ValueError(
                f"unknown placeholder {{{field}}} in filename_template {template!r}; "
                f"allowed: {allowed}"
            )


def _credentials_hint(path: str | None) -> str:
    """What to fix when no storage client can be made (never includes the credentials)."""
    if path:
        return (
            f"cannot use the service-account file {path}: check that it exists and is a JSON "
            f"key (credentials_path / {ENV_CREDENTIALS})"
        )
    return (
        f"no Google credentials: set {ENV_CREDENTIALS} or credentials_path, or run "
        "`gcloud auth application-default login`; set the project with "
        f"{ENV_PROJECT} or project= if it cannot be inferred"
    )


def _classify(exc: Exception) -> _UploadError:
    """A failed attempt as transient (retry) or permanent (report what to check)."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    if isinstance(exc, api.GoogleAPICallError):
        status = exc.code if isinstance(exc.code, int) else 0
        if status in _TRANSIENT_STATUS:
            return _UploadError(exc, f"HTTP {status}, may pass on retry", transient=True)
        return _UploadError(exc, _PERMANENT_HINTS.get(status, "check the request"), transient=False)
    if isinstance(
        exc,
        (
            requests.ConnectionError,
            requests.Timeout,
            auth.TransportError,
            ConnectionError,
            TimeoutError,
        ),
    ):
        return _UploadError(exc, "cannot reach GCS", transient=True)
    if isinstance(exc, auth.RefreshError):
        return _UploadError(
            exc, f"GCS credentials were refused: {_PERMANENT_HINTS[401]}", transient=False
        )
    return _UploadError(exc, f"{type(exc).__name__}", transient=False)

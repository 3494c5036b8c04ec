"""Upload export documents to a Google Cloud Storage bucket as JSON objects.

Each flush becomes one object ``<prefix>/<filename>``; the file name comes from a template::

    from aiobs.exporters.gcs import GCSExporter
    exporter = GCSExporter("my-bucket", prefix="traces", filename_template="{date}/{uuid}.json")
    observer.flush(exporter=exporter)

or, configured from the environment (``AIOBS_GCS_BUCKET`` and friends)::

    observer.flush(exporter=GCSExporter.from_env())

Needs ``pip install 'aiobs[gcs]'``. The storage client is made at the first export, from a
service-account file when one is given, else from application default credentials. Transient
errors (429, 5xx, connection errors, timeouts) are retried with exponential backoff and jitter;
permanent ones (bad request, credentials, permissions, missing bucket) fail at once, and the
collector keeps the data for the next flush.
"""

from __future__ import annotations

import datetime
import importlib
import logging
import os
import string
import time
import uuid
from typing import TYPE_CHECKING, Any

from .._context import suppress_instrumentation
from ._backoff import backoff_delay
from .base import BaseExporter, ExportError, ExportResult

if TYPE_CHECKING:
    from .document import ExportDocument

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
"""Names a ``filename_template`` may use."""

_INSTALL_HINT = "the GCS exporter needs google-cloud-storage: pip install 'aiobs[gcs]'"
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_PERMANENT_HINTS = {
    400: "the request was rejected: check the bucket and object names (prefix, filename template)",
    401: "not authenticated: check the credentials (credentials_path or "
    "GOOGLE_APPLICATION_CREDENTIALS, or application default credentials)",
    403: "permission denied: check that the credentials may create objects in the bucket "
    "(roles/storage.objectCreator) and that the project is right",
    404: "bucket not found: check the bucket name and that it exists",
}


def _import_storage() -> Any:
    """The ``google.cloud.storage`` module, or an ImportError that says what to install."""
    try:
        # By name: the package ships no type information for the strict type check.
        return importlib.import_module("google.cloud.storage")
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def _check_template(template: str) -> None:
    """Raise ValueError when ``template`` uses a placeholder outside :data:`PLACEHOLDERS`."""
    allowed = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(template)]
    except ValueError as exc:
        raise ValueError(f"invalid filename_template {template!r}: {exc}") from exc
    for field in fields:
        if field is not None and field not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{field}}} in filename_template {template!r}; "
                f"allowed: {allowed}"
            )


class _UploadError(Exception):
    """An upload attempt that failed; ``transient`` says whether another attempt may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class GCSExporter(BaseExporter):
    """Uploads each export document to ``gs://<bucket>/<prefix>/<filename>``.

    Args:
        bucket: name of an existing bucket.
        prefix: folder inside the bucket (``"traces"`` or ``"traces/"``); empty for the top.
        project: Google Cloud project of the client; the credentials' own project by default.
        credentials_path: service-account JSON key file; application default credentials when
            ``None``.
        filename_template: object file name; may use ``{session_id}`` (the document's first
            session), ``{timestamp}`` (UTC, ``20261123T224501Z``), ``{date}`` (``2026-11-23``),
            ``{pid}`` and ``{uuid}`` (random: two uploads never overwrite each other). The
            default keeps one object per flush, so later flushes of a session never replace
            earlier ones.
        client: a ready ``google.cloud.storage.Client`` (tests, custom endpoints).
        max_attempts: attempts per upload, counting the first one.
        timeout: seconds allowed for each HTTP request.

    Raises:
        ValueError: ``filename_template`` uses an unknown placeholder, or a limit is not positive.
        ImportError: google-cloud-storage is not installed (and no ``client`` was given).
    """

    name = "gcs"
    initial_backoff: float = 0.5
    """Seconds before the second attempt; doubled (with jitter) for each following one."""
    max_backoff: float = 30.0
    """Upper bound of the wait between two attempts."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        project: str | None = None,
        credentials_path: str | os.PathLike[str] | None = None,
        filename_template: str = "{session_id}-{timestamp}-{uuid}.json",
        client: Any = None,
        max_attempts: int = 5,
        timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ValueError("GCSExporter needs a bucket name")
        if max_attempts < 1 or timeout <= 0:
            raise ValueError("max_attempts must be at least 1 and timeout positive")
        _check_template(filename_template)
        if client is None:
            _import_storage()
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.project = project
        self.credentials_path = None if credentials_path is None else os.fspath(credentials_path)
        self.filename_template = filename_template
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._client = client

    @classmethod
    def from_env(cls, **kwargs: Any) -> GCSExporter:
        """An exporter configured from the environment; ``kwargs`` override it.

        Reads ``AIOBS_GCS_BUCKET`` (required), ``AIOBS_GCS_PREFIX``, ``AIOBS_GCS_PROJECT`` and
        ``GOOGLE_APPLICATION_CREDENTIALS``.

        Raises:
            ValueError: ``AIOBS_GCS_BUCKET`` is not set.
        """
        bucket = kwargs.pop("bucket", None) or os.environ.get(ENV_BUCKET)
        if not bucket:
            raise ValueError(f"{ENV_BUCKET} is not set: set it to the name of the bucket to use")
        settings: dict[str, Any] = {
            "prefix": os.environ.get(ENV_PREFIX, ""),
            "project": os.environ.get(ENV_PROJECT) or None,
            "credentials_path": os.environ.get(ENV_CREDENTIALS) or None,
        }
        settings.update(kwargs)
        return cls(bucket, **settings)

    def __repr__(self) -> str:
        return f"GCSExporter(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_name(self, document: ExportDocument) -> str:
        """The object name for ``document``: the prefix and the filled-in template."""
        now = datetime.datetime.now(datetime.timezone.utc)
        filename = self.filename_template.format(
            session_id=document.session_ids[0] if document.session_ids else "no-session",
            timestamp=now.strftime("%Y%m%dT%H%M%SZ"),
            date=now.strftime("%Y-%m-%d"),
            pid=os.getpid(),
            uuid=uuid.uuid4().hex,
        )
        return f"{self.prefix}/{filename}" if self.prefix else filename

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:  # noqa: ARG002
        """Upload ``document``; on failure the result says what to check."""
        name = self.object_name(document)
        destination = f"gs://{self.bucket}/{name}"
        payload = document.to_json()
        with suppress_instrumentation():
            try:
                generation, attempts = self._upload_with_retries(name, payload)
            except _UploadError as exc:
                return ExportResult(False, destination=destination, error=str(exc))
        return ExportResult(
            True,
            destination=destination,
            bytes_written=len(payload),
            metadata={
                "bucket": self.bucket,
                "object": name,
                "generation": generation,
                "attempts": attempts,
            },
        )

    def _upload_with_retries(self, name: str, payload: bytes) -> tuple[int | None, int]:
        """Upload, retrying transient failures; return the object's generation and attempts."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._upload_once(name, payload), attempt
            except _UploadError as exc:  # noqa: PERF203 - a retry loop catches by design
                if not exc.transient:
                    raise
                if attempt == self.max_attempts:
                    raise _UploadError(
                        f"{exc} (gave up after {attempt} attempts)", transient=True
                    ) from exc
                delay = self._backoff(attempt)
                logger.info(
                    "aiobs: GCS upload attempt %d failed (%s); retrying in %.2fs",
                    attempt,
                    exc,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt``: exponential, with jitter."""
        return backoff_delay(attempt, self.initial_backoff, self.max_backoff)

    def _upload_once(self, name: str, payload: bytes) -> int | None:
        """One upload attempt; failures become :class:`_UploadError`."""
        try:
            blob = self._get_client().bucket(self.bucket).blob(name)
            # retry=None: the retries are ours, counted and bounded by max_attempts.
            blob.upload_from_string(
                payload, content_type="application/json", timeout=self.timeout, retry=None
            )
        except ExportError as exc:
            raise _UploadError(str(exc), transient=False) from exc
        except Exception as exc:
            raise _classify(exc, self.bucket) from exc
        generation = blob.generation
        return None if generation is None else int(generation)

    def _get_client(self) -> Any:
        """The storage client, made on first use (constructing the exporter stays offline)."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        storage = _import_storage()
        from google.auth.exceptions import DefaultCredentialsError

        try:
            if self.credentials_path is not None:
                client = storage.Client.from_service_account_json(
                    self.credentials_path, project=self.project
                )
            else:
                client = storage.Client(project=self.project)
        except (OSError, ValueError, DefaultCredentialsError) as exc:
            raise ExportError(_credentials_hint(self.credentials_path, exc), cause=exc) from exc
        return client

    def shutdown(self) -> None:
        """Close the client's HTTP session, if a client was made."""
        if self._client is not None:
            self._client.close()


def _credentials_hint(path: str | None, exc: BaseException) -> str:
    """What to fix when no storage client can be made (never includes the credentials)."""
    if path is not None:
        return (
            f"cannot use the service-account file {path} ({type(exc).__name__}): check that it "
            f"exists and is a JSON key (credentials_path / {ENV_CREDENTIALS})"
        )
    return (
        f"no Google credentials ({type(exc).__name__}): set {ENV_CREDENTIALS} or "
        "credentials_path, or run `gcloud auth application-default login`; set the project "
        f"with {ENV_PROJECT} or project= if it cannot be inferred"
    )


def _classify(exc: Exception, bucket: str) -> _UploadError:
    """A failed attempt as transient (retry) or permanent (report what to check)."""
    import requests
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    summary = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, api.GoogleAPICallError):
        status = exc.code
        if isinstance(status, int) and status in _TRANSIENT_STATUS:
            return _UploadError(
                f"GCS upload to bucket {bucket!r} failed ({summary})", transient=True
            )
        hint = _PERMANENT_HINTS.get(status if isinstance(status, int) else 0, "check the request")
        return _UploadError(
            f"GCS upload to bucket {bucket!r} failed: {hint} ({summary})", transient=False
        )
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
        return _UploadError(f"cannot reach GCS ({summary})", transient=True)
    if isinstance(exc, auth.RefreshError):
        return _UploadError(
            f"GCS credentials were refused: {_PERMANENT_HINTS[401]} ({summary})", transient=False
        )
    return _UploadError(f"GCS upload to bucket {bucket!r} failed ({summary})", transient=False)

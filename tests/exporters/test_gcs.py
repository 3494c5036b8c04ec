"""The GCS exporter, against a real GCS JSON-API emulator on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("google.cloud.storage")
pytest.importorskip("gcp_storage_emulator")

from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from aiobs import observe, observer
from aiobs._context import suppressed_var
from aiobs.exporters import ExportError, ExportResult
from aiobs.exporters.document import ExportDocument
from aiobs.exporters.gcs import GCSExporter
from aiobs.models import ObservabilityExport

BUCKET = "aiobs-traces"


@pytest.fixture(autouse=True)
def _no_bucket_metadata_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage clients start no background fetch of bucket metadata.

    google-cloud-storage 3 fetches each bucket's metadata in a daemon thread. Once the emulator
    or proxy of a test is gone, that thread retries for up to two minutes and draws its jitter
    from the global ``random`` module, so a Hypothesis test that runs meanwhile in a later
    module fails with "Do not use the `random` module inside strategies".
    """
    monkeypatch.setenv("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "1")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A GCS emulator on a free port; ``STORAGE_EMULATOR_HOST`` points at it."""
    server = create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{server._api._httpd.server_address[1]}"
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
        yield url
    finally:
        server.stop()  # its thread is not a daemon: the process would hang


def _client(endpoint: str) -> Any:
    return storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


@pytest.fixture
def gcs(emulator: str) -> Iterator[Any]:
    """A storage client of the emulator, with the bucket :data:`BUCKET` created."""
    client = _client(emulator)
    client.create_bucket(BUCKET)
    yield client
    client.close()


class FlakyProxy:
    """Forwards to the emulator, but answers ``status`` to the next ``failures`` uploads."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.failures = 0
        self.status = 503
        self.uploads = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/upload/"):
                    proxy.uploads += 1
                    if proxy.failures > 0:
                        proxy.failures -= 1
                        self._reply(proxy.status, b'{"error": {"message": "try later"}}')
                        return
                self._forward(body)

            def do_GET(self) -> None:
                self._forward(b"")

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                self._reply(response.status, response.read(), response.getheader("Content-Type"))
                upstream.close()

            def _reply(self, status: int, body: bytes, kind: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def proxy(emulator: str) -> Iterator[FlakyProxy]:
    """A proxy in front of the emulator that can fail uploads on demand."""
    flaky = FlakyProxy(emulator)
    thread = threading.Thread(target=flaky.server.serve_forever, daemon=True)
    thread.start()
    yield flaky
    flaky.server.shutdown()
    flaky.server.server_close()
    thread.join()


@pytest.fixture
def proxied(proxy: FlakyProxy, gcs: Any) -> Iterator[Any]:
    """A storage client that goes through :func:`proxy` (``gcs`` has made the bucket)."""
    client = _client(proxy.url)
    yield client
    client.close()


class Recording(GCSExporter):
    """A GCS exporter that also keeps the JSON it was given."""

    sent: bytes = b""

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        self.sent = document.to_json()
        return super().export_document(document, **kwargs)


def record_calls() -> None:
    """Two observed calls, one nested in the other, in the default session."""
    if observer.current_session() is None:
        observer.observe(session_name="gcs")

    @observe
    def inner(x: int) -> int:
        return x * 2

    @observe(name="outer")
    def outer() -> int:
        return inner(21)

    outer()


def flush(exporter: GCSExporter) -> ExportResult:
    result = observer.flush(exporter=exporter)
    assert isinstance(result, ExportResult)
    return result


def read_object(client: Any, name: str) -> Any:
    return client.bucket(BUCKET).get_blob(name)


class TestUpload:
    """A flush becomes one JSON object in the bucket."""

    def test_uploads_the_document(self, gcs: Any, export_schema: dict[str, Any]) -> None:
        import jsonschema

        record_calls()
        exporter = Recording(BUCKET, client=gcs)
        result = flush(exporter)
        assert result.success, result
        document = json.loads(exporter.sent)
        name = result.metadata["object"]
        assert name == f"{document['sessions'][0]['id']}.json"  # aiobs 0.2's default template
        assert result.destination == f"gs://{BUCKET}/{name}"
        blob = read_object(gcs, name)
        assert blob.content_type == "application/json"
        assert blob.download_as_bytes() == exporter.sent
        assert result.bytes_written == len(exporter.sent) == blob.size
        assert result.metadata["object"] == name
        generation = result.metadata["generation"]  # the emulator's GET does not report it
        assert isinstance(generation, int)
        assert generation > 0
        assert [e["name"] for e in document["function_events"]] == ["inner", "outer"]
        jsonschema.validate(document, export_schema)

    def test_prefix_and_template(self, gcs: Any) -> None:
        record_calls()
        exporter = Recording(
            BUCKET,
            prefix="/runs/a/",
            client=gcs,
            filename_template="{date}/{timestamp}-{session_id}-{pid}-{uuid}.json",
        )
        first = flush(exporter)
        record_calls()
        second = flush(exporter)
        names = [first.metadata["object"], second.metadata["object"]]
        session_id = re.escape(json.loads(exporter.sent)["sessions"][0]["id"])
        stamp = r"\d{4}-\d\d-\d\d/\d{10}"  # local date, Unix seconds (as in aiobs 0.2)
        # The prefix is kept as given, its leading "/" included, as in aiobs 0.2.
        pattern = rf"/runs/a/{stamp}-{session_id}-{os.getpid()}-[0-9a-f]{{32}}\.json"
        assert all(re.fullmatch(pattern, name) for name in names), names
        assert names[0] != names[1]
        stored = sorted(blob.name for blob in gcs.list_blobs(BUCKET))
        assert stored == sorted(names)

    def test_a_session_flushed_again_is_merged_into_its_object(self, gcs: Any) -> None:
        """With the default ``{session_id}.json`` a later flush does not replace the first."""
        exporter = GCSExporter(BUCKET, prefix="traces", client=gcs)
        record_calls()
        first = flush(exporter)
        record_calls()
        second = flush(exporter)
        assert first.success, first
        assert second.success, second
        name = first.metadata["object"]
        assert second.metadata["object"] == name
        document = json.loads(read_object(gcs, name).download_as_bytes())
        assert name == f"traces/{document['sessions'][0]['id']}.json"
        assert len(document["sessions"]) == 1
        assert [e["name"] for e in document["function_events"]] == ["inner", "outer"] * 2
        assert [node["name"] for node in document["trace_tree"]] == ["outer", "outer"]

    def test_another_session_under_the_same_name_replaces_the_object(self, gcs: Any) -> None:
        """As in aiobs 0.2: a fixed name is overwritten by a flush of other sessions."""
        exporter = GCSExporter(BUCKET, client=gcs, filename_template="latest.json")
        record_calls()
        observer.end()  # its session is exported whole by this flush
        flush(exporter)
        observer.observe(session_name="next")
        record_calls()
        flush(exporter)
        document = json.loads(read_object(gcs, "latest.json").download_as_bytes())
        assert [session["name"] for session in document["sessions"]] == ["next"]
        assert len(document["function_events"]) == 2

    def test_filename_and_metadata_options(self, gcs: Any) -> None:
        record_calls()
        result = observer.flush(
            exporter=GCSExporter(BUCKET, prefix="runs/", client=gcs, content_type="text/json"),
            filename="given.json",
            metadata={"team": "search"},
        )
        assert isinstance(result, ExportResult)
        assert result.success, result
        blob = read_object(gcs, "runs/given.json")
        assert (blob.metadata, blob.content_type) == ({"team": "search"}, "text/json")
        assert result.metadata["blob_path"] == "runs/given.json"
        assert result.metadata["content_type"] == "text/json"
        assert (result.metadata["sessions_count"], result.metadata["function_events_count"]) == (
            1,
            2,
        )

    def test_a_02_subclass_overriding_export_is_used_by_flush(self, gcs: Any) -> None:
        seen: list[str] = []

        class Scrubbing(GCSExporter):
            def export(self, data: Any, **kwargs: Any) -> ExportResult:
                seen.append(type(data).__name__)
                for event in data.function_events:
                    event.args = None
                return super().export(data, **kwargs)

        record_calls()
        result = flush(Scrubbing(BUCKET, client=gcs))
        assert result.success, result
        assert seen == ["ObservabilityExport"]
        document = json.loads(read_object(gcs, result.metadata["object"]).download_as_bytes())
        assert [event["args"] for event in document["function_events"]] == [None, None]

    def test_indent(self, gcs: Any) -> None:
        record_calls()
        result = flush(GCSExporter(BUCKET, client=gcs, indent=2))
        body = read_object(gcs, result.metadata["object"]).download_as_bytes()
        assert body.startswith(b'{\n  "')
        assert result.bytes_written == len(body)

    def test_an_empty_bucket_is_refused(self) -> None:
        with pytest.raises(ValueError, match="needs a bucket name"):
            GCSExporter("")

    def test_unknown_placeholder_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"\{host\}.*\{session_id\}.*\{uuid\}"):
            GCSExporter(BUCKET, filename_template="{host}.json")

    def test_runs_with_instrumentation_suppressed(self, gcs: Any) -> None:
        seen: list[bool] = []
        session = gcs._http
        original = session.request

        def request(*args: Any, **kwargs: Any) -> Any:
            seen.append(suppressed_var.get())
            return original(*args, **kwargs)

        session.request = request
        record_calls()
        assert flush(GCSExporter(BUCKET, client=gcs)).success
        assert seen == [True]
        assert suppressed_var.get() is False

    def test_starts_no_thread_of_the_storage_client(
        self, proxied: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A client that did not create the bucket would fetch its metadata in a daemon thread
        # that outlives the proxy: see _no_bucket_metadata_fetches.
        targets: list[Any] = []
        start = threading.Thread.start

        def recording_start(thread: threading.Thread) -> None:
            targets.append(getattr(thread, "_target", None))
            start(thread)

        monkeypatch.setattr(threading.Thread, "start", recording_start)
        record_calls()
        result = flush(GCSExporter(BUCKET, client=proxied))
        assert result.success, result
        modules = [getattr(target, "__module__", None) or "" for target in targets]
        assert [module for module in modules if module.startswith("google.")] == []


class TestConfiguration:
    """Settings from the environment, credentials, and a constructor that stays offline."""

    def test_from_env(self, gcs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AIOBS_GCS_BUCKET", BUCKET)
        monkeypatch.setenv("AIOBS_GCS_PREFIX", "env-prefix")
        monkeypatch.setenv("AIOBS_GCS_PROJECT", "test")
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        exporter = GCSExporter.from_env()
        assert (exporter.bucket, exporter.prefix, exporter.project) == (
            BUCKET,
            "env-prefix/",  # with the "/" that aiobs 0.2 adds
            "test",
        )
        assert exporter.credentials_path is None
        record_calls()
        result = flush(exporter)  # the client is made here, from the environment
        exporter.shutdown()
        assert result.success, result
        assert read_object(gcs, result.metadata["object"]).name.startswith("env-prefix/")

    def test_from_env_credentials_path(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AIOBS_GCS_BUCKET", BUCKET)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/sa.json")
        assert GCSExporter.from_env().credentials_path == "/keys/sa.json"

    def test_from_env_needs_a_bucket(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AIOBS_GCS_BUCKET", raising=False)
        with pytest.raises(ValueError, match="AIOBS_GCS_BUCKET"):
            GCSExporter.from_env()

    def test_service_account_file(self, tmp_path: Path) -> None:
        path = tmp_path / "sa.json"
        path.write_text(json.dumps(service_account_info()), encoding="utf-8")
        exporter = GCSExporter(BUCKET, project="other", credentials_path=path)
        client = exporter._get_client()  # makes the client; nothing is sent before an upload
        assert client.project == "other"
        assert client._credentials.service_account_email == "aiobs@test.iam.gserviceaccount.com"
        exporter.shutdown()

    def test_unreadable_credentials_fail_the_export(self, tmp_path: Path) -> None:
        missing = tmp_path / "missing.json"
        record_calls()
        result = flush(GCSExporter(BUCKET, credentials_path=missing))
        assert not result.success
        assert str(missing) in (result.error or "")
        assert "credentials_path" in (result.error or "")

    def test_construction_does_not_touch_the_network(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def no_network(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("network used")

        monkeypatch.setattr(socket, "getaddrinfo", no_network)
        monkeypatch.setattr(socket.socket, "connect", no_network)
        exporter = GCSExporter(BUCKET, project="p", credentials_path="/nowhere/sa.json")
        exporter = GCSExporter.from_env(bucket=BUCKET)
        assert exporter._client is None

    def test_missing_library(self) -> None:
        """As in aiobs 0.2 the exporter is made, and its exports fail saying what to install."""
        with mock.patch.dict(sys.modules, {"google.cloud.storage": None}):
            exporter = GCSExporter(BUCKET)
            with pytest.raises(ExportError, match=r"pip install google-cloud-storage") as raised:
                exporter.export(ObservabilityExport(sessions=[], events=[], generated_at=0.0))
        assert "pip install 'aiobs[gcs]'" in str(raised.value)
        assert isinstance(raised.value.cause, ImportError)


class TestFailures:
    """Transient errors are retried; permanent ones fail at once and keep the data."""

    def test_missing_bucket_keeps_the_data(self, proxy: FlakyProxy, proxied: Any) -> None:
        exporter = GCSExporter("created-later", client=proxied)
        record_calls()
        failed = flush(exporter)
        assert not failed.success
        assert "bucket not found" in (failed.error or "")
        assert proxy.uploads == 1  # permanent: not retried
        proxied.create_bucket("created-later")
        delivered = flush(exporter)
        assert delivered.success, delivered
        blob = proxied.bucket("created-later").get_blob(delivered.metadata["object"])
        document = json.loads(blob.download_as_bytes())
        assert [e["name"] for e in document["function_events"]] == ["inner", "outer"]

    def test_transient_error_is_retried(self, proxy: FlakyProxy, proxied: Any) -> None:
        proxy.failures = 2
        exporter = GCSExporter(BUCKET, client=proxied, max_attempts=5)
        exporter.initial_backoff = 0.01
        record_calls()
        result = flush(exporter)
        assert result.success, result
        assert proxy.uploads == 3
        assert result.metadata["attempts"] == 3
        assert read_object(proxied, result.metadata["object"]) is not None

    def test_gives_up_after_max_attempts(self, proxy: FlakyProxy, proxied: Any) -> None:
        proxy.failures, proxy.status = 10, 429
        exporter = GCSExporter(BUCKET, client=proxied, max_attempts=3)
        exporter.initial_backoff = 0.01
        record_calls()
        result = flush(exporter)
        assert not result.success
        assert proxy.uploads == 3
        assert "gave up after 3 attempts" in (result.error or "")
        proxy.failures = 0
        assert flush(exporter).success  # the kept data goes out with the next flush

    @pytest.mark.parametrize(("status", "hint"), [(403, "permission"), (401, "credentials")])
    def test_permanent_error_fails_at_once(
        self, proxy: FlakyProxy, proxied: Any, status: int, hint: str
    ) -> None:
        proxy.failures, proxy.status = 10, status
        record_calls()
        result = flush(GCSExporter(BUCKET, client=proxied))
        assert not result.success
        assert hint in (result.error or "")
        assert proxy.uploads == 1

    def test_connection_errors_are_retried(self) -> None:
        with socket.socket() as placeholder:  # a port on which nothing listens
            placeholder.bind(("127.0.0.1", 0))
            port = placeholder.getsockname()[1]
        client = _client(f"http://127.0.0.1:{port}")
        exporter = GCSExporter(BUCKET, client=client, max_attempts=2)
        exporter.initial_backoff = 0.01
        record_calls()
        result = flush(exporter)
        client.close()
        assert not result.success
        assert "cannot reach GCS" in (result.error or "")
        assert "gave up after 2 attempts" in (result.error or "")


def service_account_info() -> dict[str, str]:
    """A service-account key file's content, with a freshly made private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "1",
        "private_key": pem,
        "client_email": "aiobs@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }

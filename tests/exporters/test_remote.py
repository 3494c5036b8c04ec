"""The remote exporter, against a real flush server on 127.0.0.1 that can be told to misbehave."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import logging
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("requests")

import requests

from aiobs import observe, observer
from aiobs.exporters import CompositeExporter, ExportError, ExportResult, InMemoryExporter
from aiobs.exporters.document import ExportDocument
from aiobs.exporters.remote import (
    InvalidAPIKeyError,
    RemoteExporter,
    RemoteUsage,
    parse_retry_after,
    split_document,
)

KEY = "sk-test-0123456789abcdef-secret"


def usage_body(used: int, limit: int, *, limited: bool = False) -> dict[str, Any]:
    """The usage answer of the flush server."""
    return {
        "success": True,
        "usage": {
            "tier": "free",
            "traces_used": used,
            "traces_limit": limit,
            "traces_remaining": max(limit - used, 0),
            "is_rate_limited": limited,
        },
    }


class FlushServer:
    """A flush server: checks the key, stores documents by Idempotency-Key, counts usage.

    ``fail(...)`` scripts the next requests: an HTTP status (with an optional ``Retry-After``),
    a connection reset, or a stall longer than the client's timeout; with ``store=True`` the
    document is stored first (the server took it, but the client never hears so). ``refuse(...)``
    answers every upload of the documents it matches so, until ``rules`` is cleared. ``stop()``
    and ``start()`` take it down and bring it back on the same port, keeping what it stored.
    """

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.used = 10
        self.limit = 1000
        self.script: deque[dict[str, Any]] = deque()
        self.rules: list[tuple[Callable[[bytes], bool], dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.port = 0
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again, on the same port) and serve in a thread."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self.httpd is None or self.thread is None:
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
        self.httpd = None

    def fail(self, times: int = 1, **action: Any) -> None:
        """Answer the next ``times`` requests with ``action`` instead of serving them."""
        self.script.extend(dict(action) for _ in range(times))

    def refuse(self, matches: Callable[[bytes], bool], **action: Any) -> None:
        """Answer every upload whose (gunzipped) document ``matches`` with ``action``."""
        self.rules.append((matches, dict(action)))

    def posts(self, path: str = "/v1/traces") -> list[dict[str, str]]:
        """Headers of every POST to ``path``, in order."""
        return [
            headers for method, seen, headers in self.requests if (method, seen) == ("POST", path)
        ]

    def usage(self) -> dict[str, Any]:
        """The current usage answer."""
        return usage_body(self.used, self.limit, limited=self.used >= self.limit)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                with server.lock:
                    server.requests.append((self.command, self.path, dict(self.headers)))
                    action = server.script.popleft() if server.script else None
                if action is None and server.rules and self.path == "/v1/traces":
                    action = self._rule()
                if action is not None:
                    self._misbehave(action)
                    return
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    self._read()
                    self._answer(401, {"success": False, "error": "invalid API key"})
                    return
                route = (self.command, self.path)
                if route == ("GET", "/v1/usage"):
                    limited = server.used >= server.limit
                    self._answer(429 if limited else 200, server.usage())
                elif route == ("POST", "/v1/traces"):
                    self._store()
                elif route == ("POST", "/v1/usage"):
                    server.used += int(json.loads(self._read())["trace_count"])
                    self._answer(200, server.usage())
                else:
                    self._answer(404, {"success": False, "error": "no such route"})

            def _rule(self) -> dict[str, Any] | None:
                """The action of the first rule matching this upload (its body is kept)."""
                payload = self._read()
                self._read = lambda: payload  # type: ignore[method-assign]
                document = gzip.decompress(payload)
                for matches, action in list(server.rules):
                    if matches(document):
                        return action
                return None

            def _store(self) -> None:
                created = self._keep(self._read())
                key = self.headers["Idempotency-Key"]
                self._answer(201 if created else 200, {"success": True, "trace_id": key[-8:]})

            def _keep(self, payload: bytes) -> bool:
                if self.headers.get("Content-Encoding") == "gzip":
                    payload = gzip.decompress(payload)
                json.loads(payload)  # a malformed document fails the handler, hence the test
                key = self.headers["Idempotency-Key"]
                with server.lock:
                    created = key not in server.documents
                    server.documents.setdefault(key, payload)
                return created

            def _misbehave(self, action: dict[str, Any]) -> None:
                if "stall" in action:
                    payload = self._read()
                    time.sleep(action["stall"])
                    if action.get("store"):  # took so long that the client gave up meanwhile
                        self._keep(payload)
                    self.close_connection = True
                    return
                payload = self._read()
                if action.get("store"):
                    self._keep(payload)
                if action.get("reset"):
                    linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    return
                body = action.get(
                    "body", {"success": False, "error": f"scripted {action['status']}"}
                )
                headers = {"Retry-After": action["retry_after"]} if "retry_after" in action else {}
                self._answer(action["status"], body, headers)

            def _read(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FlushServer]:
    """A flush server on a free port, stopped after the test."""
    monkeypatch.delenv("AIOBS_FLUSH_SERVER_URL", raising=False)
    flush_server = FlushServer()
    try:
        yield flush_server
    finally:
        flush_server.stop()


@pytest.fixture
def make_exporter(server: FlushServer) -> Iterator[Callable[..., RemoteExporter]]:
    """Builds exporters for ``server`` (small backoff) and closes their sessions afterwards."""
    made: list[RemoteExporter] = []

    def make(**kwargs: Any) -> RemoteExporter:
        settings: dict[str, Any] = {"backoff": 0.01, "timeout": 2.0, **kwargs}
        exporter = RemoteExporter(
            settings.pop("url", server.url), settings.pop("key", KEY), **settings
        )
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


def record_two_sessions() -> list[str]:
    """Record one decorated call in each of two sessions; return the session ids."""

    @observe
    def plan(goal: str) -> str:
        return goal.upper()

    ids = [observer.observe(session_name="first")]
    plan("ship")
    ids.append(observer.observe(session_name="second"))
    plan("test")
    return ids


def small_document() -> ExportDocument:
    """A one-session document built directly."""
    record_two_sessions()
    memory = InMemoryExporter()
    observer.flush(exporter=memory)
    return ExportDocument(data=memory.documents[0])


class TestUpload:
    """A flush reaches the server once, however many attempts it takes."""

    def test_flush_stores_the_document_once_after_two_503s(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        record_two_sessions()
        memory = InMemoryExporter()
        server.fail(2, status=503)
        result = observer.flush(exporter=CompositeExporter([memory, make_exporter()]))
        assert isinstance(result, ExportResult)
        assert result.success, result
        posts = server.posts()
        assert len(posts) == 3
        keys = {headers["Idempotency-Key"] for headers in posts}
        assert len(keys) == 1
        assert all(headers["Content-Encoding"] == "gzip" for headers in posts)
        assert all(headers["Content-Type"] == "application/json" for headers in posts)
        assert list(server.documents) == list(keys)
        stored = server.documents[keys.pop()]
        assert json.loads(stored) == memory.documents[0]
        assert posts[0]["Idempotency-Key"] == "aiobs-" + hashlib.sha256(stored).hexdigest()
        remote = result.metadata["results"][1]
        assert remote.metadata["attempts"] == 3
        assert remote.metadata["response"] == {
            "success": True,
            "trace_id": posts[0]["Idempotency-Key"][-8:],
        }

    def test_usage_is_reported_after_an_upload(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        record_two_sessions()
        before = server.used
        result = observer.flush(exporter=make_exporter())
        assert isinstance(result, ExportResult)
        assert result.success, result
        assert server.used == before + 2
        assert result.metadata["usage"] == RemoteUsage("free", before + 2, 1000, 988, False)

    def test_a_failed_usage_report_does_not_fail_the_export(
        self,
        server: FlushServer,
        make_exporter: Callable[..., RemoteExporter],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        document = small_document()
        exporter = make_exporter()
        original = exporter._session.request

        def refuse_usage(method: str, url: str, **kwargs: Any) -> requests.Response:
            if url.endswith("/v1/usage"):
                server.fail(status=500)
            return original(method, url, **kwargs)

        with mock.patch.object(exporter._session, "request", side_effect=refuse_usage):
            result = exporter.export_document(document)
        assert result.success, result
        assert len(server.documents) == 1
        assert "HTTP 500" in result.metadata["usage_report_error"]
        assert len(server.posts("/v1/usage")) == 1  # not retried: it would count twice
        assert "usage report failed" in caplog.text

    def test_the_upload_is_not_recorded_as_an_llm_call(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        from aiobs._context import suppressed_var

        seen: list[bool] = []
        exporter = make_exporter()
        original = exporter._session.request

        def spy(*args: Any, **kwargs: Any) -> requests.Response:
            seen.append(suppressed_var.get())
            return original(*args, **kwargs)

        with mock.patch.object(exporter._session, "request", side_effect=spy):
            assert exporter.export_document(small_document()).success
            exporter.usage()
        assert seen == [True, True, True]


class TestRetries:
    """Transient failures are retried with the same key; permanent ones are not."""

    def test_retry_after_is_waited_for(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=429, retry_after="1")
        started = time.monotonic()
        result = make_exporter().export_document(small_document())
        elapsed = time.monotonic() - started
        assert result.success, result
        assert 0.9 <= elapsed < 5
        assert len(server.posts()) == 2

    def test_retry_after_is_capped(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=429, retry_after="3600")
        with mock.patch("aiobs.exporters.remote.time.sleep") as sleep:
            result = make_exporter().export_document(small_document())
        assert result.success, result
        sleep.assert_called_once_with(60.0)

    def test_a_timeout_is_retried(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(stall=1.0)
        started = time.monotonic()
        result = make_exporter(timeout=0.3).export_document(small_document())
        assert result.success, result
        assert time.monotonic() - started >= 0.3
        assert len(server.posts()) == 2
        assert len(server.documents) == 1

    def test_a_connection_reset_is_retried(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(reset=True)
        result = make_exporter().export_document(small_document())
        assert result.success, result
        assert result.metadata["attempts"] == 2
        assert len(server.documents) == 1

    def test_after_max_attempts_the_data_is_kept_and_delivered_once_later(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        session_ids = record_two_sessions()
        server.fail(3, status=500)
        failed = observer.flush(exporter=make_exporter(max_attempts=3))
        assert isinstance(failed, ExportResult)
        assert not failed.success
        assert "HTTP 500" in (failed.error or "")
        assert "gave up after 3 attempts" in (failed.error or "")
        assert server.documents == {}

        delivered = observer.flush(exporter=make_exporter())
        assert isinstance(delivered, ExportResult)
        assert delivered.success, delivered
        assert len(server.documents) == 1
        document = json.loads(next(iter(server.documents.values())))
        assert [session["id"] for session in document["sessions"]] == session_ids
        per_session = [event["session_id"] for event in document["function_events"]]
        assert sorted(per_session) == sorted(session_ids)  # one call each, not duplicated

    def test_a_413_is_not_retried(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=413)
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert "too large" in (result.error or "")
        assert len(server.posts()) == 1

    def test_another_client_error_carries_the_servers_message(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=422, body={"success": False, "error": "sessions must not be empty"})
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert "sessions must not be empty" in (result.error or "")
        assert len(server.posts()) == 1


class TestKeyAndQuota:
    """A refused key or a used-up quota fails at once and says what to do."""

    def test_an_invalid_key_fails_with_the_fix_and_without_the_key(
        self,
        server: FlushServer,
        make_exporter: Callable[..., RemoteExporter],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG, logger="aiobs")
        record_two_sessions()
        wrong = KEY + "-revoked"
        exporter = make_exporter(key=wrong)
        result = observer.flush(exporter=exporter)
        assert isinstance(result, ExportResult)
        assert not result.success
        assert "invalid or revoked" in (result.error or "")
        assert "AIOBS_API_KEY" in (result.error or "")
        assert result.metadata["invalid_key"] is True
        assert len(server.posts()) == 1
        for text in (
            result.error or "",
            repr(result),
            str(result.metadata),
            repr(exporter),
            caplog.text,
        ):
            assert wrong not in text
            assert KEY not in text

    def test_a_403_is_a_refused_key_too(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=403)
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert result.metadata["invalid_key"] is True

    def test_a_used_up_quota_is_not_retried(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=429, body=usage_body(1000, 1000, limited=True), retry_after="0")
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert result.metadata["quota_exhausted"] is True
        assert "quota is used up" in (result.error or "")
        assert len(server.posts()) == 1

    def test_a_passing_rate_limit_is_retried(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=429, body=usage_body(10, 1000, limited=False), retry_after="0")
        result = make_exporter().export_document(small_document())
        assert result.success, result
        assert "quota_exhausted" not in result.metadata
        assert len(server.posts()) == 2

    def test_a_server_that_echoes_the_key_does_not_leak_it(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=400, body={"error": f"bad request from {KEY}"})
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert KEY not in (result.error or "")
        assert "***" in (result.error or "")


class TestUsage:
    """``usage()`` asks the server for the key's quota."""

    def test_usage_parses_the_answer(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        usage = make_exporter().usage()
        assert usage == RemoteUsage(
            tier="free", used=10, limit=1000, remaining=990, is_rate_limited=False
        )
        (method, path, headers) = server.requests[0]
        assert (method, path, headers["Authorization"]) == ("GET", "/v1/usage", f"Bearer {KEY}")

    def test_usage_over_quota_is_an_answer(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.used = 1000
        assert make_exporter().usage().is_rate_limited is True

    def test_usage_with_an_invalid_key_raises(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        with pytest.raises(InvalidAPIKeyError, match="invalid or revoked") as raised:
            make_exporter(key="wrong-key-123").usage()
        assert "wrong-key-123" not in str(raised.value)
        assert raised.value.__cause__ is None

    def test_usage_of_an_unreachable_server_raises(
        self, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with pytest.raises(ExportError, match="cannot reach") as raised:
            make_exporter(url=f"http://127.0.0.1:{port}", max_attempts=2).usage()
        assert not isinstance(raised.value, InvalidAPIKeyError)

    @pytest.mark.parametrize(
        "body",
        [
            [],
            {"success": True},
            {"usage": {"tier": "free"}},
            {"usage": {**usage_body(1, 2)["usage"], "traces_used": "1"}},
            {"usage": {**usage_body(1, 2)["usage"], "traces_limit": True}},
        ],
    )
    def test_a_malformed_answer_raises(self, body: Any) -> None:
        with pytest.raises(ExportError, match="usage"):
            RemoteUsage.from_response(body)


class TestConstruction:
    """Arguments are checked at once; nothing is sent."""

    def test_nothing_is_sent_at_construction(self, server: FlushServer) -> None:
        exporter = RemoteExporter(server.url + "/", KEY)
        assert exporter.url == server.url
        assert server.requests == []
        assert repr(exporter) == f"RemoteExporter(url={server.url!r})"
        exporter.shutdown()

    @pytest.mark.parametrize(
        "url", ["flush.example.com", "ftp://flush.example.com", "", "https://"]
    )
    def test_a_url_must_be_http(self, url: str) -> None:
        with pytest.raises(ValueError, match="such as https://"):
            RemoteExporter(url, KEY, session=requests.Session())

    @pytest.mark.parametrize("key", ["", "   "])
    def test_a_key_is_required(self, key: str) -> None:
        with pytest.raises(ValueError, match="AIOBS_API_KEY"):
            RemoteExporter("https://flush.example.com", key, session=requests.Session())

    def test_missing_requests_names_the_extra(self) -> None:
        with (
            mock.patch.dict(sys.modules, {"requests": None}),
            pytest.raises(ImportError, match=r"pip install 'aiobs\[remote\]'"),
        ):
            RemoteExporter("https://flush.example.com", KEY)


class TestRetryAfter:
    """``Retry-After`` is honoured in seconds or as an HTTP date; anything else is ignored."""

    @pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e999", "9" * 400, "soon", ""])
    def test_a_value_that_is_not_a_time_falls_back_to_the_backoff(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter], value: str
    ) -> None:
        server.fail(status=503, retry_after=value)
        started = time.monotonic()
        result = make_exporter().export_document(small_document())
        assert result.success, result
        assert time.monotonic() - started < 5
        assert len(server.posts()) == 2
        assert len(server.documents) == 1

    def test_an_http_date_is_waited_for(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        when = email.utils.formatdate(time.time() + 2.5, usegmt=True)
        server.fail(status=503, retry_after=when)
        started = time.monotonic()
        result = make_exporter().export_document(small_document())
        elapsed = time.monotonic() - started
        assert result.success, result
        assert 1.0 <= elapsed < 6  # the date has whole seconds
        assert len(server.posts()) == 2

    def test_an_http_date_in_the_past_means_at_once(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
        with mock.patch("aiobs.exporters.remote.time.sleep") as sleep:
            result = make_exporter().export_document(small_document())
        assert result.success, result
        sleep.assert_called_once_with(0.0)

    def test_a_far_http_date_is_capped(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        server.fail(status=503, retry_after=email.utils.formatdate(time.time() + 7200, usegmt=True))
        with mock.patch("aiobs.exporters.remote.time.sleep") as sleep:
            result = make_exporter().export_document(small_document())
        assert result.success, result
        sleep.assert_called_once_with(60.0)

    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            ("0", 0.0),
            ("120", 120.0),
            (" 7 ", 7.0),
            ("1.5", 1.5),
            ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),
            ("Thursday, 01-Jan-70 00:01:40 GMT", 60.0),  # the obsolete RFC 850 form
            ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
            ("nan", None),
            ("NaN", None),
            ("Infinity", None),
            ("1e999", None),
            ("-5", None),
            ("+5", None),
            ("0x10", None),
            ("1_000", None),
            ("٣", None),  # a digit, but not an ASCII one
            ("Thu, 32 Jan 1970 00:00:00 GMT", None),
            ("tomorrow", None),
        ],
    )
    def test_parsing(self, value: str, seconds: float | None) -> None:
        assert parse_retry_after(value, now=40.0) == seconds


def numbered_document(count: int, *, sessions: int = 1) -> ExportDocument:
    """A document of ``count`` function events (``result`` 0 to count-1) over ``sessions``."""
    ids = [f"session-{index}" for index in range(sessions)]
    events = [
        {
            "provider": "function",
            "name": "work",
            "result": value,
            "span_id": f"{value:016x}",
            "session_id": ids[value % sessions],
            "started_at": 1.0,
            "ended_at": 2.0,
            "duration_ms": 1000.0,
        }
        for value in range(count)
    ]
    data = {
        "sessions": [{"id": session_id, "name": session_id} for session_id in ids],
        "events": [],
        "function_events": events,
        "trace_tree": [],
        "enh_prompt_traces": None,
        "generated_at": 3.0,
        "version": 1,
    }
    return ExportDocument.from_json(json.dumps(data).encode())


class TestSplitting:
    """A document with more events than ``max_events_per_upload`` goes as several uploads."""

    def test_a_large_document_goes_in_parts_each_a_document_with_its_own_key(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        document = numbered_document(12, sessions=2)
        result = make_exporter(max_events_per_upload=5).export_document(document)
        assert result.success, result
        assert result.metadata["parts"] == 3
        posts = server.posts()
        keys = [headers["Idempotency-Key"] for headers in posts]
        assert len(set(keys)) == 3
        assert keys == result.metadata["idempotency_keys"]
        parts = [json.loads(server.documents[key]) for key in keys]
        assert [len(part["function_events"]) for part in parts] == [5, 5, 2]
        stored = sorted(e["result"] for part in parts for e in part["function_events"])
        assert stored == list(range(12))  # every event once
        for part in parts:  # each a document: the sessions of its events, and those events
            assert set(part) == {
                "sessions",
                "events",
                "function_events",
                "trace_tree",
                "enh_prompt_traces",
                "generated_at",
                "version",
            }
            owners = {event["session_id"] for event in part["function_events"]}
            assert [session["id"] for session in part["sessions"]] == sorted(owners)
            for key in keys:
                assert key == "aiobs-" + hashlib.sha256(server.documents[key]).hexdigest()
        # session-0's six events did not fit in one part: it is in two
        assert [s["id"] for p in parts for s in p["sessions"]].count("session-0") == 2
        assert len(server.posts("/v1/usage")) == 1  # one report for the document

    def test_splitting_again_gives_the_same_parts(self) -> None:
        document = numbered_document(11, sessions=3)
        first = [part.to_json() for part in split_document(document, 4)]
        again = ExportDocument.from_json(document.to_json())
        assert [part.to_json() for part in split_document(again, 4)] == first
        assert split_document(document, 11) == [document]  # fits: untouched

    def test_sessions_without_events_go_in_the_first_part(self) -> None:
        data = numbered_document(4).data
        data["sessions"].append({"id": "quiet", "name": "quiet"})
        parts = split_document(ExportDocument(data=data), 2)
        assert [[s["id"] for s in part.data["sessions"]] for part in parts] == [
            ["session-0", "quiet"],
            ["session-0"],
        ]

    def test_a_failed_part_fails_the_export_and_a_new_attempt_stores_everything_once(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter]
    ) -> None:
        document = numbered_document(10)
        server.refuse(lambda body: b'"result":7' in body, status=503)
        result = make_exporter(max_events_per_upload=4, max_attempts=2).export_document(document)
        assert not result.success
        assert result.metadata["parts"] == 3
        assert result.metadata["parts_stored"] == 1
        assert result.metadata["transient"] is True
        server.rules.clear()
        assert make_exporter(max_events_per_upload=4).export_document(document).success
        assert len(server.documents) == 3  # the first part's retry was a replay
        results = [
            e["result"] for d in server.documents.values() for e in json.loads(d)["function_events"]
        ]
        assert sorted(results) == list(range(10))

    def test_the_limit_comes_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        session = requests.Session()
        assert (
            RemoteExporter("http://127.0.0.1:9", KEY, session=session).max_events_per_upload == 5000
        )
        monkeypatch.setenv("AIOBS_MAX_EVENTS_PER_UPLOAD", "250")
        assert (
            RemoteExporter("http://127.0.0.1:9", KEY, session=session).max_events_per_upload == 250
        )

    def test_a_bad_limit_in_the_environment_is_logged_and_ignored(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setenv("AIOBS_MAX_EVENTS_PER_UPLOAD", "lots")
        exporter = RemoteExporter("http://127.0.0.1:9", KEY, session=requests.Session())
        assert exporter.max_events_per_upload == 5000
        assert "AIOBS_MAX_EVENTS_PER_UPLOAD" in caplog.text

    @pytest.mark.parametrize("limit", [0, -1, 2.5, True])
    def test_a_bad_limit_in_code_raises(self, limit: Any) -> None:
        with pytest.raises(ValueError, match="max_events_per_upload must be a positive number"):
            RemoteExporter(
                "http://127.0.0.1:9", KEY, max_events_per_upload=limit, session=requests.Session()
            )


class TestRefusalKinds:
    """A result says whether the document itself was refused, for good."""

    @pytest.mark.parametrize("status", [400, 409, 413, 422])
    def test_refusals_of_the_document_are_permanent(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter], status: int
    ) -> None:
        server.fail(status=status, body={"error": "at most 10000 events per upload"})
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert result.metadata["permanent"] is True
        assert result.metadata["transient"] is False
        assert "at most 10000 events per upload" in (result.error or "")
        assert len(server.posts()) == 1

    @pytest.mark.parametrize("status", [401, 403, 404, 405])
    def test_other_refusals_are_not_the_documents_fault(
        self, server: FlushServer, make_exporter: Callable[..., RemoteExporter], status: int
    ) -> None:
        server.fail(status=status)
        result = make_exporter().export_document(small_document())
        assert not result.success
        assert "permanent" not in result.metadata
        assert result.metadata["transient"] is False

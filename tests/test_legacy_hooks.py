"""aiobs 0.2's collector hooks: the network seams, the current span id, the tracer helpers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiobs import Collector, ObservabilityExport, observe, observer, tracer

from .helpers import flush_document


class CountingServer:
    """A TCP server on 127.0.0.1 that counts connections and answers each with an HTTP 200."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(1.0)
                try:
                    connection.recv(65536)
                    body = b'{"success": true}'
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


@pytest.fixture
def counting_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingServer]:
    server = CountingServer()
    monkeypatch.setenv("AIOBS_API_KEY", "aiobs_sk_test")
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", server.url)
    yield server
    server.close()


@observe
def step(x: int) -> int:
    return x + 1


class TestNetworkHooks:
    """Patched as 0.2's users patch them, the hooks keep a flush off the network."""

    def test_patched_hooks_are_called_and_nothing_connects(
        self, counting_server: CountingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        calls: list[tuple[str, Any]] = []
        monkeypatch.setattr(
            Collector, "_validate_api_key", lambda self: calls.append(("validate", self.api_key))
        )
        monkeypatch.setattr(Collector, "_record_usage", lambda self, n: calls.append(("usage", n)))
        monkeypatch.setattr(
            Collector, "_flush_to_server", lambda self, export: calls.append(("flush", export))
        )
        session_id = observer.observe("hooks")
        step(1)
        step(2)
        path = observer.flush()
        assert observer.wait_for_background_flushes(5.0)
        observer.deliver_pending()
        assert Path(str(path)).exists()
        assert counting_server.connections == 0
        assert [name for name, _ in calls] == ["validate", "flush", "usage"]
        assert calls[0][1] == "aiobs_sk_test"
        export = calls[1][1]
        assert isinstance(export, ObservabilityExport)
        assert [s.id for s in export.sessions] == [session_id]
        assert [e.name for e in export.function_events] == ["step", "step"]
        assert calls[2] == ("usage", 2)
        assert not list((tmp_path / "spool").rglob("*.json*"))

    def test_patched_on_the_instance(
        self, counting_server: CountingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        exports: list[Any] = []
        monkeypatch.setattr(observer, "_flush_to_server", exports.append)
        observer.observe("hooks")
        step(1)
        flush_document()
        assert observer.wait_for_background_flushes(5.0)
        assert counting_server.connections == 0
        assert len(exports) == 1
        assert isinstance(exports[0], ObservabilityExport)

    def test_unpatched_they_deliver(self, counting_server: CountingServer) -> None:
        """The control: the same flush, hooks left alone, reaches the flush server."""
        observer.observe("hooks")
        step(1)
        observer.flush()
        observer.deliver_pending()
        assert observer.wait_for_background_flushes(5.0)
        assert counting_server.connections > 0

    def test_persist_false_delivers_nothing(
        self, counting_server: CountingServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """README row "flush(persist=False) with an API key": discarded, not delivered."""
        calls: list[str] = []
        monkeypatch.setattr(Collector, "_flush_to_server", lambda self, e: calls.append("flush"))
        observer.observe("discarded")
        step(1)
        assert observer.flush(persist=False) is None
        assert calls == []
        assert observer.buffered_events == 0
        observer.deliver_pending()
        assert counting_server.connections == 0

    def test_no_key_no_hooks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls: list[str] = []
        for hook in ("_validate_api_key", "_record_usage", "_flush_to_server"):
            monkeypatch.setattr(Collector, hook, lambda self, *a, hook=hook: calls.append(hook))
        observer.observe("no key")
        step(1)
        observer.flush()
        assert calls == []

    def test_a_key_that_is_not_a_string(self) -> None:
        with pytest.raises(ValueError, match="Invalid API key provided to aiobs"):
            observer.observe(api_key=123)  # type: ignore[arg-type]


class TestCurrentSpanId:
    """set_current_span_id() / reset_span_id() as in 0.2, under aiobs's own spans."""

    def test_set_and_reset(self) -> None:
        observer.observe("ids")
        assert observer.get_current_span_id() is None
        token = observer.set_current_span_id("parent-1")
        assert observer.get_current_span_id() == "parent-1"
        observer._record_event(
            {
                "provider": "custom",
                "api": "call",
                "started_at": 1.0,
                "ended_at": 2.0,
                "duration_ms": 1000.0,
            }
        )
        observer.reset_span_id(token)
        assert observer.get_current_span_id() is None
        observer._record_event(
            {
                "provider": "custom",
                "api": "later",
                "started_at": 1.0,
                "ended_at": 2.0,
                "duration_ms": 1000.0,
            }
        )
        events = flush_document()["events"]
        assert [(e["api"], e["parent_span_id"]) for e in events] == [
            ("call", "parent-1"),
            ("later", None),
        ]

    def test_an_open_span_comes_first(self) -> None:
        observer.observe("ids")
        token = observer.set_current_span_id("outer")
        with observer.span("inner") as span:
            assert observer.get_current_span_id() == span.span_id
        assert observer.get_current_span_id() == "outer"
        observer.reset_span_id(token)


class TestTracer:
    """0.2's tracer helpers exist and are harmless, with or without OpenTelemetry."""

    def test_the_fixture_pattern(self) -> None:
        tracer.reset_tracer()
        assert tracer.is_initialized() is False
        tracer.init_tracer()
        assert tracer.is_initialized() is True
        assert tracer.get_finished_spans() == []
        assert tracer.get_finished_logs() == []
        tracer.clear_spans()
        tracer.clear_logs()
        with tracer.get_tracer().start_as_current_span("x") as span:
            span.set_attribute("k", "v")
        tracer.reset_tracer()
        assert tracer.is_initialized() is False

    def test_without_opentelemetry(self) -> None:
        code = (
            "import sys\n"
            "sys.modules['opentelemetry'] = None\n"
            "from aiobs import tracer, observer\n"
            "tracer.init_tracer()\n"
            "with tracer.get_tracer().start_as_current_span('x') as span:\n"
            "    span.set_attribute('k', 1)\n"
            "tracer.reset_tracer()\n"
            "print(tracer.is_initialized(), tracer.get_finished_spans())\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.split() == ["False", "[]"]
        assert out.stderr == ""

    def test_importing_it_imports_no_opentelemetry(self) -> None:
        code = "import sys, aiobs.tracer; print('opentelemetry' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "False"

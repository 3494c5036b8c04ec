"""The real SDK delivering to a real server (uvicorn, SQLite and PostgreSQL), then read back.

The second half puts a misbehaving proxy between the SDK and the server: it drops connections
after the server has stored an upload and answers 503 without forwarding, and the SDK retries and
spools. Every session must end up stored once and counted once.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from aiobs import observe, observer
from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, SQLStorage
from tests.server.app_fixtures import live_server

_spans = itertools.count(1)


def record_llm_call(model: str) -> None:
    """An LLM call as the provider integrations record it."""
    observer._record_event(
        {
            "provider": "openai",
            "api": "chat.completions.create",
            "request": {"model": model, "messages": [{"role": "user", "content": "hi"}]},
            "response": {"text": "hello"},
            "error": None,
            "started_at": 1_000.0,
            "ended_at": 1_000.2,
            "duration_ms": 200.0,
            "span_id": f"{next(_spans):016x}",
            "request_model": model,
            "response_model": model,
            "usage": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
        }
    )


@observe
def answer(question: int) -> int:
    record_llm_call("gpt-4o-mini")
    return question * 2


@observe
def pipeline(count: int) -> list[int]:
    return [answer(i) for i in range(count)]


def configure_sdk(monkeypatch: pytest.MonkeyPatch, url: str, secret: str, tmp_path: Path) -> None:
    monkeypatch.setenv("AIOBS_API_KEY", secret)
    monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", url)
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "spool"))


def get(url: str, secret: str, path: str) -> Any:
    answer = requests.get(f"{url}{path}", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def server(storage: SQLStorage) -> Iterator[tuple[str, NewKey]]:
    """The app over the storage (SQLite, then PostgreSQL) on a free port, and a key."""
    key = storage.create_key("pro", name="e2e")
    with live_server(create_app(storage)) as url:
        yield url, key


def test_what_the_sdk_flushes_is_what_the_api_serves(
    server: tuple[str, NewKey], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, key = server
    configure_sdk(monkeypatch, url, key.secret, tmp_path)
    observer.observe("e2e", labels={"env": "test"})  # reads AIOBS_API_KEY
    pipeline(2)
    observer.end()
    assert observer.flush("run.json") == "run.json"
    assert observer.wait_for_background_flushes(timeout=30)  # delivery runs in the background

    page = get(url, key.secret, "/v1/sessions?label=env:test")
    [summary] = page["sessions"]
    assert summary["name"] == "e2e"
    assert summary["llm_calls"] == 2
    assert summary["function_calls"] == 3
    assert summary["total_tokens"] == 20
    assert summary["models"] == ["gpt-4o-mini"]

    detail = get(url, key.secret, f"/v1/sessions/{summary['id']}")
    assert [event["response_model"] for event in detail["events"]] == ["gpt-4o-mini"] * 2
    assert sorted(event["name"] for event in detail["function_events"]) == [
        "answer",
        "answer",
        "pipeline",
    ]
    [root] = detail["trace_tree"]
    assert root["name"] == "pipeline"
    assert [child["name"] for child in root["children"]] == ["answer", "answer"]
    for child in root["children"]:
        assert [grandchild["event_type"] for grandchild in child["children"]] == ["provider"]

    stats = get(url, key.secret, "/v1/stats?group_by=model")
    assert [(group["group"], group["calls"]) for group in stats["groups"]] == [("gpt-4o-mini", 2)]
    assert get(url, key.secret, "/v1/usage")["usage"]["traces_used"] == 1


class FaultyProxy:
    """Forwards to a server, except when scripted to fail the next requests.

    ``"reset"`` forwards the request, then drops the connection without answering (the server
    stored it; the client never hears so); ``"503"`` answers 503 without forwarding.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.script: deque[str] = deque()
        self.forwarded = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                self._relay()

            def do_POST(self) -> None:
                self._relay()

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                with proxy.lock:
                    action = proxy.script.popleft() if proxy.script else None
                if action == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                skip = {"host", "content-length", "connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                answer = requests.request(
                    self.command,
                    proxy.upstream + self.path,
                    data=payload,
                    headers=headers,
                    timeout=10,
                )
                with proxy.lock:
                    proxy.forwarded += 1
                if action == "reset":
                    linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for name in ("Content-Type", "Retry-After"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        return Handler


def test_retries_through_failures_store_and_count_each_session_once(
    server: tuple[str, NewKey], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, key = server
    proxy = FaultyProxy(url)
    try:
        configure_sdk(monkeypatch, proxy.url, key.secret, tmp_path)
        faults = [
            ["reset", "503"],  # stored, then refused: the third attempt is a replay
            ["reset", "reset"],  # every attempt dropped after storing: spooled, sent later
            ["503", "503"],  # never reached the server: spooled
            [],
            ["reset"],
        ]
        names = []
        for index, script in enumerate(faults):
            name = f"flaky-{index}"
            names.append(name)
            observer.observe(name)
            pipeline(1)
            observer.end()
            delivery = observer._delivery.remote()
            assert delivery is not None
            delivery.exporter.backoff = 0.01
            delivery.exporter.max_attempts = 2
            proxy.script.extend(script)
            observer.flush(f"{name}.json")
            assert observer.wait_for_background_flushes(timeout=30)
        observer.deliver_pending()
        assert delivery.spool.pending() == []
        assert proxy.forwarded > len(faults)  # the server really saw repeated uploads
    finally:
        proxy.stop()

    page = get(url, key.secret, "/v1/sessions?limit=100")
    assert sorted(summary["name"] for summary in page["sessions"]) == names
    for summary in page["sessions"]:
        detail = get(url, key.secret, f"/v1/sessions/{summary['id']}")
        assert len(detail["events"]) == 1
        assert len(detail["function_events"]) == 2
    assert get(url, key.secret, "/v1/usage")["usage"]["traces_used"] == len(faults)

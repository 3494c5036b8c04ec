"""Delivery to the flush server when ``requests`` is not installed (0.2 used only the stdlib)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

RECORD = """
import sys
{hide}
from aiobs import observe, observer

@observe
def step(x):
    return x + 1

observer.observe("no-requests")
step(1)
print(repr(observer.flush()))
observer.wait_for_background_flushes(5.0)
"""

HIDE_REQUESTS = "sys.modules['requests'] = None  # as if it were not installed"

DELIVER = """
from aiobs import observer
observer.deliver_pending()
"""


class FlushServer:
    """A local HTTP server taking ``/v1/traces`` and ``/v1/usage`` as the flush server does."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    server.documents.append(json.loads(body))
                    answer = {"success": True, "message": "stored"}
                else:
                    answer = {
                        "success": True,
                        "usage": {"tier": "free", "traces_used": 1, "traces_limit": 100},
                    }
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def flush_server() -> Iterator[FlushServer]:
    server = FlushServer()
    yield server
    server.close()


def run(code: str, cwd: Path, server: FlushServer) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOBS_")}
    env |= {
        "AIOBS_API_KEY": "aiobs_sk_test",
        "AIOBS_FLUSH_SERVER_URL": server.url,
        "AIOBS_SPOOL_DIR": str(cwd / "spool"),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestWithoutRequests:
    """The document is spooled with one clear message, and delivered once requests is back."""

    def test_flush_spools_without_a_traceback(
        self, flush_server: FlushServer, tmp_path: Path
    ) -> None:
        recorded = run(RECORD.format(hide=HIDE_REQUESTS), tmp_path, flush_server)
        assert recorded.returncode == 0, recorded.stderr
        assert recorded.stdout.strip().endswith(".json'")
        assert "Traceback" not in recorded.stderr
        assert "requests" in recorded.stderr
        assert "pip install" in recorded.stderr
        assert flush_server.documents == []
        assert list((tmp_path / "spool").rglob("*.json*"))

        delivered = run(DELIVER, tmp_path, flush_server)
        assert delivered.returncode == 0, delivered.stderr
        assert [doc["sessions"][0]["name"] for doc in flush_server.documents] == ["no-requests"]
        assert [e["name"] for e in flush_server.documents[0]["function_events"]] == ["step"]

    def test_with_requests_it_delivers(self, flush_server: FlushServer, tmp_path: Path) -> None:
        recorded = run(RECORD.format(hide=""), tmp_path, flush_server)
        assert recorded.returncode == 0, recorded.stderr
        assert "Traceback" not in recorded.stderr
        assert [doc["sessions"][0]["name"] for doc in flush_server.documents] == ["no-requests"]

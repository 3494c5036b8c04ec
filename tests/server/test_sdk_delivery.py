"""The SDK's delivery against real flush servers (uvicorn over SQLite), in real processes.

Each document reaches the server and key it was flushed for, and no other; a flush larger than
a server takes in one upload is stored once, in several.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI

from aiobs import observe, observer
from aiobs.delivery.spool import Spool
from aiobs.server.app import create_app
from aiobs.server.storage import NewKey, Storage, open_storage
from tests.server.app_fixtures import live_server


@contextmanager
def serving(app: FastAPI, port: int) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` (so a server can come back there)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def session_names(url: str, key: NewKey) -> list[str]:
    answer = requests.get(
        f"{url}/v1/sessions?limit=100",
        headers={"Authorization": f"Bearer {key.secret}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return sorted(summary["name"] for summary in answer.json()["sessions"])


PROGRAM = """
    from aiobs import observe, observer

    @observe
    def work(value):
        return value

    observer.configure(exit_timeout=2.0)
    observer.observe({name!r})
    work(1)
    observer.end()
    observer.flush({name!r} + ".json")
"""


def run(name: str, url: str, key: NewKey, spool: Path, cwd: Path) -> None:
    """A program that records one session and flushes it, with this server and key."""
    env = {**os.environ, "AIOBS_API_KEY": key.secret, "AIOBS_FLUSH_SERVER_URL": url}
    env["AIOBS_SPOOL_DIR"] = str(spool)
    env.pop("AIOBS_RAISE_INTERNAL_ERRORS", None)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROGRAM.format(name=name))],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Storage, NewKey, Storage, NewKey]]:
    """Two flush servers' storages (X and Y), each with a key of its own (A and B)."""
    x = open_storage(f"sqlite:///{tmp_path / 'x.db'}")
    y = open_storage(f"sqlite:///{tmp_path / 'y.db'}")
    try:
        yield x, x.create_key("pro", name="a"), y, y.create_key("pro", name="b")
    finally:
        x.close()
        y.close()


def test_a_document_goes_only_to_the_server_and_key_it_was_made_for(
    two_servers: tuple[Storage, NewKey, Storage, NewKey], tmp_path: Path
) -> None:
    x, key_a, y, key_b = two_servers
    spool = tmp_path / "spool"  # one root on the machine, shared by every program
    port_x = free_port()
    url_x = f"http://127.0.0.1:{port_x}"
    run("a-while-x-is-down", url_x, key_a, spool, tmp_path)  # kept for X and key A
    legacy = {"sessions": [{"id": "legacy-1", "name": "legacy"}], "events": []}
    legacy |= {"function_events": [], "trace_tree": None, "generated_at": 1.0, "version": 1}
    Spool(spool).put(json.dumps(legacy).encode())  # an older aiobs's: nobody knows whose

    with live_server(create_app(y)) as url_y:
        run("b", url_y, key_b, spool, tmp_path)  # its start offers what waits for Y and B
        assert session_names(url_y, key_b) == ["b"]

    with serving(create_app(x), port_x) as url_x:
        run("a-again", url_x, key_a, spool, tmp_path)
        assert session_names(url_x, key_a) == ["a-again", "a-while-x-is-down"]
    assert [p.name for p in (spool / "unbound").iterdir()] != []  # set aside, not delivered


def test_two_collectors_with_different_keys_keep_to_their_own_servers(
    two_servers: tuple[Storage, NewKey, Storage, NewKey],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiobs import Collector

    x, key_a, y, key_b = two_servers
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "spool"))
    port_x = free_port()
    first = Collector(flush_at_exit=False)
    second = Collector(flush_at_exit=False)
    try:
        first.configure(flush_server_url=f"http://127.0.0.1:{port_x}")
        first.observe("first", api_key=key_a.secret)
        first.flush("first.json")  # X is down: kept
        assert first.wait_for_background_flushes(timeout=30)
        with live_server(create_app(y)) as url_y:
            second.configure(flush_server_url=url_y)
            second.observe("second", api_key=key_b.secret)
            second.flush("second.json")
            second.deliver_pending()
            assert session_names(url_y, key_b) == ["second"]
        with serving(create_app(x), port_x) as url_x:
            first.deliver_pending()
            assert session_names(url_x, key_a) == ["first"]
    finally:
        first.reset()
        second.reset()


class CappingProxy:
    """Forwards to a flush server, refusing uploads of more than ``cap`` events with a 413."""

    def __init__(self, upstream: str, cap: int) -> None:
        self.upstream = upstream
        self.cap = cap
        self.uploads: list[int] = []  # events per upload that reached the proxy
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
                payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v1/traces":
                    document = json.loads(gzip.decompress(payload))
                    events = len(document["events"]) + len(document["function_events"])
                    proxy.uploads.append(events)
                    if events > proxy.cap:
                        message = f"an upload holds at most {proxy.cap} events, this one {events}"
                        self._answer(413, json.dumps({"error": message}).encode())
                        return
                skip = {"host", "content-length", "connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                answer = requests.request(
                    self.command, proxy.upstream + self.path, data=payload, headers=headers,
                    timeout=30,
                )  # fmt: skip
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@observe
def step(value: int) -> int:
    return value


@pytest.mark.slow
def test_a_flush_of_12000_events_is_stored_once_in_uploads_the_server_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'big.db'}")
    key = storage.create_key("pro", name="big")
    try:
        with live_server(create_app(storage)) as url:
            proxy = CappingProxy(url, cap=10_000)  # the server's limit per upload
            try:
                monkeypatch.setenv("AIOBS_API_KEY", key.secret)
                monkeypatch.setenv("AIOBS_FLUSH_SERVER_URL", proxy.url)
                session_id = observer.observe("big")
                for value in range(12_000):
                    step(value)
                observer.end()
                assert observer.flush("big.json") == "big.json"
                assert observer.wait_for_background_flushes(timeout=120)
                assert proxy.uploads == [5_000, 5_000, 2_000]
                delivery = observer._delivery.remote()
                assert delivery is not None
                assert delivery.spool.pending() == []
            finally:
                proxy.stop()
            headers = {"Authorization": f"Bearer {key.secret}"}
            detail = requests.get(f"{url}/v1/sessions/{session_id}", headers=headers, timeout=60)
            assert detail.status_code == 200, detail.text
            results = sorted(event["result"] for event in detail.json()["function_events"])
            assert results == list(range(12_000))  # every event, once
            usage = requests.get(f"{url}/v1/usage", headers=headers, timeout=10).json()
            assert usage["usage"]["traces_used"] == 1  # one session, counted once
    finally:
        storage.close()

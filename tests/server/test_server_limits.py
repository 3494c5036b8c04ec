"""``aiobs server`` under attack, as a real process on 127.0.0.1: memory, sockets, slow clients.

Each test starts the command itself (``python -m aiobs server``) on a free port and a SQLite file,
and talks to it over real sockets: hostile uploads must not take its memory, idle or slow
connections must not take its file descriptors or its time, and one tenant's large uploads must
not hold up another tenant's small one.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from aiobs.server.storage import open_storage
from tests.postgres import free_port
from tests.server.app_fixtures import document, function_event, llm_event, session

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc"
)


@dataclass
class Server:
    """A running ``aiobs server`` process and two keys of different projects."""

    url: str
    process: subprocess.Popen[str]
    tenant_a: str
    tenant_b: str

    def memory_kib(self, field: str) -> int:
        """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of the server process, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc/{self.process.pid}/status")

    def post(self, key: str, body: bytes, *, gzipped: bool = False, timeout: float = 60) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return requests.post(f"{self.url}/v1/traces", data=body, headers=headers, timeout=timeout)


@contextmanager
def aiobs_server(
    tmp_path: Path, *options: str, open_files: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Run ``aiobs server`` with ``options`` (and at most ``open_files`` descriptors)."""
    db = f"sqlite:///{tmp_path}/limits.db"
    storage = open_storage(db)
    tenant_a = storage.create_key("enterprise", name="a").secret
    tenant_b = storage.create_key("enterprise", name="b").secret
    storage.close()
    port = free_port()
    command = [sys.executable, "-m", "aiobs", "server", "--db", db, "--port", str(port), *options]

    def limit_files() -> None:
        if open_files is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, hard))

    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            preexec_fn=limit_files,  # noqa: PLW1509 - only sets a resource limit, before exec
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield Server(url, process, tenant_a, tenant_b)
    finally:
        process.kill()
        process.wait(timeout=30)


def upload_of(events: int, *, session_id: str | None = None) -> bytes:
    """A gzipped document of one session with ``events`` events (half LLM calls)."""
    run = session(session_id=session_id)
    llm = [llm_event(run["id"]) for _ in range(events // 2)]
    functions = [function_event(run["id"]) for _ in range(events - events // 2)]
    return gzip.compress(json.dumps(document([run], llm, functions)).encode(), 1)


@pytest.fixture(scope="module")
def empty_object_bomb() -> bytes:
    """About 100 KB of gzip that inflates to 99 MB of ``{}`` under an unknown top-level key."""
    run = session()
    head = json.dumps(document([run], [llm_event(run["id"])]))[:-1].encode()
    body = gzip.compress(head + b', "padding": [' + b"{}," * 33_000_000 + b"{}]}", 9)
    assert len(body) < 200_000
    return body


@pytest.fixture(scope="module")
def long_string_bomb() -> bytes:
    """About 100 KB of gzip that inflates to a document of 95 MB: one recorded argument."""
    run = session()
    event = llm_event(run["id"])
    event["request"]["messages"][0]["content"] = "@@"
    text = json.dumps(document([run], [event])).encode()
    body = gzip.compress(text.replace(b'"@@"', b'"' + b"x" * (95 * MIB) + b'"'), 9)
    assert len(body) < 200_000
    return body


class TestMemory:
    """Ten hostile uploads at once cost the server its memory budget at most, not gigabytes."""

    def test_gzip_bombs_of_empty_objects(self, tmp_path: Path, empty_object_bomb: bytes) -> None:
        with aiobs_server(tmp_path) as server:
            assert server.post(server.tenant_a, upload_of(100), gzipped=True).status_code == 201
            before = server.memory_kib("VmRSS")
            with ThreadPoolExecutor(10) as pool:
                for _ in range(2):
                    answers = list(
                        pool.map(
                            lambda _: server.post(server.tenant_a, empty_object_bomb, gzipped=True),
                            range(10),
                        )
                    )
                    assert {answer.status_code for answer in answers} == {413}
                    assert "JSON values" in answers[0].json()["error"]
            grown = (server.memory_kib("VmHWM") - before) / 1024
            # refused after scanning ~6 MB of each: the bound is well under the 512 MiB budget
            assert grown < 150, f"the server grew by {grown:.0f} MiB"
            after = (server.memory_kib("VmRSS") - before) / 1024
            assert after < 100, f"the server kept {after:.0f} MiB"
            assert server.post(server.tenant_b, upload_of(100), gzipped=True).status_code == 201

    def test_long_documents_take_turns_within_the_budget(
        self, tmp_path: Path, long_string_bomb: bytes
    ) -> None:
        with aiobs_server(tmp_path) as server:
            assert server.post(server.tenant_a, upload_of(100), gzipped=True).status_code == 201
            before = server.memory_kib("VmRSS")
            with ThreadPoolExecutor(10) as pool:
                answers = list(
                    pool.map(
                        lambda _: server.post(server.tenant_a, long_string_bomb, gzipped=True),
                        range(10),
                    )
                )
            statuses = sorted(answer.status_code for answer in answers)
            busy = [answer for answer in answers if answer.status_code == 503]
            assert set(statuses) <= {201, 200, 503}, statuses
            assert busy, statuses  # the budget holds one such upload at a time
            assert busy[0].headers["Retry-After"] == "1"
            grown = (server.memory_kib("VmHWM") - before) / 1024
            # the 512 MiB budget, and what the allocator keeps around it
            assert grown < 512 + 128, f"the server grew by {grown:.0f} MiB"


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``sock`` within ``seconds``, and what it sent before."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        return True, received
    return False, received


class TestConnections:
    """Idle and slow connections cannot take the server's descriptors or hold it up."""

    def test_thousands_of_idle_sockets_do_not_stop_health(self, tmp_path: Path) -> None:
        # 1,024 descriptors, a common default: 2,000 idle sockets would use them all up
        with aiobs_server(tmp_path, open_files=1024) as server, ExitStack() as stack:
            for _ in range(2000):
                stack.enter_context(_connect(server.url))
            started = time.monotonic()
            health = requests.get(f"{server.url}/health", timeout=5)
            assert health.status_code == 200
            assert time.monotonic() - started < 2
            answer = server.post(server.tenant_a, upload_of(10), gzipped=True, timeout=5)
            assert answer.status_code == 201
            assert server.process.poll() is None

    def test_a_connection_that_sends_nothing_is_closed(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path, "--timeout-headers", "1") as server:
            with _connect(server.url) as idle:
                closed, _ = _closed_within(idle, 5)
            assert closed

    def test_headers_sent_slowly_are_cut_off(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path, "--timeout-headers", "1") as server:
            with _connect(server.url) as slow:
                slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                started = time.monotonic()
                for _ in range(20):  # a header byte every 0.2 s, never finishing
                    time.sleep(0.2)
                    try:
                        slow.sendall(b"X")
                    except (BrokenPipeError, ConnectionResetError):
                        break
                closed, received = _closed_within(slow, 3)
            assert closed
            assert received.startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 4

    def test_headers_too_large_are_refused(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path) as server:
            with _connect(server.url) as greedy:
                greedy.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                try:
                    for _ in range(200):
                        greedy.sendall(b"X-Filler: " + b"y" * 1000 + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, received = _closed_within(greedy, 5)
            assert closed
            assert received.startswith(b"HTTP/1.1 431")

    def test_a_body_sent_slowly_is_cut_off(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path, "--timeout-body", "1") as server:
            with _connect(server.url) as slow:
                host = server.url.removeprefix("http://")
                slow.sendall(
                    f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {server.tenant_a}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n".encode()
                )
                started = time.monotonic()
                try:
                    for _ in range(20):  # a byte every 0.2 s: 1,000 of them would take minutes
                        slow.sendall(b" ")
                        time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, received = _closed_within(slow, 3)
            assert closed
            assert received.startswith(b"HTTP/1.1 408")
            assert b"did not arrive within 1 seconds" in received
            assert time.monotonic() - started < 4

    def test_the_rest_of_a_refused_body_cannot_hold_the_connection(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path, "--timeout-headers", "1", "--timeout-body", "1") as server:
            with _connect(server.url) as slow:
                host = server.url.removeprefix("http://")
                slow.sendall(
                    f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\n"
                    "Content-Length: 100000000\r\n\r\n{".encode()  # no key: refused at once
                )
                answer = slow.recv(65536)
                assert answer.startswith(b"HTTP/1.1 401")
                try:
                    for _ in range(15):  # the rest of the body, a byte every 0.2 s
                        time.sleep(0.2)
                        slow.sendall(b" ")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                closed, _ = _closed_within(slow, 1)
            assert closed


class TestTenants:
    """One tenant's large uploads do not hold up another tenant's small one."""

    def test_a_small_upload_completes_while_large_ones_are_in_flight(self, tmp_path: Path) -> None:
        large = [upload_of(10_000) for _ in range(8)]  # the most one upload may hold
        with aiobs_server(tmp_path) as server:
            small_times: list[float] = []
            stop = threading.Event()

            def small_uploads() -> None:
                while not stop.is_set():
                    started = time.monotonic()
                    answer = server.post(server.tenant_b, upload_of(20), gzipped=True)
                    assert answer.status_code == 201
                    small_times.append(time.monotonic() - started)
                    time.sleep(0.05)

            watcher = threading.Thread(target=small_uploads)
            with ThreadPoolExecutor(4) as pool:
                watcher.start()
                large_started = time.monotonic()
                answers = list(
                    pool.map(lambda body: server.post(server.tenant_a, body, gzipped=True), large)
                )
                large_seconds = time.monotonic() - large_started
            stop.set()
            watcher.join(30)
            assert {answer.status_code for answer in answers} == {201}
            assert len(small_times) >= 3
            # measured on two cores: under 0.4 s; 1.7 to 2.8 s when large uploads were parsed
            # together and written in one transaction. On a machine slowed by other work the
            # large uploads slow down too: a small one may then take a third of their time.
            limit = max(1.0, large_seconds / 3)
            assert max(small_times) < limit, (sorted(small_times)[-5:], large_seconds)

    def test_the_event_limit_comes_from_the_environment(self, tmp_path: Path) -> None:
        with aiobs_server(tmp_path, env={"AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD": "5"}) as server:
            assert server.post(server.tenant_a, upload_of(5), gzipped=True).status_code == 201
            refused = server.post(server.tenant_a, upload_of(6), gzipped=True)
            assert refused.status_code == 413
            assert "6 events, more than the limit of 5" in refused.json()["error"]

"""``aiobs server --workers N``: the settings each worker gets, and several workers serving."""

from __future__ import annotations

import gc
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from aiobs.server import workers
from aiobs.server.rebalance import REQUESTS_PER_CONNECTION
from aiobs.server.storage import open_storage

from .app_fixtures import body, document, llm_event, session

ROOT = Path(__file__).resolve().parents[2]


def settings(db: str, count: int = 1) -> workers.ServerSettings:
    return workers.ServerSettings(
        db=db,
        quota_limits={"free": 5, "pro": None, "enterprise": None},
        period="day",
        max_body_bytes=1000,
        max_document_bytes=10_000,
        log_level="warning",
        workers=count,
    )


def test_settings_survive_the_trip_through_the_environment() -> None:
    original = settings("sqlite:///x.db", 3)
    again = workers.ServerSettings.from_json(original.to_json())
    assert again == original
    assert again.quotas.limit("free") == 5
    assert again.quotas.limit("pro") is None
    assert again.quotas.period == "day"


@pytest.mark.parametrize("text", ["not json", '{"db": "x"}', '["a"]'])
def test_broken_settings_say_where_they_came_from(text: str) -> None:
    with pytest.raises(ValueError, match=workers.SETTINGS_VARIABLE):
        workers.ServerSettings.from_json(text)


def test_the_factory_outside_aiobs_server_says_how_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(workers.SETTINGS_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="aiobs server"):
        workers.app_from_environment()


def test_a_worker_hands_the_interpreter_over_often_and_freezes_its_startup_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer holding every worker's write turn waits little for the interpreter.

    It waits at most ~1 ms for a request thread, and the garbage collector's full passes leave
    the objects made at startup alone.
    """
    from fastapi.testclient import TestClient

    monkeypatch.setenv(workers.SETTINGS_VARIABLE, settings(f"sqlite:///{tmp_path}/s.db").to_json())
    before = sys.getswitchinterval()
    gc.unfreeze()
    try:
        sys.setswitchinterval(0.005)
        with TestClient(workers.app_from_environment()):  # its lifespan closes the storage
            assert sys.getswitchinterval() == pytest.approx(workers.SWITCH_INTERVAL)
            assert workers.SWITCH_INTERVAL <= 0.001
            assert gc.get_freeze_count() > 1000
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()  # the rest of the tests' objects are collected as usual


def test_the_factory_builds_an_app_on_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    db = f"sqlite:///{tmp_path}/s.db"
    storage = open_storage(db)
    secret = storage.create_key("free").secret
    storage.close()
    monkeypatch.setenv(workers.SETTINGS_VARIABLE, settings(db).to_json())
    with TestClient(workers.app_from_environment()) as client:
        assert client.get("/health").json() == {"status": "ok", "database": "ok"}
        usage = client.get("/v1/usage", headers={"Authorization": f"Bearer {secret}"})
        assert usage.json()["usage"]["traces_limit"] == 5  # the quota of the settings
        too_big = client.post(
            "/v1/traces", content=b"x" * 2000, headers={"Authorization": f"Bearer {secret}"}
        )
        assert too_big.status_code == 413  # the body limit of the settings


def test_the_shared_socket_speaks_tcp_so_responses_are_not_delayed() -> None:
    config = workers.TCPConfig("aiobs.server.workers:app_from_environment", port=0)
    bound = config.bind_socket()
    try:
        # asyncio switches Nagle's algorithm off only on connections of an IPPROTO_TCP socket
        assert bound.proto == socket.IPPROTO_TCP
        assert bound.family == socket.AF_INET
    finally:
        bound.close()


def test_two_workers_serve_one_port_and_store_every_upload(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/s.db"
    storage = open_storage(db)
    secret = storage.create_key("enterprise").secret
    storage.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "aiobs", "server", "--db", db, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "2", "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    try:
        _wait_until_up(base, process)
        ids = []
        closing = []
        with requests.Session() as client:  # one keep-alive connection, as the SDK keeps
            for number in range(1, 31):
                run = session(f"run-{number}")
                ids.append(run["id"])
                answer = client.post(
                    f"{base}/v1/traces",
                    data=body(document([run], [llm_event(run["id"])])),
                    headers=headers,
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text
                if answer.headers.get("connection") == "close":
                    closing.append(number)
        # asked to reconnect after 25 requests, so that connections spread over the workers
        assert closing == [REQUESTS_PER_CONNECTION]
        listed = requests.get(f"{base}/v1/sessions?limit=100", headers=headers, timeout=10)
        assert {row["id"] for row in listed.json()["sessions"]} == set(ids)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "2 workers" in err
    assert secret not in err


def _wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/health", timeout=1)
            return
        except requests.ConnectionError:  # noqa: PERF203 - polling until it listens
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


@pytest.mark.parametrize("count", ["1", "2"])
def test_a_taken_port_fails_with_a_message(tmp_path: Path, count: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "aiobs", "server", "--db", f"sqlite:///{tmp_path}/s.db"]
        finished = subprocess.run(
            [*command, "--port", str(port), "--workers", count],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert finished.returncode == workers.STARTUP_FAILURE
    assert "address already in use" in finished.stderr.lower()


def test_the_connection_limit_leaves_room_within_the_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        assert workers.connection_limit(1000) == 512 - workers.RESERVED_DESCRIPTORS
        assert workers.connection_limit(100) == 100
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

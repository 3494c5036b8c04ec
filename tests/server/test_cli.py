"""The ``aiobs`` command: keys against a real SQLite file, and a real ``aiobs server`` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import requests

from aiobs.cli import main
from aiobs.server.storage import KEY_PREFIX, open_storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/keys.db"


def create(db: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    assert main(["keys", "create", "--db", db, "--tier", "pro", *extra]) == 0
    out, err = capsys.readouterr()
    return out, err


class TestKeys:
    """aiobs keys create / list / revoke."""

    def test_create_prints_the_key_alone_and_it_authenticates(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out, err = create(db, capsys, "--name", "ci")
        lines = out.splitlines()
        assert len(lines) == 1
        secret = lines[0]
        assert secret.startswith(KEY_PREFIX)
        assert secret not in err
        storage = open_storage(db)
        try:
            record = storage.authenticate(secret)
        finally:
            storage.close()
        assert record is not None
        assert record.tier == "pro"
        assert record.name == "ci"
        assert record.key_id in err
        assert record.project_id in err

    def test_a_key_can_join_an_existing_project(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        first, _ = create(db, capsys)
        storage = open_storage(db)
        try:
            project = storage.authenticate(first.strip())
            assert project is not None
            second, _ = create(db, capsys, "--project", project.project_id)
            joined = storage.authenticate(second.strip())
        finally:
            storage.close()
        assert joined is not None
        assert joined.project_id == project.project_id

    def test_list_shows_keys_but_never_secrets(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        one, _ = create(db, capsys, "--name", "first")
        two, _ = create(db, capsys, "--name", "second")
        assert main(["keys", "list", "--db", db]) == 0
        out, _ = capsys.readouterr()
        header, *rows = out.splitlines()
        assert header.split() == ["KEY", "ID", "PROJECT", "TIER", "NAME", "CREATED", "REVOKED"]
        assert [row.split()[3] for row in rows] == ["first", "second"]
        for secret in (one.strip(), two.strip()):
            assert secret not in out
            # not even the secret part (after the key id: it may hold "_" itself)
            secret_part = secret.removeprefix(KEY_PREFIX).partition("_")[2]
            assert len(secret_part) >= 40
            assert secret_part not in out

    def test_revoke_refuses_the_key_and_list_shows_when(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        secret = create(db, capsys)[0].strip()
        storage = open_storage(db)
        try:
            record = storage.authenticate(secret)
            assert record is not None
            assert main(["keys", "revoke", "--db", db, record.key_id]) == 0
            assert storage.authenticate(secret) is None
        finally:
            storage.close()
        capsys.readouterr()
        assert main(["keys", "list", "--db", db]) == 0
        row = capsys.readouterr().out.splitlines()[1]
        assert row.split()[-1].endswith("Z")  # a revocation time, not "-"

    def test_revoking_an_unknown_key_fails(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["keys", "revoke", "--db", db, "nosuchkey"]) == 1
        assert "no key with id 'nosuchkey'" in capsys.readouterr().err

    def test_an_unknown_tier_is_a_usage_error(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["keys", "create", "--db", db, "--tier", "gold"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "usage:" in err
        assert "invalid choice: 'gold'" in err

    def test_an_unknown_project_fails_with_a_message(
        self, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = main(["keys", "create", "--db", db, "--tier", "free", "--project", "nope"])
        assert code == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "aiobs: error:" in captured.err

    def test_a_bad_database_url_fails_with_a_message(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["keys", "list", "--db", "mysql://x/y"]) == 1
        assert "aiobs: error:" in capsys.readouterr().err

    def test_the_database_comes_from_the_environment(
        self, db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AIOBS_SERVER_DB", db)
        assert main(["keys", "create", "--tier", "free", "--name", "from-env"]) == 0
        capsys.readouterr()
        storage = open_storage(db)
        try:
            assert [record.name for record in storage.list_keys()] == ["from-env"]
        finally:
            storage.close()


class TestServerCommand:
    """aiobs server: arguments, the missing-extra hint, and a real process serving."""

    @pytest.mark.parametrize(
        ("argv", "says"),
        [
            (["server", "--quota", "gold=5"], "--quota takes TIER=N"),
            (["server", "--quota", "free=lots"], "whole number"),
            (["server", "--period", "year"], "invalid choice"),
            (["server", "--port", "eighty"], "invalid int value"),
            (["server", "--max-body-mb", "0"], "--max-body-mb must be positive"),
            (["server", "--max-events-per-upload", "0"], "--max-events-per-upload must be"),
            (["server", "--ingest-memory-mb", "-5"], "--ingest-memory-mb must be positive"),
            (["server", "--timeout-headers", "0"], "--timeout-headers must be positive"),
            (["server", "--timeout-body", "0"], "--timeout-body must be positive"),
            (["server", "--timeout-keep-alive", "0"], "--timeout-keep-alive must be positive"),
            (["server", "--max-connections", "0"], "--max-connections must be positive"),
            (["server", "--timeout-graceful-shutdown", "0"], "--timeout-graceful-shutdown must"),
            ([], "required"),
        ],
    )
    def test_bad_arguments_are_usage_errors(
        self, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "usage:" in err
        assert says in err

    def test_a_bad_event_limit_in_the_environment_is_a_usage_error(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD", "many")
        with pytest.raises(SystemExit) as exit_:
            main(["server"])
        assert exit_.value.code == 2
        assert "AIOBS_SERVER_MAX_EVENTS_PER_UPLOAD='many' must be a positive integer" in (
            capsys.readouterr().err
        )

    def test_without_the_server_extra_it_says_what_to_install(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        with mock.patch.dict(sys.modules, {"uvicorn": None}):
            code = main(["server", "--db", f"sqlite:///{tmp_path}/s.db"])
        assert code == 2
        assert "pip install 'aiobs[server]'" in capsys.readouterr().err

    def test_it_serves_until_stopped(
        self, tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        secret = create(db, capsys)[0].strip()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [sys.executable, "-m", "aiobs", "server", "--db", db, "--port", str(port)]
        command += ["--quota", "pro=7", "--period", "day"]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = requests.get(f"{base}/health", timeout=1)
                    break
                except requests.ConnectionError:
                    assert process.poll() is None, process.communicate()[1]
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
            assert health.json() == {"status": "ok", "database": "ok"}
            usage = requests.get(
                f"{base}/v1/usage", headers={"Authorization": f"Bearer {secret}"}, timeout=5
            )
            assert usage.json()["usage"]["traces_limit"] == 7
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
        assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it got
        assert "Shutting down" in err
        assert '"path": "/v1/usage", "status": 200' in err
        assert secret not in err

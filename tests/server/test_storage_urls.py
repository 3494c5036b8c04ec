"""Which database a storage URL opens, and the errors for URLs that name none."""

from __future__ import annotations

import sys
from pathlib import Path
from unittest import mock

import pytest

from aiobs.server.storage import SQLStorage, open_storage
from aiobs.server.storage.sqlite import SQLiteDriver


def _sqlite_path(url: str) -> Path:
    storage = open_storage(url)
    try:
        assert isinstance(storage, SQLStorage)
        assert isinstance(storage.driver, SQLiteDriver)
        storage.check()
        return storage.driver.path
    finally:
        storage.close()


class TestSQLiteURLs:
    """SQLite is named by a sqlite:/// URL or a plain path; the file is created."""

    def test_relative(self, tmp_path: Path) -> None:  # the autouse fixture chdirs to tmp_path
        assert _sqlite_path("sqlite:///data/rel.db") == Path("data/rel.db")
        assert (tmp_path / "data" / "rel.db").is_file()

    def test_absolute(self, tmp_path: Path) -> None:
        target = tmp_path / "abs.db"
        assert _sqlite_path(f"sqlite:///{target}") == target
        assert target.is_file()

    def test_plain_path(self, tmp_path: Path) -> None:
        assert _sqlite_path("plain.db") == Path("plain.db")
        assert (tmp_path / "plain.db").is_file()

    def test_reopened_file_keeps_data(self, tmp_path: Path) -> None:
        first = open_storage(str(tmp_path / "keep.db"))
        key = first.create_key("free")
        first.close()
        second = open_storage(f"sqlite:///{tmp_path / 'keep.db'}")
        try:
            assert second.authenticate(key.secret) == key.record
        finally:
            second.close()


class TestBadURLs:
    """Anything else is refused with a message showing both forms."""

    @pytest.mark.parametrize("url", ["mysql://db/x", "sqlite://", "", ":memory:", "http://x"])
    def test_refused(self, url: str) -> None:
        with pytest.raises(ValueError, match="sqlite:///") as caught:
            open_storage(url)
        assert "postgresql://" in str(caught.value)

    def test_password_not_echoed(self) -> None:
        with pytest.raises(ValueError) as caught:
            open_storage("mysql://user:hunter2@db.example/x")
        assert "hunter2" not in str(caught.value)

    def test_postgres_without_psycopg(self) -> None:
        hidden = {"psycopg": None, "psycopg_pool": None}
        with mock.patch.dict(sys.modules, hidden), pytest.raises(ImportError) as caught:
            open_storage("postgresql://postgres@127.0.0.1:1/none")
        assert "pip install 'aiobs[postgres]'" in str(caught.value)

    @pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
    def test_postgres_schemes(self, scheme: str, postgres_server: object) -> None:
        from .conftest import PostgresServer

        assert isinstance(postgres_server, PostgresServer)
        url = postgres_server.fresh_database().replace("postgresql://", f"{scheme}://")
        storage = open_storage(url)
        try:
            storage.check()
            assert storage.list_keys() == []
        finally:
            storage.close()

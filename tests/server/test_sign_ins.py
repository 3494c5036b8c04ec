"""Web UI sign-ins ended by signing out, on SQLite and PostgreSQL (schema step 6)."""

from __future__ import annotations

import pytest

from aiobs.server.storage import open_storage
from aiobs.server.storage.sql import SQLStorage


class TestEndedSignIns:
    """An ended sign-in is remembered until its cookie would have expired, then forgotten."""

    def test_an_ended_sign_in_is_known_to_every_connection(
        self, storage: SQLStorage, storage_url: str
    ) -> None:
        assert not storage.sign_in_ended("a" * 64)
        storage.end_sign_in("a" * 64, storage.clock() + 3600)
        storage.end_sign_in("a" * 64, storage.clock() + 3600)  # signing out twice is fine
        assert storage.sign_in_ended("a" * 64)
        assert not storage.sign_in_ended("b" * 64)
        another = open_storage(storage_url)  # another worker's storage on the same database
        try:
            assert another.sign_in_ended("a" * 64)
        finally:
            another.close()

    def test_expired_ones_are_pruned_when_another_ends(self, storage: SQLStorage) -> None:
        now = [1_800_000_000.0]
        storage.clock = lambda: now[0]
        storage.end_sign_in("old", now[0] + 10)
        now[0] += 11
        assert storage.sign_in_ended("old")  # still there until the next sign-out
        storage.end_sign_in("new", now[0] + 10)
        assert not storage.sign_in_ended("old")
        assert storage.sign_in_ended("new")


class TestSharedSecret:
    """Without AIOBS_UI_SECRET, every worker of one database signs cookies with one secret."""

    def test_the_first_secret_stored_is_every_servers(
        self, storage: SQLStorage, storage_url: str
    ) -> None:
        assert storage.shared_ui_secret("a" * 48) == "a" * 48
        another = open_storage(storage_url)
        try:
            assert another.shared_ui_secret("b" * 48) == "a" * 48
        finally:
            another.close()

    def test_a_sign_in_made_on_one_worker_works_on_another(
        self, storage: SQLStorage, storage_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from fastapi.testclient import TestClient

        from aiobs.server.app import create_app
        from aiobs.ui.security import SECRET_ENV, SESSION_COOKIE
        from tests.ui.test_pages import BASE, sign_in

        monkeypatch.delenv(SECRET_ENV, raising=False)
        key = storage.create_key("free")
        first = TestClient(create_app(storage), base_url=BASE)
        sign_in(first, key)
        another = open_storage(storage_url)
        try:
            second = TestClient(create_app(another), base_url=BASE)
            second.cookies.set(SESSION_COOKIE, first.cookies[SESSION_COOKIE])
            assert second.get("/ui/", follow_redirects=False).status_code == 200
        finally:
            another.close()

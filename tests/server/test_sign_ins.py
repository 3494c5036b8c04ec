"""Web UI sign-ins ended by signing out, on SQLite and PostgreSQL (schema step 6)."""

from __future__ import annotations

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

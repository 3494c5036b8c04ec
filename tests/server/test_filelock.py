"""The write turn that SQLite writers of several processes share through a lock file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aiobs.server.storage import SessionQuery, open_storage
from aiobs.server.storage.filelock import SUFFIX, WriterFileLock, fcntl

from .conftest import Call, SessionPlan, record_document

pytestmark = pytest.mark.skipif(fcntl is None, reason="flock does not exist on this platform")


def test_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = WriterFileLock(tmp_path / "s.db"), WriterFileLock(tmp_path / "s.db")
    try:
        assert first.path == tmp_path / f"s.db{SUFFIX}"
        assert first.acquire(blocking=False)
        assert not second.acquire(blocking=False)
        first.release()
        assert second.acquire(blocking=False)
        assert not first.acquire(blocking=False)
        second.close()  # closing gives the turn back
        assert first.acquire(blocking=False)
    finally:
        first.close()
        second.close()


def test_a_waiting_writer_gets_the_turn_when_it_is_released(tmp_path: Path) -> None:
    holder, waiter = WriterFileLock(tmp_path / "s.db"), WriterFileLock(tmp_path / "s.db")
    got_it = threading.Event()

    def wait_for_turn() -> None:
        with waiter:
            got_it.set()

    try:
        holder.acquire()
        thread = threading.Thread(target=wait_for_turn)
        thread.start()
        assert not got_it.wait(0.3)
        holder.release()
        assert got_it.wait(10)
        thread.join(10)
    finally:
        holder.close()
        waiter.close()


def test_a_transaction_holds_the_turn_until_it_commits(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    other = WriterFileLock(tmp_path / "s.db")
    try:
        with storage.driver.transaction():
            assert not other.acquire(blocking=False)
        assert other.acquire(blocking=False)
        other.release()
    finally:
        other.close()
        storage.close()


def test_two_storages_on_one_file_store_everything(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    storages = [open_storage(url), open_storage(url)]
    key = storages[0].create_key("enterprise").record
    documents = [
        record_document(SessionPlan(f"run-{index}", calls=[Call()])) for index in range(40)
    ]
    errors: list[BaseException] = []

    def upload(storage_index: int) -> None:
        try:
            for document in documents[storage_index::2]:
                storages[storage_index].ingest(key, document, None)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(index,)) for index in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert storages[1].quota_status(key).used == 40
        page = storages[0].sessions(key.project_id, SessionQuery(limit=100))
        assert len(page.sessions) == 40
    finally:
        for storage in storages:
            storage.close()

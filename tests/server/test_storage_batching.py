"""Group commit: uploads written together, each one undone alone when it fails; small ones first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aiobs.server.storage import SQLStorage, open_storage
from aiobs.server.storage.batching import BATCH_ROWS, GroupWriter
from aiobs.server.storage.driver import Cursor
from aiobs.server.storage.filelock import WriterFileLock
from aiobs.server.storage.sqlite import SQLiteDriver
from tests.server.app_fixtures import document, llm_event, session


@pytest.fixture
def driver(tmp_path: Path) -> SQLiteDriver:
    driver = SQLiteDriver(tmp_path / "batch.db")
    with driver.transaction() as cursor:
        cursor.execute("CREATE TABLE rows (value INTEGER PRIMARY KEY)")
    return driver


def _rows(driver: SQLiteDriver) -> list[int]:
    with driver.reading() as cursor:
        cursor.execute("SELECT value FROM rows ORDER BY value")
        return [row[0] for row in cursor.fetchall()]


def test_a_failing_upload_is_undone_and_the_others_are_committed(driver: SQLiteDriver) -> None:
    writer: GroupWriter[int] = GroupWriter(driver)
    gate = threading.Event()
    outcomes: dict[int, object] = {}

    def insert(value: int) -> None:
        def work(cursor: Cursor) -> int:
            if value == 0:
                gate.wait(5)  # holds the first batch open so the others queue up behind it
            cursor.execute("INSERT INTO rows (value) VALUES (?)", (value,))
            if value == 3:
                raise ValueError("upload 3 is refused")
            return value

        try:
            outcomes[value] = writer.write(work)
        except ValueError as exc:
            outcomes[value] = exc

    threads = [threading.Thread(target=insert, args=(value,)) for value in range(6)]
    threads[0].start()
    for thread in threads[1:]:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    writer.close()
    assert _rows(driver) == [0, 1, 2, 4, 5]
    assert isinstance(outcomes.pop(3), ValueError)
    assert outcomes == {0: 0, 1: 1, 2: 2, 4: 4, 5: 5}
    driver.close()


def test_a_failed_commit_reaches_every_caller_of_the_batch(driver: SQLiteDriver) -> None:
    writer: GroupWriter[int] = GroupWriter(driver)
    driver.close()  # the next transaction cannot even begin
    with pytest.raises(Exception, match="closed"):
        writer.write(lambda cursor: 1)
    writer.close()


def test_small_uploads_go_before_large_ones_that_waited(driver: SQLiteDriver) -> None:
    writer: GroupWriter[str] = GroupWriter(driver)
    gate = threading.Event()
    order: list[str] = []

    def upload(name: str, rows: int) -> threading.Thread:
        def work(cursor: Cursor) -> str:
            if name == "first":
                gate.wait(5)  # the writer is busy while the others queue up
            order.append(name)
            return name

        thread = threading.Thread(target=writer.write, args=(work, rows))
        thread.start()
        return thread

    threads = [upload("first", 1)]
    time.sleep(0.2)  # the writer has taken "first" and waits in it
    for name, rows in (
        ("big-a", BATCH_ROWS + 1),
        ("small-1", 10),
        ("big-b", BATCH_ROWS),
        ("small-2", 10),
    ):
        threads.append(upload(name, rows))
        time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join(10)
    writer.close()
    # the small ones overtake; each large one, passed over once, then goes in its turn
    assert order == ["first", "small-1", "small-2", "big-a", "big-b"]
    driver.close()


def _document(events: int) -> dict[str, Any]:
    run = session()
    return document([run], [llm_event(run["id"]) for _ in range(events)])


def test_a_small_upload_is_not_held_up_by_large_ones_queued_before_it(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/s.db")
    assert isinstance(storage, SQLStorage)
    large = storage.create_key("enterprise").record
    small = storage.create_key("enterprise").record
    documents = {
        "first": _document(1),
        "large-1": _document(6000),
        "large-2": _document(6000),
        "small": _document(1),
    }
    finished: dict[str, float] = {}

    def upload(name: str) -> threading.Thread:
        key = small if name == "small" else large

        def run() -> None:
            storage.ingest(key, documents[name], name)
            finished[name] = time.perf_counter()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    # only to sequence the test: uploads handed to the writer and not taken yet, and whether
    # the writer is inside a transaction (waiting for its turn)
    def queued() -> int:
        return storage._writer._waiting.qsize()

    def writer_waiting() -> bool:
        return storage.driver._write_lock.locked()  # type: ignore[attr-defined]

    # another process's write turn (as with --workers) keeps the writer waiting meanwhile
    other_process = WriterFileLock(tmp_path / "s.db")
    other_process.acquire()
    threads = [upload("first")]
    _wait_for(lambda: writer_waiting() and queued() == 0, "the writer waits with the first upload")
    threads.append(upload("large-1"))
    _wait_for(lambda: queued() == 1, "large-1 queued")
    threads.append(upload("large-2"))
    _wait_for(lambda: queued() == 2, "large-2 queued")
    threads.append(upload("small"))
    _wait_for(lambda: queued() == 3, "small queued")
    other_process.release()
    for thread in threads:
        thread.join(30)
    other_process.close()
    storage.close()
    assert set(finished) == set(documents)
    # the small upload is committed on its own, a large write (over 20 ms) before the others
    assert finished["large-1"] - finished["small"] > 0.02
    assert finished["large-2"] - finished["small"] > 0.02


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        time.sleep(0.01)

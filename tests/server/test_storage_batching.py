"""Group commit: uploads written together, each one undone alone when it fails."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aiobs.server.storage.batching import GroupWriter
from aiobs.server.storage.driver import Cursor
from aiobs.server.storage.sqlite import SQLiteDriver


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

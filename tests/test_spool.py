"""The spool keeps undelivered documents byte for byte, oldest first, within its bound."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiobs import observe, observer
from aiobs.delivery.spool import Spool, default_directory, key_fingerprint
from aiobs.exporters import ExportDocument, InMemoryExporter


def test_documents_come_back_byte_for_byte_oldest_first(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.pending() == []
    first = spool.put(b'{"n": 1}')
    second = spool.put(b'{"n": 2}')
    assert spool.pending() == [first, second]
    assert [Spool.read(path) for path in spool.pending()] == [b'{"n": 1}', b'{"n": 2}']
    Spool.remove(first)
    assert spool.pending() == [second]
    assert Spool.read(first) is None
    assert spool.size() == len(b'{"n": 2}')
    assert not [p for p in (tmp_path / "spool").iterdir() if p.name.endswith(".tmp")]


def test_the_oldest_documents_are_dropped_beyond_the_bound(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, max_bytes=25)
    for number in range(4):
        spool.put(b"x" * 9 + str(number).encode())  # 10 bytes each
    assert [Spool.read(path) for path in spool.pending()] == [b"x" * 9 + b"2", b"x" * 9 + b"3"]
    assert any("dropped the 1 oldest" in message for message in caplog.messages)
    assert caplog.records[-1].levelno == logging.WARNING


def test_the_directory_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "mine"))
    assert default_directory() == tmp_path / "mine"
    monkeypatch.delenv("AIOBS_SPOOL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_directory() == tmp_path / "cache" / "aiobs" / "spool"


def test_a_bound_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        Spool(tmp_path, max_bytes=0)


def test_a_spooled_document_keeps_its_exact_bytes() -> None:
    @observe
    def work(value: int) -> int:
        return value

    observer.observe("s")
    work(1)
    memory = InMemoryExporter()
    observer.flush(exporter=memory)
    document_bytes = ExportDocument(data=memory.documents[-1]).to_json()
    again = ExportDocument.from_json(document_bytes)
    assert again.to_json() == document_bytes
    assert again.session_ids == [memory.documents[-1]["sessions"][0]["id"]]
    assert again.event_count == 1
    with pytest.raises(ValueError, match="not an aiobs export document"):
        ExportDocument.from_json(b'{"hello": 1}')


KEY_A = "aiobs_sk_first-key-0123456789"
KEY_B = "aiobs_sk_second-key-9876543210"


class TestDestinations:
    """Each server URL and key has a spool of its own; the key is never written to disk."""

    def test_one_directory_per_url_and_key(self, tmp_path: Path) -> None:
        spools = [
            Spool.for_destination(tmp_path, url, key)
            for url in ("http://127.0.0.1:8001", "http://127.0.0.1:8002")
            for key in (KEY_A, KEY_B)
        ]
        assert len({spool.directory for spool in spools}) == 4
        assert all(spool.directory.parent == tmp_path for spool in spools)
        again = Spool.for_destination(tmp_path, "http://127.0.0.1:8001", KEY_A)
        assert again.directory == spools[0].directory

    def test_the_key_is_never_on_disk(self, tmp_path: Path) -> None:
        spool = Spool.for_destination(tmp_path, "https://user:pw@flush.example.com:8443/x", KEY_A)
        spool.put(b'{"n": 1}')
        label = (spool.directory / "DESTINATION").read_text()
        assert "url: https://flush.example.com:8443/x" in label
        assert f"key: {key_fingerprint(KEY_A)}" in label
        for path in tmp_path.rglob("*"):
            assert KEY_A not in str(path)
            assert "pw" not in path.name
            if path.is_file():
                assert KEY_A.encode() not in path.read_bytes()
                assert b"pw@" not in path.read_bytes()
        assert spool.directory.name.startswith("flush.example.com_8443-")
        assert spool.pending() != []  # the DESTINATION file is not a document

    def test_documents_of_the_old_shared_layout_are_moved_aside_not_delivered(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        old = Spool(tmp_path)  # earlier versions: one directory for every key and server
        first = old.put(b'{"n": 1}')
        second = old.put(b'{"n": 2}')
        (tmp_path / "notes.json").write_text("{}")  # not ours: left alone
        spool = Spool.for_destination(tmp_path, "http://127.0.0.1:8001", KEY_A)
        assert spool.pending() == []
        unbound = tmp_path / "unbound"
        assert sorted(p.read_bytes() for p in unbound.iterdir()) == [b'{"n": 1}', b'{"n": 2}']
        assert not first.exists()
        assert not second.exists()
        assert (tmp_path / "notes.json").exists()
        [said] = [m for m in caplog.messages if "earlier aiobs" in m]
        assert str(unbound) in said
        assert "moved 2 documents" in said
        Spool.for_destination(tmp_path, "http://127.0.0.1:8001", KEY_B)
        assert len([m for m in caplog.messages if "earlier aiobs" in m]) == 1  # nothing new


class TestOrderAndSettingAside:
    """Documents refused for themselves come after the others; refused for good, aside."""

    def test_a_held_back_document_comes_after_the_others_with_its_bytes(
        self, tmp_path: Path
    ) -> None:
        spool = Spool(tmp_path)
        first, second, third = (spool.put(f'{{"n": {n}}}'.encode()) for n in (1, 2, 3))
        held = spool.hold_back(first)
        assert held is not None
        assert Spool.attempts(held) == 1
        assert spool.pending() == [second, third, held]
        assert Spool.read(held) == b'{"n": 1}'
        again = spool.hold_back(held)
        assert again is not None
        assert Spool.attempts(again) == 2
        assert spool.hold_back(first) is None  # gone meanwhile

    def test_a_document_set_aside_keeps_its_bytes_and_the_reason(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path / "spool")
        path = spool.put(b'{"n": 1}')
        moved = spool.set_aside(path, "HTTP 422 from the flush server: bad")
        assert moved == spool.rejected / path.name
        assert moved.read_bytes() == b'{"n": 1}'
        assert moved.with_name(moved.name + ".reason").read_text() == (
            "HTTP 422 from the flush server: bad\n"
        )
        assert spool.pending() == []
        assert spool.set_aside(path, "again") is None

    def test_the_rejected_directory_is_bounded_too(self, tmp_path: Path) -> None:
        spool = Spool(tmp_path, max_bytes=25)
        for number in range(4):
            spool.set_aside(spool.put(b"x" * 9 + str(number).encode()), "no")
        kept = sorted(p.read_bytes() for p in spool.rejected.glob("*.json"))
        assert kept == [b"x" * 9 + b"2", b"x" * 9 + b"3"]
        assert len(list(spool.rejected.glob("*.reason"))) == 2


CRASHING_WRITE = """
import os, sys, time
from aiobs.delivery.spool import Spool

def stuck(source, target):  # the document is written; the process dies before the rename
    print("written", flush=True)
    time.sleep(60)

os.replace = stuck
Spool(sys.argv[1]).put(b'{"half": "done"}')
"""


class TestLeftovers:
    """Temporary files a crash left are removed when the spool is next opened."""

    def test_a_write_killed_before_its_rename_leaves_nothing_behind_for_long(
        self, tmp_path: Path
    ) -> None:
        directory = tmp_path / "spool"
        with subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITE, str(directory)],
            stdout=subprocess.PIPE,
            text=True,
        ) as writer:
            try:
                assert writer.stdout is not None
                assert writer.stdout.readline() == "written\n"
            finally:
                writer.send_signal(signal.SIGKILL)  # kill -9
                writer.wait(timeout=10)
        [left] = list(directory.iterdir())
        assert left.name.endswith(".tmp")
        assert Spool(directory).pending() == []  # never taken for a document
        assert left.exists()  # it could still be a write in progress: too young to remove
        an_hour_ago = time.time() - 3601
        os.utime(left, (an_hour_ago, an_hour_ago))
        assert Spool(directory).pending() == []
        assert not left.exists()

    def test_only_our_stale_temporary_files_are_removed(self, tmp_path: Path) -> None:
        old = time.time() - 7200
        ours = [tmp_path / ".aiobs-k2j4h6g8.tmp", tmp_path / ".a1b2c3d4.tmp"]  # now; earlier
        theirs = [tmp_path / "notes.tmp", tmp_path / ".notes-from-someone.tmp"]
        fresh = tmp_path / ".aiobs-f0f0f0f0.tmp"
        for path in (*ours, *theirs, fresh):
            path.write_bytes(b"{")
            if path is not fresh:
                os.utime(path, (old, old))
        document = Spool(tmp_path).put(b"{}")
        assert [path.exists() for path in ours] == [False, False]
        assert [path.exists() for path in theirs] == [True, True]
        assert fresh.exists()
        assert document.exists()

    def test_stale_temporary_files_of_the_old_layout_are_removed_too(self, tmp_path: Path) -> None:
        left = tmp_path / ".x9y8z7w6.tmp"
        left.write_bytes(b"{")
        old = time.time() - 7200
        os.utime(left, (old, old))
        Spool.for_destination(tmp_path, "http://127.0.0.1:8001", KEY_A)
        assert not left.exists()

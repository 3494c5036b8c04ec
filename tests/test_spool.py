"""The spool keeps undelivered documents byte for byte, oldest first, within its bound."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from aiobs import observe, observer
from aiobs.delivery.spool import Spool, default_directory
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

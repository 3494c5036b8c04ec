"""Shared fixtures: every test starts from a clean collector and fails on aiobs's own errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from aiobs import _guard, _ids, observer
from aiobs.exporters import InMemoryExporter

# Property tests generate values at whatever speed the machine allows; on a busy machine the
# "too slow" health check would fail them for reasons that have nothing to do with aiobs.
settings.register_profile("aiobs", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("aiobs")

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "schema" / "export.schema.json"


@pytest.fixture(autouse=True)
def _clean_aiobs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Reset global state around each test; internal errors raise instead of being logged."""
    for name in ("LLM_OBS_OUT", "AIOBS_API_KEY", "AIOBS_FLUSH_AT_EXIT", "AIOBS_FLUSH_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIOBS_SPOOL_DIR", str(tmp_path / "spool"))  # never the user's own
    monkeypatch.chdir(tmp_path)
    observer.reset()
    observer.configure(flush_at_exit=False)
    _ids.reset()
    _guard.set_raise_internal_errors(True)
    yield
    observer.reset()
    _ids.reset()


@pytest.fixture
def exporter() -> InMemoryExporter:
    """An exporter that keeps flushed documents in memory."""
    return InMemoryExporter()


@pytest.fixture(scope="session")
def export_schema() -> dict[str, Any]:
    """The JSON Schema of the export document, as committed under docs/."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

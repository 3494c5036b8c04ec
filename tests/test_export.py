"""The export document: schema, aiobs 0.2 compatibility, and the file it is written to."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pydantic_core
import pytest

from aiobs import _ids, observe, observer
from aiobs.exporters import BaseExporter, ExportResult, FileExporter, InMemoryExporter
from aiobs.models import ObservabilityExport, json_schema
from aiobs.testing import deterministic
from aiobs.tree import MAX_TREE_DEPTH
from tests.conftest import SCHEMA_PATH
from tests.helpers import flush_document

AIOBS_02_TOP_LEVEL = [
    "sessions",
    "events",
    "function_events",
    "trace_tree",
    "enh_prompt_traces",
    "generated_at",
    "version",
]


def record_everything() -> None:
    """One of each kind of event, nested, with an error, a closed generator and a provider call."""

    @observe(enh_prompt=True, auto_enhance_after=3)
    def leaf(x: int) -> dict[str, Any]:
        return {"x": x, "tags": {"a", "b"} if x else set(), "nan": float("nan")}

    @observe
    def items() -> Any:
        yield 1
        yield 2

    @observe
    def fails() -> None:
        raise ValueError("broken")

    @observe
    def root() -> None:
        leaf(1)
        with observer.span("retrieval", k=3) as span:
            observer.event("decision", choice="fallback")
            span.set("hits", [1, 2])
            next(items())
        now = _ids.wall_clock()
        observer._record_event(
            {
                "provider": "openai",
                "api": "chat.completions.create",
                "request": {"model": "m"},
                "response": {"text": "hi"},
                "started_at": now,
                "ended_at": now,
                "duration_ms": 0.0,
            }
        )
        with contextlib.suppress(ValueError):
            fails()

    root()


class TestSchema:
    """Every document validates against docs/schema/export.schema.json, which matches the models."""

    def test_committed_schema_is_up_to_date(self) -> None:
        committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        assert committed == json.loads(json.dumps(json_schema())), "run `make schema`"

    def test_full_document_validates(self, export_schema: dict[str, Any]) -> None:
        observer.observe(session_name="everything", labels={"suite": "export"})
        record_everything()
        document = flush_document()
        jsonschema.validate(document, export_schema)
        kinds = sorted({e.get("kind", "function") for e in document["function_events"]})
        assert kinds == ["event", "function", "generator", "span"]
        statuses = sorted({e.get("status", "ok") for e in document["function_events"]})
        assert statuses == ["closed", "error", "ok"]

    def test_schema_rejects_a_broken_document(self, export_schema: dict[str, Any]) -> None:
        observer.observe()
        record_everything()
        document = flush_document()
        del document["function_events"][0]["started_at"]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, export_schema)

    def test_document_parses_with_the_models(self, tmp_path: Path) -> None:
        observer.observe()
        record_everything()
        path = observer.flush("all.json")
        assert isinstance(path, str)
        export = ObservabilityExport.model_validate_json((tmp_path / path).read_bytes())
        assert export.version == 1
        assert {e.kind for e in export.function_events} == {
            "function",
            "generator",
            "span",
            "event",
        }
        assert export.events[0].provider == "openai"
        assert export.enh_prompt_traces is not None
        assert len(export.enh_prompt_traces) == 1


class TestCompatibility:
    """The top level is aiobs 0.2's, exactly; aiobs 0.2 documents still parse."""

    def test_top_level_keys_in_order(self) -> None:
        observer.observe()
        record_everything()
        assert list(flush_document()) == AIOBS_02_TOP_LEVEL

    def test_every_aiobs_02_event_field_is_present(self) -> None:
        observer.observe()
        record_everything()
        document = flush_document()
        function_fields = {
            "provider", "api", "name", "module", "args", "kwargs", "result", "error",
            "started_at", "ended_at", "duration_ms", "callsite", "span_id", "parent_span_id",
            "trace_id", "enh_prompt", "enh_prompt_id", "auto_enhance_after", "session_id",
        }  # fmt: skip
        for event in document["function_events"]:
            assert function_fields <= set(event), function_fields - set(event)
        session_fields = {"id", "name", "started_at", "ended_at", "meta", "labels"}
        assert session_fields <= set(document["sessions"][0])

    def test_aiobs_02_document_parses(self) -> None:
        legacy = {
            "sessions": [{"id": "s1", "name": "s1", "started_at": 1.0, "ended_at": None,
                          "meta": {"pid": 1, "cwd": "/"}, "labels": None}],
            "events": [{"provider": "openai", "api": "chat", "request": {"model": "m"},
                        "response": None, "error": None, "started_at": 1.0, "ended_at": 2.0,
                        "duration_ms": 1000.0, "callsite": None, "span_id": None,
                        "parent_span_id": None, "trace_id": None, "session_id": "s1"}],
            "function_events": [{"provider": "function", "api": "m.f", "name": "f",
                                 "module": "m", "args": [1], "kwargs": {}, "result": 2,
                                 "error": None, "started_at": 1.0, "ended_at": 1.1,
                                 "duration_ms": 100.0, "callsite": None, "span_id": "a",
                                 "parent_span_id": None, "trace_id": None, "enh_prompt": False,
                                 "enh_prompt_id": None, "auto_enhance_after": None,
                                 "session_id": "s1"}],
            "trace_tree": [],
            "enh_prompt_traces": None,
            "generated_at": 3.0,
            "version": 1,
        }  # fmt: skip
        export = ObservabilityExport.model_validate(legacy)
        assert export.function_events[0].kind == "function"
        assert export.function_events[0].status == "ok"
        assert export.sessions[0].dropped_events == 0


class TestTree:
    """The trace tree nests events by parent span, in start order, within JSON parsers' limits."""

    def test_readable_tree(self) -> None:
        with deterministic():
            observer.observe()
            record_everything()
            document = flush_document()

        def outline(nodes: list[dict[str, Any]]) -> list[Any]:
            return [
                (n.get("name") or n["api"], n["event_type"], outline(n["children"])) for n in nodes
            ]

        assert outline(document["trace_tree"]) == [
            (
                "root",
                "function",
                [
                    ("leaf", "function", []),
                    (
                        "retrieval",
                        "function",
                        [("decision", "function", []), ("items", "function", [])],
                    ),
                    ("chat.completions.create", "provider", []),
                    ("fails", "function", []),
                ],
            )
        ]

    def test_deep_recursion_stays_parseable(self, tmp_path: Path) -> None:
        @observe
        def recurse(n: int) -> int:
            return 0 if n == 0 else recurse(n - 1) + 1

        observer.observe()
        depth = MAX_TREE_DEPTH + 36
        assert recurse(depth - 1) == depth - 1
        path = observer.flush("deep.json")
        assert isinstance(path, str)
        raw = (tmp_path / path).read_bytes()
        document = pydantic_core.from_json(raw)  # the strictest common parser (200 levels)
        ObservabilityExport.model_validate_json(raw)
        levels, node, truncated = 0, document["trace_tree"], 0
        while node:
            levels += 1
            truncated += sum(1 for n in node if n.get("depth_truncated"))
            node = node[0]["children"]
        assert levels == MAX_TREE_DEPTH
        assert truncated == depth - MAX_TREE_DEPTH
        assert len(document["function_events"]) == depth

    def test_parent_from_an_earlier_flush_is_a_root(self) -> None:
        first = InMemoryExporter()

        @observe
        def child() -> None:
            return None

        @observe
        def parent() -> None:
            child()
            observer.flush(exporter=first)  # the parent is still open: not exported yet

        observer.observe()
        parent()
        second = flush_document()
        [early] = first.documents[0]["function_events"]
        assert early["name"] == "child"
        assert early["parent_span_id"] is not None
        assert [n["name"] for n in first.documents[0]["trace_tree"]] == ["child"]
        [late] = second["function_events"]
        assert late["span_id"] == early["parent_span_id"]


class TestFileExporter:
    """Files are written atomically, compact by default, readable by their owner."""

    def test_atomic_write_leaves_no_temporary_files(self, tmp_path: Path) -> None:
        observer.observe()
        record_everything()
        observer.flush("out.json")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
        assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o600

    def test_failed_write_keeps_the_previous_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "out.json").write_text('{"previous": true}')

        def disk_full(*args: Any, **kwargs: Any) -> None:
            raise OSError(28, "No space left on device")

        observer.observe()
        record_everything()
        monkeypatch.setattr(os, "replace", disk_full)
        assert observer.flush("out.json") is None
        monkeypatch.undo()
        assert json.loads((tmp_path / "out.json").read_text()) == {"previous": True}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
        assert observer.buffered_events > 0

    def test_indent_option(self, tmp_path: Path) -> None:
        observer.observe()
        record_everything()
        result = observer.flush(exporter=FileExporter(tmp_path / "pretty.json", indent=2))
        assert isinstance(result, ExportResult)
        text = (tmp_path / "pretty.json").read_text()
        assert text.startswith('{\n  "sessions": [')
        assert result.bytes_written == len(text.encode())

    def test_large_documents_are_written_in_bounded_chunks(self) -> None:
        @observe
        def flat(i: int) -> int:
            return i

        @observe
        def nested(i: int) -> int:
            return flat(i)

        observer.observe()
        for i in range(3000):
            nested(i)
        writes: list[int] = []

        class Recorder(io.BytesIO):
            def write(self, data: Any) -> int:
                writes.append(len(data))
                return super().write(data)

        class Streaming(BaseExporter):
            def export_document(self, document: Any, **kwargs: Any) -> ExportResult:
                stream = Recorder()
                size = document.write_to(stream)
                assert size == len(stream.getvalue())
                export = ObservabilityExport.model_validate_json(stream.getvalue())
                assert len(export.function_events) == 6000
                return ExportResult(True, bytes_written=size)

        result = observer.flush(exporter=Streaming())
        assert isinstance(result, ExportResult)
        assert result.success
        assert result.bytes_written is not None
        assert len(writes) > 10
        assert max(writes) < result.bytes_written / 5

    def test_aiobs_02_style_exporter_receives_models(self) -> None:
        received: list[ObservabilityExport] = []

        class LegacyExporter(BaseExporter):
            def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
                received.append(data)
                return ExportResult(True, destination=f"legacy:{kwargs['bucket']}")

        observer.observe()
        record_everything()
        result = observer.flush(exporter=LegacyExporter(), bucket="b1")
        assert isinstance(result, ExportResult)
        assert result.destination == "legacy:b1"
        assert received[0].function_events[0].session_id == received[0].sessions[0].id

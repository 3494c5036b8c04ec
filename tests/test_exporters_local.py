"""File formats (JSON, JSON Lines, gzip), function exporters and composite exporters."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from aiobs import observe, observer
from aiobs._context import suppressed_var
from aiobs.exporters import (
    BaseExporter,
    CompositeExporter,
    CustomExporter,
    ExportDocument,
    ExportError,
    ExportResult,
    FileExporter,
    InMemoryExporter,
)
from aiobs.models import ObservabilityExport


@observe
def step(value: int) -> int:
    return value * 2


def _record(count: int) -> None:
    for value in range(count):
        step(value)


def _jsonl(path: Path, compressed: bool = False) -> list[dict[str, Any]]:
    raw = gzip.decompress(path.read_bytes()) if compressed else path.read_bytes()
    return [json.loads(line) for line in raw.splitlines()]


def _records(document: ExportDocument) -> list[tuple[str, dict[str, Any]]]:
    data = document.data
    kinds = (("session", "sessions"), ("event", "events"), ("function_event", "function_events"))
    return [(record, item) for record, key in kinds for item in data[key]]


class TestFileFormats:
    def test_gzipped_json_holds_the_same_document(self, tmp_path: Path) -> None:
        observer.observe("zipped")
        _record(3)
        path = tmp_path / "run.json.gz"
        assert observer.flush(exporter=FileExporter(path)).success  # type: ignore[union-attr]
        document = json.loads(gzip.decompress(path.read_bytes()))
        assert [e["result"] for e in document["function_events"]] == [0, 2, 4]
        ObservabilityExport.model_validate(document)

    def test_repeated_gzipped_flushes_merge(self, tmp_path: Path) -> None:
        path = tmp_path / "run.json.gz"
        observer.observe("zipped")
        _record(2)
        observer.flush(exporter=FileExporter(path, merge=True))
        _record(1)
        observer.flush(exporter=FileExporter(path, merge=True))
        document = json.loads(gzip.decompress(path.read_bytes()))
        assert len(document["function_events"]) == 3

    def test_json_lines_are_appended_at_each_flush(self, tmp_path: Path) -> None:
        path = tmp_path / "run.jsonl"
        exporter = FileExporter(path)
        assert exporter.format == "jsonl"
        session_id = observer.observe("lines")
        _record(2)
        observer.flush(exporter=exporter)
        first_size = path.stat().st_size
        _record(1)
        observer.flush(exporter=exporter)
        lines = _jsonl(path)
        assert path.stat().st_size > first_size
        assert [line["record"] for line in lines] == [
            "session",
            "function_event",
            "function_event",
            "session",
            "function_event",
        ]
        assert {line["id"] for line in lines if line["record"] == "session"} == {session_id}
        assert [line["result"] for line in lines if line["record"] == "function_event"] == [0, 2, 0]

    def test_json_lines_carry_exactly_the_documents_records(self) -> None:
        """The lines written from the event bytes say what the document's dicts say."""

        class Keep(BaseExporter):
            name = "keep"

            def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
                self.document = document
                return ExportResult(True)

        @observe
        def outer(text: str) -> dict[str, Any]:
            return {"inner": [step(1), step(2)], "text": text, "odd": float("nan")}

        observer.observe("lines", labels={"team": "search"})
        outer("héllo \u2028 {}")
        observer._record_event(
            {"provider": "openai", "api": "chat.completions.create", "request": {"model": "m"}}
        )
        keep = Keep()
        observer.flush(exporter=keep)
        written = [json.loads(line) for line in b"".join(keep.document.json_lines()).splitlines()]
        expected = [{"record": record, **item} for record, item in _records(keep.document)]
        assert written == expected
        assert [line["record"] for line in written] == ["session", "event"] + ["function_event"] * 3

    def test_gzipped_json_lines_append_one_member_per_flush(self, tmp_path: Path) -> None:
        path = tmp_path / "run.jsonl.gz"
        observer.observe("lines")
        for count in (1, 2):
            _record(count)
            observer.flush(exporter=FileExporter(path))
        lines = _jsonl(path, compressed=True)
        assert sum(line["record"] == "function_event" for line in lines) == 3

    def test_bad_format_and_merge_on_lines_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match='"json" or "jsonl"'):
            FileExporter(tmp_path / "x", format="csv")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="appended to"):
            FileExporter(tmp_path / "x.jsonl", merge=True)

    def test_an_unwritable_destination_keeps_the_data(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=FileExporter(blocker / "run.jsonl"))
        assert isinstance(result, ExportResult)
        assert not result.success
        assert "cannot append" in (result.error or "")
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        assert len(memory.function_events) == 1


class TestCustomExporter:
    def test_the_handler_gets_the_models_and_merged_options(self) -> None:
        received: list[tuple[ObservabilityExport, dict[str, Any]]] = []

        def handler(data: ObservabilityExport, **options: Any) -> None:
            received.append((data, options))

        exporter = CustomExporter(handler, name="mine", default_options={"a": 1, "b": 2})
        observer.observe("s")
        _record(2)
        result = observer.flush(exporter=exporter, b=3)
        assert isinstance(result, ExportResult)
        assert result.success
        assert result.destination is None  # as in aiobs 0.2: the handler returned None
        assert result.metadata == {"handler": "mine"}
        [(data, options)] = received
        assert isinstance(data, ObservabilityExport)
        assert [e.result for e in data.function_events] == [0, 2]
        assert options == {"a": 1, "b": 3}

    def test_a_result_returned_by_the_handler_is_passed_on(self) -> None:
        exporter = CustomExporter(lambda data, **_: ExportResult(True, destination="queue://x"))
        observer.observe("s")
        result = observer.flush(exporter=exporter)
        assert isinstance(result, ExportResult)
        assert result.destination == "queue://x"

    def test_a_failing_handler_fails_the_export_and_keeps_the_data(self) -> None:
        def handler(data: ObservabilityExport, **options: Any) -> None:
            raise ConnectionError("queue down")

        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=CustomExporter(handler, name="queue"))
        assert isinstance(result, ExportResult)
        assert not result.success
        assert result.error == "Custom export handler failed: queue down"  # aiobs 0.2's words
        memory = InMemoryExporter()
        observer.flush(exporter=memory)
        assert len(memory.function_events) == 1

    def test_the_handler_must_be_callable(self) -> None:
        with pytest.raises(TypeError, match="callable"):
            CustomExporter("not a function")  # type: ignore[arg-type]


class _Failing(BaseExporter):
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
        self.calls += 1
        raise ExportError("disk full")


class TestCompositeExporter:
    def test_every_destination_gets_the_document(self, tmp_path: Path) -> None:
        first, second = InMemoryExporter(), InMemoryExporter()
        observer.observe("s")
        _record(2)
        result = observer.flush(
            exporter=CompositeExporter([first, second, FileExporter(tmp_path / "r.json")])
        )
        assert isinstance(result, ExportResult)
        assert result.success
        assert len(result.metadata["results"]) == 3
        assert first.documents == second.documents
        assert len(first.function_events) == 2
        assert json.loads((tmp_path / "r.json").read_text())["function_events"]

    def test_one_failure_fails_the_export_but_not_the_others(self) -> None:
        failing, memory = _Failing(), InMemoryExporter()
        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=CompositeExporter([failing, memory]))
        assert isinstance(result, ExportResult)
        assert not result.success
        assert result.error == "failing: disk full"
        assert len(memory.function_events) == 1  # delivered anyway
        retry = InMemoryExporter()
        observer.flush(exporter=retry)
        assert len(retry.function_events) == 1  # and kept for the next flush

    def test_stop_on_error_skips_the_rest(self) -> None:
        failing, memory = _Failing(), InMemoryExporter()
        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=CompositeExporter([failing, memory], stop_on_error=True))
        assert isinstance(result, ExportResult)
        # As in aiobs 0.2 the composite raises the ExportError itself; flush() reports it.
        assert not result.success
        assert result.error == "disk full"
        assert memory.documents == []

    def test_it_needs_exporters(self) -> None:
        with pytest.raises(ValueError, match=r"^At least one exporter is required$"):
            CompositeExporter([])
        with pytest.raises(TypeError, match="aiobs exporters"):
            CompositeExporter([object()])  # type: ignore[list-item]

    def test_force_flush_and_shutdown_reach_every_destination(self) -> None:
        seen: list[str] = []

        class Tracking(InMemoryExporter):
            def force_flush(self, timeout: float | None = None) -> bool:
                seen.append(f"flush {timeout}")
                return timeout != 0

            def shutdown(self) -> None:
                seen.append("shutdown")

        composite = CompositeExporter([Tracking(), Tracking()])
        assert composite.force_flush(1.5) is True
        assert composite.force_flush(0) is False
        composite.shutdown()
        assert seen == ["flush 1.5", "flush 1.5", "flush 0", "flush 0", "shutdown", "shutdown"]


def test_exporters_run_with_instrumentation_suppressed() -> None:
    states: list[bool] = []
    observer.observe("s")
    observer.flush(exporter=CustomExporter(lambda data, **_: states.append(suppressed_var.get())))
    assert states == [True]
    assert suppressed_var.get() is False


class TestAiobs02Forms:
    """Exporters written for aiobs 0.2 work unchanged; this package's own forms still work."""

    @pytest.mark.parametrize(
        "make",
        [
            lambda seen: lambda data, options: seen.append(options),
            lambda seen: lambda data, options=None, **rest: seen.append(options),
            lambda seen: lambda *args: seen.append(args[1]),
            lambda seen: lambda data, **options: seen.append(options),
            lambda seen: lambda data, *, topic: seen.append({"topic": topic}),
        ],
        ids=["dict", "dict-default", "var-positional", "keywords", "keyword-only"],
    )
    def test_how_the_handler_is_called(self, make: Any) -> None:
        """``handler(data, options)`` when it can take that, else ``handler(data, **options)``."""
        seen: list[Any] = []
        exporter = CustomExporter(make(seen), default_options={"topic": "t"})
        observer.observe("s")
        result = observer.flush(exporter=exporter)
        assert isinstance(result, ExportResult)
        assert result.success, result
        assert seen == [{"topic": "t"}]

    def test_an_exporter_implementing_nothing_cannot_be_made(self) -> None:
        class Nothing(BaseExporter):
            pass

        class Intermediate(BaseExporter):
            """An abstract base of the program's own exporters: defining it is fine."""

            def describe(self) -> str:
                return self.name

        class Concrete(Intermediate):
            def export_document(self, document: ExportDocument, **kwargs: Any) -> ExportResult:
                return ExportResult(True)

        for abstract in (Nothing, Intermediate, BaseExporter):
            with pytest.raises(TypeError, match="abstract method export"):
                abstract()
        assert Concrete().describe() == "base"

    def test_a_composite_subclass_overriding_export_is_used_by_flush(self) -> None:
        seen: list[str] = []
        memory = InMemoryExporter()

        class Counting(CompositeExporter):
            def export(self, data: ObservabilityExport, **kwargs: Any) -> ExportResult:
                seen.append(type(data).__name__)
                return super().export(data, **kwargs)

        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=Counting([memory]))
        assert isinstance(result, ExportResult)
        assert result.success
        assert seen == ["ObservabilityExport"]
        assert len(memory.function_events) == 1

    def test_composite_results_read_as_dicts_and_as_attributes(self) -> None:
        observer.observe("s")
        _record(1)
        result = observer.flush(exporter=CompositeExporter([InMemoryExporter(), _Failing()]))
        assert isinstance(result, ExportResult)
        done, failed = result.metadata["results"]
        assert done["destination"] == done.destination == "memory"
        assert done.metadata == {"events": 1}
        assert failed == {"exporter": "failing", "success": False, "error": "disk full"}
        assert (failed.metadata, failed.destination, failed.bytes_written) == ({}, None, None)
        with pytest.raises(AttributeError):
            _ = failed.nothing

    def test_lazy_exporters(self) -> None:
        from aiobs import exporters
        from aiobs.exporters.gcs import GCSExporter
        from aiobs.exporters.otlp import OTLPExporter

        assert exporters.GCSExporter is GCSExporter
        assert exporters.OTLPExporter is OTLPExporter
        assert {"GCSExporter", "OTLPExporter"} <= set(dir(exporters))
        with pytest.raises(AttributeError, match="no attribute 'S3Exporter'"):
            _ = exporters.S3Exporter

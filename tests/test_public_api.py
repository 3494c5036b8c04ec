"""The public surface is exactly what is intended, and importing aiobs stays light."""

from __future__ import annotations

import subprocess
import sys

import aiobs
import aiobs.exporters
import aiobs.models


class TestSurface:
    """__all__ lists the supported names and each of them exists."""

    def test_top_level(self) -> None:
        assert sorted(aiobs.__all__) == [
            "BaseClassifier",
            "BaseExporter",
            "BaseProvider",
            "Callsite",
            "CaptureLimits",
            "ClassificationConfig",
            "ClassificationInput",
            "ClassificationResult",
            "ClassificationVerdict",
            "Collector",
            "Event",
            "ExportError",
            "ExportResult",
            "FunctionEvent",
            "ObservabilityExport",
            "ObservedEvent",
            "ObservedFunctionEvent",
            "OpenAIClassifier",
            "RecordingSession",
            "Redaction",
            "Session",
            "SessionMeta",
            "SessionScope",
            "Span",
            "__version__",
            "observe",
            "observer",
        ]
        for name in aiobs.__all__:
            assert getattr(aiobs, name) is not None

    def test_aiobs_02_model_names(self) -> None:
        for name in (
            "Session",
            "SessionMeta",
            "Event",
            "FunctionEvent",
            "Callsite",
            "ObservedEvent",
            "ObservedFunctionEvent",
            "ObservabilityExport",
        ):
            assert name in aiobs.models.__all__
            assert getattr(aiobs.models, name) is getattr(aiobs, name)

    def test_exporters(self) -> None:
        assert sorted(aiobs.exporters.__all__) == [
            "BaseExporter",
            "CompositeExporter",
            "CustomExporter",
            "ExportDocument",
            "ExportError",
            "ExportResult",
            "FileExporter",
            "GCSExporter",
            "InMemoryExporter",
            "OTLPExporter",
        ]

    def test_observer_is_a_collector(self) -> None:
        assert isinstance(aiobs.observer, aiobs.Collector)

    def test_version_is_the_package_version(self) -> None:
        from importlib.metadata import version

        assert aiobs.__version__ == version("aiobs")


class TestImportCost:
    """`import aiobs` imports pydantic and the standard library only."""

    def test_no_optional_dependency_is_imported(self) -> None:
        code = (
            "import sys, aiobs\n"
            "heavy = [m for m in ('openai', 'anthropic', 'google.genai', 'google.cloud.storage',"
            " 'opentelemetry', 'httpx', 'requests') if m in sys.modules]\n"
            "print(','.join(heavy))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == ""

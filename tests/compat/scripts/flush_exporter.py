"""What an exporter receives from ``observer.flush(exporter=..., **options)``.

aiobs 0.2's ``observe()`` checks its API key over the network; those calls are replaced where
they exist (this package has none of them).
"""

from __future__ import annotations

from typing import Any

import _compat

from aiobs import collector, observe, observer
from aiobs.exporters import BaseExporter, CompositeExporter, CustomExporter, ExportResult
from aiobs.models import ObservabilityExport

for offline in ("_validate_api_key", "_record_usage", "_flush_to_server"):
    if hasattr(collector.Collector, offline):
        setattr(collector.Collector, offline, lambda self, *args, **kwargs: None)

VARYING = {
    "id",
    "session_id",
    "span_id",
    "parent_span_id",
    "trace_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "generated_at",
    "pid",
    "cwd",
    "aiobs_sdk_version",
}


def normalized(value: Any) -> Any:
    """The document with ids, times and the process replaced by markers."""
    if isinstance(value, dict):
        return {
            k: ("<varies>" if k in VARYING and v is not None else normalized(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


received: list[dict[str, Any]] = []


def note(where: str, data: Any, options: Any) -> None:
    received.append(
        {
            "where": where,
            "data_type": type(data).__name__,
            "is_observability_export": isinstance(data, ObservabilityExport),
            "options": _compat.plain(options),
            "document": normalized(data.model_dump(mode="json")),
        }
    )


class Legacy(BaseExporter):
    """An exporter written for aiobs 0.2: ``export()`` only."""

    name = "legacy"

    def export(self, data: Any, **kwargs: Any) -> ExportResult:
        note("Legacy.export", data, kwargs)
        return ExportResult(
            True, destination="legacy://", metadata={"n": len(data.function_events)}
        )


class Tuned(CustomExporter):
    """A 0.2 subclass of a built-in exporter that overrides ``export()``."""

    def export(self, data: Any, **kwargs: Any) -> ExportResult:
        note("Tuned.export", data, kwargs)
        return super().export(data, **kwargs)


@observe
def add(a: int, b: int = 2) -> int:
    return a + b


@observe(name="outer")
def outer(text: str) -> dict[str, Any]:
    return {"sum": add(1), "text": text}


def run(exporter: Any, **options: Any) -> dict[str, Any]:
    received.clear()
    observer.observe(session_name="compat", api_key="aiobs_sk_compat", labels={"team": "search"})
    outer("héllo")
    returned = observer.flush(exporter=exporter, **options)
    observer.flush(persist=False)  # whatever a failed export kept must not reach the next case
    return {"flush_returned": _compat.plain(returned), "received": list(received)}


_compat.report(
    legacy=run(Legacy(), region="eu"),
    custom=run(CustomExporter(lambda data, options: note("handler", data, options))),
    custom_options=run(
        CustomExporter(
            lambda data, options: note("handler", data, options), default_options={"a": 1}
        ),
        b=2,
    ),
    subclass=run(Tuned(lambda data, options: note("handler", data, options)), region="us"),
    composite=run(CompositeExporter([Legacy(), Tuned(lambda d, o: None)]), region="eu"),
)

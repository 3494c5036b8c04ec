"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

from aiobs import observer
from aiobs.exporters import ExportResult, InMemoryExporter


def flush_document(exporter: InMemoryExporter | None = None) -> dict[str, Any]:
    """Flush the global observer into memory and return the exported document."""
    target = exporter or InMemoryExporter()
    result = observer.flush(exporter=target)
    assert isinstance(result, ExportResult), result
    assert result.success, result
    return target.documents[-1]


def names(document: dict[str, Any]) -> list[str]:
    """Names of the document's function events, in order."""
    return [event["name"] for event in document["function_events"]]


def tree_outline(nodes: list[dict[str, Any]]) -> list[Any]:
    """A trace tree reduced to names: ``[name, [children...]]`` per node."""
    return [[node.get("name") or node.get("api"), tree_outline(node["children"])] for node in nodes]

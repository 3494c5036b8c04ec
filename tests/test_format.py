"""aiobs._format names the document's fields exactly as the JSON Schema does, and stands alone."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aiobs import _format, labels
from aiobs.exporters.document import ExportDocument

FIELD_GROUPS = (
    "DOC_",
    "SESSION_",
    "META_",
    "EVENT_",
    "LLM_",
    "FUNCTION_",
    "NODE_",
    "USAGE_",
    "COST_",
    "STREAM_",
    "CALLSITE_",
    "EXCEPTION_",
    "RESPONSE_",
    "SCORE_",
    "TOOL_CALL_",
)
"""Prefixes of the field-name groups."""

VALUE_GROUPS = (
    "STATUS_",
    "KIND_",
    "TYPE_",
    "PROVIDER_",
    "SOURCE_",
    "LABEL_",
    "RESERVED_LABEL_PREFIX",
    "RECORD",
)
"""Prefixes of fixed values, label names and the JSON Lines tag."""


def group(prefix: str) -> dict[str, str]:
    """The constants whose names start with ``prefix``: name to value."""
    return {
        name: value
        for name, value in vars(_format).items()
        if name.startswith(prefix) and isinstance(value, str)
    }


def names(prefix: str) -> set[str]:
    """The field names (values) of one group."""
    return set(group(prefix).values())


def properties(schema: dict[str, Any], definition: str) -> set[str]:
    """The property names of one ``$defs`` entry of the schema."""
    return set(schema["$defs"][definition]["properties"])


def enum(schema: dict[str, Any], definition: str, field: str) -> set[str]:
    """The allowed values of a ``Literal`` field."""
    return set(schema["$defs"][definition]["properties"][field]["enum"])


class TestAgainstTheSchema:
    """Every property the schema names has its constant, and every constant names a property."""

    def test_top_level(self, export_schema: dict[str, Any]) -> None:
        assert names("DOC_") == set(export_schema["properties"])

    def test_sessions(self, export_schema: dict[str, Any]) -> None:
        assert names("SESSION_") == properties(export_schema, "Session")
        assert names("META_") == properties(export_schema, "SessionMeta")

    def test_llm_call_events(self, export_schema: dict[str, Any]) -> None:
        assert names("EVENT_") | names("LLM_") == properties(export_schema, "ObservedEvent")
        assert not names("EVENT_") & names("LLM_")

    def test_function_events(self, export_schema: dict[str, Any]) -> None:
        function_events = properties(export_schema, "ObservedFunctionEvent")
        assert names("EVENT_") | names("FUNCTION_") == function_events
        assert not names("EVENT_") & names("FUNCTION_")

    def test_event_fields_are_those_both_kinds_share(self, export_schema: dict[str, Any]) -> None:
        shared = properties(export_schema, "ObservedEvent") & properties(
            export_schema, "ObservedFunctionEvent"
        )
        assert names("EVENT_") == shared

    def test_trace_tree_nodes(self, export_schema: dict[str, Any]) -> None:
        node = properties(export_schema, "TraceNode")
        assert names("NODE_") == node - names("EVENT_")
        assert node - names("NODE_") <= names("EVENT_")

    def test_objects_inside_events_and_sessions(self, export_schema: dict[str, Any]) -> None:
        usage = properties(export_schema, "Usage") | properties(export_schema, "UsageTotals")
        cost = properties(export_schema, "Cost") | properties(export_schema, "CostTotals")
        assert names("USAGE_") == usage
        assert names("COST_") == cost
        assert names("STREAM_") == properties(export_schema, "StreamInfo")
        assert names("CALLSITE_") == properties(export_schema, "Callsite")
        assert names("EXCEPTION_") == properties(export_schema, "ErrorDetail")
        assert names("SCORE_") == properties(export_schema, "Score")

    def test_fixed_values(self, export_schema: dict[str, Any]) -> None:
        assert names("STATUS_") == enum(export_schema, "ObservedEvent", "status")
        assert names("STATUS_") == enum(export_schema, "ObservedFunctionEvent", "status")
        assert names("KIND_") == enum(export_schema, "ObservedFunctionEvent", "kind")
        assert names("TYPE_") == enum(export_schema, "TraceNode", "event_type")
        assert names("SOURCE_") == enum(export_schema, "Score", "source")
        provider = export_schema["$defs"]["ObservedFunctionEvent"]["properties"]["provider"]
        assert provider["default"] == _format.PROVIDER_FUNCTION
        assert export_schema["properties"]["version"]["default"] == _format.FORMAT_VERSION


class TestConstants:
    """The constants are well-formed and every one of them belongs to a known group."""

    def test_every_constant_is_in_a_group(self) -> None:
        constants = {
            name
            for name, value in vars(_format).items()
            if name.isupper() and isinstance(value, str)
        }
        grouped = {name for prefix in FIELD_GROUPS + VALUE_GROUPS for name in group(prefix)}
        assert constants == grouped

    @pytest.mark.parametrize("prefix", FIELD_GROUPS)
    def test_a_group_names_each_field_once(self, prefix: str) -> None:
        fields = list(group(prefix).values())
        assert len(fields) == len(set(fields))

    def test_names_need_no_escaping_in_json(self) -> None:
        """The document builder writes them into JSON templates as they are."""
        for prefix in FIELD_GROUPS + VALUE_GROUPS:
            for value in group(prefix).values():
                assert re.fullmatch(r"[a-z][a-z0-9_]*", value), value
                assert json.dumps(value) == f'"{value}"'

    def test_system_labels(self) -> None:
        system = names("LABEL_")
        assert set(labels.system_labels()) == system
        assert all(name.startswith(_format.RESERVED_LABEL_PREFIX) for name in system)

    def test_json_lines_records(self) -> None:
        document = ExportDocument(
            data={
                "sessions": [{"id": "s"}],
                "events": [{"api": "a"}],
                "function_events": [{"api": "f"}],
                "trace_tree": None,
                "enh_prompt_traces": None,
                "generated_at": 0.0,
                "version": 1,
            }
        )
        records = [json.loads(line)[_format.RECORD] for line in document.json_lines()]
        assert records == [
            _format.RECORD_SESSION,
            _format.RECORD_EVENT,
            _format.RECORD_FUNCTION_EVENT,
        ]


class TestLayer:
    """The module is the bottom layer: the SDK and the flush server import it."""

    def test_imports_nothing_from_aiobs(self) -> None:
        tree = ast.parse(Path(_format.__file__).read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, "no relative imports"
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        assert imported <= {"__future__", "typing"}

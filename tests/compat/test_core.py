"""The core API (collector, labels, tracer, models, providers) behaves as in aiobs 0.2.0.

Each deliberate difference is a row of the README's table "Compatibility with aiobs 0.2"; the
test that pins it says which row.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .harness import RunBoth, compatible, run_script

CORE_MODULES = (
    "aiobs",
    "aiobs.models",
    "aiobs.exporters",
    "aiobs.exporters.base",
    "aiobs.exporters.custom",
    "aiobs.exporters.gcs",
    "aiobs.providers.base",
    "aiobs.observe",
    "aiobs.tracer",
    "aiobs.collector",
)

NETWORK_HOOKS = ("_validate_api_key", "_record_usage", "_flush_to_server", "_record_event")
"""Collector methods that are private in 0.2 but that its users patch or call."""


def legacy_collector_names(names: list[str]) -> list[str]:
    """0.2's module-level label names in ``aiobs.collector`` (its ``dir()``), and the hooks."""
    labels = [n for n in names if "label" in n.lower() or n == "SDK_VERSION"]
    return labels + [f"Collector.{hook}" for hook in NETWORK_HOOKS]


def signature_problems(reference_python: str, tmp_path: Path) -> set[str]:
    """What a 0.2 user of the core modules' public names would find broken here."""
    listed = run_script(
        reference_python,
        "public_names.py",
        side="reference",
        cwd=tmp_path / "listed",
        args=CORE_MODULES,
    )["modules"]
    asked = tuple(
        f"{module}="
        + ",".join(
            [name for name in names if name != "__dir__"]
            + (legacy_collector_names(names["__dir__"]) if module == "aiobs.collector" else [])
        )
        for module, names in listed.items()
    )
    reference = run_script(
        reference_python,
        "public_names.py",
        side="reference",
        cwd=tmp_path / "reference",
        args=asked,
    )["modules"]
    ours = run_script(
        sys.executable, "public_names.py", side="ours", cwd=tmp_path / "ours", args=asked
    )["modules"]
    assert {"LABEL_KEY_PATTERN", "_validate_label_key", "Collector"} <= set(
        reference["aiobs.collector"]
    )
    assert sum(len(names) for names in reference.values()) > 60  # the check has substance
    assert "set_current_span_id" in reference["aiobs.collector"]["Collector"]["methods"]
    return {
        f"{module}.{name}: {problem}"
        for module, names in reference.items()
        for name, described in names.items()
        if name != "__dir__"
        for problem in compatible(described, ours[module][name])
    }


class TestPublicNames:
    """Every public name of 0.2's core modules exists here with a compatible signature."""

    def test_names_and_signatures(self, reference_python: str, tmp_path: Path) -> None:
        assert signature_problems(reference_python, tmp_path) == set()


def reference_message_in_ours(ours: dict[str, Any], reference: dict[str, Any]) -> bool:
    """The same outcome; for an exception, the same type and 0.2's message inside ours."""
    if "raised" not in reference or "raised" not in ours:
        return ours == reference
    mine, theirs = ours["raised"], reference["raised"]
    return mine["type"] == theirs["type"] and theirs["message"] in mine["message"]


class TestLabels:
    """Bad labels raise 0.2's exception type, with 0.2's message inside a longer one."""

    def test_bad_labels(self, run_both: RunBoth) -> None:
        outcome = run_both("bad_labels.py")
        for table in ("key", "value", "labels", "observe", "valid"):
            reference, ours = outcome.reference[table], outcome.ours[table]
            assert len(reference) == len(ours) > 2
            for index, (theirs, mine) in enumerate(zip(reference, ours, strict=True)):
                assert reference_message_in_ours(mine, theirs), (table, index, mine, theirs)
        assert sum("raised" in case for case in outcome.reference["observe"]) >= 10

    def test_constants_and_sources(self, run_both: RunBoth) -> None:
        outcome = run_both("bad_labels.py", env={"AIOBS_LABEL_TEAM": "search"})
        for key in ("constants", "system_label_keys", "env_labels"):
            assert outcome.ours[key] == outcome.reference[key], key
        assert outcome.ours["env_labels"] == {"team": "search"}


class TestCustomProvider:
    """A provider written against 0.2's BaseProvider records the same events here."""

    def test_same_events(self, run_both: RunBoth) -> None:
        outcome = run_both("custom_provider.py")
        assert outcome.ours == outcome.reference
        assert [event["api"] for event in outcome.ours["events"]] == [
            "complete",
            "complete",
            "complete",
            "embed",
        ]
        assert outcome.ours["events"][0]["parent"] == "agent"


class TestLegacyViews:
    """``observer._sessions`` / ``observer._events`` hold what 0.2's in-memory store held."""

    def test_same_views(self, run_both: RunBoth) -> None:
        outcome = run_both("legacy_views.py")
        assert outcome.ours == outcome.reference
        assert len(outcome.ours["events"]) == 6

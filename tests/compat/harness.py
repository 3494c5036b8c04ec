"""Running a compatibility script under aiobs 0.2.0 and under this package.

A script in ``scripts/`` exercises a behaviour through the public API that both packages share and
prints what it saw as one JSON object (see ``scripts/_compat.py``). It runs under aiobs 0.2.0
(``.venv-aiobs02``, built by ``make reference`` from ``requirements/aiobs02.lock``) and under
this package (the interpreter running pytest), each in a subprocess started in an empty
directory, so that neither sees the other's ``aiobs``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"

REFERENCE_PYTHON = "AIOBS02_PYTHON"
"""Environment variable: the interpreter that has aiobs 0.2.0 (default ``.venv-aiobs02``)."""
REQUIRE_REFERENCE = "AIOBS_REQUIRE_AIOBS02"
"""Environment variable: ``1`` makes a missing reference interpreter an error (``make test``)."""
REFERENCE_VERSION = "0.2.0"
SCRIPT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Outcome:
    """What one script reported under each package."""

    reference: dict[str, Any]
    ours: dict[str, Any]


RunBoth = Callable[..., Outcome]
"""``run_both(script, env=None, args=())``, the fixture's signature."""


def run_script(
    python: str,
    script: str,
    *,
    side: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run ``scripts/<script>`` under ``python`` in ``cwd``; return the JSON it printed last.

    The report is checked to come from the package meant (``side`` is ``"reference"`` or
    ``"ours"``), and that check's entry is removed from it.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment.update({"AIOBS_COMPAT_SIDE": side, "PYTHONDONTWRITEBYTECODE": "1"})
    environment.update(env or {})
    cwd.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [python, str(SCRIPTS / script), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0 or not completed.stdout.strip():
        raise AssertionError(
            f"{script} failed under the {side} package (exit {completed.returncode}):\n"
            f"{completed.stderr}{completed.stdout}"
        )
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    _check_package(report.pop("_aiobs"), side)
    return report


def _check_package(package: dict[str, str], side: str) -> None:
    """The script imported the package it was meant to: no shadowing either way."""
    location = Path(package["file"]).resolve()
    if side == "reference":
        assert package["version"] == REFERENCE_VERSION, package
        assert ROOT / "aiobs" not in location.parents, package
    else:
        assert location.parent == ROOT / "aiobs", package


def compatible_parameters(reference: Any, ours: Any) -> list[str]:
    """What breaks a caller of the 0.2 signature (``[name, kind, default]`` rows)."""
    if reference is None:
        return []
    if ours is None:
        return ["no signature"]
    problems = []
    positional = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")
    ours_by_name = {row[0]: (index, row) for index, row in enumerate(ours)}
    for index, (name, kind, default) in enumerate(reference):
        if name not in ours_by_name:
            problems.append(f"parameter {name!r} is missing")
            continue
        our_index, (_, our_kind, our_default) = ours_by_name[name]
        if our_kind != kind or our_default != default:
            problems.append(f"{name!r} is {our_kind} = {our_default}, 0.2: {kind} = {default}")
        if kind in positional and our_index != index:
            problems.append(f"{name!r} is at position {our_index}, 0.2: {index}")
    reference_names = {row[0] for row in reference}
    for name, kind, default in ours:
        if name not in reference_names and default == "<missing>" and kind.startswith("POS"):
            problems.append(f"extra parameter {name!r} is required")
        if name not in reference_names and kind == "KEYWORD_ONLY" and default == "<missing>":
            problems.append(f"extra parameter {name!r} is required")
    return problems


def compatible(reference: Any, ours: Any) -> list[str]:
    """What a 0.2 user of this name would find broken here."""
    if ours == "<missing>":
        return ["missing"]
    if reference["what"] != ours["what"]:
        return [f"is a {ours['what']}, 0.2: a {reference['what']}"]
    problems = compatible_parameters(reference.get("parameters"), ours.get("parameters"))
    if reference["what"] == "class":
        for method, described in reference["methods"].items():
            mine = ours["methods"].get(method)
            if mine is None:
                problems.append(f"method {method}() is missing")
                continue
            if mine["kind"] != described["kind"]:
                problems.append(f"{method}() is a {mine['kind']}, 0.2: {described['kind']}")
            problems += [
                f"{method}(): {problem}"
                for problem in compatible_parameters(described["parameters"], mine["parameters"])
            ]
        for attribute, value in reference["attributes"].items():
            if ours["attributes"].get(attribute) != value:
                problems.append(f"{attribute} = {ours['attributes'].get(attribute)}, 0.2: {value}")
        problems += [f"is no {base}" for base in reference["bases"] if base not in ours["bases"]]
    return problems

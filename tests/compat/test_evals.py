"""``aiobs.evals`` and ``aiobs.llm`` as in aiobs 0.2.0: names, signatures and the same results.

The rule-based evaluators get one table of inputs under both packages (``scripts/evals_table.py``)
and must give the same statuses, scores, messages, details and assertions. aiobs 0.2.0's own
environment has no ``jsonschema`` (0.2 then skips schema validation), so the reference run is
given this environment's copy of it, and of ``sqlglot``: both sides use the same libraries.

Deliberate differences are rows of the README's table "Compatibility with aiobs 0.2"; the tests
pinning them say which.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from .harness import RunBoth, compatible, run_script

EVAL_MODULES = ("aiobs.evals", "aiobs.evals.models", "aiobs.llm")
JSONSCHEMA_PACKAGES = (
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "rpds",
    "attrs",
    "attr",
    "sqlglot",
)
SQL_EVALUATORS = ("sql", "sql_any_dialect", "sql_mysql_no_details")


def jsonschema_path(tmp_path: Path) -> str:
    """A directory of links to this environment's jsonschema, sqlglot and what they import."""
    target = tmp_path / "jsonschema-only"
    target.mkdir()
    for name in JSONSCHEMA_PACKAGES:
        package = Path(importlib.import_module(name).__file__ or "").parent
        (target / name).symlink_to(package)
    (target / "typing_extensions.py").symlink_to(
        importlib.import_module("typing_extensions").__file__ or ""
    )
    return str(target)


def sorted_pii_types(result: dict[str, Any]) -> dict[str, Any]:
    """0.2 lists the PII types found from a set, in no stable order: compared sorted."""
    details = result.get("details") or {}
    if "pii_types_found" in details:
        details["pii_types_found"] = sorted(details["pii_types_found"])
    message = result.get("message") or ""
    listed = re.search(r"instance\(s\) of (\[.*\])$", message)
    if listed:
        types = sorted(re.findall(r"'([^']+)'", listed.group(1)))
        result["message"] = message[: listed.start(1)] + repr(types)
    return result


class TestRuleBasedResults:
    """The same inputs through each rule-based evaluator give 0.2's results."""

    def test_same_results(self, run_both: RunBoth, tmp_path: Path) -> None:
        outcome = run_both("evals_table.py", env={"PYTHONPATH": jsonschema_path(tmp_path)})
        reference, ours = outcome.reference["results"], outcome.ours["results"]
        assert outcome.ours["names"] == outcome.reference["names"]
        compared = 0
        for name, results in reference.items():
            for index, (theirs, mine) in enumerate(zip(results, ours[name], strict=True)):
                assert sorted_pii_types(mine) == sorted_pii_types(theirs), (name, index)
                compared += 1
        assert compared > 300
        sql_statuses = {r["status"] for name in SQL_EVALUATORS for r in reference[name]}
        assert sql_statuses == {"passed", "failed"}, "sqlglot ran on both sides"
        # The table has substance: every status but "skipped" occurs, schema validation ran.
        statuses = {r["status"] for results in reference.values() for r in results if "status" in r}
        assert statuses == {"passed", "failed", "error"}
        schema_messages = [r.get("message") for r in reference["schema"]]
        assert "Schema validation failed: 1 error(s)" in schema_messages
        assert "JSON output matches schema" in schema_messages

    def test_sql_without_sqlglot(self, run_both: RunBoth, tmp_path: Path) -> None:
        """README row "SQLQueryValidator without sqlglot": an error result, not ImportError."""
        hidden = tmp_path / "no-sqlglot" / "sqlglot"
        hidden.mkdir(parents=True)
        (hidden / "__init__.py").write_text("raise ImportError('sqlglot hidden by the test')\n")
        outcome = run_both("evals_table.py", env={"PYTHONPATH": str(hidden.parent)})
        theirs = outcome.reference["results"]["sql"]
        mine = outcome.ours["results"]["sql"]
        assert theirs[0]["raised"]["type"] == "ImportError"
        assert {r["status"] for r in mine} == {"error"}
        # The same words as 0.2's ImportError, as an error result's message.
        assert mine[0]["message"] == f"Evaluation error: {theirs[0]['raised']['message']}"


class TestPublicNames:
    """Every public name of 0.2's aiobs.evals and aiobs.llm exists here, signatures compatible."""

    def test_names_and_signatures(self, reference_python: str, tmp_path: Path) -> None:
        reference = run_script(
            reference_python,
            "public_names.py",
            side="reference",
            cwd=tmp_path / "r",
            args=EVAL_MODULES,
        )["modules"]
        asked = tuple(
            f"{module}=" + ",".join(name for name in names if name != "__dir__")
            for module, names in reference.items()
        )
        ours = run_script(
            sys.executable, "public_names.py", side="ours", cwd=tmp_path / "o", args=asked
        )["modules"]
        assert len(reference["aiobs.evals"]) > 25
        problems = {
            f"{module}.{name}: {problem}"
            for module, names in reference.items()
            for name, described in names.items()
            if name != "__dir__"
            for problem in compatible(described, ours[module][name])
        }
        assert problems == set()


class TestJudgeResults:
    """The judges send 0.2's requests and read well-formed verdicts into 0.2's results."""

    def test_same_requests_and_results(self, run_both: RunBoth) -> None:
        outcome = run_both("judges_table.py")
        reference, ours = outcome.reference["results"], outcome.ours["results"]
        compared = 0
        for name, rows in reference.items():
            for index, (theirs, mine) in enumerate(zip(rows, ours[name], strict=True)):
                assert mine["requests"] == theirs["requests"], (name, index)
                assert mine["result"] == theirs["result"], (name, index)
                compared += 1
        assert compared == 60
        statuses = {row["result"]["status"] for rows in reference.values() for row in rows}
        assert statuses == {"passed", "failed"}

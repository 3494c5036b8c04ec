"""The rule-based evaluators: results, bad configurations, and inputs they cannot judge.

Their agreement with aiobs 0.2.0 over a table of inputs is checked in tests/compat/test_evals.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any, ClassVar
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aiobs.evals import (
    EvalInput,
    EvalResult,
    EvalStatus,
    GroundTruthEval,
    LatencyConsistencyEval,
    PIIDetectionConfig,
    PIIDetectionEval,
    PIIType,
    RegexAssertion,
    RegexAssertionConfig,
    SchemaAssertion,
    SchemaAssertionConfig,
    SQLQueryValidator,
)


def said(output: str, **fields: Any) -> EvalInput:
    return EvalInput(user_input=fields.pop("user_input", "question"), model_output=output, **fields)


class TestRegexAssertion:
    """Patterns that must match, patterns that must not, and their score."""

    def test_pass_and_fail(self) -> None:
        evaluator = RegexAssertion.from_patterns(
            patterns=[r"Paris"], negative_patterns=[r"(?i)sorry"]
        )
        assert evaluator(said("It is Paris.")).status is EvalStatus.PASSED
        result = evaluator(said("Sorry, not Paris."))
        assert result.status is EvalStatus.FAILED
        assert result.score == 0.5
        assert result.message == "Negative patterns matched: ['(?i)sorry']"
        assert result.duration_ms is not None

    def test_invalid_pattern_fails_at_construction(self) -> None:
        with pytest.raises(ValidationError, match=r"pattern '\(unclosed' is not a valid regular"):
            RegexAssertionConfig(patterns=["(unclosed"])
        with pytest.raises(ValueError, match=r"re\.escape"):
            RegexAssertion.from_patterns(negative_patterns=["[a-"])

    def test_invalid_match_mode(self) -> None:
        with pytest.raises(ValidationError, match="match_mode must be 'any' or 'all'"):
            RegexAssertionConfig(match_mode="some")


class TestSchemaAssertion:
    """JSON (possibly in a markdown block) checked against a JSON Schema."""

    SCHEMA: ClassVar[dict[str, Any]] = {"type": "object", "required": ["name"]}

    def test_valid_extracted_and_invalid(self) -> None:
        evaluator = SchemaAssertion.from_schema(self.SCHEMA)
        assert evaluator(said('{"name": "a"}')).passed
        assert evaluator(said('Here:\n```json\n{"name": "a"}\n```')).passed
        missing = evaluator(said("{}"))
        assert missing.message == "Schema validation failed: 1 error(s)"
        assert missing.assertions is not None
        assert missing.assertions[1].message == "'name' is a required property"
        broken = evaluator(said("{oops"))
        assert broken.failed
        assert broken.message is not None
        assert broken.message.startswith("Failed to parse JSON: Expecting property name")

    def test_invalid_schema_fails_at_construction(self) -> None:
        with pytest.raises(ValidationError, match="json_schema is not a valid JSON Schema"):
            SchemaAssertionConfig(json_schema={"type": "no-such-type"})


class TestGroundTruth:
    """An input without a usable expected output is an error result, never an exception."""

    def test_missing_expected(self) -> None:
        result = GroundTruthEval()(said("4"))
        assert result.status is EvalStatus.ERROR
        assert result.message == (
            "Evaluation error: No expected_output provided in eval_input or kwargs"
        )

    def test_expected_not_a_string(self) -> None:
        result = GroundTruthEval().evaluate(said("4"), expected=4)
        assert result.status is EvalStatus.ERROR
        assert result.message is not None
        assert "expected output must be a string, got int" in result.message

    def test_normalized_similarity(self) -> None:
        result = GroundTruthEval()(said("blue green red", expected_output="red green yellow"))
        assert (result.status, result.score) == (EvalStatus.FAILED, 0.5)


class TestLatencyConsistency:
    """Latency statistics; values that are not numbers give an error result saying which."""

    def test_statistics_and_bounds(self) -> None:
        evaluator = LatencyConsistencyEval.with_thresholds(max_latency_ms=1000, max_p95_ms=800)
        result = evaluator(said("a", metadata={"latencies": [100, 120, 95, 110, 105]}))
        assert result.passed
        assert result.details is not None
        assert result.details["p95"] == pytest.approx(118.0)

    @pytest.mark.parametrize("bad", [["100", "fast"], [100, None], [float("nan")]])
    def test_values_that_are_not_numbers(self, bad: list[Any]) -> None:
        result = LatencyConsistencyEval()(said("a", metadata={"latencies": bad}))
        assert result.status is EvalStatus.ERROR
        assert result.message is not None
        assert re.search(r"latency #\d is .*: latencies must be finite numbers", result.message)

    def test_no_latencies(self) -> None:
        result = LatencyConsistencyEval()(said("a"))
        assert result.status is EvalStatus.ERROR
        assert result.message is not None
        assert "No latencies provided" in result.message


class TestPIIDetection:
    """PII found, masked and scored; the cheap pre-check never changes what is found."""

    def test_found_and_redacted(self) -> None:
        evaluator = PIIDetectionEval(PIIDetectionConfig(redact=True))
        result = evaluator(said("Write to jane@example.com or call 555-123-4567."))
        assert result.failed
        assert result.details is not None
        assert result.details["pii_types_found"] == ["email", "phone"]
        assert result.message == "PII detected: 2 instance(s) of ['email', 'phone']"
        assert result.details["redacted_output"] == (
            "Write to [EMAIL REDACTED] or call [PHONE REDACTED]."
        )

    def test_invalid_custom_pattern(self) -> None:
        with pytest.raises(ValidationError, match="custom pattern 'ticket'"):
            PIIDetectionEval.with_custom_patterns({"ticket": "T-(\\d"})

    @given(
        st.text(
            # digits, separators, address characters, Arabic-Indic digits, the Kelvin sign
            alphabet="aZ @.-_%+0123456789()/\n\u0661\u0662\u0663\u212a",
            max_size=80,
        )
    )
    @settings(max_examples=500)
    def test_precheck_finds_what_every_pattern_finds(self, text: str) -> None:
        evaluator = PIIDetectionEval.strict()
        found = [(m.pii_type, m.start, m.end) for m in evaluator.scan(text)]
        plain = sorted(
            (
                (name, match.start(), match.end())
                for name, pattern in evaluator._compiled_patterns.items()
                for match in pattern.finditer(text)
            ),
            key=lambda item: item[1],
        )
        assert found == plain

    @pytest.mark.parametrize(
        "text",
        [
            "x+1 (555) 010-9999y 4111111111111111 a.b-c@d.co 12/31/1990 10.0.0.1 123-45-6789",
            "id 555 123 4567 and 5551234567, mail: __x@y.io; \u212a@kelvin.org",
            "100.200.300.400 then 1.2.3.4 and 1/2/2003 or 10.0.0.255",
        ],
    )
    def test_precheck_on_realistic_text(self, text: str) -> None:
        evaluator = PIIDetectionEval.strict()
        plain = sorted(
            (
                (name, match.start(), match.end())
                for name, pattern in evaluator._compiled_patterns.items()
                for match in pattern.finditer(text)
            ),
            key=lambda item: item[1],
        )
        assert [(m.pii_type, m.start, m.end) for m in evaluator.scan(text)] == plain
        assert len(plain) >= 3

    def test_lenient_score(self) -> None:
        evaluator = PIIDetectionEval(
            PIIDetectionConfig(detect_types=[PIIType.EMAIL], fail_on_detection=False)
        )
        result = evaluator(said("a@b.co is it"))
        assert result.passed
        assert result.score == pytest.approx(1 - 6 / 12)


class TestSQLQueryValidator:
    """With sqlglot, a parse check; without it, an error result that says how to install it."""

    def test_without_sqlglot(self) -> None:
        with mock.patch.dict(sys.modules, {"sqlglot": None, "sqlglot.errors": None}):
            result = SQLQueryValidator()(said("SELECT 1"))
        assert result.status is EvalStatus.ERROR
        assert result.message == (
            "Evaluation error: sqlglot is required for SQLQueryValidator. "
            "Install it with: pip install 'aiobs[sql]'"
        )

    def test_with_sqlglot(self) -> None:
        pytest.importorskip("sqlglot")
        assert SQLQueryValidator()(said("SELECT id FROM users")).passed
        failed = SQLQueryValidator()(said("SELECT (1"))
        assert failed.failed
        assert failed.message is not None
        assert failed.message.startswith("Invalid SQL: Expecting )")
        # As in 0.2, sqlglot reads an unknown leading word as a command: not a syntax check of
        # every statement (documented in the guide).
        assert SQLQueryValidator()(said("SELEC * FORM")).passed


class TestUnjudgeableInput:
    """Anything but an EvalInput gives an error result naming what to pass."""

    @pytest.mark.parametrize(
        "evaluator",
        [
            RegexAssertion.from_patterns(patterns=["x"]),
            SchemaAssertion.from_schema({}),
            GroundTruthEval(),
            LatencyConsistencyEval(),
            PIIDetectionEval(),
            SQLQueryValidator(),
        ],
    )
    def test_not_an_eval_input(self, evaluator: Any) -> None:
        result: EvalResult = evaluator.evaluate({"model_output": "x"})
        assert result.status is EvalStatus.ERROR
        assert result.message is not None
        assert "expected an EvalInput, got dict" in result.message


class TestImportCost:
    """``import aiobs`` imports neither aiobs.evals, aiobs.llm nor any SDK."""

    def test_not_imported(self) -> None:
        code = (
            "import sys, aiobs; print(sorted(m for m in sys.modules if m.startswith("
            "('aiobs.evals', 'aiobs.llm', 'openai', 'anthropic', 'google.genai', 'jsonschema'))))"
        )
        completed = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert completed.stdout.strip() == "[]"


class TestEvaluatedAt:
    """``evaluated_at`` is naive UTC, as in 0.2, on every Python version."""

    def test_naive_utc(self) -> None:
        from datetime import datetime, timezone

        from aiobs.evals.models.eval_result import _utc_now_312

        for stamp in (_utc_now_312(), EvalResult.pass_result("x").evaluated_at):
            assert stamp.tzinfo is None
            now = datetime.now(timezone.utc).replace(tzinfo=None)
            assert abs((now - stamp).total_seconds()) < 5

"""Evaluator configurations: checked when made, so a bad one fails before any input is judged."""

from __future__ import annotations

import importlib
import re
from enum import Enum
from re import Pattern
from typing import Any

from pydantic import BaseModel, Field, field_validator


def _compile(pattern: str, flags: int, what: str) -> Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(
            f"{what} {pattern!r} is not a valid regular expression ({exc}); "
            "check its syntax, or escape it with re.escape() to match it literally"
        ) from exc


def _compile_all(patterns: list[str], flags: int, what: str) -> list[Pattern[str]]:
    return [_compile(pattern, flags, what) for pattern in patterns]


class BaseEvalConfig(BaseModel):
    """Base configuration for all evaluators."""

    name: str | None = Field(default=None, description="Custom name for this evaluator instance")
    fail_fast: bool = Field(
        default=False,
        description="Stop evaluation on first failure (for multi-assertion evals)",
    )
    include_details: bool = Field(
        default=True, description="Include detailed information in results"
    )


class RegexAssertionConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.RegexAssertion`."""

    patterns: list[str] = Field(
        default_factory=list, description="List of regex patterns that output must match"
    )
    negative_patterns: list[str] = Field(
        default_factory=list, description="List of regex patterns that output must NOT match"
    )
    case_sensitive: bool = Field(
        default=True, description="Whether regex matching is case-sensitive"
    )
    match_mode: str = Field(
        default="any",
        description="Match mode: 'any' (at least one pattern matches) or 'all' "
        "(all patterns must match)",
    )

    @field_validator("match_mode")
    @classmethod
    def validate_match_mode(cls, v: str) -> str:
        """``match_mode`` is ``'any'`` or ``'all'``."""
        if v not in ("any", "all"):
            raise ValueError("match_mode must be 'any' or 'all'")
        return v

    @field_validator("patterns", "negative_patterns")
    @classmethod
    def _valid_patterns(cls, patterns: list[str]) -> list[str]:
        _compile_all(patterns, 0, "pattern")
        return patterns

    def get_compiled_patterns(self) -> list[Pattern[str]]:
        """The patterns, compiled."""
        return _compile_all(self.patterns, self._flags(), "pattern")

    def get_compiled_negative_patterns(self) -> list[Pattern[str]]:
        """The negative patterns, compiled."""
        return _compile_all(self.negative_patterns, self._flags(), "negative pattern")

    def _flags(self) -> int:
        return 0 if self.case_sensitive else re.IGNORECASE


class SchemaAssertionConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.SchemaAssertion`."""

    json_schema: dict[str, Any] = Field(description="JSON Schema to validate the output against")
    strict: bool = Field(
        default=True, description="Whether to fail on additional properties not in schema"
    )
    parse_json: bool = Field(
        default=True, description="Whether to parse the output as JSON before validation"
    )
    extract_json: bool = Field(
        default=True,
        description="Try to extract JSON from markdown code blocks if direct parse fails",
    )

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema = importlib.import_module("jsonschema")
        except ImportError:  # validation is skipped without jsonschema, as in 0.2
            return schema
        try:
            jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(
                f"json_schema is not a valid JSON Schema (draft 7) at {where}: {exc.message}"
            ) from exc
        return schema


class GroundTruthMatchMode(str, Enum):
    """Match modes for ground truth comparison."""

    EXACT = "exact"
    CONTAINS = "contains"
    NORMALIZED = "normalized"  # Whitespace/case normalized
    SEMANTIC = "semantic"  # Placeholder for future embedding-based comparison


class GroundTruthConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.GroundTruthEval`."""

    match_mode: GroundTruthMatchMode = Field(
        default=GroundTruthMatchMode.NORMALIZED,
        description="How to compare output with expected: exact, contains, normalized, or semantic",
    )
    case_sensitive: bool = Field(default=False, description="Whether comparison is case-sensitive")
    normalize_whitespace: bool = Field(
        default=True, description="Whether to normalize whitespace before comparison"
    )
    strip_punctuation: bool = Field(
        default=False, description="Whether to strip punctuation before comparison"
    )
    similarity_threshold: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="Minimum similarity score for fuzzy matching (0-1)",
    )


class LatencyConsistencyConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.LatencyConsistencyEval`."""

    max_latency_ms: float | None = Field(
        default=None, description="Maximum acceptable latency in milliseconds"
    )
    max_std_dev_ms: float | None = Field(
        default=None, description="Maximum acceptable standard deviation in milliseconds"
    )
    max_p95_ms: float | None = Field(
        default=None, description="Maximum acceptable 95th percentile latency in milliseconds"
    )
    max_p99_ms: float | None = Field(
        default=None, description="Maximum acceptable 99th percentile latency in milliseconds"
    )
    coefficient_of_variation_threshold: float = Field(
        default=0.5,
        ge=0.0,
        description="Maximum acceptable coefficient of variation (std_dev / mean)",
    )


class PIIType(str, Enum):
    """Types of PII to detect."""

    EMAIL = "email"
    PHONE = "phone"
    SSN = "ssn"
    CREDIT_CARD = "credit_card"
    IP_ADDRESS = "ip_address"
    DATE_OF_BIRTH = "date_of_birth"
    ADDRESS = "address"
    NAME = "name"  # Requires NER, not implemented in basic version
    CUSTOM = "custom"


class PIIDetectionConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.PIIDetectionEval`."""

    detect_types: list[PIIType] = Field(
        default_factory=lambda: [PIIType.EMAIL, PIIType.PHONE, PIIType.SSN, PIIType.CREDIT_CARD],
        description="Types of PII to detect",
    )
    custom_patterns: dict[str, str] = Field(
        default_factory=dict,
        description="Custom regex patterns for PII detection (name -> pattern)",
    )
    redact: bool = Field(
        default=False, description="Whether to include redacted version in results"
    )
    fail_on_detection: bool = Field(
        default=True, description="Whether to fail the eval if PII is detected"
    )
    check_input: bool = Field(default=False, description="Also check user input for PII")
    check_system_prompt: bool = Field(default=False, description="Also check system prompt for PII")

    @field_validator("custom_patterns")
    @classmethod
    def _valid_patterns(cls, patterns: dict[str, str]) -> dict[str, str]:
        for name, pattern in patterns.items():
            _compile_all([pattern], re.IGNORECASE, f"custom pattern {name!r}:")
        return patterns


class _JudgeConfig(BaseEvalConfig):
    model: str | None = Field(
        default=None, description="Model name for the judge LLM (for logging purposes)"
    )
    temperature: float = Field(
        default=0.0,
        ge=0.0,
        le=2.0,
        description="Temperature for the judge LLM (lower = more deterministic)",
    )


class ToxicityDetectionConfig(_JudgeConfig):
    """Configuration for :class:`~aiobs.evals.ToxicityDetectionEval` (an LLM judge)."""

    toxicity_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Score threshold above which output is considered toxic (0-1)",
    )
    check_input: bool = Field(default=False, description="Also check user input for toxicity")
    categories: list[str] = Field(
        default_factory=lambda: [
            "hate_speech",
            "harassment",
            "violence",
            "profanity",
            "discrimination",
        ],
        description="Categories of toxicity to detect",
    )
    fail_on_detection: bool = Field(
        default=True, description="Whether to fail the eval if toxicity is detected"
    )


class HallucinationDetectionConfig(_JudgeConfig):
    """Configuration for :class:`~aiobs.evals.HallucinationDetectionEval` (an LLM judge)."""

    check_against_context: bool = Field(
        default=True, description="Check if output is grounded in provided context"
    )
    check_against_input: bool = Field(
        default=True, description="Check if output is relevant to the user input"
    )
    strict: bool = Field(
        default=False, description="Strict mode: any hallucination results in failure"
    )
    hallucination_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Score threshold below which output is considered hallucinated (0-1)",
    )
    extract_claims: bool = Field(
        default=True, description="Extract and evaluate individual claims from the output"
    )
    max_claims: int = Field(
        default=10, ge=1, description="Maximum number of claims to extract and evaluate"
    )


class SQLQueryValidatorConfig(BaseEvalConfig):
    """Configuration for :class:`~aiobs.evals.SQLQueryValidator` (needs ``sqlglot``)."""

    dialect: str | None = Field(
        default=None,
        description="SQL dialect for parsing (postgres, mysql, sqlite, etc.). "
        "If None, uses default sqlglot parsing.",
    )


class JailbreakDetectionConfig(_JudgeConfig):
    """Configuration for :class:`~aiobs.evals.JailbreakDetectionEval` (an LLM judge)."""

    safety_threshold: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Score threshold above which output is considered safe (0-1)",
    )
    strict: bool = Field(default=False, description="If True, any violation results in failure")
    check_system_prompt: bool = Field(default=True, description="Include system prompt in analysis")
    max_violations: int = Field(
        default=10, ge=1, description="Maximum number of violations to extract and report"
    )

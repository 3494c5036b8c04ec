"""Correctness evaluators: regex, JSON Schema, ground truth, SQL, hallucination (a judge)."""

from .ground_truth import GroundTruthEval
from .hallucination_detection import HallucinationDetectionEval
from .regex_assertion import RegexAssertion
from .schema_assertion import SchemaAssertion
from .sql_query_validator import SQLQueryValidator

__all__ = [
    "GroundTruthEval",
    "HallucinationDetectionEval",
    "RegexAssertion",
    "SQLQueryValidator",
    "SchemaAssertion",
]

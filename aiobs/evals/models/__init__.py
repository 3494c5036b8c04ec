"""The evaluations' models: input, result, status and each evaluator's configuration."""

from .configs import (
    BaseEvalConfig,
    GroundTruthConfig,
    GroundTruthMatchMode,
    HallucinationDetectionConfig,
    JailbreakDetectionConfig,
    LatencyConsistencyConfig,
    PIIDetectionConfig,
    PIIType,
    RegexAssertionConfig,
    SchemaAssertionConfig,
    SQLQueryValidatorConfig,
    ToxicityDetectionConfig,
)
from .eval_input import EvalInput
from .eval_result import AssertionDetail, EvalResult, EvalStatus

__all__ = [
    "AssertionDetail",
    "BaseEvalConfig",
    "EvalInput",
    "EvalResult",
    "EvalStatus",
    "GroundTruthConfig",
    "GroundTruthMatchMode",
    "HallucinationDetectionConfig",
    "JailbreakDetectionConfig",
    "LatencyConsistencyConfig",
    "PIIDetectionConfig",
    "PIIType",
    "RegexAssertionConfig",
    "SQLQueryValidatorConfig",
    "SchemaAssertionConfig",
    "ToxicityDetectionConfig",
]

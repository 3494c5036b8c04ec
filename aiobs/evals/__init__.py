"""Evaluating model outputs (the aiobs 0.2 ``aiobs.evals`` API).

An evaluator judges an :class:`EvalInput` and returns an :class:`EvalResult` (status, score in
[0, 1], message, details)::

    from aiobs.evals import EvalInput, RegexAssertion

    evaluator = RegexAssertion.from_patterns(patterns=[r"Paris"], case_sensitive=False)
    result = evaluator(EvalInput(user_input="Capital of France?", model_output="Paris."))
    result.status  # EvalStatus.PASSED

Rule-based: RegexAssertion, SchemaAssertion, GroundTruthEval, SQLQueryValidator (needs sqlglot),
LatencyConsistencyEval, PIIDetectionEval. Judged by an LLM (any OpenAI, Gemini or Anthropic
client, through :mod:`aiobs.llm`): HallucinationDetectionEval, JailbreakDetectionEval,
ToxicityDetectionEval; their calls are not recorded, and their tokens and cost are on the
result's ``metadata["judge"]``. A bad configuration fails when it is made; an input an
evaluator cannot judge gives an ``error`` result whose message says why, never an exception.

:func:`evaluate` runs evaluators over the LLM calls and functions of a flushed document or file,
and can attach the results to it as scores (:mod:`aiobs.evals.documents`).
"""

from .base import BaseEval
from .correctness import (
    GroundTruthEval,
    HallucinationDetectionEval,
    RegexAssertion,
    SchemaAssertion,
    SQLQueryValidator,
)
from .documents import Evaluation, evaluate
from .models import (
    AssertionDetail,
    BaseEvalConfig,
    EvalInput,
    EvalResult,
    EvalStatus,
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
from .reliability import LatencyConsistencyEval
from .safety import JailbreakDetectionEval, PIIDetectionEval, ToxicityDetectionEval

__all__ = [
    "AssertionDetail",
    "BaseEval",
    "BaseEvalConfig",
    "EvalInput",
    "EvalResult",
    "EvalStatus",
    "Evaluation",
    "GroundTruthConfig",
    "GroundTruthEval",
    "GroundTruthMatchMode",
    "HallucinationDetectionConfig",
    "HallucinationDetectionEval",
    "JailbreakDetectionConfig",
    "JailbreakDetectionEval",
    "LatencyConsistencyConfig",
    "LatencyConsistencyEval",
    "PIIDetectionConfig",
    "PIIDetectionEval",
    "PIIType",
    "RegexAssertion",
    "RegexAssertionConfig",
    "SQLQueryValidator",
    "SQLQueryValidatorConfig",
    "SchemaAssertion",
    "SchemaAssertionConfig",
    "ToxicityDetectionConfig",
    "ToxicityDetectionEval",
    "evaluate",
]

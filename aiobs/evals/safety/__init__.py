"""Safety evaluators: PII detection; jailbreak and toxicity detection (LLM judges)."""

from .jailbreak_detection import JailbreakDetectionEval
from .pii_detection import PIIDetectionEval
from .toxicity_detection import ToxicityDetectionEval

__all__ = ["JailbreakDetectionEval", "PIIDetectionEval", "ToxicityDetectionEval"]

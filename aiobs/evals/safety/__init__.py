"""Safety evaluators: PII detection; jailbreak and toxicity detection (LLM judges)."""

from .pii_detection import PIIDetectionEval

__all__ = ["PIIDetectionEval"]

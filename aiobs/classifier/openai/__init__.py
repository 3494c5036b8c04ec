"""A classifier that asks an OpenAI chat model to judge (the SDK is imported on first use)."""

from .classifier import OpenAIClassifier

__all__ = ["OpenAIClassifier"]

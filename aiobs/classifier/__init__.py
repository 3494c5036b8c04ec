"""Judging model responses: good, bad or uncertain (the aiobs 0.2 classifier API).

A classifier reads the system prompt, the user's input and the model's output and returns a
:class:`ClassificationResult`::

    from aiobs.classifier import ClassificationVerdict, OpenAIClassifier

    classifier = OpenAIClassifier()            # OPENAI_API_KEY, or api_key=... or client=...
    result = classifier.classify(user_input="2+2?", model_output="4")
    if result.verdict is ClassificationVerdict.BAD:
        print(result.categories)

Write your own by subclassing :class:`BaseClassifier`. Importing this package does not import
the ``openai`` SDK: :class:`OpenAIClassifier` does that when it first makes a client.
"""

from .base import BaseClassifier
from .models import (
    ClassificationConfig,
    ClassificationInput,
    ClassificationResult,
    ClassificationVerdict,
)
from .openai import OpenAIClassifier

__all__ = [
    "BaseClassifier",
    "ClassificationConfig",
    "ClassificationInput",
    "ClassificationResult",
    "ClassificationVerdict",
    "OpenAIClassifier",
]

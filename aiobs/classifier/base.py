"""What every classifier offers: single, async and batch classification of model responses."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from .models import (
    ClassificationConfig,
    ClassificationInput,
    ClassificationResult,
    ClassificationVerdict,
)

_SYSTEM_BLOCK = re.compile(r"\{%-? if system_prompt %\}.*?\{% endif %\}", re.DOTALL)
_SYSTEM_OPEN = re.compile(r"\{%-? if system_prompt %\}")

DEFAULT_PROMPT = """\
Judge whether a model's answer is good, bad or uncertain.

Good: it answers what was asked, is accurate (nothing made up), is clear, follows the system
prompt when there is one, and is appropriate and helpful.
Bad: it misses the question, states something false, is incoherent, breaks the system prompt,
or is harmful or unhelpful.
Uncertain: it is partly right, or judging it would need more context.
{%- if system_prompt %}

System prompt:
{{ system_prompt }}
{% endif %}

User input:
{{ user_input }}

Model output:
{{ model_output }}

Answer with JSON only, in this form:
{"verdict": "good" | "bad" | "uncertain", "confidence": <0 to 1>,
 "reasoning": "<why>", "categories": ["<issue>", ...] or null}"""
"""The default template: ``{{ user_input }}``, ``{{ model_output }}`` and an optional
``{%- if system_prompt %} ... {{ system_prompt }} ... {% endif %}`` block."""


class BaseClassifier(ABC):
    """A judge of model responses; subclasses implement the four ``classify*`` methods.

    Args:
        config: the judge model and its settings (``ClassificationConfig()`` when omitted).
    """

    name: str = "base"

    def __init__(self, config: ClassificationConfig | None = None) -> None:
        self.config = config or ClassificationConfig()

    @classmethod
    def is_available(cls) -> bool:
        """Whether what this classifier needs (an SDK) is installed."""
        return True

    @abstractmethod
    def classify(
        self,
        user_input: str,
        model_output: str,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> ClassificationResult:
        """Judge one response."""

    @abstractmethod
    async def classify_async(
        self,
        user_input: str,
        model_output: str,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> ClassificationResult:
        """Judge one response without blocking the event loop."""

    @abstractmethod
    def classify_batch(
        self, inputs: list[ClassificationInput], **kwargs: Any
    ) -> list[ClassificationResult]:
        """Judge several responses; one result per input, in order."""

    @abstractmethod
    async def classify_batch_async(
        self, inputs: list[ClassificationInput], **kwargs: Any
    ) -> list[ClassificationResult]:
        """Judge several responses concurrently; one result per input, in order."""

    def _create_input(
        self,
        user_input: str,
        model_output: str,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> ClassificationInput:
        """A :class:`ClassificationInput` from the arguments (``context=`` among ``kwargs``)."""
        return ClassificationInput(
            system_prompt=system_prompt,
            user_input=user_input,
            model_output=model_output,
            context=kwargs.get("context"),
        )

    def _default_classification_prompt(self) -> str:
        """The template used when the configuration names none."""
        return DEFAULT_PROMPT

    def _format_prompt(
        self, classification_input: ClassificationInput, prompt_template: str | None = None
    ) -> str:
        """The template with the input filled in (plain replacement, no template engine)."""
        template = (
            prompt_template
            or self.config.classification_prompt
            or self._default_classification_prompt()
        )
        if classification_input.system_prompt:
            prompt = _SYSTEM_OPEN.sub("", template).replace("{% endif %}", "")
            prompt = prompt.replace("{{ system_prompt }}", classification_input.system_prompt)
        else:
            prompt = _SYSTEM_BLOCK.sub("", template)
        prompt = prompt.replace("{{ user_input }}", classification_input.user_input)
        prompt = prompt.replace("{{ model_output }}", classification_input.model_output)
        return prompt.strip()

    def _parse_verdict(self, verdict_str: str) -> ClassificationVerdict:
        """``"good"`` / ``"bad"`` (any case, spaces around); anything else is uncertain."""
        word = verdict_str.strip().lower()
        if word == ClassificationVerdict.GOOD.value:
            return ClassificationVerdict.GOOD
        if word == ClassificationVerdict.BAD.value:
            return ClassificationVerdict.BAD
        return ClassificationVerdict.UNCERTAIN

"""What a classifier reads and what it answers: pydantic models (aiobs 0.2 names and fields)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class ClassificationVerdict(str, Enum):
    """How a response was judged."""

    GOOD = "good"
    BAD = "bad"
    UNCERTAIN = "uncertain"


class ClassificationInput(BaseModel):
    """One exchange to judge: the system prompt, the user's input and the model's output."""

    system_prompt: str | None = Field(default=None, description="The model's system prompt")
    user_input: str = Field(description="What the user asked")
    model_output: str = Field(description="What the model answered")
    context: dict[str, Any] | None = Field(
        default=None, description="Anything else the judge should know (history, documents)"
    )


class ClassificationResult(BaseModel):
    """A verdict with its confidence (0 to 1), the reasoning and the issues found."""

    verdict: ClassificationVerdict = Field(description="good, bad or uncertain")
    confidence: float = Field(ge=0.0, le=1.0, description="Confidence, from 0 to 1")
    reasoning: str | None = Field(default=None, description="Why this verdict")
    categories: list[str] | None = Field(
        default=None, description="Issues found, such as 'hallucination' or 'off-topic'"
    )
    raw_response: Any | None = Field(default=None, description="The judge's answer as received")
    metadata: dict[str, Any] | None = Field(
        default=None, description="The judge model, token usage, errors"
    )


class ClassificationConfig(BaseModel):
    """How a classifier asks its judge model."""

    model: str = Field(default="gpt-4o-mini", description="The judge model")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="Sampling temperature")
    max_tokens: int = Field(default=1024, description="Longest answer asked for")
    classification_prompt: str | None = Field(
        default=None,
        description="A prompt template replacing the default one ({{ user_input }}, "
        "{{ model_output }}, {{ system_prompt }})",
    )
    confidence_threshold: float = Field(
        default=0.7, ge=0.0, le=1.0, description="Confidence from which a verdict counts as sure"
    )

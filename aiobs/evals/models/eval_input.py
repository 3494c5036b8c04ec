"""What an evaluator judges: one model interaction."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EvalInput(BaseModel):
    """One LLM interaction to evaluate.

    Example::

        EvalInput(
            user_input="What is the capital of France?",
            model_output="The capital of France is Paris.",
            system_prompt="You are a helpful geography assistant.",
        )
    """

    user_input: str = Field(description="The user's input/query to the model")
    model_output: str = Field(description="The model's generated response to evaluate")
    system_prompt: str | None = Field(
        default=None, description="The system prompt provided to the model"
    )
    expected_output: str | None = Field(
        default=None, description="Expected/ground-truth output for comparison evals"
    )
    context: dict[str, Any] | None = Field(
        default=None,
        description="Additional context (e.g., retrieved docs, conversation history)",
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Additional metadata (e.g., latency, token counts, timestamps)",
    )
    tags: list[str] | None = Field(
        default=None, description="Tags for categorizing or filtering eval inputs"
    )

    def with_expected(self, expected_output: str) -> EvalInput:
        """A copy with ``expected_output`` set."""
        return self.model_copy(update={"expected_output": expected_output})

    def with_metadata(self, **kwargs: Any) -> EvalInput:
        """A copy with ``kwargs`` merged into ``metadata``."""
        return self.model_copy(update={"metadata": {**(self.metadata or {}), **kwargs}})

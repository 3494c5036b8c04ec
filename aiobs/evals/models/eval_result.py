"""What an evaluator returns: a status, a score in [0, 1] and the details behind them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field


class EvalStatus(str, Enum):
    """Status of an evaluation result."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


_EPOCH = datetime(1970, 1, 1)


def _utc_now_312() -> datetime:
    """Now in UTC, naive, without ``datetime.utcnow`` (deprecated from Python 3.12)."""
    return _EPOCH + timedelta(seconds=time.time())


_utc_now: Callable[[], datetime] = datetime.utcnow if sys.version_info < (3, 12) else _utc_now_312
"""Now in UTC, naive like aiobs 0.2's ``evaluated_at``; the C function where it is not deprecated
(a result is made per input, and the timestamp was half its cost)."""


class AssertionDetail(BaseModel):
    """One check within an evaluation."""

    name: str = Field(description="Name or description of the assertion")
    passed: bool = Field(description="Whether this assertion passed")
    expected: Any | None = Field(default=None, description="Expected value (if applicable)")
    actual: Any | None = Field(default=None, description="Actual value found")
    message: str | None = Field(default=None, description="Additional context about the assertion")


class EvalResult(BaseModel):
    """The outcome of one evaluation.

    Example::

        result = evaluator(EvalInput(user_input="q", model_output="a"))
        if not result.passed:
            print(result.status.value, result.score, result.message)
    """

    status: EvalStatus = Field(
        description="Overall evaluation status: passed, failed, error, or skipped"
    )
    score: float = Field(ge=0.0, le=1.0, description="Numeric score between 0 (worst) and 1 (best)")
    eval_name: str = Field(description="Name of the evaluator that produced this result")
    message: str | None = Field(
        default=None, description="Human-readable message explaining the result"
    )
    details: dict[str, Any] | None = Field(
        default=None,
        description="Detailed information about the evaluation (matches, violations, etc.)",
    )
    assertions: list[AssertionDetail] | None = Field(
        default=None,
        description="List of individual assertion results (for multi-assertion evals)",
    )
    duration_ms: float | None = Field(
        default=None, description="Time taken to run the evaluation in milliseconds"
    )
    evaluated_at: datetime = Field(
        default_factory=_utc_now, description="Timestamp when evaluation was performed"
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="Additional metadata from the evaluator"
    )

    @property
    def passed(self) -> bool:
        """Whether the evaluation passed."""
        return self.status == EvalStatus.PASSED

    @property
    def failed(self) -> bool:
        """Whether the evaluation failed."""
        return self.status == EvalStatus.FAILED

    @classmethod
    def pass_result(
        cls, eval_name: str, score: float = 1.0, message: str | None = None, **kwargs: Any
    ) -> EvalResult:
        """A passing result."""
        return cls(
            status=EvalStatus.PASSED, score=score, eval_name=eval_name, message=message, **kwargs
        )

    @classmethod
    def fail_result(
        cls, eval_name: str, score: float = 0.0, message: str | None = None, **kwargs: Any
    ) -> EvalResult:
        """A failing result."""
        return cls(
            status=EvalStatus.FAILED, score=score, eval_name=eval_name, message=message, **kwargs
        )

    @classmethod
    def error_result(cls, eval_name: str, error: Exception, **kwargs: Any) -> EvalResult:
        """An error result: the evaluation could not be made; ``error`` says why."""
        return cls(
            status=EvalStatus.ERROR,
            score=0.0,
            eval_name=eval_name,
            message=f"Evaluation error: {error}",
            details={"error_type": type(error).__name__, "error_message": str(error)},
            **kwargs,
        )

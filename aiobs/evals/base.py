"""``BaseEval``: what every evaluator offers (evaluate, async, batch, timing by ``__call__``)."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from .._guard import raises_internal_errors
from .models import BaseEvalConfig, EvalInput, EvalResult

ConfigT = TypeVar("ConfigT", bound=BaseEvalConfig)

logger = logging.getLogger("aiobs")


class BaseEval(ABC):
    """Base class of evaluators: subclasses implement :meth:`evaluate`.

    Example::

        evaluator = RegexAssertion(RegexAssertionConfig(patterns=[r"Paris"]))
        result = evaluator(EvalInput(user_input="Capital of France?", model_output="Paris."))
        result.status  # EvalStatus.PASSED; result.duration_ms is set by the call
    """

    name: str = "base_eval"
    description: str = "Base evaluator"
    config_class: type[BaseEvalConfig] = BaseEvalConfig

    def __init__(self, config: Any | None = None) -> None:
        self.config: Any = config or self.config_class()
        self._instance_name: str = self.config.name or self.name

    @property
    def eval_name(self) -> str:
        """The name results carry: the config's ``name``, else the evaluator's."""
        return self._instance_name

    @classmethod
    def is_available(cls) -> bool:
        """Whether this evaluator's optional dependencies are installed."""
        return True

    @abstractmethod
    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Judge one input."""
        raise NotImplementedError

    async def evaluate_async(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Judge one input from async code (by default, :meth:`evaluate`)."""
        return self.evaluate(eval_input, **kwargs)

    def evaluate_batch(self, inputs: list[EvalInput], **kwargs: Any) -> list[EvalResult]:
        """Judge several inputs, one result each."""
        return [self.evaluate(item, **kwargs) for item in inputs]

    async def evaluate_batch_async(
        self, inputs: list[EvalInput], **kwargs: Any
    ) -> list[EvalResult]:
        """Judge several inputs from async code, one after the other."""
        return [await self.evaluate_async(item, **kwargs) for item in inputs]

    def _timed_evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        start = time.perf_counter()
        result = self.evaluate(eval_input, **kwargs)
        result.duration_ms = (time.perf_counter() - start) * 1000
        return result

    def __call__(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """:meth:`evaluate`, with ``duration_ms`` set on the result."""
        return self._timed_evaluate(eval_input, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(name={self.eval_name!r})"


class CannotJudgeError(ValueError):
    """The input lacks what this evaluator needs; the message says what and how to give it."""


def judged(
    eval_name: str, judge: Callable[..., EvalResult], eval_input: Any, kwargs: dict[str, Any]
) -> EvalResult:
    """``judge(eval_input, **kwargs)``, with anything it cannot judge as an error result.

    :class:`CannotJudgeError` is the input's fault: always an error result. Any other exception is
    aiobs's own: an error result too (logged), except under the test suite, where it raises.
    """
    if not isinstance(eval_input, EvalInput):
        return EvalResult.error_result(
            eval_name=eval_name,
            error=CannotJudgeError(
                f"expected an EvalInput, got {type(eval_input).__name__}: build one with "
                "EvalInput(user_input=..., model_output=...)"
            ),
        )
    try:
        return judge(eval_input, **kwargs) if kwargs else judge(eval_input)
    except CannotJudgeError as exc:
        return EvalResult.error_result(eval_name=eval_name, error=exc)
    except Exception as exc:
        if raises_internal_errors():
            raise
        logger.warning("aiobs evaluator %s could not judge an input: %r", eval_name, exc)
        return EvalResult.error_result(eval_name=eval_name, error=exc)

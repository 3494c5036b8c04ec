"""What the LLM-judged evaluators share: asking the judge, reading its JSON, counting its cost.

The judge is called through :mod:`aiobs.llm` (instrumentation suppressed: its calls never land in
the user's sessions). Its tokens and cost go on the result's ``metadata["judge"]``. An answer
that is not the JSON object the prompt asks for is an error result saying so; aiobs 0.2 scored
such an answer 0.5 for the hallucination and jailbreak judges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..llm import LLM, BaseLLM, LLMResponse
from .base import BaseEval, CannotJudgeError, judged
from .models import AssertionDetail, EvalInput, EvalResult, EvalStatus

_FENCED = re.compile(r"```(?:json)?\s*\n?(.*?)\n?```", re.DOTALL)
_BRACES = re.compile(r"\{.*\}", re.DOTALL)


def parse_verdict(text: str) -> dict[str, Any]:
    """The judge's JSON object: the whole answer, a fenced block, or the outermost braces."""
    candidates = [text]
    for pattern, group in ((_FENCED, 1), (_BRACES, 0)):
        match = pattern.search(text)
        if match:
            candidates.append(match.group(group))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise CannotJudgeError(
        f"the judge's answer is not the JSON object its prompt asks for: {text[:200]!r} "
        "(check that the judge model follows JSON instructions, or use a stronger one)"
    )


def verdict_score(verdict: dict[str, Any], default: float) -> float:
    """The verdict's ``score`` as a float in [0, 1], or :class:`CannotJudgeError`."""
    raw = verdict.get("score", default)
    try:
        score = float(raw)
    except (TypeError, ValueError):
        score = -1.0
    if isinstance(raw, bool) or not 0.0 <= score <= 1.0:
        raise CannotJudgeError(f"the judge's score {raw!r} is not a number between 0 and 1")
    return score


def verdict_items(verdict: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The verdict's list ``key`` (claims, violations), each an object, or CannotJudgeError."""
    items = verdict.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise CannotJudgeError(f"the judge's {key!r} is not a list of objects: {items!r}")
    return items


def verdict_text(verdict: dict[str, Any], key: str) -> Any:
    return verdict.get(key, "")


def severity_counts(items: list[dict[str, Any]]) -> dict[str, int]:
    """How many of the judge's findings (claims, violations) have each ``severity``."""
    counts: dict[str, int] = {}
    for item in items:
        severity = item.get("severity", "unknown")
        counts[severity] = counts.get(severity, 0) + 1
    return counts


class JudgeEval(BaseEval):
    """An evaluator whose verdict comes from an LLM (a client of OpenAI, Gemini or Anthropic)."""

    system_prompt: str = ""

    def __init__(
        self,
        client: Any,
        model: str,
        config: Any | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(config)
        self._llm: BaseLLM = LLM.from_client(
            client=client,
            model=model,
            temperature=self._temperature(temperature),
            max_tokens=max_tokens,
        )
        if self.config.model is None:
            self.config.model = model

    def _temperature(self, given: float | None) -> float:
        """The judge's temperature: the argument, or the config's when the argument is 0."""
        return given or self.config.temperature

    @classmethod
    def with_openai(cls, client: Any, model: str = "gpt-4o-mini", **kwargs: Any) -> Any:
        """This judge on an OpenAI client; ``kwargs`` are configuration fields."""
        return cls(
            client=client, model=model, config=cls.config_class(**kwargs) if kwargs else None
        )

    @classmethod
    def with_gemini(cls, client: Any, model: str = "gemini-2.0-flash", **kwargs: Any) -> Any:
        """This judge on a google-genai client; ``kwargs`` are configuration fields."""
        return cls(
            client=client, model=model, config=cls.config_class(**kwargs) if kwargs else None
        )

    @classmethod
    def with_anthropic(
        cls, client: Any, model: str = "claude-3-sonnet-20240229", **kwargs: Any
    ) -> Any:
        """This judge on an Anthropic client; ``kwargs`` are configuration fields."""
        return cls(
            client=client, model=model, config=cls.config_class(**kwargs) if kwargs else None
        )

    def _build_prompt(self, eval_input: EvalInput) -> str:
        raise NotImplementedError

    def _prompts(self, eval_input: EvalInput) -> list[str]:
        """The prompts sent to the judge for one input: one, unless a judge asks more."""
        return [self._build_prompt(eval_input)]

    def _verdict_result(self, verdicts: list[dict[str, Any]]) -> EvalResult:
        raise NotImplementedError

    def _judged_result(
        self,
        *,
        passed: bool,
        score: float,
        message: str,
        assertions: list[AssertionDetail],
        details: dict[str, Any],
    ) -> EvalResult:
        """The verdict as a result; assertions and details only if the config includes details."""
        include = self.config.include_details
        return EvalResult(
            status=EvalStatus.PASSED if passed else EvalStatus.FAILED,
            score=score,
            eval_name=self.eval_name,
            message=message,
            assertions=assertions if include else None,
            details=details if include else None,
        )

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Ask the judge and read its verdict."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    async def evaluate_async(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Ask the judge from async code (an async client is awaited)."""
        given: Any = eval_input  # anything may be passed; judged() turns a non-input into an error
        if not isinstance(given, EvalInput):
            return judged(self.eval_name, self._evaluate, given, kwargs)
        responses: list[LLMResponse] = []
        try:
            for prompt in self._prompts(eval_input):
                responses.append(  # noqa: PERF401 - the calls made so far count when one fails
                    await self._llm.complete_async(prompt=prompt, system_prompt=self.system_prompt)
                )
        except Exception as exc:  # noqa: BLE001 - the judge's call failed: the result says why
            return self._with_cost(EvalResult.error_result(self.eval_name, exc), responses)
        return judged(self.eval_name, self._read, eval_input, {"responses": responses})

    def _evaluate(self, eval_input: EvalInput, **_: Any) -> EvalResult:
        responses: list[LLMResponse] = []
        try:
            for prompt in self._prompts(eval_input):
                responses.append(  # noqa: PERF401 - the calls made so far count when one fails
                    self._llm.complete(prompt=prompt, system_prompt=self.system_prompt)
                )
        except Exception as exc:  # noqa: BLE001 - the judge's call failed: the result says why
            return self._with_cost(EvalResult.error_result(self.eval_name, exc), responses)
        return self._read(eval_input, responses=responses)

    def _read(self, _: EvalInput, responses: list[LLMResponse]) -> EvalResult:
        try:
            verdicts = [parse_verdict(response.content) for response in responses]
            result = self._verdict_result(verdicts)
        except CannotJudgeError as exc:
            result = EvalResult.error_result(self.eval_name, exc)
        return self._with_cost(result, responses)

    def _with_cost(self, result: EvalResult, responses: Sequence[LLMResponse]) -> EvalResult:
        """``result`` with the judge's calls, tokens and cost in ``metadata["judge"]``."""
        usage: dict[str, int] = {}
        cost: dict[str, float] | None = {} if responses else None
        for response in responses:
            for key, value in (response.usage or {}).items():
                usage[key] = usage.get(key, 0) + value
            if response.cost is None or cost is None:
                cost = None
            else:
                for key in ("input", "output", "total"):
                    cost[key] = round(cost.get(key, 0.0) + float(response.cost.get(key, 0.0)), 10)
        judge = {
            "model": self._llm.model,
            "provider": self._llm.provider,
            "calls": len(responses),
            "usage": usage or None,
            "cost": cost,
        }
        result.metadata = {**(result.metadata or {}), "judge": judge}
        return result

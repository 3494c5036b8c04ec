"""``GroundTruthEval``: the output compared with the expected answer."""

from __future__ import annotations

import string
from typing import Any

from ..base import BaseEval, CannotJudgeError, judged
from ..models import (
    AssertionDetail,
    EvalInput,
    EvalResult,
    EvalStatus,
    GroundTruthConfig,
    GroundTruthMatchMode,
)

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def _shortened(text: str) -> str:
    return text[:200] + "..." if len(text) > 200 else text


class GroundTruthEval(BaseEval):
    """Compare the output with ``expected_output``: exact, contains or normalized.

    Normalized comparison lowercases and collapses whitespace (by default), passes when the
    expected text is inside the output, and otherwise scores the word overlap (Jaccard) against
    ``similarity_threshold``. Semantic matching is not implemented (an error result, as in 0.2).
    """

    name: str = "ground_truth"
    description: str = "Compares model output against expected ground truth"
    config_class: type[GroundTruthConfig] = GroundTruthConfig

    def __init__(self, config: GroundTruthConfig | None = None) -> None:
        super().__init__(config)
        self.config: GroundTruthConfig = self.config

    @classmethod
    def exact(cls, case_sensitive: bool = True) -> GroundTruthEval:
        """An exact comparison."""
        return cls(
            GroundTruthConfig(match_mode=GroundTruthMatchMode.EXACT, case_sensitive=case_sensitive)
        )

    @classmethod
    def contains(cls, case_sensitive: bool = False) -> GroundTruthEval:
        """The output must contain the expected text."""
        return cls(
            GroundTruthConfig(
                match_mode=GroundTruthMatchMode.CONTAINS, case_sensitive=case_sensitive
            )
        )

    @classmethod
    def normalized(
        cls, case_sensitive: bool = False, strip_punctuation: bool = False
    ) -> GroundTruthEval:
        """A normalized comparison (see the class docs)."""
        return cls(
            GroundTruthConfig(
                match_mode=GroundTruthMatchMode.NORMALIZED,
                case_sensitive=case_sensitive,
                strip_punctuation=strip_punctuation,
            )
        )

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Compare; ``expected=`` overrides ``eval_input.expected_output``."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        expected = kwargs.get("expected", eval_input.expected_output)
        if expected is None:
            return EvalResult.error_result(
                eval_name=self.eval_name,
                error=ValueError("No expected_output provided in eval_input or kwargs"),
            )
        if not isinstance(expected, str):
            raise CannotJudgeError(
                f"the expected output must be a string, got {type(expected).__name__}: "
                "pass expected_output=str(...)"
            )
        output = eval_input.model_output
        mode = self.config.match_mode
        if mode == GroundTruthMatchMode.EXACT:
            passed, score, details = self._exact_match(output, expected)
        elif mode == GroundTruthMatchMode.CONTAINS:
            passed, score, details = self._contains_match(output, expected)
        elif mode == GroundTruthMatchMode.NORMALIZED:
            passed, score, details = self._normalized_match(output, expected)
        else:
            return EvalResult.error_result(
                eval_name=self.eval_name,
                error=NotImplementedError("Semantic matching not yet implemented"),
            )
        mode_name = mode.value
        message = f"Ground truth comparison ({mode_name}): {'MATCH' if passed else 'NO MATCH'}"
        include = self.config.include_details
        assertion = AssertionDetail(
            name=f"ground_truth_{mode_name}",
            passed=passed,
            expected=_shortened(expected),
            actual=_shortened(output),
            message=message,
        )
        return EvalResult(
            status=EvalStatus.PASSED if passed else EvalStatus.FAILED,
            score=score,
            eval_name=self.eval_name,
            message=message,
            assertions=[assertion] if include else None,
            details={
                "match_mode": mode_name,
                "case_sensitive": self.config.case_sensitive,
                **details,
            }
            if include
            else None,
        )

    def _exact_match(self, output: str, expected: str) -> tuple[bool, float, dict[str, Any]]:
        if not self.config.case_sensitive:
            output, expected = output.lower(), expected.lower()
        passed = output == expected
        return passed, 1.0 if passed else 0.0, {"comparison": "exact"}

    def _contains_match(self, output: str, expected: str) -> tuple[bool, float, dict[str, Any]]:
        if not self.config.case_sensitive:
            output, expected = output.lower(), expected.lower()
        if expected not in output:
            return False, 0.0, {"comparison": "contains"}
        score = min(len(expected) / len(output), 1.0) if output else 1.0
        return True, score, {"comparison": "contains"}

    def _normalized_match(self, output: str, expected: str) -> tuple[bool, float, dict[str, Any]]:
        output, expected = self._normalize(output), self._normalize(expected)
        if output == expected:
            return True, 1.0, {"comparison": "normalized", "normalized_match": True}
        if expected in output:
            return True, len(expected) / len(output), {"comparison": "normalized", "contains": True}
        similarity = self._calculate_similarity(output, expected)
        threshold = self.config.similarity_threshold
        return (
            similarity >= threshold,
            similarity,
            {"comparison": "normalized", "similarity": similarity, "threshold": threshold},
        )

    def _normalize(self, text: str) -> str:
        if not self.config.case_sensitive:
            text = text.lower()
        if self.config.normalize_whitespace:
            text = " ".join(text.split())
        if self.config.strip_punctuation:
            text = text.translate(_PUNCTUATION)
        return text.strip()

    def _calculate_similarity(self, s1: str, s2: str) -> float:
        """Word-set Jaccard similarity."""
        words1, words2 = set(s1.split()), set(s2.split())
        if not words1 or not words2:
            return 0.0
        return len(words1 & words2) / len(words1 | words2)

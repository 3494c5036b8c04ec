"""``RegexAssertion``: the output matches (or must not match) regular expressions."""

from __future__ import annotations

from typing import Any

from ..base import BaseEval, judged
from ..models import AssertionDetail, EvalInput, EvalResult, EvalStatus, RegexAssertionConfig


class RegexAssertion(BaseEval):
    """Pass when the output matches the patterns (any or all) and none of the negative ones.

    Example::

        RegexAssertion.from_patterns(patterns=[r"Paris"], negative_patterns=[r"(?i)sorry"])
    """

    name: str = "regex_assertion"
    description: str = "Asserts that output matches/doesn't match regex patterns"
    config_class: type[RegexAssertionConfig] = RegexAssertionConfig

    def __init__(self, config: RegexAssertionConfig | None = None) -> None:
        super().__init__(config)
        self.config: RegexAssertionConfig = self.config
        self._compiled_patterns = self.config.get_compiled_patterns()
        self._compiled_negative_patterns = self.config.get_compiled_negative_patterns()

    @classmethod
    def from_patterns(
        cls,
        patterns: list[str] | None = None,
        negative_patterns: list[str] | None = None,
        case_sensitive: bool = True,
        match_mode: str = "any",
    ) -> RegexAssertion:
        """An evaluator of these patterns."""
        return cls(
            RegexAssertionConfig(
                patterns=patterns or [],
                negative_patterns=negative_patterns or [],
                case_sensitive=case_sensitive,
                match_mode=match_mode,
            )
        )

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Check the output against the patterns."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **_: Any) -> EvalResult:
        output = eval_input.model_output
        fail_fast = self.config.fail_fast
        assertions: list[AssertionDetail] = []
        matched_any = False
        matched_all = True
        for pattern in self._compiled_patterns:
            match = pattern.search(output)
            assertions.append(
                AssertionDetail(
                    name=f"match:{pattern.pattern}",
                    passed=match is not None,
                    expected=f"Output should match: {pattern.pattern}",
                    actual=match.group(0) if match else None,
                    message="Pattern matched" if match else "Pattern not found",
                )
            )
            if match is None:
                matched_all = False
                if fail_fast:
                    return self._result(False, assertions, f"Pattern not found: {pattern.pattern}")
            else:
                matched_any = True
        violations: list[str] = []
        for pattern in self._compiled_negative_patterns:
            match = pattern.search(output)
            assertions.append(
                AssertionDetail(
                    name=f"no_match:{pattern.pattern}",
                    passed=match is None,
                    expected=f"Output should NOT match: {pattern.pattern}",
                    actual=match.group(0) if match else None,
                    message="Pattern incorrectly found" if match else "Pattern correctly absent",
                )
            )
            if match is not None:
                violations.append(pattern.pattern)
                if fail_fast:
                    return self._result(
                        False, assertions, f"Negative pattern matched: {pattern.pattern}"
                    )
        mode_all = self.config.match_mode == "all"
        positive_ok = not self._compiled_patterns or (matched_all if mode_all else matched_any)
        if positive_ok and not violations:
            return self._result(True, assertions, "All regex assertions passed")
        problems = []
        if not positive_ok:
            problems.append(
                "Not all required patterns matched" if mode_all else "No patterns matched"
            )
        if violations:
            problems.append(f"Negative patterns matched: {violations}")
        return self._result(False, assertions, "; ".join(problems))

    def _result(self, passed: bool, assertions: list[AssertionDetail], message: str) -> EvalResult:
        if assertions:
            score = sum(1 for a in assertions if a.passed) / len(assertions)
        else:
            score = 1.0 if passed else 0.0
        details = self.config.include_details
        return EvalResult(
            status=EvalStatus.PASSED if passed else EvalStatus.FAILED,
            score=score,
            eval_name=self.eval_name,
            message=message,
            assertions=assertions if details else None,
            details={
                "match_mode": self.config.match_mode,
                "pattern_count": len(self.config.patterns),
                "negative_pattern_count": len(self.config.negative_patterns),
            }
            if details
            else None,
        )

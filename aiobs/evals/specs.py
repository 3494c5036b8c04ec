"""Evaluators named on a command line (``aiobs eval --eval SPEC``).

=========================  ===================================================================
``regex:PATTERN``          the output must match PATTERN (Python regex, case-sensitive)
``not-regex:PATTERN``      the output must not match PATTERN
``pii``                    no personal data (emails, phone numbers, cards...) in the output
``schema:FILE.json``       the output is JSON valid against the JSON Schema in FILE.json
``ground-truth:TEXT``      the output contains TEXT (case-insensitive)
``ground-truth:@FILE``     FILE.json maps user inputs to expected outputs; the output must
                           contain the one for its input (an input not listed is an error)
``latency:MAX_MS``         the call took at most MAX_MS milliseconds
=========================  ===================================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .base import BaseEval, CannotJudgeError, judged
from .correctness import GroundTruthEval, RegexAssertion, SchemaAssertion
from .models import EvalInput, EvalResult
from .reliability import LatencyConsistencyEval
from .safety import PIIDetectionEval

SPECS = ("regex:", "not-regex:", "pii", "schema:", "ground-truth:", "latency:")
"""What a spec starts with."""


def evaluator_from_spec(spec: str) -> BaseEval:
    """The evaluator a spec names (see the module's table).

    Raises:
        ValueError: the spec is unknown or its argument is invalid (the message says why).
    """
    kind, _, argument = spec.partition(":")
    if kind == "pii" and not argument:
        return PIIDetectionEval.default()
    if not argument:
        raise ValueError(
            f"--eval {spec!r}: expected one of regex:PATTERN, not-regex:PATTERN, pii, "
            "schema:FILE.json, ground-truth:TEXT, ground-truth:@FILE.json, latency:MAX_MS"
        )
    build = _BUILDERS.get(kind)
    if build is None:
        raise ValueError(
            f"--eval {spec!r}: unknown evaluator {kind!r}; use regex:, not-regex:, pii, "
            "schema:, ground-truth: or latency:"
        )
    return build(spec, argument)


def _schema(spec: str, argument: str) -> BaseEval:
    schema = _json_file(spec, Path(argument))
    if not isinstance(schema, dict):
        raise ValueError(f"--eval {spec!r}: {argument} does not hold a JSON Schema object")
    return SchemaAssertion.from_schema(schema)


def _ground_truth(spec: str, argument: str) -> BaseEval:
    if not argument.startswith("@"):
        return ExpectedByInput(default=argument)
    expected = _json_file(spec, Path(argument[1:]))
    if not isinstance(expected, dict) or not all(
        isinstance(value, str) for value in expected.values()
    ):
        raise ValueError(
            f"--eval {spec!r}: {argument[1:]} must hold a JSON object mapping user "
            'inputs to expected outputs, e.g. {"Capital of France?": "Paris"}'
        )
    return ExpectedByInput(expected)


def _latency(spec: str, argument: str) -> BaseEval:
    try:
        bound = float(argument)
    except ValueError:
        bound = -1.0
    if not bound > 0:
        raise ValueError(f"--eval {spec!r}: MAX_MS must be a positive number of milliseconds")
    return LatencyConsistencyEval.with_thresholds(max_latency_ms=bound)


_BUILDERS: dict[str, Callable[[str, str], BaseEval]] = {
    "regex": lambda _, argument: RegexAssertion.from_patterns(patterns=[argument]),
    "not-regex": lambda _, argument: RegexAssertion.from_patterns(negative_patterns=[argument]),
    "schema": _schema,
    "ground-truth": _ground_truth,
    "latency": _latency,
}


def _json_file(spec: str, path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"--eval {spec!r}: cannot read {path} ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ValueError(f"--eval {spec!r}: {path} is not JSON ({exc})") from None


class ExpectedByInput(BaseEval):
    """Ground truth for recorded calls: the expected output looked up by the user's input.

    The output must contain the expected text (case-insensitive), as ``GroundTruthEval.contains``.
    """

    name = "ground_truth"
    description = "Compares recorded outputs with expected ones, looked up by input"

    def __init__(
        self, expected: Mapping[str, str] | None = None, *, default: str | None = None
    ) -> None:
        super().__init__()
        self._expected = dict(expected or {})
        self._default = default
        self._inner = GroundTruthEval.contains()

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Judge ``eval_input`` against its expected output."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        expected = self._expected.get(eval_input.user_input.strip(), self._default)
        if expected is None:
            raise CannotJudgeError(
                f"no expected output for the input {eval_input.user_input[:80]!r}: add it to "
                "the ground-truth file"
            )
        result = self._inner.evaluate(eval_input.with_expected(expected), **kwargs)
        result.eval_name = self.eval_name
        return result

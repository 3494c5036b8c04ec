"""``LatencyConsistencyEval``: latencies within bounds and steady enough."""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..base import BaseEval, CannotJudgeError, judged
from ..models import (
    AssertionDetail,
    EvalInput,
    EvalResult,
    EvalStatus,
    LatencyConsistencyConfig,
)

NO_LATENCIES = (
    "No latencies provided. Pass via kwargs['latencies'] or eval_input.metadata['latencies']"
)


def _latencies(raw: Any) -> list[float]:
    """``raw`` as milliseconds, or :class:`CannotJudgeError` saying which value is wrong."""
    values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    result = []
    for index, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise CannotJudgeError(
                f"latency #{index} is {value!r}: latencies must be finite numbers of "
                "milliseconds, e.g. metadata={'latencies': [120.5, 98.0]}"
            )
        result.append(number)
    return result


class LatencyConsistencyEval(BaseEval):
    """Check latencies (``metadata['latencies']``, ``metadata['latency_ms']`` or ``latencies=``).

    Bounds on the maximum, standard deviation, p95 and p99 when configured, and always the
    coefficient of variation (std dev / mean) when there are two values or more.
    """

    name: str = "latency_consistency"
    description: str = "Evaluates latency consistency across multiple runs"
    config_class: type[LatencyConsistencyConfig] = LatencyConsistencyConfig

    def __init__(self, config: LatencyConsistencyConfig | None = None) -> None:
        super().__init__(config)
        self.config: LatencyConsistencyConfig = self.config

    @classmethod
    def with_thresholds(
        cls,
        max_latency_ms: float | None = None,
        max_p95_ms: float | None = None,
        max_p99_ms: float | None = None,
        cv_threshold: float = 0.5,
    ) -> LatencyConsistencyEval:
        """An evaluator with these bounds."""
        return cls(
            LatencyConsistencyConfig(
                max_latency_ms=max_latency_ms,
                max_p95_ms=max_p95_ms,
                max_p99_ms=max_p99_ms,
                coefficient_of_variation_threshold=cv_threshold,
            )
        )

    def evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        """Compute the statistics and check them against the bounds."""
        return judged(self.eval_name, self._evaluate, eval_input, kwargs)

    def _evaluate(self, eval_input: EvalInput, **kwargs: Any) -> EvalResult:
        raw = kwargs.get("latencies")
        metadata = eval_input.metadata
        if raw is None and metadata:
            raw = metadata.get("latencies")
            if raw is None:
                raw = metadata.get("latency_ms")
                raw = None if raw is None else [raw]
        if not raw:
            return EvalResult.error_result(eval_name=self.eval_name, error=ValueError(NO_LATENCIES))
        stats = self._calculate_stats(_latencies(raw))
        config = self.config
        checks = (
            ("max_latency", config.max_latency_ms, stats["max"], "Maximum latency check", " ms"),
            ("std_dev", config.max_std_dev_ms, stats["std_dev"], "Standard deviation check", " ms"),
            ("p95_latency", config.max_p95_ms, stats["p95"], "P95 latency check", " ms"),
            ("p99_latency", config.max_p99_ms, stats["p99"], "P99 latency check", " ms"),
        )
        assertions = [
            AssertionDetail(
                name=name,
                passed=value <= bound,
                expected=f"<= {bound} ms",
                actual=f"{value:.2f}{unit}",
                message=message,
            )
            for name, bound, value, message, unit in checks
            if bound is not None and value is not None
        ]
        if stats["cv"] is not None:
            bound = config.coefficient_of_variation_threshold
            assertions.append(
                AssertionDetail(
                    name="coefficient_of_variation",
                    passed=stats["cv"] <= bound,
                    expected=f"<= {bound}",
                    actual=f"{stats['cv']:.4f}",
                    message="Coefficient of variation check",
                )
            )
        if not assertions:
            return EvalResult.pass_result(
                eval_name=self.eval_name,
                message="Latency statistics calculated (no thresholds configured)",
                details=stats,
            )
        passed_count = sum(1 for a in assertions if a.passed)
        message = (
            f"Latency consistency: {passed_count}/{len(assertions)} checks passed. "
            f"Mean: {stats['mean']:.2f}ms, P95: {stats['p95']:.2f}ms"
        )
        include = config.include_details
        return EvalResult(
            status=EvalStatus.PASSED if passed_count == len(assertions) else EvalStatus.FAILED,
            score=passed_count / len(assertions),
            eval_name=self.eval_name,
            message=message,
            assertions=assertions if include else None,
            details=stats if include else None,
        )

    def _calculate_stats(self, latencies: list[float]) -> dict[str, Any]:
        ordered = sorted(latencies)
        mean = statistics.mean(latencies)
        stats: dict[str, Any] = {
            "count": len(latencies),
            "mean": mean,
            "min": ordered[0],
            "max": ordered[-1],
            "median": statistics.median(latencies),
        }
        if len(latencies) >= 2:
            std_dev = statistics.stdev(latencies)
            stats["std_dev"] = std_dev
            stats["cv"] = std_dev / mean if mean > 0 else 0.0
            stats["variance"] = statistics.variance(latencies)
            for name, p in (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99)):
                stats[name] = self._percentile(ordered, p)
        else:
            stats.update(std_dev=None, cv=None, variance=None)
            stats.update(p50=latencies[0], p90=latencies[0], p95=latencies[0], p99=latencies[0])
        return stats

    def _percentile(self, sorted_data: list[float], p: float) -> float:
        """Linear interpolation between the closest ranks."""
        n = len(sorted_data)
        if n == 0:
            return 0.0
        k = (n - 1) * p
        low = int(k)
        high = min(low + 1, n - 1)
        if low == high:
            return sorted_data[low]
        return sorted_data[low] * (high - k) + sorted_data[high] * (k - low)

"""Reliability evaluators: latency consistency."""

from .latency_consistency import LatencyConsistencyEval

__all__ = ["LatencyConsistencyEval"]

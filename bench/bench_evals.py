"""Rule-based evaluators over 10,000 recorded LLM calls of about 1 KB: this package vs aiobs 0.2.0.

Each side runs in its own process (this package in this interpreter, aiobs 0.2.0 in
``.venv-aiobs02``), over the same inputs (generated from a fixed seed: a question, an answer of
about 700 bytes, some answers with an email or phone number, some with JSON), with the same
evaluators: regex (two patterns and a negative one), JSON Schema, PII (the default types) and
ground truth (normalized). The two sides alternate for several rounds; each round times every
evaluator over all inputs after a warm-up pass, and the median round is reported as
microseconds per input. The PII throughput is the answers' UTF-8 bytes divided by the time of
``evaluate`` (result models included), and of ``scan`` alone.

aiobs 0.2.0's environment has no ``jsonschema`` (0.2 would then skip schema validation), so it is
given this environment's copy: both sides validate with the same library.

Usage::

    python bench/bench_evals.py               # full run (needs `make reference` for 0.2.0)
    python bench/bench_evals.py --quick       # 500 inputs, 1 round (0.2.0 too if present)
    python bench/bench_evals.py --json out.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / ".venv-aiobs02" / "bin" / "python"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["city", "population"],
}
WORDS = [
    "the",
    "model",
    "answer",
    "city",
    "river",
    "population",
    "capital",
    "history",
    "museum",
    "north",
    "south",
    "bridge",
    "market",
    "station",
    "winter",
    "summer",
    "people",
    "language",
    "century",
    "railway",
    "harbour",
    "festival",
]
JSONSCHEMA_PACKAGES = (
    "jsonschema",
    "jsonschema_specifications",
    "referencing",
    "rpds",
    "attrs",
    "attr",
)


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_inputs(count: int) -> list[dict[str, Any]]:
    """``count`` recorded calls of about 1 KB each, the same for every run."""
    rng = random.Random(20261207)
    inputs = []
    for i in range(count):
        question = " ".join(sentence(rng, 10) for _ in range(4))
        answer = " ".join(sentence(rng, 12) for _ in range(9))
        if i % 10 == 0:
            answer += f" Write to person{i}@example.com for details."
        if i % 10 == 1:
            answer += f" Call 555-{i % 900 + 100}-{i % 9000 + 1000} today."
        if i % 5 == 2:
            answer = json.dumps({"city": "Paris", "population": i, "notes": answer[:600]})
        inputs.append(
            {"user_input": question, "model_output": answer, "expected_output": answer[:80]}
        )
    return inputs


def worker(path: str, rounds: int) -> None:
    """Time each evaluator over the inputs in ``path``; print the figures as JSON."""
    from aiobs.evals import (
        EvalInput,
        GroundTruthEval,
        PIIDetectionEval,
        RegexAssertion,
        SchemaAssertion,
    )

    items = [EvalInput(**raw) for raw in json.loads(Path(path).read_text())]
    pii = PIIDetectionEval.default()
    evaluators = {
        "regex": RegexAssertion.from_patterns(
            patterns=[r"\bcapital\b", r"\d{3}"], negative_patterns=[r"(?i)\bsorry\b"]
        ),
        "schema": SchemaAssertion.from_schema(SCHEMA),
        "pii": pii,
        "ground_truth": GroundTruthEval(),
    }
    timings: dict[str, list[float]] = {name: [] for name in [*evaluators, "pii_scan"]}
    outputs = [item.model_output for item in items]
    for name, evaluator in evaluators.items():
        for item in items[:200]:
            evaluator.evaluate(item)  # warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            for item in items:
                evaluator.evaluate(item)
            timings[name].append(time.perf_counter() - start)
    for _ in range(rounds):
        start = time.perf_counter()
        for text in outputs:
            pii.scan(text)
        timings["pii_scan"].append(time.perf_counter() - start)
    statuses = {
        name: evaluator.evaluate(items[0]).status.value for name, evaluator in evaluators.items()
    }
    print(json.dumps({"timings": timings, "statuses": statuses}))


def jsonschema_path(directory: Path) -> str:
    """A directory of links to this environment's jsonschema and what it imports."""
    target = directory / "jsonschema-only"
    target.mkdir(exist_ok=True)
    for name in JSONSCHEMA_PACKAGES:
        link = target / name
        if not link.exists():
            link.symlink_to(Path(importlib.import_module(name).__file__ or "").parent)
    extensions = target / "typing_extensions.py"
    if not extensions.exists():
        extensions.symlink_to(importlib.import_module("typing_extensions").__file__ or "")
    return str(target)


def run_side(python: str, path: str, rounds: int, env: dict[str, str], cwd: str) -> dict[str, Any]:
    completed = subprocess.run(
        [python, str(Path(__file__).resolve()), "--worker", path, "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=cwd,
    )
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 inputs, one round")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.rounds)
        return
    count, rounds, alternations = (500, 1, 1) if args.quick else (10_000, 3, 5)
    inputs = make_inputs(count)
    output_bytes = sum(len(item["model_output"].encode()) for item in inputs)
    sides = {"ours": sys.executable}
    if REFERENCE.exists():
        sides["aiobs 0.2.0"] = str(REFERENCE)
    elif not args.quick:
        sys.exit(f"no aiobs 0.2.0 environment at {REFERENCE}: run `make reference` first")
    samples: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    statuses: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "inputs.json"
        path.write_text(json.dumps(inputs))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        reference_env = {**base_env, "PYTHONPATH": jsonschema_path(Path(directory))}
        for alternation in range(alternations):
            order = list(sides) if alternation % 2 == 0 else list(reversed(sides))
            for side in order:
                env = base_env if side == "ours" else reference_env
                report = run_side(sides[side], str(path), rounds, env, directory)
                statuses[side] = report["statuses"]
                for name, times in report["timings"].items():
                    samples[side].setdefault(name, []).extend(times)
    figures: dict[str, Any] = {
        "inputs": count,
        "mean_input_bytes": round(sum(len(json.dumps(item).encode()) for item in inputs) / count),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs_per_side": {side: len(next(iter(s.values()))) for side, s in samples.items()},
        "statuses": statuses,
        "us_per_input": {},
        "pii_mb_per_s": {},
        "all_seconds": samples,
    }
    print(
        f"{count} inputs of about {figures['mean_input_bytes']} bytes; median of "
        f"{figures['runs_per_side']} timed passes per side"
    )
    print(f"{'evaluator':<14}" + "".join(f"{side:>16}" for side in sides))
    for name in next(iter(samples.values())):
        medians = {side: statistics.median(samples[side][name]) for side in sides}
        figures["us_per_input"][name] = {s: round(m / count * 1e6, 2) for s, m in medians.items()}
        print(f"{name:<14}" + "".join(f"{m / count * 1e6:>13.2f} us" for m in medians.values()))
        if name in ("pii", "pii_scan"):
            figures["pii_mb_per_s"][name] = {
                s: round(output_bytes / m / 1e6, 1) for s, m in medians.items()
            }
    for name, rates in figures["pii_mb_per_s"].items():
        print(
            f"{name} throughput over the answers: "
            + ", ".join(f"{s} {r} MB/s" for s, r in rates.items())
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

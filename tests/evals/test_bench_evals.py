"""``bench/bench_evals.py --quick`` keeps working (the full run is in docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_evals.py"), "--quick", "--json", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    figures = json.loads(out.read_text())
    assert figures["inputs"] == 500
    assert set(figures["us_per_input"]) == {"regex", "schema", "pii", "ground_truth", "pii_scan"}
    assert figures["pii_mb_per_s"]["pii"]["ours"] > 0
    assert figures["statuses"]["ours"]["schema"] == "failed"  # the first answer is not JSON

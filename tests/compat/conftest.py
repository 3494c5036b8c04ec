"""Differential tests against aiobs 0.2.0: one script, run under both packages, compared.

Adding a check: write ``scripts/<name>.py`` (import ``_compat`` for the helpers and end with
``_compat.report(...)``), then in a test ``outcome = run_both("<name>.py")`` and compare
``outcome.reference`` with ``outcome.ours``. Where this package differs on purpose, the test
names the row of the README's compatibility table that it pins. See ``harness.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from .harness import REFERENCE_PYTHON, REQUIRE_REFERENCE, ROOT, Outcome, RunBoth, run_script


@pytest.fixture(scope="session")
def reference_python() -> str:
    """The interpreter of the aiobs 0.2.0 environment (skips, saying how to make it, if absent)."""
    python = os.environ.get(REFERENCE_PYTHON) or str(ROOT / ".venv-aiobs02" / "bin" / "python")
    if not Path(python).exists():
        message = (
            f"no aiobs 0.2.0 environment at {python}: run `make reference` "
            f"(or set {REFERENCE_PYTHON} to an interpreter that has aiobs==0.2.0)"
        )
        if os.environ.get(REQUIRE_REFERENCE) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture
def run_both(reference_python: str, tmp_path: Path) -> RunBoth:
    """``run_both(script, env={...}, args=(...))``: the script's report under each package.

    Each side runs in its own empty directory; ``AIOBS_COMPAT_SIDE`` tells a script which side
    it is on (to name resources it must not share, such as a bucket), never to change what it
    does.
    """

    def run(
        script: str, *, env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> Outcome:
        reference = run_script(
            reference_python,
            script,
            side="reference",
            cwd=tmp_path / "reference",
            env=env,
            args=args,
        )
        ours = run_script(
            sys.executable, script, side="ours", cwd=tmp_path / "ours", env=env, args=args
        )
        return Outcome(reference=reference, ours=ours)

    return run

"""The browser fixture leaves no event loop running for the tests that come after tests/ui."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.conftest import _browser_missing

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_asyncio_run_works_in_a_test_after_the_browser_tests() -> None:
    missing = _browser_missing()
    if missing is not None:
        pytest.skip(missing)
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/ui/test_browser.py::TestNarrowScreen::test_pages_fit_390_pixels[/ui/signin]",
            # calls asyncio.run(): it failed while Playwright's loop was left running
            "tests/server/test_rebalance.py::test_connections_are_counted_apart_and_the_counts_stay_bounded",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "2 passed" in ran.stdout

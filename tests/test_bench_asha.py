"""The ASHA savings benchmark is not a test: here it only has to run its tiny grid and print its
figures (a tiny grid cannot reach the issue's targets, so they are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.ray
def test_the_asha_savings_benchmark_prints_both_runs_the_ratio_and_the_gap():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "asha_savings.py"), "--tiny", "--orders", "20"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = "\n".join(line for line in done.stdout.splitlines() if line.startswith("asha_savings:"))
    run = r": 2 trials, \d+ of 6 rounds, \d+ steps \(2 a round\), \d+\.\d train-s, .*best lr"
    for pattern in (
        r"full grid \(baseline\)" + run,
        r"ASHA \(grace 1, reduction 3\)" + run,
        r"ratio ASHA/full \d\.\d\dx steps \(target <= 0\.40: (met|NOT met)\)",
        r"gap full - ASHA best dev \w+ [+-]\d+\.\d points \(target <= 1: (met|NOT met)\)",
        r"replay of ASHA's rule .* random orders median \d\.\d\dx",
    ):
        assert re.search(pattern, lines), f"{pattern!r} not in:\n{lines}"

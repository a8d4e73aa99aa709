"""The ASHA savings benchmark is not a test: here it only has to run its tiny grid and print its
figures (a tiny grid cannot reach the issue's targets, so they are not asserted). Its sweep by
promotion is the one run of that rule through Ray here: both trials wait at round 1, and the
better one alone is resumed to the end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.ray
def test_the_asha_savings_benchmark_prints_every_run_the_ratios_and_the_gaps():
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
        r"ASHA, promotion: stop \(grace 1, reduction 3\)" + run,
        r"ASHA, promotion: pause \(grace 1, reduction 3\): 2 trials, 4 of 6 rounds, 8 steps",
        r"promotion: stop: ratio ASHA/full \d\.\d\dx steps \(target <= 0\.40: (met|NOT met)\)",
        r"promotion: pause: ratio ASHA/full 0\.67x steps .* gap full - ASHA best dev \w+ "
        r"[+-]\d+\.\d points \(target <= 1: (met|NOT met)\)",
        r"promotion: stop: replay on the full grid's curves .* random orders median \d\.\d\dx",
        r"promotion: pause: replay on the full grid's curves .* this order 0\.67x",
    ):
        assert re.search(pattern, lines), f"{pattern!r} not in:\n{lines}"

"""Benchmarks are not tests: here each only has to run on a tiny setting and print its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.ray
def test_the_trial_overhead_benchmark_prints_both_variants_and_their_ratio():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "trial_overhead.py"), "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("trial_overhead:")]
    assert any("baseline" in line and "CPU-s/trial" in line for line in lines)
    assert any("xstilts:" in line and "CPU-s/trial" in line for line in lines)
    assert re.search(r"ratio baseline/xstilts \d+\.\d\dx", "\n".join(lines))

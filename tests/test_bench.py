"""Benchmarks are not tests: here each only has to run on a tiny setting and print its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench_lines(script: str, *args: str) -> str:
    """The benchmark's own output lines (those that start with its name), after it succeeded."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith(f"{script}:"))


@pytest.mark.slow
@pytest.mark.ray
def test_the_trial_overhead_benchmark_prints_the_baseline_xstilts_and_the_ratio():
    # The middle variant (xstilts through Ray Train, half a minute a trial here) is not in the
    # ratio: the check of the script leaves it out.
    lines = bench_lines("trial_overhead", "--trials", "1", "--no-train-variant").splitlines()
    assert any("baseline" in line and "CPU-s/trial" in line for line in lines)
    assert not any("xstilts, Ray Train" in line for line in lines)
    assert any("in the trial's process):" in line and "CPU-s/trial" in line for line in lines)
    assert re.search(r"ratio baseline/xstilts \d+\.\d\dx CPU-s per trial", "\n".join(lines))


@pytest.mark.slow
@pytest.mark.ray
def test_the_eval_throughput_benchmark_prints_both_engines_and_their_ratio():
    lines = bench_lines("eval_throughput", "--per-language", "200")
    assert "800 examples in 4 languages, identical metrics" in lines
    assert re.search(r"plain loop \(baseline\): +\d+\.\d examples/s", lines)
    assert re.search(r"Ray Data pipeline, 2 actors: +\d+\.\d examples/s", lines)
    assert re.search(r"ratio pipeline/plain \d+\.\d\dx", lines)
    assert re.search(r"one-thread actors with no start-up at all would reach \d+\.\d\dx", lines)


@pytest.mark.slow
def test_the_training_throughput_benchmark_prints_every_variant_and_the_ratio():
    lines = bench_lines("train_throughput", "--tiny")
    for variant in (
        r"Trainer, padded to max length \(baseline\)",
        r"Trainer, dynamic padding \+ group_by_length",
        r"xstilts, dynamic padding, shuffled",
        r"xstilts, dynamic padding, length-grouped",
    ):
        assert re.search(variant + r" +\d+\.\d real tokens/s .*padding \d+% of the batches", lines)
    assert re.search(r"ratio xstilts/baseline \d+\.\d\dx \(target 1.30x: (met|NOT met)\)", lines)
    assert re.search(r"ratio xstilts/Trainer at its best \d+\.\d\dx", lines)

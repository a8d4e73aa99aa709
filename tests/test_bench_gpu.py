"""The GPU benchmarks measure on a GPU; here each runs its tiny CPU path and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from test_bench import ROOT, bench_lines

sys.path.insert(0, str(ROOT / "bench"))
from gpu_memory import H100_80GB_GIB, allocator_fraction  # noqa: E402

GIB = 2**30


def figures(length: int, variant: str) -> str:
    """The regex of one variant's line of figures (CPU: peak RSS, no MFU)."""
    return (
        rf"gpu_train: length {length} {variant}: \d+ tok/s, \d+\.\d seq/s, "
        r"process peak RSS \d+\.\d\d GiB, MFU n/a, attention \w+"
    )


@pytest.mark.slow
def test_the_training_benchmark_prints_throughput_memory_mfu_and_ratio_for_every_variant():
    lines = bench_lines("gpu_train", "--tiny")
    assert re.search(r"torch \S+, transformers \S+, deepspeed \S+", lines)
    assert "every token real" in lines
    for length in (16, 32):
        assert re.search(figures(length, r"Trainer \(fp32, \w+\)"), lines)
        for stage in (0, 2):
            ratio = r", ratio xstilts/Trainer \d+\.\d\dx"
            assert re.search(figures(length, f"xstilts ZeRO-{stage}") + ratio, lines)
        assert re.search(
            rf"gpu_train: length {length}: xstilts ZeRO-0 \d+ tok/s, Trainer \d+ tok/s, "
            r"ratio \d+\.\d\dx, MFU n/a",
            lines,
        )


@pytest.mark.slow
def test_the_memory_benchmark_prints_peak_memory_and_max_micro_batch_per_zero_stage():
    lines = bench_lines("gpu_memory", "--tiny")
    assert "gpu_memory: memory: no limit (CPU)" in lines
    for stage in (0, 2):
        for batch, length in ((4, 32), (2, 48)):
            assert re.search(
                rf"gpu_memory: ZeRO-{stage} micro-batch {batch} x {length} tokens \(.+\): "
                r"process peak RSS \d+\.\d\d GiB",
                lines,
            )
        assert f"gpu_memory: ZeRO-{stage} max micro-batch at length 32: 8 (the cap" in lines
        assert re.search(rf"gpu_memory: ZeRO-{stage} estimate on 8 GPUs: \S+ GiB/GPU", lines)
    assert re.search(r"ZeRO-2 estimate .+, \S+ GiB/GPU \(DeepSpeed's estimator", lines)


@pytest.mark.slow
def test_the_training_benchmark_with_real_lengths_prints_real_tokens_padding_and_ratio():
    lines = bench_lines("gpu_train", "--tiny", "--real-lengths")
    assert "xstilts batches them as a trial does (length-grouped TrainStream" in lines
    for length in (16, 32):
        variants = re.findall(
            rf"gpu_train: length {length} real lengths (.+?): \d+ real tok/s \(mean length "
            r"(\d+\.\d), padding (\d+\.\d)%\), \d+\.\d seq/s, process peak RSS \d+\.\d\d GiB, "
            r"MFU on real tokens n/a, attention \w+",
            lines,
        )
        names = [name for name, _, _ in variants]
        assert re.fullmatch(r"Trainer \(fp32, \w+\)", names[0])
        assert names[1:] == ["xstilts ZeRO-0", "xstilts ZeRO-2"]
        # The same pairs in every variant; the Trainer pads each to the length.
        (mean,) = {float(mean) for _, mean, _ in variants}
        assert float(variants[0][2]) == pytest.approx(100 * (1 - mean / length), abs=0.5)
        summary = re.search(
            rf"gpu_train: length {length} real lengths: xstilts ZeRO-0 \d+ real tok/s "
            r"\(padding (\d+\.\d)%\), Trainer \d+ real tok/s \(padding (\d+\.\d)%\), "
            r"ratio \d+\.\d\dx, MFU on real tokens n/a",
            lines,
        )
        assert summary, lines
        ours, trainer = map(float, summary.groups())
        assert ours < trainer


def test_an_h200_is_held_to_what_an_h100_80gb_holds_less_the_cuda_context():
    limit, h200, context = round(H100_80GB_GIB * GIB), 140 * GIB, GIB // 2
    fraction = allocator_fraction(limit, h200, context)
    assert fraction * h200 + context == pytest.approx(limit)


def test_a_gpu_no_larger_than_the_limit_is_not_held_back():
    assert allocator_fraction(80 * GIB, 80 * GIB, GIB // 2) is None
    assert allocator_fraction(80 * GIB, 40 * GIB, GIB // 2) is None


def test_a_limit_already_used_up_outside_the_allocator_is_an_error():
    with pytest.raises(ValueError, match="in use already"):
        allocator_fraction(GIB, 140 * GIB, 2 * GIB)


def test_a_memory_limit_of_zero_is_a_usage_error():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_memory.py"), "--memory-limit-gib", "0"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--memory-limit-gib must be more than 0" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_launch_benchmark_counts_fewer_launches_per_step_than_deepspeed_alone():
    lines = bench_lines("step_launches", "--layers", "2")
    counts = {
        name: (int(total), int(forward))
        for name, total, forward in re.findall(
            r"step_launches: (.+?): (\d+) "
            r"\(forward (\d+); backward, reduction, clip and step \d+\)",
            lines,
        )
    }
    (base, base_forward), (ours, forward) = counts["DeepSpeed alone (baseline)"], counts["xstilts"]
    assert forward == base_forward  # the same model
    assert ours < base
    assert f"ratio xstilts/baseline {ours / base:.2f}x" in lines


@pytest.mark.slow
def test_the_training_benchmark_measures_a_compiled_engine():
    lines = bench_lines("gpu_train", "--tiny", "--compile", "--lengths", "16", "--stages", "0")
    ratio = r", ratio xstilts/Trainer \d+\.\d\dx"
    assert re.search(figures(16, r"xstilts ZeRO-0 \+compile") + ratio, lines)

"""A documented cost model for trial-hour estimates (what `validate` prints).

Throughput is in training examples per second per worker at the phase's max length. The
figures are rough planning numbers, not measurements of this code: XLM-R Large on one
80 GB GPU in bf16 handles about 60 sequences/s of length 256 in training (about 3x that in
inference); a tiny encoder on one CPU core about 150/s. Sizes are English training examples.
"""

from __future__ import annotations

from sweep.spec import SweepSpec

# Approximate training-set sizes (examples) for estimates; the synthetic ones are the generator's.
TRAIN_SIZES = {
    "mnli": 392_702,
    "xnli": 392_702,
    "udpos": 21_253,
    "synth_mnli": 3_000,
    "synth_squad": 2_000,
    "synth_hellaswag": 2_000,
    "synth_xnli": 600,
    "synth_udpos": 1_000,
}
TEST_SIZES = {"xnli": 75_150, "udpos": 102_000, "synth_xnli": 1_600, "synth_udpos": 1_600}
MLM_EXAMPLES = 40_000  # synthetic corpora, all languages
INFERENCE_SPEEDUP = 3.0


def examples_per_second(spec: SweepSpec, phase: str, max_length: int) -> float:
    res = spec.resources_for(phase)
    if spec.model.tiny is not None:
        base = 150.0 * res.cpus_per_worker
    elif res.use_gpu():
        base = 60.0 * res.gpus_per_worker
    else:
        base = 0.5 * res.cpus_per_worker  # a full-size model on CPU: impractical
    return base * res.workers * 256 / max(max_length, 32)


def trial_hours(spec: SweepSpec, trial, evaluation: bool = False) -> float:
    rate = examples_per_second(spec, trial.phase, trial.optim.max_length)
    if evaluation:
        return TEST_SIZES.get(trial.task, 10_000) / (rate * INFERENCE_SPEEDUP) / 3600
    return train_examples(trial) * trial.optim.epochs / rate / 3600


def train_examples(trial) -> float:
    """Examples of one epoch: a mixture's epoch is each task member's data once, plus the
    continued-MLM share on top (as `trainers.data.batches.build_mixture` counts steps)."""
    cap = trial.optim.max_train_examples or float("inf")
    if trial.task == "mlm":
        return min(MLM_EXAMPLES, cap)
    fields = trial.train_fields()
    mixture = fields.get("mixture")
    if mixture is None:
        return min(TRAIN_SIZES.get(fields["task"], 10_000), cap)
    tasks = sum(min(TRAIN_SIZES.get(m["task"], 10_000), cap) for m in mixture["members"])
    return tasks / (1.0 - mixture["mlm_weight"])

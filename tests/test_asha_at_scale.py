"""Many more trials than slots, cut by ASHA with the phase's own settings, then a phase sampled by
hyperopt: every trial ASHA stops hands its slot on at once (no placement group left behind), a
trial that reaches the phase's max_t is done, and every sampled point lies in its distribution."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import ray
from tiny_sweeps import OPTIM, tiny_sweep

from sweep.runner import LOCAL_ENV, run_sweep
from sweep.spec import SweepSpec

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SLOTS, ROUNDS, MAX_T, SAMPLES = 2, 3, 2, 4
# Best first, by their first-round training loss (measured: 1.1336, 1.1344, 1.1359, 1.1366,
# 1.1370, 1.1371, 1.1654, 1.2228; training is deterministic on CPU): the two in the slots first
# continue, and ASHA, keeping the top quarter, cuts each later one (worse than all before it).
RATES = [1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-3, 5e-3, 1e-2]


def scale_spec(benchmark) -> SweepSpec:
    optim = {**OPTIM, "epochs": 3, "max_train_examples": 128}
    phases = {
        "intermediate": {
            "tasks": ["none", "synth_mnli"],
            "optim": {**optim, "rounds": ROUNDS},
            "search": {"learning_rate": RATES},
            # The round's training loss: no ties between trials (a tiny model's dev accuracy
            # sits at chance for most learning rates, and ASHA keeps ties).
            "asha": {
                "metric": "train_loss",
                "grace_period": 1,
                "reduction_factor": 4,
                "max_t": MAX_T,
            },  # fmt: skip
        },
        "target": {
            "tasks": ["synth_xnli"],
            "starts": ["none"],
            "optim": {**optim, "rounds": 1},
            "search_algorithm": "hyperopt",
            "num_samples": SAMPLES,
            "search": {"learning_rate": {"loguniform": [1e-5, 1e-2]}},
        },
        "evaluate": {"languages": ["en"]},
    }
    resources = {"max_concurrent_trials": SLOTS, "max_failures": 0, "eval_cpus": 0.5}
    return SweepSpec.model_validate(tiny_sweep("scale", benchmark, phases, resources))


@pytest.fixture(scope="module")
def swept(benchmark, tmp_path_factory):
    out = tmp_path_factory.mktemp("scale")
    ray.init(num_cpus=2, runtime_env={"env_vars": LOCAL_ENV}, log_to_driver=False)
    try:
        run_sweep(scale_spec(benchmark), out, echo=lambda line: None)
        # Asked of Ray before it stops: what is still reserved once the sweep has returned.
        groups = ray.util.placement_group_table()
    finally:
        ray.shutdown()
    return out, json.loads((out / "status.json").read_text())["trials"], groups


def phase_trials(trials: dict, phase: str) -> dict:
    return {t: s for t, s in trials.items() if s["phase"] == phase}


def test_every_trial_runs_through_the_few_slots(swept):
    _, trials, _ = swept
    assert len(phase_trials(trials, "intermediate")) == len(RATES)
    assert len(phase_trials(trials, "target")) == SAMPLES
    assert {s["state"] for s in trials.values()} <= {"done", "stopped"}


def test_asha_stops_most_trials_and_the_rest_end_at_the_phases_max_t(swept):
    _, trials, _ = swept
    inter = phase_trials(trials, "intermediate").values()
    stopped = [s for s in inter if s["state"] == "stopped"]
    done = [s for s in inter if s["state"] == "done"]
    assert len(stopped) > len(RATES) // 2
    assert done and all(s["round"] == MAX_T for s in done)
    assert all(s["round"] < MAX_T for s in stopped)


def test_no_placement_group_outlives_its_trial(swept):
    _, _, groups = swept
    assert groups, "Ray Train reserved no placement group at all"
    left = {g["placement_group_id"]: g["state"] for g in groups.values() if g["state"] != "REMOVED"}
    assert left == {}


def test_hyperopt_samples_distinct_log_uniform_learning_rates(swept):
    out, _, _ = swept
    frame = pd.read_parquet(out / "results")
    hparams = frame[frame.phase == "target"].hparams.unique()
    rates = {json.loads(h)["learning_rate"] for h in hparams}
    assert len(rates) == SAMPLES
    assert all(1e-5 <= r <= 1e-2 for r in rates)
    assert len({math.floor(math.log10(r)) for r in rates}) >= 2


def test_every_sampled_trial_that_finished_is_evaluated(swept):
    out, trials, _ = swept
    frame = pd.read_parquet(out / "results")
    evaluated = set(frame[frame.phase == "zero_shot"].trial_id)
    targets = phase_trials(trials, "target")
    assert evaluated == {t for t, s in targets.items() if s["state"] == "done"}
    assert evaluated

"""A mixture trial's results in the store: a row per member task and metric, the aggregate under
the mixture's name, and checkpoint selection on the aggregate alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sweep import store
from sweep.handoff import best_checkpoints
from sweep.progress import result_row

PLAN = {
    "phase": "intermediate",
    "trial_id": "nli_mc-0",
    "config_id": "nli_mc",
    "intermediate": "nli_mc",
    "target": "",
    "task": "nli_mc",
    "language": "en",
    "seed": 0,
    "train": {"optim": {"learning_rate": 1e-3}},
}


def mixture_result(round_: int, score: float, mnli: float, checkpoint: Path) -> dict:
    return {
        "round": round_,
        "step": 10 * round_,
        "dev/synth_mnli/accuracy": mnli,
        "dev/synth_mnli/n_examples": 500,
        "dev/synth_hellaswag/accuracy": 0.3,
        "dev/synth_hellaswag/n_examples": 300,
        "dev/mlm/mlm_accuracy": 0.2,
        "dev/mlm/n_examples": 40,
        "dev/mixture_score": score,
        "dev/n_examples": 800,
        "checkpoint_path": str(checkpoint),
    }


def rows(result: dict) -> list[dict]:
    return [
        result_row("s", PLAN, result, key.removeprefix("dev/"), value)
        for key, value in result.items()
        if key.startswith("dev/") and not key.endswith("n_examples")
    ]


def test_each_member_metric_is_a_row_of_its_own_task_with_its_own_dev_size(tmp_path):
    table = pd.DataFrame(rows(mixture_result(1, 0.25, 0.6, tmp_path)))
    by_task = {(r.task, r.metric): (r.value, r.n_examples, r.language) for r in table.itertuples()}
    assert by_task == {
        ("synth_mnli", "accuracy"): (0.6, 500, "en"),
        ("synth_hellaswag", "accuracy"): (0.3, 300, "en"),
        ("mlm", "mlm_accuracy"): (0.2, 40, "multi"),
        ("nli_mc", "mixture_score"): (0.25, 800, "en"),
    }
    assert set(table.intermediate) == {"nli_mc"}


def test_the_best_mixture_checkpoint_is_chosen_on_the_aggregate_not_a_members_score(tmp_path):
    checkpoints = []
    for round_ in (1, 2):
        checkpoints.append(tmp_path / f"checkpoint_{round_}")
        checkpoints[-1].mkdir()
        (checkpoints[-1] / "xstilts.json").write_text("{}")
    # Round 1 has the better aggregate; round 2 the better MNLI accuracy (and a better MLM).
    first = rows(mixture_result(1, 0.40, 0.50, checkpoints[0]))
    second = rows(mixture_result(2, 0.30, 0.90, checkpoints[1]))
    store.write_rows(tmp_path, first + second, label="mix")
    assert best_checkpoints(tmp_path, "intermediate") == {
        "nli_mc-0": (0.40, 1, str(checkpoints[0]), "nli_mc")
    }

"""What `xstilts resume` reads back from a sweep directory, without Ray: which trials finished,
the rounds a killed driver never stored (from the checkpoints Ray Train kept), and each trial's
history for ASHA."""

from __future__ import annotations

import json

from sweep import store
from sweep.progress import update_trial
from sweep.resume import backfill, finished_trials, history


def plan(tmp_path) -> dict:
    return {"trial_id": "int-mnli-s0-abc", "config_id": "intermediate,mnli,mnli",
            "phase": "intermediate", "task": "mnli", "intermediate": "mnli", "target": "",
            "seed": 0, "metric": "accuracy", "language": "en", "max_rounds": 3,
            "train_storage": str(tmp_path / "train"),
            "train": {"optim": {"rounds": 3, "learning_rate": 1e-5}}}  # fmt: skip


def checkpoint(tmp_path, round_: int, accuracy: float) -> None:
    directory = tmp_path / "train" / "int-mnli-s0-abc" / f"checkpoint_{round_}"
    directory.mkdir(parents=True)
    metrics = {"round": round_, "step": 10 * round_, "dev/accuracy": accuracy,
               "dev/n_examples": 100, "dev_score": accuracy, "train_loss": 1.0 / round_,
               "train_examples": 320, "wall_seconds": 1.0}  # fmt: skip
    (directory / "xstilts.json").write_text(json.dumps({"metrics": metrics, "round": round_}))


def test_only_done_stopped_and_failed_trials_count_as_finished(tmp_path):
    for trial_id, state in [("a", "done"), ("b", "stopped"), ("c", "failed"), ("d", "running")]:
        update_trial(tmp_path, trial_id, {"phase": "target"}, state=state)
    assert finished_trials(tmp_path, ["a", "b", "c", "d", "e"]) == {
        "a": "done", "b": "stopped", "c": "failed"}  # fmt: skip


def test_a_checkpointed_round_the_driver_never_stored_is_stored_once(tmp_path):
    trial = plan(tmp_path)
    checkpoint(tmp_path, 1, 0.5)
    checkpoint(tmp_path, 2, 0.6)
    assert backfill(tmp_path, "sweep", trial) == 2
    assert backfill(tmp_path, "sweep", trial) == 2  # nothing new the second time
    rows = store.read_results(tmp_path).to_pandas()
    assert sorted(rows["round"]) == [1, 1, 2, 2]  # a dev accuracy and a training loss each
    dev = rows[rows.split == "dev"].sort_values("round")
    assert list(dev.value) == [0.5, 0.6]
    assert dev.checkpoint_path.iloc[1].endswith("checkpoint_2")


def test_history_gives_each_rounds_dev_score_and_training_loss(tmp_path):
    trial = plan(tmp_path)
    checkpoint(tmp_path, 1, 0.5)
    backfill(tmp_path, "sweep", trial)
    assert history(tmp_path, [trial]) == {
        "int-mnli-s0-abc": [(1, {"dev_score": 0.5, "train_loss": 1.0})]}  # fmt: skip


def test_a_trial_without_a_checkpoint_continues_from_its_start(tmp_path):
    assert backfill(tmp_path, "sweep", plan(tmp_path)) == 0
    assert store.read_results(tmp_path).num_rows == 0


def test_a_finished_hyperopt_trial_is_rebuilt_from_the_store_with_its_score(tmp_path):
    from sweep.plan import expand
    from sweep.progress import store_round
    from sweep.resume import sampled_before
    from sweep.spec import SweepSpec

    spec = SweepSpec.model_validate(
        {"name": "h", "model": {"name": "xlm-roberta-large"}, "data": {"source": "hub"},
         "phases": {"intermediate": {"tasks": ["none"]},
                    "target": {"tasks": ["xnli"], "search_algorithm": "hyperopt", "num_samples": 2,
                               "search": {"learning_rate": {"loguniform": [1e-5, 1e-4]}}}}}
    )  # fmt: skip
    [search] = expand(spec).searches_for("target")
    trial = search.trial({"learning_rate": 3e-5}, 0)
    sampled = {"trial_id": trial.trial_id(), "config_id": trial.config_id(), "phase": "target",
               "task": "xnli", "intermediate": "none", "target": "xnli", "seed": 0,
               "metric": "accuracy", "language": "en",
               "train": {"optim": trial.optim.model_dump()}}  # fmt: skip
    store_round(tmp_path, "h", sampled, {"round": 1, "step": 5, "dev/accuracy": 0.7,
                                         "train_loss": 0.9})  # fmt: skip
    update_trial(tmp_path, trial.trial_id(), sampled, state="done")
    [(rebuilt, score, finished)] = sampled_before(tmp_path, [search])
    assert rebuilt.trial_id() == trial.trial_id() and rebuilt.point == {"learning_rate": 3e-5}
    assert (score, finished) == (0.7, True)
    assert sampled_before(tmp_path, [search], metric="train_loss")[0][1] == 0.9
    update_trial(tmp_path, trial.trial_id(), sampled, state="running")  # as if interrupted
    assert sampled_before(tmp_path, [search])[0][2] is False

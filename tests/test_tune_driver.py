"""What each trial asks of Ray: only the actors a run needs (each is a Python process that costs
seconds of CPU to start), and the preemption watcher only where nodes can be preempted."""

from __future__ import annotations

import pytest
import ray.train

from sweep.runner import _env
from sweep.tune_driver import _trainer_class


def callbacks(**kwargs) -> list[str]:
    trainer = _trainer_class()(
        lambda config: None, scaling_config=ray.train.ScalingConfig(num_workers=1), **kwargs
    )
    return [type(c).__name__ for c in trainer._create_default_callbacks()]


def test_a_run_without_datasets_starts_no_ray_data_manager():
    names = callbacks()
    assert "DatasetsCallback" not in names
    # The rest stays: the placement-group cleaner is what frees a trial ASHA stopped.
    assert {"BackendSetupCallback", "PlacementGroupCleanerCallback"} <= set(names)


def test_a_run_with_datasets_keeps_its_ray_data_manager():
    assert "DatasetsCallback" in callbacks(datasets={"eval": lambda: None})


def test_a_local_ray_runs_without_the_preemption_watcher(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert _env()["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] == "0"


def test_a_cluster_keeps_the_preemption_watcher_for_its_spot_nodes(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER" not in _env()


def test_spot_workers_keep_the_preemption_watcher_even_on_a_local_ray(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER" not in _env(preemptible=True)


def trial_plan(trial_id: str, rounds: int = 3, max_rounds: int = 3) -> dict:
    return {"trial_id": trial_id, "group": "mnli", "max_rounds": max_rounds,
            "train": {"optim": {"rounds": rounds}}}  # fmt: skip


def tune_trial(tune_id: str, plan: dict):
    from types import SimpleNamespace

    return SimpleNamespace(trial_id=tune_id, config={"trial": plan})


def asha_with_history(history: list[float]):
    from sweep.spec_resources import AshaSpec
    from sweep.tune_driver import GroupedASHA

    asha = GroupedASHA(AshaSpec(grace_period=1, reduction_factor=2))
    for i, score in enumerate(history):
        asha.remember(trial_plan(f"earlier{i}"), [(1, {"dev_score": score})], running=False)
    return asha


def test_asha_cuts_a_trial_at_the_rungs_an_interrupted_phase_had_reached():
    asha = asha_with_history([0.9, 0.8, 0.85])
    trial = tune_trial("t1", trial_plan("new"))
    asha.on_trial_add(None, trial)
    assert asha.on_trial_result(None, trial, {"round": 1, "dev_score": 0.5}) == "STOP"


def test_without_that_history_the_same_trial_would_continue():
    asha = asha_with_history([])
    trial = tune_trial("t1", trial_plan("new"))
    asha.on_trial_add(None, trial)
    assert asha.on_trial_result(None, trial, {"round": 1, "dev_score": 0.5}) == "CONTINUE"


def test_a_resumed_trials_earlier_rounds_count_for_the_others_once_it_runs_again():
    asha = asha_with_history([])
    plan = trial_plan("resumed")
    asha.remember(plan, [(1, {"dev_score": 0.95})], running=True)
    asha.on_trial_add(None, tune_trial("t2", plan))
    other = tune_trial("t3", trial_plan("other"))
    asha.on_trial_add(None, other)
    assert asha.on_trial_result(None, other, {"round": 1, "dev_score": 0.5}) == "STOP"


def test_a_trial_that_reaches_the_phases_max_t_is_ended():
    asha = asha_with_history([])
    trial = tune_trial("t1", trial_plan("capped", rounds=4, max_rounds=2))
    asha.on_trial_add(None, trial)
    assert asha.on_trial_result(None, trial, {"round": 1, "dev_score": 0.5}) == "CONTINUE"
    assert asha.on_trial_result(None, trial, {"round": 2, "dev_score": 0.5}) == "STOP"


class _PatchedPrint:
    """Stands in for the `print` a Ray Train worker installs: not the builtin, and not picklable."""

    def __call__(self, *args, **kwargs):
        pass

    def __reduce__(self):
        raise TypeError("the patched print cannot be pickled")


def test_the_store_callback_pickles_after_ray_train_has_patched_print(tmp_path, monkeypatch):
    """Tune pickles its callbacks, and pickles the builtin `print` by name; once a Ray Train
    worker run in this process has replaced `builtins.print`, that name is another object."""
    import builtins

    from ray import cloudpickle

    from sweep.progress import StoreCallback

    the_builtin = builtins.__dict__["print"]
    monkeypatch.setattr(builtins, "print", _PatchedPrint())
    if type(the_builtin).__name__ == "builtin_function_or_method":  # unpatched until now
        with pytest.raises(Exception, match="pickle|print"):
            cloudpickle.dumps(StoreCallback(tmp_path, "s", echo=the_builtin))
    assert cloudpickle.loads(cloudpickle.dumps(StoreCallback(tmp_path, "s"))).sweep == "s"

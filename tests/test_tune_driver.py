"""What each trial asks of Ray: only the actors a run needs (each is a Python process that costs
seconds of CPU to start), and the preemption watcher only where nodes can be preempted."""

from __future__ import annotations

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

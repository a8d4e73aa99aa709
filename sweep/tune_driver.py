"""Ray at the edges: one Tuner per phase, each trial a function trainable that runs a TorchTrainer.

Train V2 no longer accepts a trainer inside `tune.Tuner`, so each trial's "driver" builds a
`TorchTrainer` and calls `fit()`; `TuneReportCallback` forwards rank 0's reports (and the
checkpoint path) to Tune, where ASHA and `StoreCallback` see them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ray import tune
from ray.tune.schedulers.async_hyperband import AsyncHyperBandScheduler, _Bracket

ASHA_METRIC = "dev_score"
TIME_ATTR = "round"


class GroupedASHA(AsyncHyperBandScheduler):
    """ASHA with separate rungs per group (one intermediate->target pair, or one intermediate task).

    Hyper-parameters are chosen within a group; the scores of different tasks are never compared
    (an NLI accuracy says nothing about a tagging F1).
    """

    def __init__(self, grace_period: int, reduction_factor: float):
        # max_t is per group (from the trial's rounds); a trial ends itself after its last round.
        super().__init__(
            time_attr=TIME_ATTR,
            metric=ASHA_METRIC,
            mode="max",
            max_t=10**9,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
            brackets=1,
        )
        self._grace = grace_period
        self._groups: dict[str, _Bracket] = {}

    def on_trial_add(self, tune_controller, trial) -> None:
        super().on_trial_add(tune_controller, trial)
        plan = trial.config["trial"]
        group = plan["group"]
        if group not in self._groups:
            rounds = plan["train"]["optim"]["rounds"]
            self._groups[group] = _Bracket(
                min(self._grace, rounds), rounds, self._reduction_factor, 0
            )
        self._trial_info[trial.trial_id] = self._groups[group]


@functools.cache
def _trainer_class():
    """TorchTrainer, less the Ray Data actor when a run has no datasets.

    Train V2 starts a `DatasetManager` actor for every run, datasets or not: one more Python
    process importing `ray.train` (~3 s of CPU, measured) per trial, for nothing, since our
    workers read their own files. Ray is pinned to 2.60.x; if the hook moves, the full set of
    callbacks is kept and only the saving is lost.
    """
    from ray.train.torch import TorchTrainer

    try:
        from ray.train.v2._internal.callbacks.datasets import DatasetsCallback
    except ImportError:  # pragma: no cover - another Ray version
        return TorchTrainer

    class LeanTorchTrainer(TorchTrainer):
        def _create_default_callbacks(self):
            callbacks = super()._create_default_callbacks()
            if self.datasets:
                return callbacks
            return [c for c in callbacks if not isinstance(c, DatasetsCallback)]

    return LeanTorchTrainer


def run_trial(config: dict) -> None:
    """The Tune trainable: one trial = one Ray Train run, named after the trial for resumption."""
    import ray.train
    from ray.train.torch import TorchConfig
    from ray.tune.integration.ray_train import TuneReportCallback

    from trainers.ray_worker import train_worker

    # Train's controller polls its workers this often (default 2 s), and a trial's start and end
    # each wait for a poll: short trials lose seconds to it. Train passes this variable on to
    # its controller; a value the user set wins.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")
    plan = config["trial"]
    res = plan["resources"]
    per_worker = {"CPU": res["cpus_per_worker"]}
    if res["gpus_per_worker"]:
        per_worker["GPU"] = res["gpus_per_worker"]
    trainer = _trainer_class()(
        train_worker,
        train_loop_config={"train": plan["train"]},
        torch_config=TorchConfig(backend="nccl" if res["gpus_per_worker"] else "gloo"),
        scaling_config=ray.train.ScalingConfig(
            num_workers=res["workers"],
            use_gpu=bool(res["gpus_per_worker"]),
            resources_per_worker=per_worker,
        ),
        run_config=ray.train.RunConfig(
            name=plan["trial_id"],
            storage_path=plan["train_storage"],
            callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=1,
                checkpoint_score_attribute=ASHA_METRIC,
                checkpoint_score_order="max",
            ),
            failure_config=ray.train.FailureConfig(max_failures=res["max_failures"]),
        ),
    )
    trainer.fit()


def make_tuner(
    phase: str,
    trials: list[dict],
    *,
    storage: Path,
    driver_cpus: float,
    max_concurrent: int,
    asha: GroupedASHA | None,
    callbacks: list,
) -> tune.Tuner:
    trainable = tune.with_resources(run_trial, {"CPU": driver_cpus})
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(
            scheduler=asha,
            max_concurrent_trials=max_concurrent,
            trial_name_creator=lambda t: t.config["trial"]["trial_id"],
            trial_dirname_creator=lambda t: t.config["trial"]["trial_id"],
        ),
        run_config=tune.RunConfig(
            name=phase, storage_path=str(storage), callbacks=callbacks, verbose=0
        ),
    )

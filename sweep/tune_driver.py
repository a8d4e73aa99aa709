"""Ray at the edges: one Tuner per phase, each trial a function trainable.

A trial of several workers (or on spot nodes) runs a TorchTrainer: Train V2 no longer accepts a
trainer inside `tune.Tuner`, so each trial's "driver" builds a `TorchTrainer` and calls `fit()`;
`TuneReportCallback` forwards rank 0's reports (and the checkpoint path) to Tune, where ASHA and
`StoreCallback` see them. A one-worker trial trains in the trainable's own process
(`trainers.trial_process`), which reports the same results.
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

from ray import tune
from ray.tune.schedulers import TrialScheduler
from ray.tune.schedulers.async_hyperband import AsyncHyperBandScheduler, _Bracket

from sweep.spec import AshaSpec, TrackingSpec
from sweep.spec_resources import ResourcesSpec

SELECTION_METRIC = "dev_score"  # what Ray keeps checkpoints by (ASHA may compare another)
TIME_ATTR = "round"


class GroupedASHA(AsyncHyperBandScheduler):
    """ASHA with separate rungs per group (one intermediate->target pair, or one intermediate task).

    Hyper-parameters are chosen within a group; the scores of different tasks are never compared
    (an NLI accuracy says nothing about a tagging F1). Each group's top rung is its trials'
    `max_rounds` (their rounds, capped by the phase's `max_t`); a trial that reaches it is done.
    """

    def __init__(self, asha: AshaSpec):
        super().__init__(
            time_attr=TIME_ATTR,
            metric=asha.metric,
            mode=asha.resolved_mode(),
            max_t=10**9,  # per group, below
            grace_period=asha.grace_period,
            reduction_factor=asha.reduction_factor,
            brackets=1,
        )
        self._grace = asha.grace_period
        self._groups: dict[str, _Bracket] = {}
        self._earlier: dict[str, list[tuple[int, float]]] = {}

    def _bracket(self, plan: dict) -> _Bracket:
        group = plan["group"]
        if group not in self._groups:
            top = plan["max_rounds"]
            self._groups[group] = _Bracket(min(self._grace, top), top, self._reduction_factor, 0)
        return self._groups[group]

    def remember(self, plan: dict, rounds: list[tuple[int, dict]], *, running: bool) -> None:
        """Rounds a trial reported before this Tuner started (an interrupted sweep's, or a reused
        trial's), so that the phase's other trials meet the rungs they would have met. A trial
        that will run again is recorded under its own Tune trial once it is added."""
        values = [(r, v[self._metric]) for r, v in rounds if self._metric in v]
        if running:
            self._earlier[plan["trial_id"]] = values
            return
        earlier = SimpleNamespace(trial_id=f"earlier:{plan['trial_id']}")
        for round_, value in values:
            self._bracket(plan).on_result(earlier, round_, self._metric_op * value)

    def on_trial_add(self, tune_controller, trial) -> None:
        super().on_trial_add(tune_controller, trial)
        plan = trial.config["trial"]
        bracket = self._trial_info[trial.trial_id] = self._bracket(plan)
        for round_, value in self._earlier.pop(plan["trial_id"], ()):
            bracket.on_result(trial, round_, self._metric_op * value)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        plan = trial.config["trial"]
        capped = plan["max_rounds"] < plan["train"]["optim"]["rounds"]
        if capped and result.get(TIME_ATTR, 0) >= plan["max_rounds"]:
            return TrialScheduler.STOP  # max_t reached: the trial is complete, not cut
        return action


def make_scheduler(
    asha: AshaSpec, expected: dict[str, int], slots: int | None = None
) -> TrialScheduler:
    """A phase's ASHA: Ray's rule within each group, or ASHA by promotion (`promotion: pause`),
    which runs at most `slots` trials at once itself; `expected` is each group's number of
    trials in the phase."""
    if asha.promotion == "pause":
        from sweep.promotion import PromotingASHA

        return PromotingASHA(asha, expected, slots)
    return GroupedASHA(asha)


def _skip_callback_telemetry() -> None:
    """Ray's usage telemetry names the callbacks of each Tune run by comparing them with the
    classes of its tracker integrations, which imports W&B, MLflow, Comet and Aim where they
    are installed: ~2 s of CPU in the sweep's driver (measured), and trackers a sweep turned
    off imported all the same. That one tag is dropped; `tune.run` looks it up at each call."""
    from ray.air._internal import usage

    usage.tag_callbacks = _no_tag


def _no_tag(callbacks) -> bool:
    return False


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
    per_worker = {"CPU": res["cpus_per_worker"], **res["worker_resources"]}
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
            # One node's workers all-reduce over NVLink rather than the network, so a trial's
            # workers share a node where they fit; PACK, not STRICT_PACK, so that a trial wider
            # than any node still starts, spread over several (`xstilts validate` says which).
            placement_strategy="PACK",
        ),
        run_config=ray.train.RunConfig(
            name=plan["trial_id"],
            storage_path=plan["train_storage"],
            callbacks=[TuneReportCallback()],
            checkpoint_config=ray.train.CheckpointConfig(
                num_to_keep=1,
                checkpoint_score_attribute=SELECTION_METRIC,
                checkpoint_score_order="max",
            ),
            # Preemptions (a drained spot node) have their own budget: they are not the
            # trial's fault, and it resumes from its checkpoint like after any failure.
            failure_config=ray.train.FailureConfig(
                max_failures=res["max_failures"], max_preemption_failures=res["max_preemptions"]
            ),
        ),
    )
    trainer.fit()


def make_tuner(
    phase: str,
    trials: list[dict],
    *,
    storage: str,
    resources: ResourcesSpec,
    asha: TrialScheduler | None,
    callbacks: list,
    search=None,
    num_samples: int = 1,
    tracking: TrackingSpec | None = None,
) -> tune.Tuner:
    """A phase's Tuner: over the planned `trials` (a grid), or the trials `search` samples
    (`sweep.search.GroupedSearch`, `num_samples` of them at most). `tracking`, resolved for the
    sweep (`TrackingSpec.resolved`), adds the callbacks of the experiment trackers it turns on."""
    _skip_callback_telemetry()
    if tracking is not None and tracking.enabled():
        from sweep.tracking import tracking_callbacks  # MLflow's and W&B's imports cost seconds

        callbacks = [*callbacks, *tracking_callbacks(tracking)]
    # A resumed trial whose last checkpoint is its final round has nothing left to report; Tune's
    # strict check would take its bare "done" result for a trial that forgot its metric.
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    if resources.trains_in_trial_process():
        from trainers.trial_process import train_in_trial as trainable

        # Tune restarts the trial, which continues from its latest checkpoint (Train's
        # FailureConfig would have restarted the worker group).
        failures = tune.FailureConfig(max_failures=resources.max_failures)
        # The phase's next trial takes over the process of one that has ended, its stack
        # (torch, transformers, DeepSpeed) and process group ready. Tune hands a process on
        # only once its loop has returned; a trial ASHA stops is waiting in its report then
        # (results are synchronous), and ends there.
        reuse = True
    else:
        trainable, failures, reuse = run_trial, None, False
    trainable = tune.with_resources(trainable, resources.trial_resources())
    return tune.Tuner(
        trainable,
        param_space={} if search else {"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(
            search_alg=search,
            num_samples=num_samples if search else 1,
            scheduler=asha,
            # A scheduler that keeps trials waiting paused limits them itself: Tune's limit counts
            # paused trials, and the phase would stop with every slot held by a waiting one.
            max_concurrent_trials=None
            if getattr(asha, "limits_concurrency", False)
            else resources.max_concurrent_trials,
            reuse_actors=reuse,
            trial_name_creator=lambda t: t.config["trial"]["trial_id"],
            trial_dirname_creator=lambda t: t.config["trial"]["trial_id"],
        ),
        run_config=tune.RunConfig(
            name=phase,
            storage_path=storage,
            callbacks=callbacks,
            failure_config=failures,
            verbose=0,
        ),
    )

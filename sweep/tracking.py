"""Experiment tracking: Ray Tune's TensorBoard, MLflow and W&B callbacks, on every trial.

Each tracker records, for each trial of each phase: its hyper-parameters; the loss of every
optimizer step, the step on the x axis (the loop reports a round's `step_losses`, the last one
at the round's `step`); every round's dev metrics at that round's last step; and the trial's
lineage (phase, task, intermediate and target task, trial and config id, seed) as tags. Tune's
callbacks run in the sweep driver's process, so a file store on its disk works on a cluster too.

Ray's callbacks are subclassed only where they must differ: optimizer steps on the x axis rather
than Tune iterations, a round's list of losses logged as one point per step, and a curated set of
hyper-parameters and tags rather than the trial's whole config (paths, storage, reuse keys).
MLflow and W&B are imported only when the spec turns them on: each costs seconds.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import TIMESTEPS_TOTAL
from ray.tune.utils import flatten_dict

from sweep.spec import MlflowSpec, TrackingSpec, WandbSpec

STEP_LOSSES = "step_losses"  # trainers.loop: the losses of a round's optimizer steps
LOSS = "train/loss"  # what the trackers call them
# The config goes in as parameters and tags; Tune's flags are not measurements.
NOT_METRICS = ("config", STEP_LOSSES, "done", "should_checkpoint")
LINEAGE = ("phase", "task", "intermediate", "target", "trial_id", "config_id", "seed")


def tracking_callbacks(tracking: TrackingSpec) -> list:
    """The Tune callbacks of the trackers `tracking` (resolved: `TrackingSpec.resolved`) turns on."""
    callbacks = []
    if tracking.tensorboard:
        callbacks.append(TensorBoardCallback())
    if tracking.mlflow:
        callbacks.append(_mlflow_callback(tracking.mlflow))
    if tracking.wandb:
        callbacks.append(_wandb_callback(tracking.wandb))
    return callbacks


def lineage(plan: dict) -> dict[str, str]:
    """Where a trial sits in the sweep; a key is absent where its phase has no such thing (a
    pretraining trial has no intermediate task, an intermediate trial no target)."""
    return {key: str(plan[key]) for key in LINEAGE if plan.get(key) not in (None, "")}


def hyperparameters(plan: dict) -> dict[str, str | int | float | bool]:
    """What a trial trained with: optimizer, DeepSpeed, mixture, model, start and seed."""
    train = plan["train"]
    params = {
        "model": train["model"]["name"],
        "init_from": train["init_from"],
        "seed": train["seed"],
        "workers": train["workers"],
    }
    for part in ("optim", "deepspeed", "mixture"):
        for key, value in flatten_dict(train.get(part) or {}, delimiter="/").items():
            params[f"{part}/{key}"] = value
    return {
        key: value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
        for key, value in params.items()
        if value is not None
    }


def step_points(result: dict) -> list[tuple[int, float]]:
    """(optimizer step, loss) of each step a round took; its last step is the round's `step`."""
    losses = result.get(STEP_LOSSES) or []
    last = int(result.get("step", len(losses)))
    return [(last - len(losses) + 1 + i, float(loss)) for i, loss in enumerate(losses)]


def measurements(result: dict) -> dict[str, float]:
    """A round's numbers, nested keys joined by '/' (`dev/accuracy`), without the config."""
    flat = flatten_dict({k: v for k, v in result.items() if k not in NOT_METRICS}, delimiter="/")
    return {
        key: float(value)
        for key, value in flat.items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    }


class TensorBoardCallback(TBXLoggerCallback):
    """Ray's TensorBoard logger (event files in each trial's directory), against the optimizer
    step, with one `ray/tune/train/loss` point per step, and the curated hyper-parameters."""

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        kept = {k: v for k, v in result.items() if k not in NOT_METRICS}
        if "step" in result:  # Ray's x axis is timesteps_total where a result has it
            kept[TIMESTEPS_TOTAL] = result["step"]
        super().log_trial_result(iteration, trial, kept)
        writer = self._trial_writer[trial]
        for step, loss in step_points(result):
            writer.add_scalar(f"ray/tune/{LOSS}", loss, global_step=step)
        writer.flush()

    def _try_log_hparams(self, trial, result: dict) -> None:
        from tensorboardX.summary import hparams

        plan = trial.config["trial"]
        for summary in hparams({**lineage(plan), **hyperparameters(plan)}, result):
            self._trial_writer[trial].file_writer.add_summary(summary)


def _mlflow_callback(spec: MlflowSpec):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class MLflowCallback(MLflowLoggerCallback):
        """Ray's MLflow logger: one run per trial, named by its trial id and tagged with its
        lineage; each round's metrics and step losses in one batch, against the step."""

        def setup(self, *args, **kwargs) -> None:
            super().setup(*args, **kwargs)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)

        def log_trial_start(self, trial) -> None:
            if trial in self._trial_runs:  # a trial restarted after a failure keeps its run
                return
            plan = trial.config["trial"]
            run = self.mlflow_util.start_run(
                run_name=plan["trial_id"], tags={**self.tags, **lineage(plan)}
            )
            self._trial_runs[trial] = run.info.run_id
            params = [Param(k, str(v)) for k, v in hyperparameters(plan).items()]
            for i in range(0, len(params), 100):  # MLflow's limit per batch
                self._client.log_batch(run.info.run_id, params=params[i : i + 100])

        def log_trial_result(self, iteration: int, trial, result: dict) -> None:
            if "step" not in result:  # a resumed, finished trial's bare closing result
                return
            now, step = int(time.time() * 1000), int(result["step"])
            metrics = [Metric(k, v, now, step) for k, v in measurements(result).items()]
            metrics += [Metric(LOSS, loss, now, s) for s, loss in step_points(result)]
            for i in range(0, len(metrics), 1000):  # MLflow's limit per batch
                self._client.log_batch(self._trial_runs[trial], metrics=metrics[i : i + 1000])

    return MLflowCallback(tracking_uri=spec.tracking_uri, experiment_name=spec.experiment_name)


def _wandb_callback(spec: WandbSpec):
    from ray.air.integrations.wandb import WandbLoggerCallback, _QueueItem, _WandbLoggingActor

    class StepLoggingActor(_WandbLoggingActor):
        """Ray's per-trial W&B process, logging against the optimizer step: a round's losses
        one step at a time, then its dev metrics with its last step's loss (W&B drops points
        whose step goes back, so they must come in this order)."""

        def run(self) -> None:
            run = self._wandb.init(*self.args, **self.kwargs)
            while True:
                kind, result = self.queue.get()
                if kind == _QueueItem.END:
                    break
                if kind != _QueueItem.RESULT:  # checkpoints are never uploaded
                    continue
                points = step_points(result)
                for step, loss in points[:-1]:
                    run.log({LOSS: loss}, step=step)
                metrics = measurements(result)
                if points:
                    metrics[LOSS] = points[-1][1]
                run.log(metrics, step=int(result["step"]) if "step" in result else None)
            run.finish()

    class WandbCallback(WandbLoggerCallback):
        """Ray's W&B logger: a run per trial (named by its trial id, `job_type` its phase, its
        lineage in config and tags), written offline unless the spec says online."""

        _logger_actor_cls = StepLoggingActor

        def setup(self, *args, **kwargs) -> None:
            if spec.mode == "online":  # only streaming needs an API key (Ray's setup checks it)
                super().setup(*args, **kwargs)

        def on_experiment_end(self, trials, **info) -> None:
            # Ray waits (upload_timeout, 30 minutes) for every run to finish, yet only ends the
            # runs of trials Tune ended: an interrupted phase's would hold the sweep that long.
            for trial in list(self._trial_queues):
                self._signal_logging_actor_stop(trial)
            super().on_experiment_end(trials, **info)

        def log_trial_start(self, trial) -> None:
            plan = trial.config["trial"]
            where = lineage(plan)
            tags = [
                f"{k}:{where[k]}"[:64] for k in ("phase", "intermediate", "target") if k in where
            ]
            self._start_logging_actor(
                trial,
                [],
                name=plan["trial_id"],
                project=self.project,
                group=self.group,
                job_type=plan["phase"],
                tags=tags,
                config={**where, **hyperparameters(plan)},
                # The logging process runs on the driver's node: its machine's stats would not
                # describe the trial's workers.
                settings={"console": "off", "x_disable_stats": True},
                **self.kwargs,
            )

    Path(spec.dir).mkdir(parents=True, exist_ok=True)  # W&B falls back to /tmp without it
    return WandbCallback(
        project=spec.project, group=spec.group, entity=spec.entity, mode=spec.mode, dir=spec.dir
    )

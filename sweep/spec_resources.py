"""The spec's run-time shape: what each trial asks of the cluster (`resources`, with a phase's
overrides) and how ASHA cuts trials (`asha`, likewise). Part of the spec (`sweep.spec`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trainers.config import Frozen


class ResourcesSpec(Frozen):
    """What one trial asks of the cluster."""

    workers: int = Field(1, gt=0, description="Ray Train workers per trial (data parallel)")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs per worker (fractions allowed)")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs per worker (0: train on CPU)")
    driver_cpus: float = Field(0.01, gt=0, description="CPUs of each trial's Tune driver")
    max_concurrent_trials: int = Field(2, gt=0, description="trials running at once per phase")
    max_failures: int = Field(
        1,
        ge=0,
        description="restarts from the last checkpoint after a worker dies (of the worker group, "
        "or of a trial training in its own process)",
    )
    eval_actors: int = Field(
        2,
        ge=0,
        description="inference actors of each evaluation's Ray Data pipeline (at most); 0: no "
        "pipeline, each evaluation runs its model in its own task (for small models on a small "
        "machine, where starting actors takes longer than the inference)",
    )
    eval_cpus: float = Field(
        1.0, gt=0, description="CPUs per evaluation inference actor (or task, with 0 actors)"
    )
    eval_gpus: float = Field(
        0.0, ge=0, description="GPUs per inference actor or task (0: on CPU; 1 on a GPU cluster)"
    )
    eval_resources: dict[str, float] = Field(
        default_factory=dict,
        description="custom resources each inference actor asks for (a node type's own, e.g. "
        "the 1-GPU spot type, so that evaluations do not start an 8-GPU node)",
    )
    driver_resources: dict[str, float] = Field(
        default_factory=dict,
        description="custom resources each trial driver asks for (e.g. one only the head node "
        "has, so that drivers stay off spot nodes)",
    )
    worker_resources: dict[str, float] = Field(
        default_factory=dict,
        description="custom resources each training worker asks for (a node type's own, to "
        "place trials on that type)",
    )
    preemptible: bool = Field(
        False,
        description="training workers run on preemptible (spot) nodes: Ray Train watches for "
        "preemption notices, and a preempted trial resumes from its last checkpoint without "
        "counting against max_failures",
    )
    max_preemptions: int = Field(
        -1, ge=-1, description="preemptions a trial recovers from (-1: any number)"
    )
    in_trial_process: bool = Field(
        True,
        description="a one-worker trial on nodes that are not preemptible trains in its Tune "
        "trial's own process, without a Ray Train worker group (about 15 s less start-up per "
        "trial); false: every trial through Ray Train",
    )

    def use_gpu(self) -> bool:
        return self.gpus_per_worker > 0

    def trains_in_trial_process(self) -> bool:
        """Whether trials skip Ray Train: one worker, and no spot node whose preemption notices
        only Train's watcher hears (a preemption then has its own budget, `max_preemptions`)."""
        return self.in_trial_process and self.workers == 1 and not self.preemptible

    def eval_processes(self) -> int:
        """Processes that run an evaluation's model: its actors, or its own task."""
        return max(self.eval_actors, 1)

    def trial_resources(self) -> dict[str, float]:
        """What a trial's Tune actor asks for: a driver's share, or, training in its own process,
        the worker's whole shape."""
        if not self.trains_in_trial_process():
            return {"CPU": self.driver_cpus, **self.driver_resources}
        gpu = {"GPU": self.gpus_per_worker} if self.gpus_per_worker else {}
        return {"CPU": self.cpus_per_worker, **gpu, **self.worker_resources}


class PhaseResources(Frozen):
    """A phase's own worker shape, overriding `resources` (e.g. MLM pretraining alone on the
    whole machine, or more GPUs for the intermediate phase)."""

    workers: int | None = Field(None, gt=0, description="Ray Train workers per trial")
    cpus_per_worker: float | None = Field(None, gt=0, description="CPUs per worker")
    gpus_per_worker: float | None = Field(None, ge=0, description="GPUs per worker")
    max_concurrent_trials: int | None = Field(None, gt=0, description="trials running at once")
    worker_resources: dict[str, float] | None = Field(
        None,
        description="custom resources each training worker asks for, replacing the sweep's "
        "(the node type this phase's trials run on, e.g. 8-GPU nodes for intermediate trials)",
    )

    def apply(self, base: ResourcesSpec) -> ResourcesSpec:
        return ResourcesSpec.model_validate(
            {**base.model_dump(), **self.model_dump(exclude_none=True)}
        )


ASHA_METRICS = {"dev_score": "max", "best_dev_score": "max", "train_loss": "min"}


class AshaSpec(Frozen):
    """Asynchronous successive halving, applied within each (intermediate, target) group."""

    metric: Literal["dev_score", "best_dev_score", "train_loss"] = Field(
        "dev_score",
        description="what trials are compared on each round: the task's dev metric, its best so "
        "far, or the round's mean training loss",
    )
    mode: Literal["max", "min"] | None = Field(
        None, description="max or min (default: max for dev scores, min for train_loss)"
    )
    grace_period: int = Field(1, gt=0, description="rounds before a trial may be stopped")
    reduction_factor: float = Field(
        2.0, gt=1, description="keep the top 1/reduction_factor at each rung"
    )
    max_t: int | None = Field(
        None,
        gt=0,
        description="rounds a trial runs at most (the top rung); default: each trial's rounds",
    )
    promotion: Literal["stop", "pause"] = Field(
        "stop",
        description="stop: Ray's asynchronous rule, a trial at a rung goes on unless it is below "
        "the top 1/reduction_factor of those that reached it before (the first always goes on); "
        "pause: ASHA by promotion, a trial waits paused at a rung until it ranks in the rung's "
        "top 1/reduction_factor, and resumes from its checkpoint (fewer rounds on small grids, a "
        "restart per promotion)",
    )

    @model_validator(mode="after")
    def _sensible(self) -> AshaSpec:
        natural = ASHA_METRICS[self.metric]
        if self.mode is not None and self.mode != natural:
            raise ValueError(
                f"mode: {self.mode} on {self.metric} would keep the worst trials (use {natural})"
            )
        if self.max_t is not None and self.max_t < self.grace_period:
            raise ValueError(f"max_t: {self.max_t} is below grace_period {self.grace_period}")
        return self

    def resolved_mode(self) -> str:
        return self.mode or ASHA_METRICS[self.metric]


class PhaseAsha(Frozen):
    """A phase's own ASHA settings, overriding the sweep's `asha` key by key."""

    metric: Literal["dev_score", "best_dev_score", "train_loss"] | None = Field(
        None, description="dev_score, best_dev_score or train_loss"
    )
    mode: Literal["max", "min"] | None = Field(None, description="max or min")
    grace_period: int | None = Field(None, gt=0, description="rounds before a trial may stop")
    reduction_factor: float | None = Field(None, gt=1, description="1/rf kept at each rung")
    max_t: int | None = Field(None, gt=0, description="rounds a trial runs at most")
    promotion: Literal["stop", "pause"] | None = Field(None, description="stop or pause")

    def apply(self, base: AshaSpec) -> AshaSpec:
        override = self.model_dump(exclude_none=True)
        if "metric" in override and "mode" not in override:
            override["mode"] = None  # the base's mode belongs to the base's metric
        return AshaSpec.model_validate({**base.model_dump(), **override})

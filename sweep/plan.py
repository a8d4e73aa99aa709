"""Expanding a spec into phases and trials, without Ray: what `xstilts validate` prints.

A trial's id is derived from its configuration, so the same spec always names the same trials
(and Ray Train runs, whose names make resumption find their checkpoints).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sweep.cost import trial_hours
from sweep.spec import NONE, PhaseSpec, SweepSpec
from trainers.config import MemberConfig, MixtureConfig, OptimConfig, Translation

PHASES = ("pretrain", "intermediate", "target", "zero_shot")


@dataclass(frozen=True)
class TrialPlan:
    """One trial of a training phase, before its starting checkpoint is known."""

    phase: str
    task: str
    intermediate: str
    target: str
    optim: OptimConfig
    point: dict
    seed: int
    group: str = field(compare=False)
    # JSON of the TrainConfig fields a mixture or translated entry adds (`entry_fields`).
    definition: str = ""

    def train_fields(self) -> dict:
        """The TrainConfig fields that say what this trial trains on (task, mixture, ...)."""
        return json.loads(self.definition) if self.definition else {"task": self.task}

    def config_id(self) -> str:
        """The configuration without the seed: seeds of one config share it."""
        parts = [self.phase, self.intermediate, self.target or self.task]
        parts += [f"{k}={_fmt(v)}" for k, v in sorted(self.point.items())]
        return ",".join(p for p in parts if p)

    def trial_id(self) -> str:
        identity = [self.config_id(), self.seed, self.optim.model_dump()]
        if self.definition:  # a mixture's members and sampler, a translation's files
            identity.append(self.definition)
        digest = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:6]
        label = "-".join(
            p
            for p in (
                self.phase[:3],
                self.intermediate if self.phase == "target" else "",
                self.task,
            )
            if p
        )
        return f"{label}-s{self.seed}-{digest}"

    def hparams(self) -> dict:
        return self.optim.model_dump()


@dataclass(frozen=True)
class Plan:
    spec: SweepSpec
    pretrain: tuple[TrialPlan, ...]
    intermediate: tuple[TrialPlan, ...]
    target: tuple[TrialPlan, ...]
    # Retrieval targets (no training data): (starting point, task), evaluated on each
    # intermediate configuration's best encoder straight after the intermediate phase.
    retrieval: tuple[tuple[str, str], ...] = ()

    def intermediate_configs(self) -> tuple[str, ...]:
        """What the target phase starts from: `none` and each intermediate task's best checkpoint
        (or those `phases.target.starts` names)."""
        return tuple(self.spec.phases.target_starts())

    def evaluations(self) -> int:
        """Zero-shot evaluations at most: one per target trial that is not stopped early."""
        return len(self.target)

    def eval_languages(self, task: str) -> tuple[str, ...]:
        from trainers.tasks import get_task

        wanted = self.spec.phases.evaluate.languages
        languages = get_task(task).test_languages(self.spec.phases.evaluate.benchmark)
        return tuple(lang for lang in languages if wanted is None or lang in wanted)

    def trials(self, phase: str) -> tuple[TrialPlan, ...]:
        return getattr(self, phase)


def expand(spec: SweepSpec) -> Plan:
    pre = spec.phases.pretrain
    pretrain = ()
    if pre.enabled:
        pretrain = (
            TrialPlan("pretrain", "mlm", "", "", pre.optim, {}, spec.seeds[0], group="pretrain"),
        )
    inter_phase = spec.phases.intermediate
    intermediate = tuple(
        TrialPlan(
            "intermediate",
            task,
            task,
            "",
            inter_phase.optim_for(task, point),
            point,
            seed,
            group=task,
            definition=_definition(spec, task),
        )
        for task in inter_phase.tasks
        if task != NONE
        for point in inter_phase.points_for(task)
        for seed in spec.seeds
    )
    tgt = spec.phases.target
    trained, retrieval = _split_targets(tgt.tasks)
    target = tuple(
        TrialPlan(
            "target",
            task,
            inter,
            task,
            tgt.optim_for(task, point),
            point,
            seed,
            group=f"{inter}->{task}",
        )
        for inter in spec.phases.target_starts()
        for task in trained
        for point in tgt.points_for(task)
        for seed in spec.seeds
    )
    evaluations = tuple((inter, task) for inter in inter_phase.tasks for task in retrieval)
    return Plan(spec, pretrain, intermediate, target, evaluations)


def entry_fields(spec: SweepSpec, entry: str) -> dict:
    """TrainConfig fields of an intermediate entry: a task, `task@lang`, or a mixture."""
    mixture = spec.mixture(entry)
    if mixture is not None:
        mlm = mixture.mlm
        fields = {
            "task": entry,
            "mixture": MixtureConfig(
                members=tuple(_member(spec, m) for m in mixture.tasks),
                sampler=mixture.sampler,
                mlm_weight=mlm.weight if mlm else 0.0,
            ).model_dump(mode="json"),
        }
        if mlm is not None:
            fields.update(
                mlm_languages=list(mlm.languages),
                mlm_corpus=mlm.corpus,
                mlm_alpha=mlm.alpha,
                mlm_hub=mlm.hub.model_dump(mode="json") if mlm.hub else None,
            )
        return fields
    member = _member(spec, entry)
    if member.translation is None:
        return {"task": entry}
    return {"task": member.task, "translation": member.translation.model_dump(mode="json")}


def _member(spec: SweepSpec, entry: str) -> MemberConfig:
    task, _, lang = entry.partition("@")
    if not lang:
        return MemberConfig(task=task)
    train = spec.translation_file(task)
    return MemberConfig(task=task, translation=Translation(language=lang, train=train))


def _definition(spec: SweepSpec, entry: str) -> str:
    fields = entry_fields(spec, entry)
    return "" if fields == {"task": entry} else json.dumps(fields, sort_keys=True)


def _split_targets(tasks: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Targets that are fine-tuned, and those evaluated without training (retrieval)."""
    from trainers.tasks import get_task

    trained = [t for t in tasks if get_task(t).needs_training]
    return trained, [t for t in tasks if t not in trained]


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(plan: Plan) -> list[str]:
    """The lines `xstilts validate` prints."""
    spec = plan.spec
    res = spec.resources
    lines = [
        f"sweep {spec.name}: model {spec.model.name}"
        + (" (tiny, random init)" if spec.model.tiny else ""),
        f"data: {spec.data.source}" + (f" at {spec.data.root}" if spec.data.root else ""),
        f"resources per trial: {_resources(res)}"
        + f", DeepSpeed ZeRO-{spec.deepspeed.zero_stage}, {spec.deepspeed.resolved_precision(res.use_gpu())}",
        f"seeds: {', '.join(map(str, spec.seeds))}; ASHA grace {spec.asha.grace_period} round(s), reduction {spec.asha.reduction_factor:g}",
    ]
    total_hours = worker_hours = 0.0
    for phase in ("pretrain", "intermediate", "target"):
        trials = plan.trials(phase)
        hours = sum(trial_hours(spec, t) for t in trials)
        total_hours += hours
        phase_res = spec.resources_for(phase)
        worker_hours += hours * phase_res.workers * max(phase_res.gpus_per_worker, 1)
        detail = _phase_detail(plan, phase)
        lines.append(f"phase {phase}: {len(trials)} trial(s), ~{hours:.2f} trial-hours{detail}")
        if trials and phase_res != res:
            lines.append(f"  {phase} resources: {_resources(phase_res)}")
        if phase == "intermediate":
            lines += _mixture_lines(plan)
    if plan.retrieval:
        lines.append(
            f"phase retrieval: {len(plan.retrieval)} evaluation(s) = "
            f"{len({s for s, _ in plan.retrieval})} starting point(s) x "
            f"{len({t for _, t in plan.retrieval})} retrieval target(s), no training, "
            "straight after phase intermediate"
        )
    n_eval = plan.evaluations()
    eval_hours = sum(trial_hours(spec, t, evaluation=True) for t in plan.target)
    langs = sum(len(plan.eval_languages(t)) for t in {t.task for t in plan.target})
    lines.append(
        f"phase zero_shot: up to {n_eval} evaluation(s) over {langs} task-language pair(s), ~{eval_hours:.2f} trial-hours"
    )
    total_hours += eval_hours
    worker_hours += eval_hours
    unit = "GPU" if spec.uses_gpu() else "CPU-worker"
    lines.append(
        f"total: {sum(len(plan.trials(p)) for p in ('pretrain', 'intermediate', 'target'))} training trial(s), "
        f"~{total_hours:.2f} trial-hours before ASHA stops any (~{worker_hours:.2f} {unit}-hours)"
    )
    return lines


def _mixture_lines(plan: Plan) -> list[str]:
    """One line per mixture of the intermediate phase: members, sampler and probabilities."""
    from sweep.cost import TRAIN_SIZES

    lines = []
    for entry in plan.spec.phases.intermediate.tasks:
        mixture = plan.spec.mixture(entry)
        if mixture is None:
            continue
        config = MixtureConfig.model_validate(entry_fields(plan.spec, entry)["mixture"])
        sizes = {m.key(): TRAIN_SIZES.get(m.task, 10_000) for m in config.members}
        shares = ", ".join(f"{k} {p:.0%}" for k, p in config.probabilities(sizes).items())
        sampler = mixture.sampler
        how = sampler.kind + (
            f" K={sampler.cap}"
            if sampler.cap
            else f" T={sampler.temperature:g}"
            if sampler.temperature
            else ""
        )
        lines.append(f"  mixture {entry}: {len(config.members)} task(s), sampler {how}: {shares}")
    return lines


def _resources(res) -> str:
    return (
        f"{res.workers} worker(s) x {res.cpus_per_worker:g} CPU"
        + (f" + {res.gpus_per_worker:g} GPU" if res.gpus_per_worker else "")
        + f"; up to {res.max_concurrent_trials} trials at once"
    )


def _phase_detail(plan: Plan, phase: str) -> str:
    spec = plan.spec
    if phase == "pretrain":
        pre = spec.phases.pretrain
        return (
            f" (MLM on {', '.join(pre.languages)})"
            if pre.enabled
            else " (skipped: starts from the model's weights)"
        )
    phase_spec = spec.phases.intermediate if phase == "intermediate" else spec.phases.target
    tasks = [t for t in phase_spec.tasks if t != NONE]
    if phase == "target":
        tasks = sorted({t.task for t in plan.target}, key=tasks.index)
    grid = _grid_text(phase_spec, tasks)
    if phase == "intermediate":
        return (
            f" = {len(tasks)} task(s)/mixture(s) x {grid} x {len(spec.seeds)} seed(s); plus 'none'"
            * bool(tasks)
            + (" (only 'none')" if not tasks else "")
        )
    return (
        f" = {len(plan.intermediate_configs())} starting point(s) ({', '.join(plan.intermediate_configs())}) x "
        f"{len(tasks)} target(s) x {grid} x {len(spec.seeds)} seed(s)"
    )


def _grid_text(phase: PhaseSpec, tasks: list[str]) -> str:
    counts = {task: len(phase.points_for(task)) for task in tasks}
    if len(set(counts.values())) <= 1:
        return f"{next(iter(counts.values()), 1)} grid point(s)"
    return "(" + ", ".join(f"{t}: {n}" for t, n in counts.items()) + ") grid point(s)"

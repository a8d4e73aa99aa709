"""Expanding a spec into phases and trials, without Ray: what `xstilts validate` prints.

A trial's id is derived from its configuration, so the same spec always names the same trials
(and Ray Train runs, whose names make resumption find their checkpoints).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from sweep.cost import trial_hours
from sweep.space import typed_point
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
class SearchPlan:
    """One group of a hyperopt phase. Its points are sampled while the phase runs
    (`sweep.search.GroupedSearch`), so the plan keeps what its trials share and builds each one
    from its point: a sampled point names the same trial as a grid point with those values."""

    template: TrialPlan  # the group's trial at point {}: base optim with the task's overrides
    space: dict  # optim key -> {distribution: [arguments]} as in the spec, less per_task keys
    num_samples: int  # points sampled (1 when the task fixes every searched key)
    seeds: tuple[int, ...]  # each point is trained once per seed

    @property
    def phase(self) -> str:
        return self.template.phase

    @property
    def task(self) -> str:
        return self.template.task

    @property
    def intermediate(self) -> str:
        return self.template.intermediate

    @property
    def target(self) -> str:
        return self.template.target

    @property
    def group(self) -> str:
        return self.template.group

    @property
    def definition(self) -> str:
        return self.template.definition

    def n_trials(self) -> int:
        return self.num_samples * len(self.seeds)

    def trial(self, point: dict, seed: int) -> TrialPlan:
        """The trial of one sampled point and seed."""
        if set(point) != set(self.space):
            raise ValueError(
                f"{self.group}: a point sets {sorted(self.space)}, not {sorted(point)}"
            )
        point = typed_point(point)
        optim = OptimConfig.model_validate({**self.template.optim.model_dump(), **point})
        return replace(self.template, optim=optim, point=point, seed=seed)


@dataclass(frozen=True)
class Plan:
    spec: SweepSpec
    pretrain: tuple[TrialPlan, ...]
    intermediate: tuple[TrialPlan, ...]
    target: tuple[TrialPlan, ...]
    # Retrieval targets (no training data): (starting point, task), evaluated on each
    # intermediate configuration's best encoder straight after the intermediate phase.
    retrieval: tuple[tuple[str, str], ...] = ()
    # The groups of hyperopt phases, whose trials are sampled as they run (their `trials` are ()).
    searches: tuple[SearchPlan, ...] = ()

    def intermediate_configs(self) -> tuple[str, ...]:
        """What the target phase starts from: `none` and each intermediate task's best checkpoint
        (or those `phases.target.starts` names)."""
        return tuple(self.spec.phases.target_starts())

    def evaluations(self) -> int:
        """Zero-shot evaluations at most: one per target trial that is not stopped early."""
        return self.planned_trials("target")

    def eval_languages(self, task: str) -> tuple[str, ...]:
        from trainers.tasks import get_task

        wanted = self.spec.phases.evaluate.languages
        languages = get_task(task).test_languages(self.spec.phases.evaluate.benchmark)
        return tuple(lang for lang in languages if wanted is None or lang in wanted)

    def trials(self, phase: str) -> tuple[TrialPlan, ...]:
        return getattr(self, phase)

    def searches_for(self, phase: str) -> tuple[SearchPlan, ...]:
        return tuple(s for s in self.searches if s.phase == phase)

    def planned_trials(self, phase: str) -> int:
        """Trials a phase runs: its grid's, or each hyperopt group's samples x seeds."""
        return len(self.trials(phase)) + sum(s.n_trials() for s in self.searches_for(phase))

    def weighted_trials(self, phase: str) -> list[tuple[TrialPlan, int]]:
        """Each planned trial once, and each hyperopt group's template with its trial count:
        what cost estimates sum over."""
        grid = [(trial, 1) for trial in self.trials(phase)]
        return grid + [(s.template, s.n_trials()) for s in self.searches_for(phase)]


def expand(spec: SweepSpec) -> Plan:
    pre = spec.phases.pretrain
    pretrain = ()
    if pre.enabled:
        pretrain = (
            TrialPlan("pretrain", "mlm", "", "", pre.optim, {}, spec.seeds[0], group="pretrain"),
        )
    inter_phase = spec.phases.intermediate
    inter_groups = [
        TrialPlan(
            "intermediate",
            task,
            task,
            "",
            inter_phase.optim_for(task, {}),
            {},
            spec.seeds[0],
            group=task,
            definition=_definition(spec, task),
        )
        for task in inter_phase.tasks
        if task != NONE
    ]
    tgt = spec.phases.target
    trained, retrieval = _split_targets(tgt.tasks)
    target_groups = [
        TrialPlan(
            "target",
            task,
            inter,
            task,
            tgt.optim_for(task, {}),
            {},
            spec.seeds[0],
            group=f"{inter}->{task}",
        )
        for inter in spec.phases.target_starts()
        for task in trained
    ]
    intermediate, inter_searches = _phase_plan(spec, inter_phase, inter_groups)
    target, target_searches = _phase_plan(spec, tgt, target_groups)
    evaluations = tuple((inter, task) for inter in inter_phase.tasks for task in retrieval)
    searches = (*inter_searches, *target_searches)
    return Plan(spec, pretrain, intermediate, target, evaluations, searches)


def _phase_plan(
    spec: SweepSpec, phase: PhaseSpec, groups: list[TrialPlan]
) -> tuple[tuple[TrialPlan, ...], tuple[SearchPlan, ...]]:
    """A phase's trials, from each group's trial at point {}: every grid point with every seed,
    or for hyperopt one SearchPlan per group."""
    if phase.search_algorithm == "hyperopt":
        return (), tuple(_search_plan(spec, phase, group) for group in groups)
    trials = tuple(
        replace(group, optim=phase.optim_for(group.task, point), point=point, seed=seed)
        for group in groups
        for point in phase.points_for(group.task)
        for seed in spec.seeds
    )
    return trials, ()


def _search_plan(spec: SweepSpec, phase: PhaseSpec, template: TrialPlan) -> SearchPlan:
    """A key the task fixes in per_task is not sampled for it (as a grid collapses over it)."""
    fixed = phase.per_task.get(template.task, {})
    space = {key: d.as_spec() for key, d in phase.space().items() if key not in fixed}
    return SearchPlan(template, space, phase.num_samples if space else 1, spec.seeds)


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
        count = plan.planned_trials(phase)
        hours = sum(trial_hours(spec, t) * n for t, n in plan.weighted_trials(phase))
        total_hours += hours
        phase_res = spec.resources_for(phase)
        worker_hours += hours * phase_res.workers * max(phase_res.gpus_per_worker, 1)
        detail = _phase_detail(plan, phase)
        lines.append(f"phase {phase}: {count} trial(s), ~{hours:.2f} trial-hours{detail}")
        if count and phase_res != res:
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
    targets = plan.weighted_trials("target")
    eval_hours = sum(trial_hours(spec, t, evaluation=True) * n for t, n in targets)
    langs = sum(len(plan.eval_languages(t)) for t in {t.task for t, _ in targets})
    lines.append(
        f"phase zero_shot: up to {n_eval} evaluation(s) over {langs} task-language pair(s), ~{eval_hours:.2f} trial-hours"
    )
    total_hours += eval_hours
    worker_hours += eval_hours
    unit = "GPU" if spec.uses_gpu() else "CPU-worker"
    lines.append(
        f"total: {sum(plan.planned_trials(p) for p in ('pretrain', 'intermediate', 'target'))} training trial(s), "
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
        tasks = sorted({t.task for t, _ in plan.weighted_trials("target")}, key=tasks.index)
    hyperopt = phase_spec.search_algorithm == "hyperopt"
    if hyperopt:
        samples = {s.task: s.num_samples for s in plan.searches_for(phase)}
        points = _counts_text(samples, "sample(s)")
    else:
        points = _counts_text({t: len(phase_spec.points_for(t)) for t in tasks}, "grid point(s)")
    if phase == "intermediate":
        shape = f"{len(tasks)} task(s)/mixture(s) x {points} x {len(spec.seeds)} seed(s)"
    else:
        shape = (
            f"{len(plan.intermediate_configs())} starting point(s) ({', '.join(plan.intermediate_configs())}) x "
            f"{len(tasks)} target(s) x {points} x {len(spec.seeds)} seed(s)"
        )
    space = ", ".join(f"{key} {d}" for key, d in phase_spec.space().items()) if hyperopt else ""
    detail = f" (hyperopt: {shape}; {space})" if hyperopt else f" = {shape}"
    if phase == "intermediate":
        return detail + "; plus 'none'" if tasks else " (only 'none')"
    return detail


def _counts_text(counts: dict[str, int], unit: str) -> str:
    """'2 grid point(s)', or per task where they differ: '(xnli: 2, udpos: 1) grid point(s)'."""
    if len(set(counts.values())) <= 1:
        return f"{next(iter(counts.values()), 1)} {unit}"
    return "(" + ", ".join(f"{t}: {n}" for t, n in counts.items()) + f") {unit}"

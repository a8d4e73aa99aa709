"""Expanding a spec into phases and trials, without Ray: what `xstilts validate` prints
(`sweep.describe` words it).

A trial's id is derived from its configuration, so the same spec always names the same trials
(and Ray Train runs, whose names make resumption find their checkpoints).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

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
    """The lines `xstilts validate` prints: `sweep.describe`, kept importable from here."""
    from sweep.describe import describe as lines

    return lines(plan)

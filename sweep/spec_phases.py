"""The spec's phases: each phase's tasks, mixtures, hyper-parameters and their search, and how
zero-shot evaluation runs. Part of the spec (`sweep.spec`), checked as it is built."""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sweep.space import EXAMPLE, Distribution
from sweep.spec_resources import PhaseAsha, PhaseResources
from trainers.config import MLM, Frozen, HubCorpus, OptimConfig, SamplerConfig
from trainers.tasks import REGISTRY

NONE = "none"
ALL = "all"  # the built-in mixture of every intermediate task
SEARCHABLE = set(OptimConfig.model_fields) - {"rounds"}


class MlmMemberSpec(Frozen):
    """Continued multilingual MLM as a member of a mixture."""

    weight: float = Field(gt=0, lt=1, description="share of micro-batches spent on MLM")
    languages: tuple[str, ...] = Field(min_length=1, description="corpus languages")
    corpus: str = Field("corpus/{lang}.txt", description="corpus path under the data root")
    alpha: float = Field(0.3, gt=0, le=1, description="language sampling exponent")
    hub: HubCorpus | None = Field(None, description="a hub text dataset instead of corpus")


class MixtureSpec(Frozen):
    """A named multi-task mixture, listed in `tasks` like a single task."""

    tasks: tuple[str, ...] | Literal["all"] = Field(
        "all",
        description="members: intermediate tasks (task@lang: translated data), or 'all' (the "
        "paper's nine; the synthetic benchmark's own with data.source synthetic)",
    )
    sampler: SamplerConfig = Field(default_factory=SamplerConfig, description="task sampler")
    mlm: MlmMemberSpec | None = Field(None, description="continued MLM as a member")


class PhaseSpec(Frozen):
    """Tasks of a phase, its base hyper-parameters, the search over them (a grid, or hyperopt's
    samples), and per-task overrides."""

    tasks: tuple[str, ...] = Field(
        (), description="task names; intermediate: also 'none', mixtures and task@lang"
    )
    mixtures: dict[str, MixtureSpec] = Field(
        default_factory=dict, description="intermediate only: named mixtures ('all' built in)"
    )
    translations: dict[str, str] = Field(
        default_factory=dict,
        description="intermediate only: task -> translated train file under the data root "
        "({lang} filled in), for task@lang entries (default: the task's declared one)",
    )
    reuse_head: bool = Field(
        False,
        description="target only: start a target's head from its intermediate checkpoint's head "
        "for the same task (a mixture member's), where it has one",
    )
    optim: OptimConfig = Field(default_factory=OptimConfig, description="base hyper-parameters")
    search: dict[str, tuple | dict] = Field(
        default_factory=dict,
        description="optim key -> grid values, or (hyperopt) a distribution such as "
        "{loguniform: [1e-5, 1e-4]}, {uniform: [low, high]}, {quniform: [low, high, q]}, "
        "{choice: [v1, v2]} or {randint: [low, high]} (high excluded)",
    )
    search_algorithm: Literal["grid", "hyperopt"] = Field(
        "grid",
        description="grid: every combination of the search values; hyperopt: TPE samples of "
        "the search distributions, drawn separately for each ASHA group",
    )
    num_samples: int | None = Field(
        None, gt=0, description="hyperopt only: points sampled per group, each run once per seed"
    )
    per_task: dict[str, dict] = Field(default_factory=dict, description="task -> optim overrides")
    resources: PhaseResources = Field(
        default_factory=PhaseResources, description="this phase's overrides of resources"
    )
    asha: PhaseAsha = Field(
        default_factory=PhaseAsha, description="this phase's overrides of the sweep's asha"
    )
    starts: tuple[str, ...] | None = Field(
        None,
        description="target phase only: the intermediate configurations ('none' included) its "
        "trials start from; default all. Retrieval targets are evaluated on every one",
    )

    @field_validator("search")
    @classmethod
    def _search_keys(cls, search: dict) -> dict:
        for key, values in search.items():
            if key not in SEARCHABLE:
                raise ValueError(f"'{key}' cannot be searched; searchable: {sorted(SEARCHABLE)}")
            if not values:
                raise ValueError(f"'{key}' has no values")
        return search

    @field_validator("search", mode="before")
    @classmethod
    def _search_values(cls, search):
        for key, values in search.items() if isinstance(search, dict) else ():
            if not isinstance(values, list | tuple | dict):
                problem = f"list grid values, or name a distribution such as {EXAMPLE}"
                raise _invalid((key,), problem)
        return search

    @model_validator(mode="after")
    def _search_fits_algorithm(self) -> PhaseSpec:
        """A grid lists values; hyperopt samples distributions, num_samples points per group."""
        hyperopt = self.search_algorithm == "hyperopt"
        if hyperopt and self.num_samples is None:
            raise _invalid(("num_samples",), "hyperopt needs num_samples: points sampled per group")
        if not hyperopt and self.num_samples is not None:
            raise _invalid(("num_samples",), "only search_algorithm hyperopt samples points")
        if hyperopt and not self.search:
            raise _invalid(("search",), f"hyperopt needs a distribution such as {EXAMPLE}")
        for key, values in self.search.items():
            if not hyperopt and isinstance(values, dict):
                problem = "a distribution needs search_algorithm: hyperopt; a grid lists values"
                raise _invalid(("search", key), problem)
            if hyperopt and not isinstance(values, dict):
                problem = f"hyperopt needs a distribution such as {EXAMPLE}, not grid values"
                raise _invalid(("search", key), problem)
            if hyperopt:
                try:
                    Distribution.parse(values)
                except ValueError as err:
                    raise _invalid(("search", key), str(err)) from None
        return self

    def grid(self) -> list[dict]:
        return _combinations(self.search)

    def space(self) -> dict[str, Distribution]:
        """hyperopt: the distribution of each searched key."""
        return {key: Distribution.parse(self.search[key]) for key in sorted(self.search)}

    def checked_points(self) -> list[dict]:
        """The points every task's OptimConfig must accept: the grid's, or every combination of
        the distributions' extremes."""
        if self.search_algorithm == "grid":
            return self.grid() or [{}]
        return _combinations({key: d.extremes() for key, d in self.space().items()})

    def points_for(self, task: str) -> list[dict]:
        """The grid points of one task. A key the task fixes in per_task is not searched for
        it: the more specific setting wins, and the grid collapses over that key."""
        fixed = self.per_task.get(task, {})
        points: list[dict] = []
        for point in self.grid() or [{}]:
            kept = {k: v for k, v in point.items() if k not in fixed}
            if kept not in points:
                points.append(kept)
        return points

    def optim_for(self, task: str, point: dict) -> OptimConfig:
        return OptimConfig.model_validate(
            {**self.optim.model_dump(), **point, **self.per_task.get(task, {})}
        )


class PretrainSpec(Frozen):
    """Phase 0: masked-LM pretraining from scratch (the offline demo's stand-in for a hub model)."""

    enabled: bool = Field(False, description="run phase 0")
    languages: tuple[str, ...] = Field((), description="corpus languages")
    corpus: str = Field("corpus/{lang}.txt", description="corpus path under the data root")
    optim: OptimConfig = Field(
        default_factory=lambda: OptimConfig(learning_rate=5e-4, epochs=1, rounds=1)
    )
    resources: PhaseResources = Field(
        default_factory=PhaseResources, description="this phase's overrides of resources"
    )

    @model_validator(mode="after")
    def _languages(self) -> PretrainSpec:
        if self.enabled and not self.languages:
            raise ValueError("languages is required when enabled")
        return self


class EvaluateSpec(Frozen):
    """Phase 3: zero-shot evaluation of each finished target trial."""

    split: Literal["test", "dev"] = Field("test", description="split evaluated in every language")
    languages: tuple[str, ...] | None = Field(
        None, description="languages (default: all of the task's)"
    )
    batch_size: int = Field(64, gt=0, description="examples per forward pass")
    benchmark: Literal["xtreme", "xtreme-r"] = Field(
        "xtreme", description="whose language lists: XTREME's, or XTREME-R's (with its extras)"
    )
    retrieval_layer: int | None = Field(
        None,
        description="hidden layer retrieval targets embed with (default: the task's, e.g. 14 "
        "of 24, at the same relative depth; negative counts from the top)",
    )
    retrieval_pooling: Literal["mean", "first"] | None = Field(
        None, description="pooling of retrieval embeddings (default: the task's, mean)"
    )
    shard_cache: str | None = Field(
        None,
        description="where tokenised evaluation shards are kept and reused across sweeps "
        "(default: $XSTILTS_CACHE/eval-shards)",
    )
    similarity_examples: int = Field(
        256,
        ge=0,
        description="English examples per task whose mean-pooled representations under the "
        "starting encoder give each (intermediate, target) pair's similarity (0: not computed)",
    )


class PhasesSpec(Frozen):
    pretrain: PretrainSpec = Field(default_factory=PretrainSpec)
    intermediate: PhaseSpec = Field(default_factory=lambda: PhaseSpec(tasks=(NONE,)))
    target: PhaseSpec
    evaluate: EvaluateSpec = Field(default_factory=EvaluateSpec)

    @field_validator("intermediate")
    @classmethod
    def _intermediate_tasks(cls, phase: PhaseSpec) -> PhaseSpec:
        if phase.reuse_head:
            raise ValueError("reuse_head: only the target phase reuses heads")
        _check_mixtures(phase)
        _check_tasks(phase, "intermediate", allow_none=True)
        return phase

    @field_validator("target")
    @classmethod
    def _target_tasks(cls, phase: PhaseSpec) -> PhaseSpec:
        for key in ("mixtures", "translations"):
            if getattr(phase, key):
                raise ValueError(f"{key}: only the intermediate phase has {key}")
        _check_tasks(phase, "target", allow_none=False)
        return phase

    @model_validator(mode="after")
    def _starts(self) -> PhasesSpec:
        if self.intermediate.starts is not None:
            raise ValueError("intermediate.starts: only the target phase has starting points")
        starts = self.target.starts
        if starts is not None:
            unknown = [s for s in starts if s not in self.intermediate.tasks]
            if not starts or unknown or len(set(starts)) != len(starts):
                raise ValueError(
                    f"target.starts: {list(starts)} must be distinct entries of "
                    f"phases.intermediate.tasks {list(self.intermediate.tasks)}"
                )
        return self

    def target_starts(self) -> tuple[str, ...]:
        return self.target.starts or self.intermediate.tasks


def _check_tasks(phase: PhaseSpec, role: str, allow_none: bool) -> None:
    if not phase.tasks:
        raise ValueError("tasks: at least one task is required")
    if len(set(phase.tasks)) != len(phase.tasks):
        raise ValueError("tasks: a task is listed twice")
    for task in phase.tasks:
        if task == NONE and allow_none:
            continue
        if role == "intermediate" and (task == ALL or task in phase.mixtures):
            continue
        if role == "intermediate" and "@" in task:
            _check_translated(phase, task, "tasks")
            continue
        if task not in REGISTRY or role not in REGISTRY.get(task).roles:
            extra = "; or 'none', 'all', a mixture, task@lang" if role == "intermediate" else ""
            raise ValueError(
                f"tasks: {task!r} is not a {role} task; known: {REGISTRY.names(role)}{extra}"
            )
    for task in phase.per_task:
        if task not in phase.tasks:
            raise ValueError(f"per_task: {task!r} is not in tasks")
    for task in phase.tasks:
        for point in phase.checked_points():
            if task == NONE:
                continue
            try:
                phase.optim_for(task, point)  # every combination must be a valid OptimConfig
            except ValidationError as err:
                first = err.errors()[0]
                key = ".".join(str(p) for p in first["loc"])
                fixed = key in phase.per_task.get(task, {})
                where = ("per_task", task, key) if fixed else ("search", key)
                message = first["msg"]
                if phase.search_algorithm == "hyperopt" and not fixed:
                    message = f"{phase.space()[key]} reaches {first['input']!r}: {message}"
                raise _invalid(where, message, first["type"]) from None


def _invalid(loc: tuple[str, ...], message: str, kind: str = "value_error") -> ValidationError:
    """An error at `loc` under the phase, raised from a validator: pydantic puts the phase's own
    location in front, so `load_spec` names the whole key (`phases.target.search.learning_rate`)."""
    error = PydanticCustomError(kind, message)
    details = InitErrorDetails(type=error, loc=loc, input=None)
    return ValidationError.from_exception_data("PhaseSpec", [details])


def _combinations(values: dict) -> list[dict]:
    """Every combination of each key's values, keys in sorted order."""
    keys = sorted(values)
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(values[k] for k in keys))
    ]


def _check_translated(phase: PhaseSpec, entry: str, where: str) -> None:
    """`task@lang`: an intermediate task with translated training data in `lang`."""
    task, _, lang = entry.partition("@")
    if task not in REGISTRY or "intermediate" not in REGISTRY.get(task).roles or not lang:
        raise ValueError(f"{where}: {entry!r}: task@lang needs an intermediate task and a language")
    if task not in phase.translations and REGISTRY.get(task).translate_train is None:
        raise ValueError(
            f"{where}: {entry!r}: {task} declares no translated files; name them in "
            f"translations.{task}"
        )


def _check_mixtures(phase: PhaseSpec) -> None:
    for task in phase.translations:
        if task not in REGISTRY or "intermediate" not in REGISTRY.get(task).roles:
            raise ValueError(f"translations: {task!r} is not an intermediate task")
    for name, mixture in phase.mixtures.items():
        where = f"mixtures.{name}"
        if name in REGISTRY or "@" in name or name in (NONE, MLM):
            raise ValueError(f"{where}: a mixture cannot be named like a task, 'none' or 'mlm'")
        if mixture.tasks == ALL:
            continue
        if not mixture.tasks or len(set(mixture.tasks)) != len(mixture.tasks):
            raise ValueError(f"{where}.tasks: list distinct members")
        for member in mixture.tasks:
            if "@" in member:
                _check_translated(phase, member, f"{where}.tasks")
            elif member not in REGISTRY or "intermediate" not in REGISTRY.get(member).roles:
                raise ValueError(
                    f"{where}.tasks: {member!r} is not an intermediate task; known: "
                    f"{REGISTRY.names('intermediate')}"
                )
        weights = mixture.sampler.weights
        if weights and set(weights) != set(mixture.tasks):
            raise ValueError(
                f"{where}.sampler.weights: keys {sorted(weights)} must be the members "
                f"{sorted(mixture.tasks)}"
            )

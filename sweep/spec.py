"""The sweep spec: YAML loaded into frozen, typed models, validated when built.

`load_spec` turns any problem into one `SpecError` line naming the file and the YAML key, so the
CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sweep.space import EXAMPLE, Distribution
from sweep.spec_resources import AshaSpec, PhaseAsha, PhaseResources, ResourcesSpec
from trainers.config import (
    MLM,
    DeepSpeedConfig,
    Frozen,
    HubCorpus,
    ModelConfig,
    OptimConfig,
    SamplerConfig,
)
from trainers.tasks import PAPER_INTERMEDIATE, REGISTRY, SYNTH_INTERMEDIATE

NONE = "none"
ALL = "all"  # the built-in mixture of every intermediate task
SPEC_DIR = Path(__file__).parent / "specs"
SEARCHABLE = set(OptimConfig.model_fields) - {"rounds"}


class SpecError(ValueError):
    """A spec problem, one line, naming the file and the YAML key."""


class DataSpec(Frozen):
    """Where the task data comes from."""

    source: Literal["synthetic", "local", "hub"] = Field(
        "synthetic", description="synthetic benchmark, local XTREME layout, or hub"
    )
    root: str | None = Field(
        None, description="local: the data root; synthetic: where to generate (default: a cache)"
    )
    cache_dir: str | None = Field(None, description="hub: the datasets cache directory")
    seed: int = Field(0, description="synthetic: the generator's seed")

    @model_validator(mode="after")
    def _local_needs_root(self) -> DataSpec:
        if self.source == "local" and not self.root:
            raise ValueError("root is required when source is local")
        return self


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


class SweepSpec(Frozen):
    """A whole sweep: model, data, phases, search, scheduler, resources, seeds, storage."""

    name: str = Field(description="the sweep's name (also the default output folder)")
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataSpec = Field(default_factory=DataSpec)
    phases: PhasesSpec
    deepspeed: DeepSpeedConfig = Field(default_factory=DeepSpeedConfig)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    asha: AshaSpec = Field(default_factory=AshaSpec)
    seeds: tuple[int, ...] = Field((0,), min_length=1, description="seeds of every trial")
    storage_path: str | None = Field(
        None, description="Ray storage (local path or s3://, gs://); default <out>/ray"
    )

    def asha_for(self, phase: str) -> AshaSpec:
        """The ASHA settings of a phase's trials: the sweep's, with the phase's overrides."""
        return getattr(self.phases, phase).asha.apply(self.asha)

    def resources_for(self, phase: str) -> ResourcesSpec:
        """The resources of a phase's trials: the sweep's, with the phase's overrides."""
        if phase in ("pretrain", "intermediate", "target"):
            return getattr(self.phases, phase).resources.apply(self.resources)
        return self.resources

    def mixture(self, name: str) -> MixtureSpec | None:
        """The named mixture of the intermediate phase (`all` built in), members resolved."""
        phase = self.phases.intermediate
        if name not in phase.mixtures and name != ALL:
            return None
        mixture = phase.mixtures.get(name, MixtureSpec())
        if mixture.tasks != ALL:
            return mixture
        members = SYNTH_INTERMEDIATE if self.data.source == "synthetic" else PAPER_INTERMEDIATE
        return mixture.model_copy(update={"tasks": members})

    def translated_entries(self) -> tuple[str, ...]:
        """Every task@lang of the intermediate phase, listed alone or in a mixture."""
        phase = self.phases.intermediate
        members = [m for name in phase.mixtures for m in self.mixture(name).tasks]
        return tuple(dict.fromkeys(t for t in [*phase.tasks, *members] if "@" in t))

    def translation_file(self, task: str) -> str:
        """The translated train file template of `task` ({lang} unfilled)."""
        return self.phases.intermediate.translations.get(task) or REGISTRY.get(task).translate_train

    def uses_gpu(self) -> bool:
        return any(self.resources_for(p).use_gpu() for p in ("pretrain", "intermediate", "target"))

    @model_validator(mode="after")
    def _benchmark(self) -> SweepSpec:
        benchmark = self.phases.evaluate.benchmark
        for task in self.phases.target.tasks:
            if not REGISTRY.get(task).in_benchmark(benchmark):
                raise ValueError(
                    f"phases.target.tasks: {task!r} is not part of {benchmark} "
                    "(phases.evaluate.benchmark)"
                )
        return self

    @model_validator(mode="after")
    def _mixtures_resolve(self) -> SweepSpec:
        """Checks that need the data source: `all`'s members, and files a hub source lacks."""
        phase = self.phases.intermediate
        where = "phases.intermediate"
        for name in dict.fromkeys([*phase.mixtures, *(t for t in phase.tasks if t == ALL)]):
            mixture = self.mixture(name)
            weights = mixture.sampler.weights
            if weights and set(weights) != set(mixture.tasks):
                raise ValueError(
                    f"{where}.mixtures.{name}.sampler.weights: keys {sorted(weights)} must be the "
                    f"members {sorted(mixture.tasks)}"
                )
            if mixture.mlm and mixture.mlm.hub is None and self.data.source == "hub":
                raise ValueError(
                    f"{where}.mixtures.{name}.mlm.hub: a hub text dataset is required with "
                    "data.source hub (there is no local corpus)"
                )
        if self.data.source == "hub":
            for entry in self.translated_entries():
                task = entry.partition("@")[0]
                if not Path(self.translation_file(task)).is_absolute():
                    raise ValueError(
                        f"{where}.translations.{task}: with data.source hub, name the translated "
                        f"files of {entry} by an absolute path"
                    )
        return self

    @model_validator(mode="after")
    def _phase_asha(self) -> SweepSpec:
        for phase in ("intermediate", "target"):
            try:
                self.asha_for(phase)
            except ValidationError as err:
                message = err.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"phases.{phase}.asha: {message}") from None
        return self

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        if self.phases.pretrain.enabled and self.model.tiny is None:
            raise ValueError(
                "phases.pretrain needs model.tiny (pretraining a full-size model is out of scope)"
            )
        if self.model.tiny is not None and self.model.tokenizer is None:
            raise ValueError("model.tokenizer is required with model.tiny")
        if self.model.tokenizer == "synthetic" and self.data.source != "synthetic":
            raise ValueError("model.tokenizer: 'synthetic' needs data.source: synthetic")
        if self.deepspeed.precision in ("bf16-autocast", "bf16", "fp16"):
            for phase in ("pretrain", "intermediate", "target"):
                if not self.resources_for(phase).use_gpu():
                    raise ValueError(
                        f"deepspeed.precision: {self.deepspeed.precision} needs GPUs ({phase} trials have "
                        "resources.gpus_per_worker 0)"
                    )
        return self


def load_spec(path: str | Path) -> SweepSpec:
    path = resolve_spec_path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping")
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        if not key and not re.match(r"[\w.]+: ", message):  # a whole-spec check names its keys
            key = "(top level)"
        raise SpecError(f"{path}: {key + ': ' if key else ''}{message}") from None


def resolve_spec_path(path: str | Path) -> Path:
    """A file path, or the name of a shipped spec (`demo` -> sweep/specs/demo.yaml)."""
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    shipped = SPEC_DIR / f"{path}.yaml"
    if shipped.is_file():
        return shipped
    raise SpecError(f"{path}: no such spec file (shipped specs: {', '.join(shipped_specs())})")


def shipped_specs() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))

"""The sweep spec: YAML loaded into frozen, typed models, validated when built.

`load_spec` turns any problem into one `SpecError` line naming the file and the YAML key, so the
CLI can print it and exit 2 without a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from sweep.spec_phases import (  # noqa: F401 (the spec's parts, importable from here)
    ALL,
    NONE,
    SEARCHABLE,
    EvaluateSpec,
    MixtureSpec,
    PhaseSpec,
    PhasesSpec,
    PretrainSpec,
)
from sweep.spec_resources import AshaSpec, PhaseAsha, PhaseResources, ResourcesSpec  # noqa: F401
from trainers.config import DeepSpeedConfig, Frozen, ModelConfig
from trainers.tasks import PAPER_INTERMEDIATE, REGISTRY, SYNTH_INTERMEDIATE

SPEC_DIR = Path(__file__).parent / "specs"


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


class MlflowSpec(Frozen):
    """One MLflow run per trial, in one experiment per sweep."""

    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (http://host:5000, databricks, sqlite:////path); "
        "default a SQLite store in the sweep's output directory, sqlite:///<out>/mlflow.db",
    )
    experiment_name: str | None = Field(None, description="experiment (default: the sweep's name)")


class WandbSpec(Frozen):
    """One Weights & Biases run per trial, grouped by sweep."""

    project: str = Field(description="W&B project")
    entity: str | None = Field(None, description="W&B team or user (default: the API key's)")
    group: str | None = Field(None, description="run group (default: the sweep's name)")
    mode: Literal["offline", "online", "disabled"] = Field(
        "offline",
        description="offline (default): runs are written to `dir` and need neither network nor "
        "API key, `wandb sync` uploads them later; online: streamed, needs WANDB_API_KEY",
    )
    dir: str | None = Field(
        None, description="where W&B writes runs (default: $WANDB_DIR, else the output directory)"
    )


class TrackingSpec(Frozen):
    """Experiment trackers fed by every trial of every phase: hyper-parameters, the loss of each
    optimizer step, the dev metrics of each round, and the trial's lineage as tags."""

    tensorboard: bool = Field(
        False, description="TensorBoard event files in each trial's directory under the storage"
    )
    mlflow: MlflowSpec | None = Field(None, description="MLflow tracking (true: the defaults)")
    wandb: WandbSpec | None = Field(None, description="Weights & Biases tracking")

    @field_validator("mlflow", "wandb", mode="before")
    @classmethod
    def _switch(cls, value):
        """`mlflow: true` turns a tracker on with its defaults; false (or nothing) leaves it off."""
        if value is True:
            return {}
        return None if value is False else value

    def enabled(self) -> bool:
        return bool(self.tensorboard or self.mlflow or self.wandb)

    def resolved(self, sweep: str, out: Path) -> TrackingSpec:
        """The defaults that depend on the sweep filled in: MLflow's store in `out` (SQLite:
        MLflow 3 refuses a plain file store unless MLFLOW_ALLOW_FILE_STORE is set) and experiment
        `sweep`; W&B's group `sweep` and run directory ($WANDB_DIR, else `out`)."""
        out = Path(out).resolve()
        update: dict = {}
        if self.mlflow:
            update["mlflow"] = self.mlflow.model_copy(
                update={
                    "tracking_uri": self.mlflow.tracking_uri or f"sqlite:///{out}/mlflow.db",
                    "experiment_name": self.mlflow.experiment_name or sweep,
                }
            )
        if self.wandb:
            directory = self.wandb.dir or os.environ.get("WANDB_DIR") or str(out)
            update["wandb"] = self.wandb.model_copy(
                update={"group": self.wandb.group or sweep, "dir": directory}
            )
        return self.model_copy(update=update)


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
    tracking: TrackingSpec = Field(
        default_factory=TrackingSpec, description="experiment trackers (TensorBoard, MLflow, W&B)"
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
            searched = getattr(self.phases, phase).search_algorithm == "hyperopt"
            if searched and self.asha_for(phase).promotion == "pause":
                # Waiting trials would hold the searcher's concurrency limit, and without it
                # TPE would sample every point before it learnt from any.
                raise ValueError(
                    f"phases.{phase}.asha.promotion: pause needs a grid; "
                    "search_algorithm: hyperopt takes promotion: stop"
                )
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


def load_spec(path: str | Path, overrides: Sequence[str] = ()) -> SweepSpec:
    """The spec at `path` (or a shipped spec's name), with `overrides` (`KEY=VALUE`, KEY dotted
    as in the YAML, VALUE read as YAML: `--set data.root=/mnt/xtreme`) applied before it is
    validated, so that their errors name their keys like the file's own."""
    path = resolve_spec_path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping")
    for override in overrides:
        _apply_override(raw, override)
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


def _apply_override(raw: dict, override: str) -> None:
    key, eq, text = override.partition("=")
    if not eq or not re.fullmatch(r"[\w-]+(\.[\w-]+)*", key):
        raise SpecError(f"--set {override}: expected KEY=VALUE, KEY dotted (data.root=/mnt/x)")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise SpecError(f"--set {override}: the value is not valid YAML") from None
    *parents, leaf = key.split(".")
    node = raw
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parents[: depth + 1])
            raise SpecError(f"--set {override}: {where} is not a mapping in the spec")
        node = child
    node[leaf] = value


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

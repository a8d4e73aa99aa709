"""Typed, frozen configs for what runs on a worker; the sweep spec is built from the same models.

Every field says what it is; bad combinations fail when the config is built, and the message
names the key. Derived values (effective batch, DeepSpeed's dict) are methods, never fields
written at run time: what Tune logged is what ran.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TinyEncoder(Frozen):
    """Shape of a small randomly initialised encoder (offline demo and tests; nothing downloaded)."""

    architecture: Literal["xlm-roberta", "bert", "mt5"] = Field(
        "xlm-roberta", description="model family"
    )
    hidden_size: int = Field(64, gt=0, description="hidden width")
    num_layers: int = Field(2, gt=0, description="transformer layers")
    num_heads: int = Field(2, gt=0, description="attention heads")
    intermediate_size: int = Field(128, gt=0, description="feed-forward width")
    max_positions: int = Field(128, gt=0, description="longest input in tokens")
    dropout: float = Field(0.1, ge=0, lt=1, description="hidden and attention dropout")
    init_range: float = Field(0.02, gt=0, description="std of the random initial weights")

    def hf_overrides(self) -> dict:
        """Dropout and init settings under each architecture's own config names."""
        if self.architecture == "mt5":
            return {"dropout_rate": self.dropout, "initializer_factor": self.init_range / 0.02}
        return {
            "hidden_dropout_prob": self.dropout,
            "attention_probs_dropout_prob": self.dropout,
            "initializer_range": self.init_range,
        }

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TinyEncoder:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        return self


class ModelConfig(Frozen):
    """The multilingual encoder every phase starts from."""

    name: str = Field("xlm-roberta-large", description="Hugging Face model id or local directory")
    tokenizer: str | None = Field(None, description="tokenizer id or directory (default: name)")
    tiny: TinyEncoder | None = Field(
        None, description="build this small random encoder instead of loading name"
    )
    pooling: Literal["first", "mean"] = Field(
        "first", description="how sentence heads pool hidden states"
    )

    def tokenizer_source(self) -> str:
        return self.tokenizer or self.name


class DataConfig(Frozen):
    """Where task files come from on the worker."""

    source: Literal["local", "hub"] = Field(
        "local", description="local directory or Hugging Face hub"
    )
    root: str | None = Field(
        None, description="data root for source: local (XTREME download layout)"
    )
    cache_dir: str | None = Field(None, description="datasets cache for source: hub")

    @model_validator(mode="after")
    def _local_needs_root(self) -> DataConfig:
        if self.source == "local" and not self.root:
            raise ValueError("root is required when source is local")
        return self


class Windows(Frozen):
    """How inputs are cut to the model's length. Every format truncates or splits at max_length;
    span QA also slides overlapping windows over long contexts and bounds the answers it picks."""

    max_length: int = Field(256, gt=8, description="longest input in tokens")
    doc_stride: int = Field(
        128, gt=0, description="span QA: context tokens consecutive windows share"
    )
    max_query_length: int = Field(64, gt=0, description="span QA: question tokens kept")
    max_answer_length: int = Field(
        30, gt=0, description="span QA: longest answer predicted, in tokens"
    )


class OptimConfig(Windows):
    """Optimisation hyper-parameters of one trial (AdamW, linear warm-up then decay), plus how its
    inputs are cut (the `Windows` fields, one spec mapping: `optim: {max_length: ..., lr: ...}`)."""

    learning_rate: float = Field(1e-5, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay (not on biases/norms)")
    adam_eps: float = Field(1e-8, gt=0, description="AdamW epsilon")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of steps spent warming up")
    decay_ratio: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of steps at the end spent decaying to 0 (None: all after warm-up)",
    )
    grad_clip: float = Field(1.0, ge=0, description="gradient norm clip (0: off)")
    batch_size: int = Field(32, gt=0, description="micro-batch per worker")
    grad_accum: int = Field(1, gt=0, description="gradient accumulation steps")
    epochs: float = Field(2.0, gt=0, description="passes over the training data")
    rounds: int = Field(
        4, gt=0, description="evaluation rounds (dev eval + checkpoint), ASHA's time unit"
    )
    max_train_examples: int | None = Field(
        None, gt=0, description="cap on training examples (None: all)"
    )
    mlm_probability: float = Field(
        0.15, gt=0, lt=1, description="share of tokens masked (MLM only)"
    )
    group_by_length: bool = Field(
        True,
        description="draw each batch from examples of similar length, so that padding to the "
        "batch's longest wastes little (the order of batches stays random)",
    )

    def windows(self) -> Windows:
        """The input-cutting settings alone, shared by training, dev and zero-shot evaluation."""
        return Windows(**self.model_dump(include=set(Windows.model_fields)))

    def effective_batch_size(self, workers: int) -> int:
        return self.batch_size * self.grad_accum * workers

    def lr_factor(self, step: int, total_steps: int) -> float:
        """Linear warm-up, a plateau at the peak, then linear decay to 0.

        Short runs from scratch (the offline MLM) need long at the peak rate: their loss
        breaks through only after a few hundred steps, and decaying from the start delays it.
        """
        warmup = int(total_steps * self.warmup_ratio)
        if step < warmup:
            return (step + 1) / (warmup + 1)
        decay = total_steps - warmup
        if self.decay_ratio is not None:
            decay = min(decay, int(total_steps * self.decay_ratio))
        return min(1.0, max(0.0, (total_steps - step) / max(1, decay)))


class DeepSpeedConfig(Frozen):
    """DeepSpeed engine settings of a trial."""

    zero_stage: Literal[0, 1, 2, 3, "auto"] = Field(
        2,
        description="ZeRO stage. auto: 0 with one worker per trial, which leaves ZeRO nothing to "
        "partition, and 2 with several workers or with offload_optimizer",
    )
    precision: Literal["auto", "fp32", "bf16-autocast", "bf16", "fp16"] = Field(
        "auto",
        description="auto: bf16-autocast on GPU, fp32 on CPU. bf16-autocast: fp32 weights and "
        "optimizer, bf16 matrix products (torch autocast); bf16/fp16: DeepSpeed's low-precision "
        "weights with fp32 masters in the optimizer",
    )
    offload_optimizer: bool = Field(False, description="keep optimizer states in CPU memory")
    activation_checkpointing: bool = Field(
        False,
        description="recompute each layer's activations in the backward pass instead of keeping "
        "them: about a third more compute for a fraction of the activation memory (long inputs, "
        "large micro-batches)",
    )

    torch_compile: bool = Field(
        False,
        description="compile the model with torch.compile (TorchInductor, shapes dynamic, as "
        "dynamic padding varies them): fused kernels and fewer launches a step, for a "
        "compilation in the first steps of each trial (TorchInductor caches it on the node). "
        "A mixture compiles a graph per member's head, up to torch's recompile limit (8); "
        "members past it run uncompiled",
    )

    def stage(self, workers: int) -> int:
        """The ZeRO stage an engine of `workers` workers runs: `zero_stage`, or auto's pick.

        On one worker ZeRO-1/2 only add work: DeepSpeed copies every gradient into its buckets
        and keeps a second fp32 copy of the weights. On an H100 an XLM-R Large step at ZeRO-2
        ran at 0.48x ZeRO-0's speed with 1.5x its memory (bench/gpu_step.py). Offloading the
        optimizer needs a ZeRO optimizer, so it keeps stage 2.
        """
        if self.zero_stage != "auto":
            return self.zero_stage
        return 2 if workers > 1 or self.offload_optimizer else 0

    def resolved_precision(self, on_gpu: bool) -> str:
        # Autocast, not DeepSpeed's bf16 weights, by default: on an H100 an XLM-R Large step ran
        # 1.6-1.75x faster at ZeRO-0 and 1.16-1.36x at ZeRO-2 (bench/gpu_step.py, two runs), as
        # DeepSpeed's bf16 optimizer wrappers loop over parameters in Python.
        if self.precision == "auto":
            return "bf16-autocast" if on_gpu else "fp32"
        return self.precision

    def clips_in_loop(self, workers: int, on_gpu: bool) -> bool:
        """Whether the trial loop clips the gradients, not DeepSpeed: at ZeRO-0 with the torch
        optimizer itself (no 16-bit wrapper, which clips its flat buffers), where DeepSpeed would
        clip parameter by parameter (trainers.stepping)."""
        return self.stage(workers) == 0 and self.resolved_precision(on_gpu) in (
            "fp32",
            "bf16-autocast",
        )

    def engine_config(self, optim: OptimConfig, workers: int, on_gpu: bool) -> dict:
        precision = self.resolved_precision(on_gpu)
        stage = self.stage(workers)
        zero: dict = {"stage": stage}
        if stage == 3:
            # The next phase reads consolidated weights; ZeRO-3 shards them otherwise.
            zero["stage3_gather_16bit_weights_on_model_save"] = True
        if self.offload_optimizer and stage > 0:
            zero["offload_optimizer"] = {"device": "cpu"}
        return {
            "train_micro_batch_size_per_gpu": optim.batch_size,
            "gradient_accumulation_steps": optim.grad_accum,
            "train_batch_size": optim.effective_batch_size(workers),
            "gradient_clipping": 0.0 if self.clips_in_loop(workers, on_gpu) else optim.grad_clip,
            "zero_optimization": zero,
            "bf16": {"enabled": precision == "bf16"},
            "fp16": {"enabled": precision == "fp16"},
            "torch_autocast": {"enabled": precision == "bf16-autocast", "dtype": "bfloat16"},
            "zero_allow_untested_optimizer": True,
            "steps_per_print": 10**9,
            "wall_clock_breakdown": False,
        }


class SamplerConfig(Frozen):
    """How a mixture draws the task of each micro-batch.

    proportional: p ∝ n (training examples); capped: p ∝ min(n, cap), examples-proportional
    mixing with a limit K; temperature: p ∝ n^(1/T), T=1 is proportional and a large T uniform;
    uniform: p = 1/m; fixed: p ∝ weights[member]. A continued-MLM member takes its own share
    (`mlm_weight`) off the top, whatever the sampler.
    """

    kind: Literal["proportional", "capped", "temperature", "uniform", "fixed"] = Field(
        "proportional", description="how member probabilities follow dataset sizes"
    )
    cap: int | None = Field(None, gt=0, description="capped: K, the most examples a task counts")
    temperature: float | None = Field(None, gt=0, description="temperature: T")
    weights: dict[str, float] = Field(
        default_factory=dict, description="fixed: member -> weight (normalised to sum 1)"
    )

    @model_validator(mode="after")
    def _parameters(self) -> SamplerConfig:
        needs = {"capped": "cap", "temperature": "temperature"}
        for kind, key in needs.items():
            if (self.kind == kind) != (getattr(self, key) is not None):
                raise ValueError(
                    f"{key} is required with kind {kind}"
                    if self.kind == kind
                    else f"{key} is only used with kind {kind}"
                )
        if (self.kind == "fixed") != bool(self.weights):
            raise ValueError(
                "weights are required with kind fixed"
                if self.kind == "fixed"
                else "weights are only used with kind fixed"
            )
        if any(w <= 0 for w in self.weights.values()):
            raise ValueError("weights must be positive")
        return self

    def probabilities(self, sizes: dict[str, int]) -> dict[str, float]:
        """Each member's probability from its number of training examples."""
        if self.kind == "proportional":
            raw = {k: float(n) for k, n in sizes.items()}
        elif self.kind == "capped":
            raw = {k: float(min(n, self.cap)) for k, n in sizes.items()}
        elif self.kind == "temperature":
            raw = {k: float(n) ** (1.0 / self.temperature) for k, n in sizes.items()}
        elif self.kind == "uniform":
            raw = {k: 1.0 for k in sizes}
        else:
            raw = {k: self.weights[k] for k in sizes}
        total = sum(raw.values())
        if total <= 0:
            raise ValueError("a mixture's members have no training examples")
        return {k: v / total for k, v in raw.items()}


class Translation(Frozen):
    """Translated training data of a task (translate-train): the task's own file format, in
    another language; dev (model selection) stays the task's English dev set."""

    language: str = Field(description="language of the translated files")
    train: str = Field(description="train file under data.root; {lang} is filled in")


class MemberConfig(Frozen):
    """A task of a mixture, on its English data or on a translation of it."""

    task: str = Field(description="registered task name")
    translation: Translation | None = Field(None, description="translated training data")

    def key(self) -> str:
        """`task`, or `task@lang` for translated data (members of one task share its head)."""
        return self.task if self.translation is None else f"{self.task}@{self.translation.language}"


MLM = "mlm"


class MixtureConfig(Frozen):
    """Multi-task training: one encoder, a head per task, each micro-batch from one member."""

    members: tuple[MemberConfig, ...] = Field(min_length=1, description="task members")
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    mlm_weight: float = Field(
        0.0, ge=0, lt=1, description="share of micro-batches of continued multilingual MLM"
    )

    @model_validator(mode="after")
    def _members(self) -> MixtureConfig:
        keys = [m.key() for m in self.members]
        if len(set(keys)) != len(keys):
            raise ValueError(f"members: listed twice in {keys}")
        if MLM in keys:
            raise ValueError("members: continued MLM is a member through mlm_weight, not a task")
        if self.sampler.weights and set(self.sampler.weights) != set(keys):
            raise ValueError(
                f"sampler.weights: keys {sorted(self.sampler.weights)} must be the members {sorted(keys)}"
            )
        return self

    def keys(self) -> tuple[str, ...]:
        return tuple(m.key() for m in self.members)

    def tasks(self) -> tuple[str, ...]:
        """The distinct tasks (one head each), in member order."""
        return tuple(dict.fromkeys(m.task for m in self.members))

    def probabilities(self, sizes: dict[str, int]) -> dict[str, float]:
        """Member key (and `mlm`) -> probability; `sizes` has the task members' example counts."""
        shares = {
            k: p * (1.0 - self.mlm_weight) for k, p in self.sampler.probabilities(sizes).items()
        }
        return {**shares, MLM: self.mlm_weight} if self.mlm_weight else shares


class HubCorpus(Frozen):
    """A multilingual text corpus on the Hugging Face hub (e.g. a Wikipedia dump, one config per
    language), or a local dataset directory in the hub's layout."""

    dataset: str = Field(description="dataset id or directory")
    config: str | None = Field("{lang}", description="config name; {lang} is filled in")
    split: str = Field("train", description="split read")
    column: str = Field("text", description="column with the text")
    max_lines: int | None = Field(None, gt=0, description="first lines kept per language")


class TrainConfig(Frozen):
    """Everything one training run needs; the loop is a plain function of this."""

    phase: Literal["pretrain", "intermediate", "target"] = Field(
        description="which phase this run is"
    )
    task: str = Field(description="registered task name, or 'mlm' for phase pretrain")
    model: ModelConfig
    init_from: str = Field(
        description="'random', a hub id, or an earlier phase's encoder directory"
    )
    tokenizer: str = Field(description="tokenizer id or directory")
    data: DataConfig
    optim: OptimConfig
    deepspeed: DeepSpeedConfig
    seed: int = Field(0, description="seed for init, data order and masking")
    mlm_languages: tuple[str, ...] = Field((), description="corpus languages (MLM only)")
    mlm_corpus: str = Field(
        "corpus/{lang}.txt", description="corpus path under data.root (MLM only)"
    )
    mlm_alpha: float = Field(
        0.3, gt=0, le=1, description="language sampling exponent (XLM-R's smoothing)"
    )
    mlm_hub: HubCorpus | None = Field(
        None, description="read the MLM corpus from the hub instead of mlm_corpus"
    )
    translation: Translation | None = Field(
        None, description="train on translated data of task (translate-train)"
    )
    mixture: MixtureConfig | None = Field(
        None, description="multi-task training; task is then the mixture's name"
    )
    reuse_head: bool = Field(
        False, description="start the task's head from init_from's head for it, if it has one"
    )
    workers: int = Field(1, gt=0, description="data-parallel workers")
    use_gpu: bool = Field(False, description="train on GPUs")

    @model_validator(mode="after")
    def _mlm_needs_languages(self) -> TrainConfig:
        if self.task == MLM and not self.mlm_languages:
            raise ValueError("mlm_languages is required for task mlm")
        if self.mixture and self.mixture.mlm_weight and not self.mlm_languages:
            raise ValueError("mlm_languages is required for a mixture with continued MLM")
        if self.mixture and self.translation:
            raise ValueError("translation: a mixture's members carry their own translations")
        return self

    def member(self) -> MemberConfig:
        """A single-task run as the member it would be in a mixture."""
        return MemberConfig(task=self.task, translation=self.translation)

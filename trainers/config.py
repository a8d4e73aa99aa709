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

    zero_stage: Literal[0, 1, 2, 3] = Field(2, description="ZeRO stage")
    precision: Literal["auto", "fp32", "bf16-autocast", "bf16", "fp16"] = Field(
        "auto",
        description="auto: bf16-autocast on GPU, fp32 on CPU. bf16-autocast: fp32 weights and "
        "optimizer, bf16 matrix products (torch autocast); bf16/fp16: DeepSpeed's low-precision "
        "weights with fp32 masters in the optimizer",
    )
    offload_optimizer: bool = Field(False, description="keep optimizer states in CPU memory")

    def resolved_precision(self, on_gpu: bool) -> str:
        # Autocast, not DeepSpeed's bf16 weights, by default: on an H100 an XLM-R Large step ran
        # 1.6-1.75x faster at ZeRO-0 and 1.16-1.36x at ZeRO-2 (bench/gpu_step.py, two runs), as
        # DeepSpeed's bf16 optimizer wrappers loop over parameters in Python.
        if self.precision == "auto":
            return "bf16-autocast" if on_gpu else "fp32"
        return self.precision

    def engine_config(self, optim: OptimConfig, workers: int, on_gpu: bool) -> dict:
        precision = self.resolved_precision(on_gpu)
        zero: dict = {"stage": self.zero_stage}
        if self.zero_stage == 3:
            # The next phase reads consolidated weights; ZeRO-3 shards them otherwise.
            zero["stage3_gather_16bit_weights_on_model_save"] = True
        if self.offload_optimizer and self.zero_stage > 0:
            zero["offload_optimizer"] = {"device": "cpu"}
        return {
            "train_micro_batch_size_per_gpu": optim.batch_size,
            "gradient_accumulation_steps": optim.grad_accum,
            "train_batch_size": optim.effective_batch_size(workers),
            "gradient_clipping": optim.grad_clip,
            "zero_optimization": zero,
            "bf16": {"enabled": precision == "bf16"},
            "fp16": {"enabled": precision == "fp16"},
            "torch_autocast": {"enabled": precision == "bf16-autocast", "dtype": "bfloat16"},
            "zero_allow_untested_optimizer": True,
            "steps_per_print": 10**9,
            "wall_clock_breakdown": False,
        }


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
    workers: int = Field(1, gt=0, description="data-parallel workers")
    use_gpu: bool = Field(False, description="train on GPUs")

    @model_validator(mode="after")
    def _mlm_needs_languages(self) -> TrainConfig:
        if self.task == "mlm" and not self.mlm_languages:
            raise ValueError("mlm_languages is required for task mlm")
        return self

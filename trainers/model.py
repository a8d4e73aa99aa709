"""Encoders and task models: any Hugging Face multilingual encoder with a head on its hidden states.

Heads never rely on model-specific classes (`XLMRobertaForSequenceClassification` & co), so
XLM-R, mBERT and mT5's encoder all run through the same code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, PreTrainedModel

from trainers.config import ModelConfig, TinyEncoder
from trainers.distributed import import_deepspeed
from trainers.remote import local_dir

# Weights a pretrained checkpoint may carry that an encoder legitimately leaves behind.
PRETRAINING_ONLY = ("lm_head.", "cls.", "pooler.", "decoder.", "shared.")


class LoadMismatch(RuntimeError):
    """Weights and model disagree: a silent partial load would corrupt the experiment."""


def tiny_config(tiny: TinyEncoder, vocab_size: int):
    """A small random config of a real architecture (nothing is downloaded)."""
    common = dict(vocab_size=vocab_size)
    if tiny.architecture == "mt5":
        return AutoConfig.for_model(
            "mt5",
            d_model=tiny.hidden_size,
            d_kv=tiny.hidden_size // tiny.num_heads,
            d_ff=tiny.intermediate_size,
            num_layers=tiny.num_layers,
            num_heads=tiny.num_heads,
            pad_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            **tiny.hf_overrides(),
            **common,
        )
    model_type = {"xlm-roberta": "xlm-roberta", "bert": "bert"}[tiny.architecture]
    return AutoConfig.for_model(
        model_type,
        hidden_size=tiny.hidden_size,
        num_hidden_layers=tiny.num_layers,
        num_attention_heads=tiny.num_heads,
        intermediate_size=tiny.intermediate_size,
        max_position_embeddings=tiny.max_positions + 2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1 if tiny.architecture == "xlm-roberta" else 2,
        **tiny.hf_overrides(),
        **common,
    )


def build_from_config(config) -> PreTrainedModel:
    """An untrained encoder of `config`'s architecture (AutoModel and the T5 encoders alike)."""
    cls = _encoder_class(config)
    if cls is AutoModel:
        return AutoModel.from_config(config, **_encoder_kwargs(config))
    return cls(config)


def _encoder_class(config):
    if config.model_type in ("t5", "mt5", "umt5"):
        from transformers import MT5EncoderModel, T5EncoderModel, UMT5EncoderModel

        return {"t5": T5EncoderModel, "mt5": MT5EncoderModel, "umt5": UMT5EncoderModel}[
            config.model_type
        ]
    return AutoModel


def _encoder_kwargs(config) -> dict:
    # BERT-family encoders carry a pooler no head here uses; building without it keeps every
    # parameter trained (ZeRO and DDP object to parameters that never get a gradient).
    return (
        {"add_pooling_layer": False}
        if config.model_type in ("bert", "roberta", "xlm-roberta")
        else {}
    )


def build_mlm_model(model: ModelConfig, vocab_size: int) -> PreTrainedModel:
    """Phase 0: a masked LM, from scratch (tiny) or from the named checkpoint."""
    if model.tiny is not None:
        return AutoModelForMaskedLM.from_config(tiny_config(model.tiny, vocab_size))
    return _strict(AutoModelForMaskedLM, model.name, allow_unexpected=PRETRAINING_ONLY)


def masked_lm_loss(mlm, batch: dict) -> torch.Tensor:
    """The MLM loss with the vocabulary projection only at masked positions.

    HF's masked LMs project every position onto the vocabulary (250k rows for XLM-R) and then
    ignore the unmasked ones; the head is position-wise, so projecting only the masked ~15-30%
    gives the same loss for a fraction of the compute.
    """
    labels = batch["labels"]
    hidden = mlm.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    chosen = labels != -100
    if not chosen.any():  # nothing masked in this batch: a zero loss that still has a graph
        return hidden.sum() * 0.0
    logits = _mlm_head(mlm)(hidden[chosen])
    return torch.nn.functional.cross_entropy(logits.float(), labels[chosen])


def _mlm_head(mlm) -> torch.nn.Module:
    for name in ("lm_head", "cls"):  # XLM-R / RoBERTa, BERT
        if hasattr(mlm, name):
            return getattr(mlm, name)
    raise ValueError(f"{type(mlm).__name__}: no masked-LM head found (lm_head or cls)")


def load_encoder(source: str, model: ModelConfig, vocab_size: int) -> PreTrainedModel:
    """The encoder from a hub id or a directory of an earlier phase; random if tiny with no source."""
    if source == "random":
        if model.tiny is None:
            raise ValueError("model: 'random' initialisation needs model.tiny")
        return build_from_config(tiny_config(model.tiny, vocab_size))
    source = local_dir(source)  # a hand-off on shared storage: this node's copy
    config = AutoConfig.from_pretrained(source)
    return _strict(
        _encoder_class(config), source, allow_unexpected=PRETRAINING_ONLY, **_encoder_kwargs(config)
    )


def _strict(cls, source: str, allow_unexpected: tuple[str, ...], **kwargs) -> PreTrainedModel:
    model, info = cls.from_pretrained(source, output_loading_info=True, **kwargs)
    unexpected = [k for k in info.get("unexpected_keys", []) if not k.startswith(allow_unexpected)]
    problems = {
        "missing": list(info.get("missing_keys", [])),
        "unexpected": unexpected,
        "mismatched": [str(m) for m in info.get("mismatched_keys", [])],
    }
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        raise LoadMismatch(
            f"{source}: weights do not match {cls.__name__}: {json.dumps(problems)[:500]}"
        )
    return model


class TaskModel(nn.Module):
    """An encoder and one task head; the head reads the encoder's last hidden states."""

    def __init__(self, encoder: PreTrainedModel, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return self.head(out.last_hidden_state, batch)


def hidden_size(encoder: PreTrainedModel) -> int:
    config = encoder.config
    return getattr(config, "hidden_size", None) or config.d_model


def fingerprint(module: nn.Module) -> str:
    """A hash of every tensor's name, shape and bytes: equal iff the weights are equal."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_encoder(encoder: PreTrainedModel, tokenizer, directory: Path) -> None:
    """The hand-off format between phases: a plain Hugging Face directory (+ its tokenizer)."""
    directory.mkdir(parents=True, exist_ok=True)
    import_deepspeed()  # save_pretrained imports it where accelerate is installed
    encoder.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def save_random_encoder(
    tiny: TinyEncoder, tokenizer_source: str, seed: int, directory: Path
) -> Path:
    """A tiny encoder with seeded random weights, in the hand-off format: where a run without
    pretraining starts, every trial from the same weights."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    torch.manual_seed(seed)
    save_encoder(build_from_config(tiny_config(tiny, len(tokenizer))), tokenizer, Path(directory))
    return Path(directory)


class MultiTaskModel(nn.Module):
    """One encoder, a head per task, and the masked-LM head when MLM is a member.

    `forward(batch, head)` runs the encoder and the named head; for `mlm` it returns the vocabulary
    logits at the masked positions only (see `masked_lm_loss`). Everything goes through the
    engine's forward, so DeepSpeed's autocast and ZeRO-3 hooks see every member alike.
    """

    def __init__(self, encoder: PreTrainedModel, heads: dict[str, nn.Module], lm_head=None):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)
        self.lm_head = lm_head

    def forward(self, batch: dict[str, torch.Tensor], head: str) -> torch.Tensor:
        out = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        hidden = out.last_hidden_state
        if head == "mlm":
            return self.lm_head(hidden[batch["labels"] != -100])
        return self.heads[head](hidden, batch)


def masked_logits_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of `MultiTaskModel`'s masked-position logits; 0 (with a graph) if none."""
    if not logits.numel():
        return logits.sum()
    return torch.nn.functional.cross_entropy(logits.float(), labels[labels != -100])


def masked_hits(logits: torch.Tensor, labels: torch.Tensor) -> list[tuple[int, int]]:
    """(correct, masked) per row, from logits at the masked positions only."""
    chosen = labels != -100
    hits = torch.zeros_like(chosen)
    hits[chosen] = logits.argmax(-1) == labels[chosen]
    return list(zip(hits.sum(1).tolist(), chosen.sum(1).tolist(), strict=True))


def load_mlm_model(source: str, model: ModelConfig, vocab_size: int) -> PreTrainedModel:
    """A masked LM to continue MLM with: random (tiny), a hub checkpoint, or an exported phase
    directory whose `heads.pt` holds the masked-LM head (the pretrain phase's hand-off, or a
    mixture's that continued MLM)."""
    if source == "random":
        return build_mlm_model(model, vocab_size)
    source = local_dir(source)
    heads_file = Path(source) / "heads.pt"
    if not heads_file.is_file():
        return _strict(AutoModelForMaskedLM, source, allow_unexpected=PRETRAINING_ONLY)
    saved = torch.load(heads_file, map_location="cpu", weights_only=True)
    mlm = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(source))
    prefix = f"{mlm.base_model_prefix}."
    head_names = {k for k in mlm.state_dict() if not k.startswith(prefix)}
    head = {k: v for k, v in saved["state_dict"].items() if k in head_names}
    if not head:
        raise LoadMismatch(
            f"{source}: continued MLM needs a masked-LM head, but its heads.pt holds only "
            f"{saved['task']!r}'s"
        )
    encoder = load_encoder(source, model, vocab_size)
    weights = {prefix + k: v for k, v in encoder.state_dict().items()} | head
    result = mlm.load_state_dict(weights, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise LoadMismatch(
            f"{source}: masked-LM weights do not match: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
    mlm.tie_weights()
    return mlm


def saved_head(model_dir: str, task: str) -> dict[str, torch.Tensor] | None:
    """The weights of `task`'s head in an exported directory: a single-task run's head, or that
    task's head among a mixture's; None when the directory has none for it."""
    heads_file = Path(local_dir(model_dir)) / "heads.pt"
    if not heads_file.is_file():
        return None
    saved = torch.load(heads_file, map_location="cpu", weights_only=True)
    prefix = "head." if saved["task"] == task else f"heads.{task}."
    state = {k[len(prefix) :]: v for k, v in saved["state_dict"].items() if k.startswith(prefix)}
    return state or None

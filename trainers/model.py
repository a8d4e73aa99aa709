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
    encoder.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)

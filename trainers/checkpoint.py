"""Trial checkpoints (DeepSpeed state + what the next phase needs) and the hand-off export.

A checkpoint directory holds DeepSpeed's files under `state/`, written by every rank, plus,
from rank 0, `xstilts.json` (phase, task, round, metrics, ZeRO stage, device and precision,
the encoder's key prefix) and `encoder/` (the encoder's config and tokenizer, no weights). `export_encoder`
turns it into a plain Hugging Face encoder directory, consolidating ZeRO shards, and refuses
to write anything if a single weight is missing or left over.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import torch.distributed as dist

from trainers.config import TrainConfig
from trainers.distributed import import_deepspeed
from trainers.remote import fetched

TAG = "state"
META = "xstilts.json"


def save(
    engine,
    directory: Path,
    cfg: TrainConfig,
    metrics: dict,
    init_fingerprint: str,
    prefix: str,
    encoder,
    tokenizer,
    best: float,
    sampler: dict | None = None,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        "round": metrics["round"],
        "step": metrics["step"],
        "best": best,
        "init_fingerprint": init_fingerprint,
    }
    # A mixture's sampler (RNG and per-member positions) resumes with the model; every rank
    # holds the same state, so rank 0's copy in DeepSpeed's model-states file serves all.
    client_state = state if sampler is None else {**state, "sampler": sampler}
    engine.save_checkpoint(str(directory), tag=TAG, client_state=client_state)
    if dist.get_rank() == 0:
        encoder.config.save_pretrained(directory / "encoder")
        tokenizer.save_pretrained(directory / "encoder")
        meta = {
            "phase": cfg.phase,
            "task": cfg.task,
            "zero_stage": engine.zero_optimization_stage(),  # what ran (zero_stage may be auto)
            "device": torch.device(engine.device).type,
            "precision": cfg.deepspeed.resolved_precision(cfg.use_gpu),
            # What the model did, not what was asked: a test checks the two agree.
            "activation_checkpointing": bool(getattr(encoder, "is_gradient_checkpointing", False)),
            "encoder_prefix": prefix or f"{engine.module.base_model_prefix}.",
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
            "master_weight_groups": _master_weight_groups(engine),
            **state,
        }
        (directory / META).write_text(json.dumps(meta, indent=1, sort_keys=True))


def _master_weight_groups(engine) -> list[list[str]] | None:
    """Parameter names of each fp32 master group, where DeepSpeed keeps the masters without ZeRO.

    With bf16/fp16 and ZeRO stage 0, the module's saved weights are the low-precision copies;
    the fp32 masters are saved by the optimizer wrapper as bare tensors, one group at a time.
    """
    groups = getattr(engine.optimizer, "fp16_groups", None)
    if groups is None or engine.zero_optimization_stage() != 0:
        return None
    name_of = {id(p): name for name, p in engine.module.named_parameters()}
    return [[name_of[id(p)] for p in group] for group in groups]


def load(engine, directory: Path) -> dict:
    _, state = engine.load_checkpoint(str(directory), tag=TAG)
    if state is None:
        raise RuntimeError(f"{directory}: no DeepSpeed state under tag {TAG!r}")
    return state


def read_meta(directory: Path) -> dict:
    return json.loads((Path(directory) / META).read_text())


def consolidated_state_dict(directory: Path) -> dict[str, torch.Tensor]:
    """Full fp32 weights from any ZeRO stage's checkpoint, on CPU."""
    directory = Path(directory)
    meta = read_meta(directory)
    if meta["zero_stage"] == 0:
        states = torch.load(
            directory / TAG / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False
        )
        module = states["module"]
        masters = _stage0_masters(states["optimizer"], meta.get("master_weight_groups"), module)
        # Tied weights are one tensor under two names in the module's state: both get the master.
        by_pointer = {module[name].data_ptr(): weight for name, weight in masters.items()}
        return {
            k: by_pointer.get(v.data_ptr(), v).float() if v.numel() else v.float()
            for k, v in module.items()
        }
    import_deepspeed()
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return dict(get_fp32_state_dict_from_zero_checkpoint(str(directory), tag=TAG))


def _stage0_masters(optimizer_state, groups, module) -> dict[str, torch.Tensor]:
    """The fp32 master of each parameter, by name (empty when training ran in fp32)."""
    if not groups:
        return {}
    if "fp32_groups_flat" in optimizer_state:  # the fused wrapper: one flat tensor a group
        tensors = [
            flat.split([module[name].numel() for name in names])
            for names, flat in zip(groups, optimizer_state["fp32_groups_flat"], strict=True)
        ]
    else:
        tensors = optimizer_state["fp32_groups"]
    return {
        name: t.reshape(module[name].shape).float()
        for names, group in zip(groups, tensors, strict=True)
        for name, t in zip(names, group, strict=True)
    }


def split_state(state: dict[str, torch.Tensor], prefix: str) -> tuple[dict, dict]:
    """(encoder weights without the prefix, everything else: the task head or the LM head)."""
    encoder = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    rest = {k: v for k, v in state.items() if not k.startswith(prefix)}
    return encoder, rest


def export_encoder(checkpoint: str | Path, out: Path) -> Path:
    """Write the checkpoint's encoder as a Hugging Face directory (+ head weights, + tokenizer).
    A checkpoint on shared storage is copied here for the export and the copy removed after.

    Written beside `out` and renamed into place, so a crash never leaves a half export.
    """
    with fetched(str(checkpoint)) as directory:
        return _export(directory, Path(out), source=str(checkpoint))


def _export(directory: Path, out: Path, source: str) -> Path:
    from trainers.model import build_from_config

    meta = read_meta(directory)
    weights, heads = split_state(consolidated_state_dict(directory), meta["encoder_prefix"])
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(directory / "encoder")
    encoder = build_from_config(config)
    expected = set(encoder.state_dict())
    # Tied copies (e.g. an LM decoder sharing the embedding matrix) are saved once by DeepSpeed.
    missing = sorted(expected - set(weights))
    unexpected = sorted(set(weights) - expected)
    if missing or unexpected:
        raise RuntimeError(
            f"{directory}: encoder weights do not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    encoder.load_state_dict(weights, strict=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    import_deepspeed()  # save_pretrained imports it where accelerate is installed
    encoder.save_pretrained(tmp, safe_serialization=True)
    AutoTokenizer.from_pretrained(directory / "encoder").save_pretrained(tmp)
    torch.save({"task": meta["task"], "state_dict": heads}, tmp / "heads.pt")
    (tmp / "source.json").write_text(
        json.dumps({"checkpoint": source, **meta}, indent=1, sort_keys=True)
    )
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out

"""The training loop: a plain function of a `TrainConfig` and a `Reporter`. No Ray in here.

Training is split into `optim.rounds` rounds; each round ends with an English dev evaluation
(zero-shot model selection never looks at other languages), a DeepSpeed checkpoint and one
report. Ray Train's worker passes a reporter that forwards to `ray.train.report`; tests and
single-machine runs pass `LocalReporter`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from trainers import checkpoint as ckpt
from trainers.config import TrainConfig
from trainers.data.batches import EvalData, TrainData, build_data
from trainers.distributed import all_gather, ensure_process_group, world
from trainers.model import (
    TaskModel,
    build_mlm_model,
    fingerprint,
    load_encoder,
    masked_lm_loss,
)


class Reporter(Protocol):
    def report(self, metrics: dict, checkpoint_dir: Path) -> None: ...

    def restore_dir(self):
        """A context manager yielding the latest checkpoint directory, or None."""


@dataclass
class Progress:
    round: int = 0
    step: int = 0
    best: float = -math.inf


def train(cfg: TrainConfig, reporter: Reporter, scratch: Path) -> Progress:
    gpu = on_gpu(cfg)
    ensure_process_group(gpu)
    rank, world_size = world()
    torch.manual_seed(cfg.seed)
    data = build_data(cfg, rank, world_size)
    model, encoder = _build_model(cfg, data)
    init_print = fingerprint(encoder)
    engine = build_engine(cfg, model, data.total_steps, world_size, gpu)

    progress = Progress()
    with reporter.restore_dir() as restored:
        if restored is not None:
            state = ckpt.load(engine, Path(restored))
            progress = Progress(state["round"], state["step"], state["best"])
            init_print = state["init_fingerprint"]
    torch.manual_seed(cfg.seed * 1000 + rank + progress.step)

    started = time.monotonic()
    batches = data.train.batches_from(progress.step)
    for round_ in range(progress.round + 1, cfg.optim.rounds + 1):
        end_step = data.round_end(round_, cfg.optim.rounds)
        losses = []
        engine.train()
        while progress.step < end_step:
            for _ in range(cfg.optim.grad_accum):
                batch = _to(next(batches), engine.device)
                loss = _loss(cfg, engine, data, batch)
                engine.backward(loss)
                engine.step()
                losses.append(loss.item())
            progress.step += 1
        metrics = evaluate(engine, data.dev, data, cfg)
        score = metrics[f"dev/{data.metric}"]
        progress.round, progress.best = round_, max(progress.best, score)
        metrics.update(
            round=round_,
            step=progress.step,
            dev_score=score,
            best_dev_score=progress.best,
            train_loss=sum(losses) / max(len(losses), 1),
            wall_seconds=time.monotonic() - started,
            init_fingerprint=init_print,
        )
        directory = scratch / f"round-{round_:03d}"
        ckpt.save(
            engine,
            directory,
            cfg,
            metrics,
            init_print,
            encoder_prefix(cfg),
            encoder,
            data.tokenizer,
            best=progress.best,
        )
        reporter.report(metrics, directory)
    return progress


def encoder_prefix(cfg: TrainConfig) -> str:
    return "encoder." if cfg.task != "mlm" else ""


def _build_model(cfg: TrainConfig, data: TrainData):
    vocab = len(data.tokenizer)
    if cfg.task == "mlm":
        model = (
            build_mlm_model(cfg.model, vocab)
            if cfg.init_from == "random"
            else build_mlm_model(
                cfg.model.model_copy(update={"name": cfg.init_from, "tiny": None}), vocab
            )
        )
        return model, model.base_model
    encoder = load_encoder(cfg.init_from, cfg.model, vocab)
    head = data.format.build_head(data.task, _hidden(encoder), cfg.model.pooling)
    return TaskModel(encoder, head), encoder


def _hidden(encoder) -> int:
    return getattr(encoder.config, "hidden_size", None) or encoder.config.d_model


def on_gpu(cfg: TrainConfig) -> bool:
    if cfg.use_gpu and not torch.cuda.is_available():
        # Ray only places a GPU trial where it reserved a GPU: this is a driver or setup fault.
        raise RuntimeError("use_gpu is set but torch sees no CUDA device on this worker")
    return cfg.use_gpu


def build_engine(cfg: TrainConfig, model, total_steps: int, world_size: int, gpu: bool):
    """A DeepSpeed engine over `model`: AdamW without decay on biases/norms, warm-up then decay."""
    import deepspeed

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": cfg.optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(
        groups, lr=cfg.optim.learning_rate, eps=cfg.optim.adam_eps, fused=gpu or None
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: cfg.optim.lr_factor(step, total_steps)
    )
    engine, *_ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        lr_scheduler=scheduler,
        config=cfg.deepspeed.engine_config(cfg.optim, world_size, gpu),
    )
    return engine


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def _loss(cfg: TrainConfig, engine, data: TrainData, batch: dict) -> torch.Tensor:
    if cfg.task == "mlm":
        # engine.module: DeepSpeed's parameter hooks sit on the submodules, so ZeRO-3 still works.
        return masked_lm_loss(engine.module, batch)
    return data.format.loss(engine(batch), batch)


@torch.no_grad()
def evaluate(engine, dev: EvalData, data: TrainData, cfg: TrainConfig) -> dict:
    """Dev metrics over every example: ranks score equal-length shards, then gather."""
    engine.eval()
    local: list[tuple[int, object]] = []
    for indices, batch in dev.shard_batches():
        batch = _to(batch, engine.device)
        if cfg.task == "mlm":
            logits = engine(**batch).logits
            preds = _mlm_predictions(logits, batch)
        else:
            preds = data.format.predict(engine(batch), batch)
        local.extend((i, p) for i, p in zip(indices, preds, strict=True) if i >= 0)
    merged = dict(pair for part in all_gather(local) for pair in part)
    predictions = [merged[i] for i in range(len(dev.features))]
    if cfg.task == "mlm":
        hits = sum(h for h, _ in predictions)
        total = sum(n for _, n in predictions)
        return {"dev/mlm_accuracy": hits / max(total, 1), "dev/n_examples": len(predictions)}
    scores = data.format.score(
        data.task, dev.examples, dev.features, predictions, language=data.task.train_language
    )
    return {**{f"dev/{k}": v for k, v in scores.items()}, "dev/n_examples": len(dev.examples)}


def _mlm_predictions(logits: torch.Tensor, batch: dict) -> Sequence[tuple[int, int]]:
    labels = batch["labels"]
    masked = labels != -100
    hits = (logits.argmax(-1) == labels) & masked
    return list(zip(hits.sum(1).tolist(), masked.sum(1).tolist(), strict=True))

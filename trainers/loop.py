"""The training loop: a plain function of a `TrainConfig` and a `Reporter`. No Ray in here.

Training is split into `optim.rounds` rounds; each round ends with an English dev evaluation
(zero-shot model selection never looks at other languages), a DeepSpeed checkpoint and one
report. Ray Train's worker passes a reporter that forwards to `ray.train.report`; tests and
single-machine runs pass `LocalReporter`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from trainers import checkpoint as ckpt
from trainers.config import MLM, TrainConfig
from trainers.data.batches import EvalData, TaskPart, TrainData, build_data
from trainers.data.mixture import MIXTURE_METRIC
from trainers.distributed import (
    all_gather,
    ensure_process_group,
    import_deepspeed,
    without_deepspeed_muon,
    world,
)
from trainers.model import (
    MultiTaskModel,
    TaskModel,
    build_mlm_model,
    fingerprint,
    load_encoder,
    load_mlm_model,
    masked_hits,
    masked_lm_loss,
    masked_logits_loss,
    saved_head,
)
from trainers.stepping import Stepper


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
    laps = Laps()
    gpu = on_gpu(cfg)
    ensure_process_group(gpu)
    rank, world_size = world()
    laps.mark("process_group")
    torch.manual_seed(cfg.seed)
    data = build_data(cfg, rank, world_size)
    laps.mark("data")
    model, encoder, head_reused = _build_model(cfg, data)
    init_print = fingerprint(encoder)
    if cfg.deepspeed.activation_checkpointing:
        # Non-reentrant: works with frozen inputs (embeddings) and ZeRO-3's parameter hooks.
        encoder.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    laps.mark("model")
    engine, train_step = build_engine(cfg, model, data.total_steps, world_size, gpu)
    laps.mark("engine")

    progress = Progress()
    with reporter.restore_dir() as restored:
        if restored is not None:
            state = ckpt.load(engine, Path(restored))
            progress = Progress(state["round"], state["step"], state["best"])
            init_print = state["init_fingerprint"]
            if "sampler" in state:
                data.train.load_state_dict(state["sampler"])
    laps.mark("restore")

    started = time.monotonic()
    batches = data.batches_from(progress.step)
    for round_ in range(progress.round + 1, cfg.optim.rounds + 1):
        # Reseeded at every round start (dropout), so a run resumed at a round boundary draws
        # exactly what an uninterrupted run draws.
        torch.manual_seed(cfg.seed * 1000 + rank + progress.step)
        end_step = data.round_end(round_, cfg.optim.rounds)
        losses, drawn, seen, tokens = [], Counter(), 0, 0
        round_started = time.monotonic()
        engine.train()
        while progress.step < end_step:
            for _ in range(cfg.optim.grad_accum):
                member, batch = next(batches)
                loss = _loss(cfg, engine, data, member, _to(batch, engine.device))
                train_step(loss)
                losses.append(loss.item())
                drawn[member] += 1
                seen += _rows(batch)
                tokens += _tokens(batch)
            progress.step += 1
        trained = time.monotonic()
        metrics = (
            evaluate_mixture(engine, data) if cfg.mixture else evaluate(engine, data.dev, data, cfg)
        )
        evaluated = time.monotonic()
        score = metrics[f"dev/{data.metric}"]
        progress.round, progress.best = round_, max(progress.best, score)
        metrics.update(
            round=round_,
            step=progress.step,
            dev_score=score,
            best_dev_score=progress.best,
            train_loss=sum(losses) / max(len(losses), 1),
            # Features (examples, or windows of long ones) the loss was averaged over, all ranks.
            train_examples=seen * world_size,
            # Real (non-padding) tokens trained on, all ranks, and where the round's time went:
            # the sweep-overhead benchmark sets these against the trial's wall time.
            train_tokens=tokens * world_size,
            train_seconds=trained - round_started,
            eval_seconds=evaluated - trained,
            # Every loss of the round, in order: a resumed run can be compared step by step.
            train_losses=losses,
            # The loss of each optimizer step of the round (its micro-batches' mean): what the
            # experiment trackers plot against the step, the round's last step being `step`.
            step_losses=_step_means(losses, cfg.optim.grad_accum),
            wall_seconds=time.monotonic() - started,
            init_fingerprint=init_print,
            head_reused=int(head_reused),
            **laps.take(),  # the first round of each attempt: where its set-up went
            **{f"drawn/{k}": n for k, n in drawn.items() if k is not None},
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
            sampler=data.train.state_dict() if cfg.mixture else None,
        )
        reporter.report(metrics, directory)
    return progress


class Laps:
    """Seconds between marks, `setup/<name>`: what a run does before its first step."""

    def __init__(self):
        self.last = time.monotonic()
        self.laps: dict[str, float] = {}

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.laps[f"setup/{name}"], self.last = now - self.last, now

    def take(self) -> dict[str, float]:
        laps, self.laps = self.laps, {}
        return laps


def encoder_prefix(cfg: TrainConfig) -> str:
    return "encoder." if cfg.task != MLM else ""


def _build_model(cfg: TrainConfig, data: TrainData):
    """(model, its encoder, whether a head was taken over from init_from)."""
    vocab = len(data.tokenizer)
    if cfg.task == MLM:
        model = (
            build_mlm_model(cfg.model, vocab)
            if cfg.init_from == "random"
            else build_mlm_model(
                cfg.model.model_copy(update={"name": cfg.init_from, "tiny": None}), vocab
            )
        )
        return model, model.base_model, False
    if cfg.mixture is not None:
        return _build_mixture_model(cfg, data, vocab)
    encoder = load_encoder(cfg.init_from, cfg.model, vocab)
    head = data.format.build_head(data.task, _hidden(encoder), cfg.model.pooling)
    reused = _reuse_head(cfg, cfg.task, head)
    return TaskModel(encoder, head), encoder, reused


def _build_mixture_model(cfg: TrainConfig, data: TrainData, vocab: int):
    lm_head = None
    if cfg.mixture.mlm_weight:
        mlm = load_mlm_model(cfg.init_from, cfg.model, vocab)
        encoder, lm_head = mlm.base_model, getattr(mlm, "lm_head", None) or mlm.cls
    else:
        encoder = load_encoder(cfg.init_from, cfg.model, vocab)
    heads = {
        name: part.format.build_head(part.task, _hidden(encoder), cfg.model.pooling)
        for name, part in data.parts.items()
    }
    reused = [_reuse_head(cfg, name, head) for name, head in heads.items()]
    return MultiTaskModel(encoder, heads, lm_head), encoder, any(reused)


def _reuse_head(cfg: TrainConfig, task: str, head: torch.nn.Module) -> bool:
    """Load `task`'s head from init_from when asked and there is one (a mixture member's)."""
    if not cfg.reuse_head:
        return False
    state = saved_head(cfg.init_from, task)
    if state is None:
        return False
    head.load_state_dict(state, strict=True)
    return True


def _hidden(encoder) -> int:
    return getattr(encoder.config, "hidden_size", None) or encoder.config.d_model


def on_gpu(cfg: TrainConfig) -> bool:
    if cfg.use_gpu and not torch.cuda.is_available():
        # Ray only places a GPU trial where it reserved a GPU: this is a driver or setup fault.
        raise RuntimeError("use_gpu is set but torch sees no CUDA device on this worker")
    return cfg.use_gpu


def build_engine(
    cfg: TrainConfig, model, total_steps: int, world_size: int, gpu: bool
) -> tuple[object, Stepper]:
    """A DeepSpeed engine over `model` (AdamW without decay on biases/norms, warm-up then decay),
    and the Stepper that takes its backward and step: train through that, not the engine."""
    deepspeed = import_deepspeed()

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
    without_deepspeed_muon()
    engine, *_ = deepspeed.initialize(
        model=model,
        optimizer=optimizer,
        lr_scheduler=scheduler,
        config=cfg.deepspeed.engine_config(cfg.optim, world_size, gpu),
    )
    clips = cfg.deepspeed.clips_in_loop(world_size, gpu)
    if clips and world_size == 1:
        # One worker has nothing to reduce; the Stepper makes what the reduction made.
        engine.enable_backward_allreduce = False
    if cfg.deepspeed.torch_compile:
        # In place (nn.Module.compile): parameter names, and so checkpoints, stay as they are.
        # Dynamic shapes from the start: every batch is padded to its own longest.
        engine.compile(compile_kwargs={"dynamic": True})
    return engine, Stepper(engine, cfg.optim.grad_clip if clips else 0.0)


def _step_means(losses: list[float], grad_accum: int) -> list[float]:
    return [sum(losses[i : i + grad_accum]) / grad_accum for i in range(0, len(losses), grad_accum)]


def _rows(batch: dict) -> int:
    """Training features in a micro-batch (a multiple-choice batch flattens its choices into
    input rows, so its labels count; span QA has no labels, one row per window)."""
    return int((batch["labels"] if "labels" in batch else batch["input_ids"]).shape[0])


def _tokens(batch: dict) -> int:
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def _loss(cfg: TrainConfig, engine, data: TrainData, member, batch: dict) -> torch.Tensor:
    if cfg.task == MLM:
        # engine.module: DeepSpeed's parameter hooks sit on the submodules, so ZeRO-3 still works.
        return masked_lm_loss(engine.module, batch)
    if member is None:
        return data.format.loss(engine(batch), batch)
    if member == MLM:
        return masked_logits_loss(engine(batch, head=MLM), batch["labels"])
    task = member.split("@")[0]  # translated members train their task's head
    return data.parts[task].format.loss(engine(batch, head=task), batch)


@torch.no_grad()
def evaluate(engine, dev: EvalData, data: TrainData, cfg: TrainConfig) -> dict:
    """Dev metrics over every example: ranks score equal-length shards, then gather."""
    engine.eval()
    if cfg.task == MLM:
        predictions = _predictions(engine, dev, lambda b: _mlm_predictions(engine(**b).logits, b))
        return {"dev/mlm_accuracy": _mlm_accuracy(predictions), "dev/n_examples": len(predictions)}
    part = TaskPart(data.task, data.format, dev)
    scores = _task_scores(engine, part, lambda b: part.format.predict(engine(b), b))
    return {**{f"dev/{k}": v for k, v in scores.items()}, "dev/n_examples": len(dev.examples)}


@torch.no_grad()
def evaluate_mixture(engine, data: TrainData) -> dict:
    """Each task's English dev metrics, MLM accuracy if it is a member, and the aggregate:
    the mean over tasks of (score - chance) / (1 - chance), so that tasks with different
    floors (3-way NLI, 4-way choice, span F1) weigh alike. Continued MLM is an auxiliary
    member: its accuracy is reported, not averaged in."""
    engine.eval()
    metrics: dict = {}
    normalised, n_examples = [], 0
    for name, part in data.parts.items():
        scores = _task_scores(
            engine, part, lambda b, n=name, p=part: p.format.predict(engine(b, head=n), b)
        )
        metrics.update({f"dev/{name}/{k}": v for k, v in scores.items()})
        metrics[f"dev/{name}/n_examples"] = len(part.dev.examples)
        chance = part.task.chance()
        normalised.append((scores[part.task.metric] - chance) / (1.0 - chance))
        n_examples += len(part.dev.examples)
    if data.mlm_dev is not None:
        predictions = _predictions(
            engine, data.mlm_dev, lambda b: masked_hits(engine(b, head=MLM), b["labels"])
        )
        metrics[f"dev/{MLM}/mlm_accuracy"] = _mlm_accuracy(predictions)
        metrics[f"dev/{MLM}/n_examples"] = len(predictions)
    metrics[f"dev/{MIXTURE_METRIC}"] = sum(normalised) / len(normalised)
    metrics["dev/n_examples"] = n_examples
    return metrics


def _task_scores(engine, part: TaskPart, predict) -> dict:
    predictions = _predictions(engine, part.dev, predict)
    return part.format.score(
        part.task,
        part.dev.examples,
        part.dev.features,
        predictions,
        language=part.task.train_language,
    )


def _predictions(engine, dev: EvalData, predict) -> list:
    """One prediction per dev feature, in order, gathered from every rank's shard."""
    local: list[tuple[int, object]] = []
    for indices, batch in dev.shard_batches():
        preds = predict(_to(batch, engine.device))
        local.extend((i, p) for i, p in zip(indices, preds, strict=True) if i >= 0)
    merged = dict(pair for part in all_gather(local) for pair in part)
    return [merged[i] for i in range(len(dev.features))]


def _mlm_accuracy(predictions: Sequence[tuple[int, int]]) -> float:
    return sum(h for h, _ in predictions) / max(sum(n for _, n in predictions), 1)


def _mlm_predictions(logits: torch.Tensor, batch: dict) -> Sequence[tuple[int, int]]:
    labels = batch["labels"]
    masked = labels != -100
    hits = (logits.argmax(-1) == labels) & masked
    return list(zip(hits.sum(1).tolist(), masked.sum(1).tolist(), strict=True))

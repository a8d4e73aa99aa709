"""Features and batch streams for one training run: deterministic, sharded, resumable.

The order of training batches is a pure function of (seed, step, rank), so a run resumed from
a checkpoint at step s sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AutoTokenizer

from trainers.config import MLM, MemberConfig, TrainConfig
from trainers.data.mixture import MIXTURE_METRIC, MixtureStream
from trainers.data.mlm import MaskingCollator, balanced_sample, pack
from trainers.data.source import (
    data_root,
    load_examples,
    load_translated,
    read_corpus,
    read_hub_corpus,
    resolve_labels,
)
from trainers.formats import get_format
from trainers.tasks import get_task

MLM_DEV_SHARE = 0.02
EVAL_BATCH = 64
# Length grouping sorts this many global batches' worth of shuffled examples at a time (Hugging
# Face's LengthGroupedSampler's megabatch): wide enough that neighbours have similar lengths,
# narrow enough that a batch still mixes examples from across the data.
GROUP_BATCHES = 50


@dataclass
class TrainStream:
    features: list[dict]
    collate: Any
    batch_size: int
    grad_accum: int
    rank: int
    world: int
    seed: int
    uses_generator: bool = False
    group_by_length: bool = False

    def micro_batches_per_epoch(self) -> int:
        return max(1, len(self.features) // (self.batch_size * self.world))

    def epoch_order(self, epoch: int) -> list[int]:
        """The features of `epoch` in the order they are batched: a function of the epoch alone,
        so a resumed run draws what an uninterrupted one does.

        Grouped by length: the shuffled full global batches are cut into groups of
        GROUP_BATCHES, each group sorted by length and split into global batches again, and
        those batches shuffled. Every rank's share of a global batch is then of similar
        length too, so no rank waits on a long one. The remainder (too few for a global
        batch) stays at the end, as without grouping.
        """
        rng = random.Random(self.seed * 7919 + epoch)
        order = list(range(len(self.features)))
        rng.shuffle(order)
        span = self.batch_size * self.world
        full = len(order) // span * span
        if not self.group_by_length or full <= span:
            return order
        lengths = [_length(f) for f in self.features]
        batches = []
        for g in range(0, full, span * GROUP_BATCHES):
            group = sorted(order[g : min(full, g + span * GROUP_BATCHES)], key=lengths.__getitem__)
            batches += [group[b : b + span] for b in range(0, len(group), span)]
        rng.shuffle(batches)
        return [i for batch in batches for i in batch] + order[full:]

    def batches_from(self, step: int) -> Iterator[dict]:
        """Micro-batches from optimizer step `step` on, epoch after epoch."""
        return self.micro_batches(step * self.grad_accum)

    def micro_batches(self, index: int) -> Iterator[dict]:
        """Micro-batches from the `index`-th on (a mixture member counts its own)."""
        per_epoch = self.micro_batches_per_epoch()
        shuffled: tuple[int, list[int]] = (-1, [])
        while True:
            epoch, k = divmod(index, per_epoch)
            if shuffled[0] != epoch:
                shuffled = (epoch, self.epoch_order(epoch))
            order = shuffled[1]
            start = (k * self.world + self.rank) * self.batch_size
            chunk = [self.features[i] for i in order[start : start + self.batch_size]]
            if len(chunk) < self.batch_size:  # fewer examples than one global batch: wrap around
                chunk += [self.features[i] for i in order[: self.batch_size - len(chunk)]]
            if self.uses_generator:
                gen = torch.Generator().manual_seed(
                    self.seed * 1_000_003 + index * self.world + self.rank
                )
                yield self.collate(chunk, gen)
            else:
                yield self.collate(chunk)
            index += 1


def _length(feature: dict) -> int:
    """Tokens the feature pads to: a multiple-choice feature is as long as its longest choice."""
    ids = feature["input_ids"]
    return max(map(len, ids)) if ids and isinstance(ids[0], list) else len(ids)


@dataclass
class EvalData:
    examples: list
    features: list[dict]
    collate: Any
    rank: int
    world: int
    uses_generator: bool = False
    batch_size: int = EVAL_BATCH

    def shard_batches(self) -> Iterator[tuple[list[int], dict]]:
        """This rank's share of every feature, padded with index -1 so that every rank runs the
        same number of forward passes (ZeRO-3 gathers parameters collectively in each one)."""
        mine = list(range(self.rank, len(self.features), self.world))
        per_rank = math.ceil(len(self.features) / self.world)
        mine += [-1] * (per_rank - len(mine))
        for b in range(0, len(mine), self.batch_size):
            indices = mine[b : b + self.batch_size]
            chunk = [self.features[i if i >= 0 else 0] for i in indices]
            if self.uses_generator:
                # A fixed mask per batch: dev numbers are comparable across rounds and trials.
                yield indices, self.collate(chunk, torch.Generator().manual_seed(b))
            else:
                yield indices, self.collate(chunk)


@dataclass
class TaskPart:
    """A task of a mixture: its declaration, format (head, loss, scores) and English dev set."""

    task: Any
    format: Any
    dev: EvalData


@dataclass
class TrainData:
    tokenizer: Any
    train: TrainStream | MixtureStream
    dev: EvalData | None
    total_steps: int
    metric: str
    task: Any = None
    format: Any = None
    # Mixtures: each task's part (one head each) and continued MLM's dev set.
    parts: dict[str, TaskPart] = field(default_factory=dict)
    mlm_dev: EvalData | None = None

    def round_end(self, round_: int, rounds: int) -> int:
        return math.ceil(self.total_steps * round_ / rounds)

    def batches_from(self, step: int) -> Iterator[tuple[str | None, dict]]:
        """(member, micro-batch) pairs from optimizer step `step` on; member None: the task."""
        if isinstance(self.train, MixtureStream):
            return self.train.batches_from(step)
        return ((None, batch) for batch in self.train.batches_from(step))


def build_data(cfg: TrainConfig, rank: int, world: int) -> TrainData:
    tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer)
    if cfg.task == MLM:
        train, dev = _mlm_streams(cfg, tokenizer, rank, world)
        return TrainData(tokenizer, train, dev, _total_steps(train, cfg), "mlm_accuracy")
    if cfg.mixture is not None:
        return build_mixture(cfg, tokenizer, rank, world)
    part, train, _ = _task_streams(cfg, cfg.member(), tokenizer, rank, world)
    return TrainData(
        tokenizer,
        train,
        part.dev,
        _total_steps(train, cfg),
        part.task.metric,
        part.task,
        part.format,
    )


def _mlm_streams(cfg: TrainConfig, tokenizer, rank: int, world: int):
    optim = cfg.optim
    train_seqs, dev_seqs = _mlm_sequences(cfg, tokenizer)
    if optim.max_train_examples:
        train_seqs = train_seqs[: optim.max_train_examples]
    encode = lambda seqs: [  # noqa: E731
        {"input_ids": ids, "example": i} for i, ids in enumerate(seqs)
    ]
    collator = MaskingCollator(tokenizer, optim.mlm_probability)
    train = TrainStream(
        encode(train_seqs),
        collator,
        optim.batch_size,
        optim.grad_accum,
        rank,
        world,
        cfg.seed,
        True,
        optim.group_by_length,
    )
    return train, EvalData(dev_seqs, encode(dev_seqs), collator, rank, world, True)


def _task_streams(cfg: TrainConfig, member: MemberConfig, tokenizer, rank: int, world: int):
    """(the task's part, its training stream, its number of training examples)."""
    optim = cfg.optim
    task = resolve_labels(get_task(member.task), cfg.data)
    fmt = get_format(task.format, optim.windows())
    if member.translation is None:
        train_examples = load_examples(task, "train", task.train_language, cfg.data)
    else:
        train_examples = load_translated(task, member.translation, cfg.data)
    if optim.max_train_examples:
        train_examples = train_examples[: optim.max_train_examples]
    dev_examples = load_examples(task, "dev", task.train_language, cfg.data)
    collate = lambda feats: fmt.collate(feats, tokenizer.pad_token_id)  # noqa: E731
    # Members of one mixture draw their own orders: the member's key salts the seed.
    seed = cfg.seed if cfg.mixture is None else _salted(cfg.seed, member.key())
    train = TrainStream(
        fmt.featurize(task, train_examples, tokenizer, optim.max_length),
        collate,
        optim.batch_size,
        optim.grad_accum,
        rank,
        world,
        seed,
        group_by_length=optim.group_by_length,
    )
    dev = EvalData(
        dev_examples,
        fmt.featurize(task, dev_examples, tokenizer, optim.max_length),
        collate,
        rank,
        world,
    )
    return TaskPart(task, fmt, dev), train, len(train_examples)


def build_mixture(cfg: TrainConfig, tokenizer, rank: int, world: int) -> TrainData:
    """A stream per member, drawn by the mixture's sampler; a part (head, dev set) per task."""
    mixture = cfg.mixture
    streams, sizes, parts = {}, {}, {}
    for member in mixture.members:
        part, streams[member.key()], sizes[member.key()] = _task_streams(
            cfg, member, tokenizer, rank, world
        )
        parts.setdefault(member.task, part)
    mlm_dev = None
    if mixture.mlm_weight:
        streams[MLM], mlm_dev = _mlm_streams(cfg, tokenizer, rank, world)
    probabilities = mixture.probabilities(sizes)
    stream = MixtureStream(streams, probabilities, cfg.seed, cfg.optim.grad_accum)
    # An epoch of a mixture: every task member's micro-batches once, plus MLM's share on top.
    task_batches = sum(streams[k].micro_batches_per_epoch() for k in sizes)
    per_epoch = task_batches / (1.0 - mixture.mlm_weight) / cfg.optim.grad_accum
    total = max(cfg.optim.rounds, math.ceil(per_epoch * cfg.optim.epochs))
    return TrainData(tokenizer, stream, None, total, MIXTURE_METRIC, parts=parts, mlm_dev=mlm_dev)


def _salted(seed: int, key: str) -> int:
    return seed * 1_000_033 + int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def _mlm_sequences(cfg: TrainConfig, tokenizer) -> tuple[list[list[int]], list[list[int]]]:
    """Packed training sequences, languages resampled by size**alpha, and a packed dev set
    made of the first lines of each corpus (never trained on)."""
    bos = _first_set(tokenizer.cls_token_id, tokenizer.bos_token_id)
    eos = _first_set(tokenizer.sep_token_id, tokenizer.eos_token_id)
    corpora, dev = {}, []
    for lang in cfg.mlm_languages:
        lines = (
            read_hub_corpus(cfg.mlm_hub, lang, cfg.data.cache_dir)
            if cfg.mlm_hub
            else read_corpus(data_root(cfg.data), cfg.mlm_corpus, lang)
        )
        ids = tokenizer(lines, add_special_tokens=False)["input_ids"]
        held = max(1, int(len(lines) * MLM_DEV_SHARE))
        packed = lambda part: pack(part, cfg.optim.max_length, bos, eos)  # noqa: E731
        dev.extend(packed(ids[:held]))
        corpora[lang] = packed(ids[held:])
    return balanced_sample(corpora, cfg.mlm_alpha, cfg.seed), dev


def _first_set(*ids: int | None) -> int | None:
    return next((i for i in ids if i is not None), None)


def _total_steps(train: TrainStream, cfg: TrainConfig) -> int:
    per_epoch = train.micro_batches_per_epoch() / cfg.optim.grad_accum
    return max(cfg.optim.rounds, math.ceil(per_epoch * cfg.optim.epochs))

"""Masked language modelling data: packed text streams, a language-balanced sample of them,
and dynamic masking."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from trainers.formats.base import IGNORE, Batch, pad_ids


def pack(
    sentences: Sequence[Sequence[int]], max_length: int, bos: int | None, eos: int
) -> list[list[int]]:
    """Consecutive sentences of one language packed into sequences `<s> a </s> b </s> ...` of at
    most `max_length` tokens, as XLM-R trains on text streams: one sentence per sequence would
    spend most of each batch on padding. A sentence too long for a sequence is cut; tokenizers
    without a start token (mT5's) get none."""
    start = [] if bos is None else [bos]
    packed: list[list[int]] = []
    current = list(start)
    for ids in sentences:
        ids = list(ids[: max_length - len(start) - 1])
        if len(current) + len(ids) + 1 > max_length:
            packed.append(current)
            current = list(start)
        current += [*ids, eos]
    if len(current) > len(start):
        packed.append(current)
    return packed


def balanced_sample(corpora: dict[str, list], alpha: float, seed: int) -> list:
    """Resample languages with probability ∝ n^alpha (XLM-R's smoothing, alpha 0.3).

    Low-resource languages are upsampled so they are not drowned by English; the sample keeps
    the total size of the corpora.
    """
    sizes = {lang: len(lines) for lang, lines in corpora.items()}
    total = sum(sizes.values())
    weights = {lang: n**alpha for lang, n in sizes.items()}
    norm = sum(weights.values())
    rng = random.Random(seed)
    sample: list[str] = []
    for lang in sorted(corpora):
        want = round(total * weights[lang] / norm)
        lines = corpora[lang]
        sample.extend(lines[i % len(lines)] for i in rng.sample(range(max(want, len(lines))), want))
    rng.shuffle(sample)
    return sample


class MaskingCollator:
    """BERT's 80/10/10 masking, drawn from a generator the caller seeds (reproducible batches)."""

    def __init__(self, tokenizer, probability: float):
        self.mask_id = tokenizer.mask_token_id
        self.pad_id = tokenizer.pad_token_id
        self.vocab_size = len(tokenizer)
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.probability = probability

    def __call__(self, features: Sequence[dict], generator: torch.Generator) -> Batch:
        ids, mask = pad_ids([f["input_ids"] for f in features], self.pad_id)
        labels = ids.clone()
        maskable = ~torch.isin(ids, self.special)
        chosen = (torch.rand(ids.shape, generator=generator) < self.probability) & maskable
        labels[~chosen] = IGNORE
        roll = torch.rand(ids.shape, generator=generator)
        inputs = ids.clone()
        inputs[chosen & (roll < 0.8)] = self.mask_id
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[swap] = torch.randint(self.vocab_size, ids.shape, generator=generator)[swap]
        return {"input_ids": inputs, "attention_mask": mask, "labels": labels}

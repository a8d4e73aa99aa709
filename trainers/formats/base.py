"""The format interface and the collation every format shares (dynamic padding)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import nn

from trainers.tasks.registry import Task

Feature = dict[str, Any]
Batch = dict[str, torch.Tensor]
IGNORE = -100
# Per metric, one (numerator, denominator) per example: the metric is sum(num) / sum(den), so
# resampling examples (a bootstrap) resamples the metric.
ExampleStats = dict[str, tuple[list[float], list[float]]]


class Format(Protocol):
    name: str

    def featurize(
        self, task: Task, examples: Sequence, tokenizer, max_length: int
    ) -> list[Feature]:
        """Features carry `input_ids` and `example` (the index of the example they came from)."""

    def collate(self, features: Sequence[Feature], pad_id: int) -> Batch: ...

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module: ...

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor: ...

    def predict(self, logits: torch.Tensor, batch: Batch) -> list[Any]:
        """One prediction per feature in the batch, in batch order."""

    def score(
        self,
        task: Task,
        examples: Sequence,
        features: Sequence[Feature],
        predictions: Sequence[Any],
        language: str = "en",
    ) -> dict[str, float]:
        """Metrics over all examples, from one prediction per feature. `language` is the
        language of `examples`: some metrics normalise text per language (MLQA)."""

    def example_stats(
        self,
        task: Task,
        examples: Sequence,
        features: Sequence[Feature],
        predictions: Sequence[Any],
        language: str = "en",
    ) -> ExampleStats:
        """`score`'s metrics as per-example sums, one entry per example in `examples`' order
        (never per feature or window): `ratios` of the result is `score`'s result."""


def ratios(stats: ExampleStats) -> dict[str, float]:
    """Each metric as sum(numerators) / sum(denominators). Nothing to count (no entity predicted
    or gold, say) scores 0, as seqeval's and BUCC's F1 do."""
    out = {}
    for metric, (num, den) in stats.items():
        total = sum(den)
        out[metric] = sum(num) / total if total else 0.0
    return out


def pad_ids(seqs: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest sequence in the batch, not to max_length: padding is wasted compute."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask

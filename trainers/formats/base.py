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


def pad_ids(seqs: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest sequence in the batch, not to max_length: padding is wasted compute."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask

"""Multiple choice (HellaSwag, Cosmos QA, CommonsenseQA, XCOPA): score each choice, pick one.

Every choice is encoded as a pair with the context, the encoder reads all of them as one flat
batch, and a scorer gives one logit per choice; the loss is cross-entropy over the choices
(a softmax across them, not an independent yes/no per choice).

How an example becomes pairs (first segment, second segment):
- with a context: (context, question + " " + choice). HellaSwag: (ctx, ending), the question
  is empty; Cosmos QA: (paragraph, question + answer); XCOPA: (premise, cause/effect question
  + alternative).
- without a context: (question, choice). CommonsenseQA: (stem, answer).
Only the first segment is ever truncated, and from its start: the choice is what is being
scored, and the end of the context (HellaSwag's ctx_b) is what the ending continues.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainers.data.examples import MultipleChoiceExample
from trainers.formats.base import Batch, ExampleStats, Feature, pad_ids, ratios
from trainers.formats.classification import PooledClassifier, accuracy_stats
from trainers.tasks.registry import Task


class ChoiceScorer(nn.Module):
    """One score per choice from pooled hidden states, reshaped to (batch, choices)."""

    def __init__(self, hidden_size: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        self.score = PooledClassifier(hidden_size, 1, pooling, dropout)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        present = batch["choice_mask"]
        scores = self.score(hidden, batch).view(present.shape)
        # Padding choices (an example with fewer choices than its batch-mates) never win.
        return scores.masked_fill(~present, torch.finfo(scores.dtype).min)


def choice_pair(example: MultipleChoiceExample, choice: str) -> tuple[str, str]:
    """The (first, second) segments one choice is encoded as; see the module docstring."""
    if example.context:
        return example.context, f"{example.question} {choice}".strip()
    return example.question, choice


class MultipleChoiceFormat:
    name = "multiple_choice"

    def featurize(
        self, task: Task, examples: Sequence[MultipleChoiceExample], tokenizer, max_length: int
    ) -> list[Feature]:
        pairs = [choice_pair(e, c) for e in examples for c in e.choices]
        if not pairs:
            return []
        firsts, seconds = [list(side) for side in zip(*pairs, strict=True)]
        ids = _encode_keeping_choices(tokenizer, firsts, seconds, max_length)
        features, offset = [], 0
        for i, example in enumerate(examples):
            if not 0 <= example.label < len(example.choices):
                raise ValueError(
                    f"example {i}: label {example.label} is not one of "
                    f"{len(example.choices)} choices"
                )
            n = len(example.choices)
            features.append(
                {"input_ids": ids[offset : offset + n], "label": example.label, "example": i}
            )
            offset += n
        return features

    def collate(self, features: Sequence[Feature], pad_id: int) -> Batch:
        width = max(len(f["input_ids"]) for f in features)
        present = torch.zeros((len(features), width), dtype=torch.bool)
        seqs = []
        for row, f in enumerate(features):
            choices = f["input_ids"]
            present[row, : len(choices)] = True
            # A missing choice is filled with a real sequence (never an all-padding row, whose
            # attention would be undefined); its score is masked out by the head.
            seqs.extend(choices + [choices[0]] * (width - len(choices)))
        ids, mask = pad_ids(seqs, pad_id)
        labels = torch.tensor([f["label"] for f in features], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "choice_mask": present, "labels": labels}

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return ChoiceScorer(hidden_size, pooling)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(logits.float(), batch["labels"])

    def predict(self, logits: torch.Tensor, batch: Batch) -> list[int]:
        return logits.argmax(-1).tolist()

    def score(
        self, task, examples, features, predictions, language: str = "en"
    ) -> dict[str, float]:
        return ratios(self.example_stats(task, examples, features, predictions, language))

    def example_stats(
        self, task, examples, features, predictions, language: str = "en"
    ) -> ExampleStats:
        return accuracy_stats(len(examples), features, predictions)


def _encode_keeping_choices(
    tokenizer, firsts: list[str], seconds: list[str], max_length: int
) -> list[list[int]]:
    """Pair encodings no longer than max_length that cut the first segment, from its start."""
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    second_len = [len(s) for s in tokenizer(seconds, add_special_tokens=False)["input_ids"]]
    # A choice that alone fills the budget (hundreds of tokens) cannot keep the promise above:
    # it is cut from its end instead of failing the whole run.
    fits = [n < room for n in second_len]
    out: list = [None] * len(firsts)
    # The side a call truncates from is a setting of the tokenizer itself: set, then restored.
    side = tokenizer.truncation_side
    for keep, strategy, direction in (
        (True, "only_first", "left"),
        (False, "longest_first", "right"),
    ):
        rows = [i for i, ok in enumerate(fits) if ok == keep]
        if not rows:
            continue
        tokenizer.truncation_side = direction
        try:
            encoded = tokenizer(
                [firsts[i] for i in rows],
                [seconds[i] for i in rows],
                truncation=strategy,
                max_length=max_length,
            )["input_ids"]
        finally:
            tokenizer.truncation_side = side
        for i, ids in zip(rows, encoded, strict=True):
            out[i] = ids
    return out

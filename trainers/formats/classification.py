"""Single-sentence and sentence-pair classification (NLI, paraphrase, sentiment)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from trainers.data.examples import ClassificationExample
from trainers.formats.base import Batch, ExampleStats, Feature, pad_ids, ratios
from trainers.tasks.registry import Task


class PooledClassifier(nn.Module):
    """A RoBERTa-style head on pooled hidden states; works on any encoder's last layer."""

    def __init__(self, hidden_size: int, num_labels: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        self.pooling = pooling
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        pooled = pool(hidden, batch["attention_mask"], self.pooling)
        return self.out(self.dropout(torch.tanh(self.dense(self.dropout(pooled)))))


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    if pooling == "first":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class ClassificationFormat:
    name = "classification"

    def featurize(
        self, task: Task, examples: Sequence[ClassificationExample], tokenizer, max_length: int
    ) -> list[Feature]:
        index = {label: i for i, label in enumerate(task.labels)}
        pairs = examples[0].text_b is not None if examples else False
        encoded = tokenizer(
            [e.text_a for e in examples],
            [e.text_b for e in examples] if pairs else None,
            truncation=True,
            max_length=max_length,
        )
        return [
            {"input_ids": ids, "label": index[e.label], "example": i}
            for i, (ids, e) in enumerate(zip(encoded["input_ids"], examples, strict=True))
        ]

    def collate(self, features: Sequence[Feature], pad_id: int) -> Batch:
        ids, mask = pad_ids([f["input_ids"] for f in features], pad_id)
        labels = torch.tensor([f["label"] for f in features], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return PooledClassifier(hidden_size, task.num_labels, pooling)

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


def accuracy_stats(n_examples: int, features: Sequence[Feature], predictions) -> ExampleStats:
    """{"accuracy": (correct, 1) per example}, for formats with one feature per example."""
    correct = [0.0] * n_examples
    for feature, prediction in zip(features, predictions, strict=True):
        correct[feature["example"]] = float(prediction == feature["label"])
    return {"accuracy": (correct, [1.0] * n_examples)}

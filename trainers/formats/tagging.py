"""Token tagging (POS, NER): the first sub-token of each word carries the word's label.

Long sentences are split into windows of whole words, never truncated, so every gold tag is
predicted exactly once and scored (older tools silently dropped the tags past max length).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from trainers.data.examples import TaggingExample
from trainers.formats.base import IGNORE, Batch, ExampleStats, Feature, pad_ids, ratios
from trainers.tasks.registry import Task


class TokenClassifier(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.out(self.dropout(hidden))


def word_windows(piece_counts: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Split words into consecutive [start, end) windows whose sub-tokens fit in `budget`.

    A single word longer than the budget gets a window of its own (its sub-tokens are cut
    after the first, which still carries the label).
    """
    windows, start, used = [], 0, 0
    for i, count in enumerate(piece_counts):
        count = min(count, budget)
        if used + count > budget and i > start:
            windows.append((start, i))
            start, used = i, 0
        used += count
    windows.append((start, len(piece_counts)))
    return windows


class TaggingFormat:
    name = "tagging"

    def featurize(
        self, task: Task, examples: Sequence[TaggingExample], tokenizer, max_length: int
    ) -> list[Feature]:
        index = {label: i for i, label in enumerate(task.labels)}
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        budget = max_length - 2
        # Sub-tokens of every word once, without special tokens, in one fast batched call.
        words = [w for e in examples for w in e.tokens]
        pieces = tokenizer(words, add_special_tokens=False)["input_ids"]
        # A word the tokenizer turns into nothing (e.g. a lone control character) still needs
        # a position to carry its label.
        pieces = [p if p else [tokenizer.unk_token_id] for p in pieces]
        features, offset = [], 0
        for ex_index, example in enumerate(examples):
            word_pieces = pieces[offset : offset + len(example.tokens)]
            offset += len(example.tokens)
            for start, end in word_windows([len(p) for p in word_pieces], budget):
                ids, labels, word_index = [cls_id], [IGNORE], []
                for w in range(start, end):
                    kept = word_pieces[w][:budget]
                    ids.extend(kept)
                    labels.extend([index[example.tags[w]]] + [IGNORE] * (len(kept) - 1))
                    word_index.append(w)
                ids.append(sep_id)
                labels.append(IGNORE)
                features.append(
                    {"input_ids": ids, "labels": labels, "example": ex_index, "words": word_index}
                )
        return features

    def collate(self, features: Sequence[Feature], pad_id: int) -> Batch:
        ids, mask = pad_ids([f["input_ids"] for f in features], pad_id)
        labels = torch.full_like(ids, IGNORE)
        for row, f in enumerate(features):
            labels[row, : len(f["labels"])] = torch.tensor(f["labels"], dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return TokenClassifier(hidden_size, task.num_labels)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(
            logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE
        )

    def predict(self, logits: torch.Tensor, batch: Batch) -> list[list[int]]:
        best = logits.argmax(-1)
        labelled = batch["labels"] != IGNORE
        return [best[row][labelled[row]].tolist() for row in range(best.shape[0])]

    def score(
        self, task, examples, features, predictions, language: str = "en"
    ) -> dict[str, float]:
        return ratios(self.example_stats(task, examples, features, predictions, language))

    def example_stats(
        self, task, examples, features, predictions, language: str = "en"
    ) -> ExampleStats:
        predicted: list[list[str | None]] = [[None] * len(e.tokens) for e in examples]
        for feature, tags in zip(features, predictions, strict=True):
            for word, tag in zip(feature["words"], tags, strict=True):
                predicted[feature["example"]][word] = task.labels[tag]
        if any(tag is None for sent in predicted for tag in sent):
            raise AssertionError("a word was never predicted: the windows must cover every word")
        return tagging_stats([list(e.tags) for e in examples], predicted)


def tagging_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """{"f1": seqeval's span F1, "token_accuracy"} over every word of every sentence."""
    return ratios(tagging_stats(gold, predicted))


def tagging_stats(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> ExampleStats:
    """Per sentence, "f1" as (2 x correct chunks, predicted + gold chunks), since micro F1 is
    2TP / (|pred| + |gold|), and "token_accuracy" as (correct words, words).

    Chunks are seqeval's own (`get_entities`, its default conlleval-compatible mode), so the
    sums give seqeval's `f1_score` over all sentences: it never lets a chunk cross sentences.
    """
    # Imported here: seqeval pulls in scikit-learn (~1.5 s), which every Ray worker would
    # otherwise pay at start-up whatever its task.
    from seqeval.metrics.sequence_labeling import get_entities

    f1_num, f1_den, correct, words = [], [], [], []
    with warnings.catch_warnings():
        # seqeval warns that UPOS tags are not IOB entity tags; XTREME scores POS with it
        # all the same (each run of one tag is a chunk), and so do we, for comparability.
        warnings.simplefilter("ignore", UserWarning)
        for gs, ps in zip(gold, predicted, strict=True):
            if len(gs) != len(ps):
                raise ValueError(f"{len(ps)} predicted tags for a sentence of {len(gs)} words")
            true_chunks, pred_chunks = set(get_entities(list(gs))), set(get_entities(list(ps)))
            f1_num.append(2.0 * len(true_chunks & pred_chunks))
            f1_den.append(float(len(true_chunks) + len(pred_chunks)))
            correct.append(float(sum(p == g for p, g in zip(ps, gs, strict=True))))
            words.append(float(len(gs)))
    return {"f1": (f1_num, f1_den), "token_accuracy": (correct, words)}

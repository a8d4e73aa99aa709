"""Extractive span QA (SQuAD v1.1/v2, XQuAD, MLQA, TyDiQA-GoldP) with sliding windows.

A long context becomes several windows (features), each the question plus a slice of the
context; consecutive windows share `doc_stride` tokens (the fast tokenizer's `stride`, the
meaning HF's run_qa gives doc_stride=128), so every context token is in some window and an
answer near a window's edge is whole in the next one. A window that does not contain the whole
answer, or an unanswerable question, is trained to point at position 0 (the CLS token).

At evaluation every window proposes its n-best spans inside the context; an example's answer
is its best-scoring span over all windows, cut from the original context by character offsets.
The variants registered in `trainers.formats` differ only in scoring:
- "span_qa": SQuAD v1.1 rules (always answer; SQuAD normalisation): SQuAD v1.1, XQuAD, TyDiQA.
- "span_qa_v2": SQuAD v2, where "" is predicted when the null score (CLS start + end, the lowest
  over the example's windows, as BERT's and HF's SQuAD v2 code take it) beats the best span.
- "span_qa_mlqa": MLQA's per-language normalisation of answers.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from trainers.data.examples import SpanQAExample
from trainers.formats.base import Batch, ExampleStats, Feature, pad_ids, ratios
from trainers.formats.qa_metrics import NORMALIZATIONS, qa_stats
from trainers.tasks.registry import Task

CLS = 0


class SpanHead(nn.Module):
    """Start and end logits per token: logits[..., 0] and logits[..., 1]."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        return self.out(hidden)


class SpanQAFormat:
    def __init__(
        self,
        name: str = "span_qa",
        *,
        doc_stride: int = 128,
        max_query_length: int = 64,
        max_answer_length: int = 30,
        n_best: int = 20,
        allow_null: bool = False,
        null_threshold: float = 0.0,
        normalization: str = "squad",
    ):
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; known: {NORMALIZATIONS}")
        self.name = name
        self.doc_stride = doc_stride
        self.max_query_length = max_query_length
        self.max_answer_length = max_answer_length
        self.n_best = n_best
        self.allow_null = allow_null
        self.null_threshold = null_threshold
        self.normalization = normalization

    def with_windows(
        self, doc_stride: int, max_query_length: int, max_answer_length: int
    ) -> SpanQAFormat:
        """This format with a spec's window settings (the registry keeps the defaults)."""
        configured = copy.copy(self)
        configured.doc_stride = doc_stride
        configured.max_query_length = max_query_length
        configured.max_answer_length = max_answer_length
        return configured

    def featurize(
        self, task: Task, examples: Sequence[SpanQAExample], tokenizer, max_length: int
    ) -> list[Feature]:
        if not examples:
            return []
        questions = self._clip_questions(tokenizer, [e.question for e in examples])
        longest = max(len(q) for q in tokenizer(questions, add_special_tokens=False)["input_ids"])
        room = max_length - tokenizer.num_special_tokens_to_add(pair=True) - longest
        if room < 2:
            raise ValueError(f"max_length {max_length} leaves no room for the context")
        encoded = tokenizer(
            questions,
            [e.context for e in examples],
            truncation="only_second",
            max_length=max_length,
            # The tokenizer needs the overlap below the context room of every window; short
            # max_lengths (tests, tiny models) get half the room instead of an error.
            stride=min(self.doc_stride, room // 2),
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        chars = [answer_chars(e) for e in examples]
        lost = sum(c is None for c, e in zip(chars, examples, strict=True) if e.answers)
        if lost:
            warnings.warn(
                f"{lost} of {len(examples)} answers are not in their context; "
                "their windows are labelled as unanswerable",
                stacklevel=2,
            )
        features = []
        for row, ids in enumerate(encoded["input_ids"]):
            ex = encoded["overflow_to_sample_mapping"][row]
            in_context = [i for i, s in enumerate(encoded.sequence_ids(row)) if s == 1]
            if not in_context:
                raise ValueError(f"question {examples[ex].qid}: the context is empty")
            first = in_context[0]
            # Only context offsets are kept, as a compact array: SQuAD's train set has ~130k
            # windows and lists of tuples would cost gigabytes.
            offsets = np.asarray(
                encoded["offset_mapping"][row][first : in_context[-1] + 1], dtype=np.int32
            )
            start, end = _answer_positions(chars[ex], offsets)
            features.append(
                {
                    "input_ids": ids,
                    "example": ex,
                    "context_start": first,
                    "offsets": offsets,
                    "start": CLS if start is None else first + start,
                    "end": CLS if end is None else first + end,
                }
            )
        return features

    def _clip_questions(self, tokenizer, questions: list[str]) -> list[str]:
        """Questions cut to max_query_length tokens (at a token boundary of the text), so a
        long question cannot crowd out the context. Leading spaces go: they only cost tokens."""
        questions = [q.lstrip() for q in questions]
        spans = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
        return [
            q if len(o) <= self.max_query_length else q[: o[self.max_query_length - 1][1]]
            for q, o in zip(questions, spans["offset_mapping"], strict=True)
        ]

    def collate(self, features: Sequence[Feature], pad_id: int) -> Batch:
        ids, mask = pad_ids([f["input_ids"] for f in features], pad_id)
        context = torch.zeros_like(mask, dtype=torch.bool)
        for row, f in enumerate(features):
            context[row, f["context_start"] : f["context_start"] + len(f["offsets"])] = True
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "context_mask": context,
            "start_positions": torch.tensor([f["start"] for f in features], dtype=torch.long),
            "end_positions": torch.tensor([f["end"] for f in features], dtype=torch.long),
        }

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return SpanHead(hidden_size)

    def loss(self, logits: torch.Tensor, batch: Batch) -> torch.Tensor:
        logits = logits.float().masked_fill(~batch["attention_mask"].bool().unsqueeze(-1), -1e4)
        start = nn.functional.cross_entropy(logits[..., 0], batch["start_positions"])
        end = nn.functional.cross_entropy(logits[..., 1], batch["end_positions"])
        return (start + end) / 2

    @torch.no_grad()
    def predict(self, logits: torch.Tensor, batch: Batch) -> list[dict]:
        """Per window: {"spans": [(start, end, score), ...] best first, "null": CLS score}.

        Spans lie inside the context, end >= start, at most max_answer_length tokens; the
        n-best are exact over all such pairs (one (length x length) score table per window).
        """
        logits = logits.float()
        start, end = logits[..., 0], logits[..., 1]
        null = (start[:, CLS] + end[:, CLS]).tolist()
        context = batch["context_mask"].bool()
        length = start.shape[1]
        pos = torch.arange(length, device=logits.device)
        span = pos[None, :] - pos[:, None]  # end - start
        allowed = (span >= 0) & (span < self.max_answer_length)
        allowed = allowed[None] & context[:, :, None] & context[:, None, :]
        table = (start[:, :, None] + end[:, None, :]).masked_fill(~allowed, -math.inf)
        k = min(self.n_best, length * length)
        scores, flat = table.flatten(1).topk(k, dim=1)
        out = []
        for row in range(table.shape[0]):
            keep = torch.isfinite(scores[row])
            s, e = (flat[row][keep] // length).tolist(), (flat[row][keep] % length).tolist()
            spans = list(zip(s, e, scores[row][keep].tolist(), strict=True))
            out.append({"spans": spans, "null": null[row]})
        return out

    def score(
        self,
        task: Task,
        examples: Sequence[SpanQAExample],
        features: Sequence[Feature],
        predictions: Sequence[dict],
        language: str = "en",
    ) -> dict[str, float]:
        return ratios(self.example_stats(task, examples, features, predictions, language))

    def example_stats(
        self,
        task: Task,
        examples: Sequence[SpanQAExample],
        features: Sequence[Feature],
        predictions: Sequence[dict],
        language: str = "en",
    ) -> ExampleStats:
        """Per question (not per window): its answer is already the best over its windows."""
        texts = self.answers(examples, features, predictions)
        golds = [[a.text for a in e.answers] for e in examples]
        return qa_stats(texts, golds, self.normalization, language)

    def answers(
        self,
        examples: Sequence[SpanQAExample],
        features: Sequence[Feature],
        predictions: Sequence[dict],
    ) -> list[str]:
        """Each example's predicted answer text, from the best span over all its windows."""
        best: list[tuple[float, str]] = [(-math.inf, "")] * len(examples)
        null = [math.inf] * len(examples)
        for feature, prediction in zip(features, predictions, strict=True):
            ex = feature["example"]
            null[ex] = min(null[ex], prediction["null"])
            if not prediction["spans"]:
                continue
            start, end, score = prediction["spans"][0]
            if score > best[ex][0]:
                offsets, first = feature["offsets"], feature["context_start"]
                chars = (int(offsets[start - first][0]), int(offsets[end - first][1]))
                best[ex] = (score, examples[ex].context[chars[0] : chars[1]].strip())
        texts = []
        for (score, text), null_score in zip(best, null, strict=True):
            if self.allow_null and null_score - score > self.null_threshold:
                text = ""
            texts.append(text)
        return texts


def answer_chars(example: SpanQAExample) -> tuple[int, int] | None:
    """The first gold answer's [start, end) characters in the context; None if unanswerable
    or if the answer text is nowhere in the context."""
    if not example.answers:
        return None
    answer = example.answers[0]
    start = answer.start
    if example.context[start : start + len(answer.text)] != answer.text:
        # A stale offset (seen in converted datasets): the occurrence nearest to it.
        found = _occurrences(example.context, answer.text)
        if not found:
            return None
        start = min(found, key=lambda m: abs(m - answer.start))
    return start, start + len(answer.text)


def _occurrences(text: str, sub: str) -> list[int]:
    found, at = [], text.find(sub) if sub else -1
    while at >= 0:
        found.append(at)
        at = text.find(sub, at + 1)
    return found


def _answer_positions(
    chars: tuple[int, int] | None, offsets: np.ndarray
) -> tuple[int | None, int | None]:
    """Token indices (into `offsets`, the window's context tokens) of the answer's first and
    last token, or (None, None) when the window does not hold the whole answer."""
    if chars is None:
        return None, None
    start_char, end_char = chars
    if offsets[0][0] > start_char or offsets[-1][1] < end_char:
        return None, None
    # Start: the last token before the first one that starts after the answer does; end: the
    # first token after the last one that ends before the answer does. A lone "▁" piece that
    # shares its offsets with the next piece thus gives way to the piece carrying the text.
    after = np.flatnonzero(offsets[:, 0] > start_char)
    before = np.flatnonzero(offsets[:, 1] < end_char)
    start = (int(after[0]) if after.size else len(offsets)) - 1
    end = (int(before[-1]) if before.size else -1) + 1
    return start, end

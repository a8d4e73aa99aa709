"""Prediction files in XTREME's submission formats: what `trainers.submission` reads back, written
from an evaluation's predictions, so that `xstilts score` re-scores a trial's kept predictions to
the numbers in the results store and a user can look at its errors.

One file per (task, split, language), `<split>-<lang>.tsv` (`.json` for span QA), in the gold
file's example order; the layouts are in `trainers.submission`'s docstring. Each file is written
to a temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from trainers.data.examples import RetrievalSet
from trainers.formats.retrieval import gold_indices, knn, mine_bucc
from trainers.submission import RANK_DEPTH
from trainers.tasks.registry import Task


def prediction_name(task: Task, split: str, language: str) -> str:
    suffix = "json" if task.format.startswith("span_qa") else "tsv"
    return f"{split}-{language}.{suffix}"


def write_predictions(
    task: Task, language: str, examples: Sequence, features, predictions, path: Path, fmt
) -> Path:
    """A head format's file from one prediction per feature (as `fmt.predict` made them)."""
    if task.format.startswith("span_qa"):
        answers = fmt.answers(examples, features, predictions)
        text = json.dumps(
            {e.qid: a for e, a in zip(examples, answers, strict=True)}, ensure_ascii=False, indent=0
        )
        return _write(path, text + "\n")
    if task.format == "tagging":
        return _write(path, _tagging_text(task, examples, features, predictions))
    # Classification and multiple choice: one feature per example, in example order.
    by_example = {f["example"]: p for f, p in zip(features, predictions, strict=True)}
    values = [by_example[i] for i in range(len(examples))]
    if task.format == "classification":
        return _write(path, "".join(f"{task.labels[v]}\n" for v in values))
    if task.format == "multiple_choice":
        return _write(path, "".join(f"{v}\n" for v in values))
    raise ValueError(f"task {task.name}: no submission format for format {task.format!r}")


def _tagging_text(task: Task, examples, features, predictions) -> str:
    """`word<TAB>tag` lines, a blank line after each sentence; a word's tag comes from the
    window that predicted it (as `TaggingFormat.score` takes it)."""
    tags: list[list[str | None]] = [[None] * len(e.tokens) for e in examples]
    for feature, predicted in zip(features, predictions, strict=True):
        for word, tag in zip(feature["words"], predicted, strict=True):
            tags[feature["example"]][word] = task.labels[tag]
    lines = []
    for example, sentence in zip(examples, tags, strict=True):
        lines.extend(f"{w}\t{t}" for w, t in zip(example.tokens, sentence, strict=True))
        lines.append("")
    return "\n".join(lines) + "\n"


def write_retrieval_predictions(
    kind: str,
    retrieval_set: RetrievalSet,
    query_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    path: Path,
    threshold: float | None = None,
) -> Path:
    """BUCC: the mined pairs at or above `threshold` (the one the evaluation applied); Tatoeba:
    each query's nearest candidate; LAReQA and Mewsli-X: each query's top 20 candidates."""
    queries, candidates = retrieval_set.query_ids, retrieval_set.candidate_ids
    if kind == "bucc":
        if threshold is None:
            raise ValueError("BUCC predictions need the margin threshold the evaluation used")
        pairs = mine_bucc(query_emb, cand_emb, queries, candidates)
        return _write(path, "".join(f"{s}\t{t}\n" for s, t, score in pairs if score >= threshold))
    if kind == "tatoeba":
        _, top = knn(query_emb, cand_emb, 1)
        return _write(path, "".join(f"{row[0]}\n" for row in top.tolist()))
    if kind in ("lareqa", "mewslix"):
        # Only queries with a gold candidate are scored (as the evaluation scores them).
        asked = [i for i, gold in enumerate(gold_indices(retrieval_set)) if gold]
        _, top = knn(query_emb[asked], cand_emb, RANK_DEPTH)
        lines = [
            f"{queries[q]}\t{' '.join(candidates[c] for c in ranked)}\n"
            for q, ranked in zip(asked, top.tolist(), strict=True)
        ]
        return _write(path, "".join(lines))
    raise ValueError(f"no submission format for retrieval kind {kind!r}")


def _write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path

"""Prediction files in XTREME's submission formats, read back and scored with the same metric code
training and zero-shot evaluation use.

One file per (task, language), in the gold file's example order:

| format | a prediction file holds |
|---|---|
| classification | one label per line (`entailment`, `1`, ...) |
| multiple choice | one choice index per line (0-based) |
| tagging | one tag per line (or `word<TAB>tag`), a blank line after each sentence |
| span QA | a JSON object: question id -> answer text (`""`: no answer) |
| BUCC | one extracted pair per line: `source id<TAB>English id` |
| Tatoeba | one line per sentence: the index (0-based) of the English sentence retrieved |
| LAReQA, Mewsli-X | one line per query: `query id<TAB>candidate ids, best first, space-separated` |

A malformed file raises `DataError` naming the file and line; nothing is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from trainers.data.examples import DataError, RetrievalSet
from trainers.formats import get_format
from trainers.formats.qa_metrics import qa_scores
from trainers.formats.retrieval import average_precision, bucc_f1, reciprocal_rank
from trainers.formats.tagging import tagging_scores
from trainers.tasks.registry import Task

RANK_DEPTH = 20  # LAReQA and Mewsli-X report mAP@20 (and MRR@20)


def score_predictions(task: Task, language: str, gold: Sequence, path: Path) -> dict[str, float]:
    """Metrics of the prediction file `path` against `gold` (what `load_examples` returns)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: prediction file not found")
    if task.format == "retrieval":
        (retrieval_set,) = gold
        return _score_retrieval(task.reader, retrieval_set, path)
    if task.format == "classification":
        labels = _lines(path, len(gold), "label")
        for line_no, label in enumerate(labels, start=1):
            if label not in task.labels:
                raise DataError(f"{path}:{line_no}: label {label!r} is not one of {task.labels}")
        correct = sum(label == e.label for label, e in zip(labels, gold, strict=True))
        return {"accuracy": correct / len(gold)}
    if task.format == "multiple_choice":
        choices = _indices(
            path, _lines(path, len(gold), "choice index"), [len(e.choices) for e in gold]
        )
        return {
            "accuracy": sum(c == e.label for c, e in zip(choices, gold, strict=True)) / len(gold)
        }
    if task.format == "tagging":
        return tagging_scores([e.tags for e in gold], _tag_sentences(path, task, gold))
    if task.format.startswith("span_qa"):
        answers = _answers(path, [e.qid for e in gold])
        golds = [[a.text for a in e.answers] for e in gold]
        return qa_scores(answers, golds, get_format(task.format).normalization, language)
    raise DataError(f"task {task.name}: no submission format for format {task.format!r}")


def _lines(path: Path, expected: int, what: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(f"{path}:{line_no}: empty line (expected one {what} per line)")
    if len(lines) != expected:
        raise DataError(f"{path}: {len(lines)} lines for {expected} examples (one {what} a line)")
    return [line.strip() for line in lines]


def _indices(path: Path, lines: list[str], bounds: Sequence[int]) -> list[int]:
    out = []
    for line_no, (line, bound) in enumerate(zip(lines, bounds, strict=True), start=1):
        if not line.isdigit() or int(line) >= bound:
            raise DataError(f"{path}:{line_no}: {line!r} is not an index below {bound}")
        out.append(int(line))
    return out


def _tag_sentences(path: Path, task: Task, gold: Sequence) -> list[list[str]]:
    sentences: list[list[str]] = [[]]
    starts = [1]
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                if sentences[-1]:
                    sentences.append([])
                    starts.append(line_no + 1)
                continue
            tag = line.split("\t")[-1].strip()
            if tag not in task.labels:
                raise DataError(f"{path}:{line_no}: tag {tag!r} is not a {task.name} tag")
            sentences[-1].append(tag)
    if not sentences[-1]:
        sentences.pop()
    if len(sentences) != len(gold):
        raise DataError(f"{path}: {len(sentences)} sentences for {len(gold)} in the gold file")
    for n, (tags, example) in enumerate(zip(sentences, gold, strict=True)):
        if len(tags) != len(example.tokens):
            raise DataError(
                f"{path}:{starts[n]}: sentence {n + 1} has {len(tags)} tags "
                f"for {len(example.tokens)} words"
            )
    return sentences


def _answers(path: Path, qids: list[str]) -> list[str]:
    try:
        predicted = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: not JSON ({err.msg})") from None
    if not isinstance(predicted, dict) or not all(isinstance(v, str) for v in predicted.values()):
        raise DataError(f"{path}: expected a JSON object of question id -> answer text")
    missing = [q for q in qids if q not in predicted]
    extra = sorted(set(predicted) - set(qids))
    if missing or extra:
        raise DataError(
            f"{path}: {len(missing)} questions without an answer (e.g. {missing[:1]}), "
            f"{len(extra)} ids not in the gold file (e.g. {extra[:1]})"
        )
    return [predicted[q] for q in qids]


def _score_retrieval(kind: str, gold: RetrievalSet, path: Path) -> dict[str, float]:
    if kind == "bucc":
        known = (set(gold.query_ids), set(gold.candidate_ids))
        pairs = []
        for line_no, line in enumerate(_nonblank(path), start=1):
            fields = line.split("\t")
            if len(fields) != 2 or fields[0] not in known[0] or fields[1] not in known[1]:
                raise DataError(f"{path}:{line_no}: expected 'source id<TAB>English id' of the set")
            pairs.append((fields[0], fields[1], 1.0))
        precision, recall, f1 = bucc_f1(pairs, gold.gold, threshold=1.0)
        return {"f1": f1, "precision": precision, "recall": recall}
    if kind == "tatoeba":
        bounds = [len(gold.candidate_ids)] * len(gold.query_ids)
        found = _indices(path, _lines(path, len(gold.query_ids), "index"), bounds)
        hits = sum(
            gold.candidate_ids[i] in gold.gold[q]
            for q, i in zip(gold.query_ids, found, strict=True)
        )
        return {"accuracy": hits / len(found)}
    if kind in ("lareqa", "mewslix"):
        ranked = _rankings(path, gold)
        asked = [q for q in gold.query_ids if gold.gold.get(q)]
        ap = [average_precision(ranked[q], gold.gold[q], RANK_DEPTH) for q in asked]
        scores = {"map@20": sum(ap) / len(asked)}
        if kind == "mewslix":
            rr = [reciprocal_rank(ranked[q], gold.gold[q], RANK_DEPTH) for q in asked]
            scores["mrr@20"] = sum(rr) / len(asked)
        return scores
    raise DataError(f"no submission format for retrieval kind {kind!r}")


def _nonblank(path: Path) -> list[str]:
    return [
        line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _rankings(path: Path, gold: RetrievalSet) -> dict[str, list[str]]:
    queries, candidates = set(gold.query_ids), set(gold.candidate_ids)
    ranked: dict[str, list[str]] = {}
    for line_no, line in enumerate(_nonblank(path), start=1):
        query, _, rest = line.partition("\t")
        if query not in queries:
            raise DataError(f"{path}:{line_no}: query id {query!r} is not in the gold set")
        if query in ranked:
            raise DataError(f"{path}:{line_no}: query id {query!r} ranked twice")
        ids = rest.split()
        unknown = [c for c in ids if c not in candidates]
        if unknown:
            raise DataError(f"{path}:{line_no}: candidate id {unknown[0]!r} is not in the pool")
        ranked[query] = ids
    unanswered = [q for q in gold.query_ids if gold.gold.get(q) and q not in ranked]
    if unanswered:
        raise DataError(f"{path}: {len(unanswered)} queries not ranked (e.g. {unanswered[0]!r})")
    return ranked

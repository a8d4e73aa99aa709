"""Sentence(-pair) classification releases: XTREME's XNLI and PAWS-X TSVs, GLUE's SST-2 and QQP
TSVs, and the NLI jsonl releases (MultiNLI, SNLI, ANLI)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from trainers.data.examples import ClassificationExample, DataError
from trainers.data.readers._common import (
    delimited_rows,
    jsonl_rows,
    label_by_index,
    nonempty,
    report_skipped,
)

# MultiNLI and SNLI mark examples whose annotators disagreed with "-": the releases document
# them as unusable, so they are skipped and counted, never silently dropped.
MNLI_NO_LABEL = "-"
ANLI_LABELS = {"e": "entailment", "n": "neutral", "c": "contradiction"}
# GLUE TSV headers this reader knows: (first text column, second or None, label column).
GLUE_SCHEMAS = (
    ("sentence", None, "label"),  # SST-2
    ("question1", "question2", "is_duplicate"),  # QQP (also has id, qid1, qid2)
)


def _pair_tsv(
    path: Path, labels: tuple[str, ...], to_label: Callable[[str], str | None], hint: str
) -> list[ClassificationExample]:
    """`sentence1<TAB>sentence2<TAB>label` rows without a header (XTREME's csv-written TSVs)."""
    examples = []
    for line_no, cols in delimited_rows(path):
        if len(cols) == 2:
            raise DataError(
                f"{path}:{line_no}: no label column (XTREME strips test labels; "
                "use labelled files or evaluate on dev)"
            )
        if len(cols) != 3:
            raise DataError(
                f"{path}:{line_no}: expected 3 tab-separated columns, found {len(cols)}"
            )
        label = to_label(cols[2])
        if label not in labels:
            raise DataError(
                f"{path}:{line_no}: unknown label {cols[2]!r}; expected {hint or list(labels)}"
            )
        examples.append(ClassificationExample(cols[0], cols[1], label))
    return nonempty(examples, path)


def read_xnli_tsv(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """XTREME's XNLI layout: `sentence1<TAB>sentence2<TAB>label`, no header."""
    return _pair_tsv(path, labels, lambda raw: _canonical_nli_label(raw.strip()), "")


def read_pawsx_tsv(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """XTREME's PAWS-X layout: `sentence1<TAB>sentence2<TAB>0|1`, no header; 1 = paraphrase."""
    return _pair_tsv(path, labels, lambda raw: label_by_index(raw, labels), "0 or 1")


def read_glue_tsv(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """GLUE's SST-2 (`sentence label`) and QQP (`id qid1 qid2 question1 question2
    is_duplicate`) TSVs with their header row; integer labels index `labels`."""
    rows = delimited_rows(path, quoting=csv.QUOTE_NONE)  # GLUE's TSVs are not csv-quoted
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: no examples")
    header = first[1]
    schema = next((s for s in GLUE_SCHEMAS if s[0] in header), None)
    if schema is None:
        raise DataError(f"{path}:1: not a GLUE SST-2/QQP header: {header}")
    if schema[2] not in header:
        raise DataError(f"{path}:1: no {schema[2]!r} column (GLUE hides test labels; use dev.tsv)")
    a, b, y = (header.index(c) if c else None for c in schema)
    examples = []
    for line_no, cols in rows:
        if len(cols) != len(header):
            raise DataError(
                f"{path}:{line_no}: expected {len(header)} tab-separated columns, found {len(cols)}"
            )
        label = label_by_index(cols[y], labels)
        if label is None:
            raise DataError(f"{path}:{line_no}: unknown label {cols[y]!r}; expected 0 or 1")
        examples.append(ClassificationExample(cols[a], cols[b] if b is not None else None, label))
    return nonempty(examples, path)


def read_mnli_jsonl(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """MultiNLI 1.0 and SNLI 1.0: one JSON object per line with sentence1, sentence2, gold_label."""
    return _read_nli(path, labels, "MultiNLI")


def read_anli_jsonl(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """ANLI v1.0 (R1-R3): context, hypothesis and label "e" / "n" / "c"."""
    return _read_nli(path, labels, "ANLI")


def read_nli_jsonl(path: Path, labels: tuple[str, ...]) -> list[ClassificationExample]:
    """Any of the NLI jsonl releases (ANLI+ mixes them): the first record decides the schema,
    and every later record must follow it."""
    rows = jsonl_rows(path, "NLI")
    first = next(rows, None)
    rows.close()
    schema = "ANLI" if first is not None and "hypothesis" in first[1] else "MultiNLI"
    return _read_nli(path, labels, schema)


def _read_nli(path: Path, labels: tuple[str, ...], schema: str) -> list[ClassificationExample]:
    keys = ("context", "hypothesis", "label") if schema == "ANLI" else _MNLI_KEYS
    examples, skipped = [], 0
    for line_no, row in jsonl_rows(path, schema):
        try:
            premise, hypothesis, gold = (row[k] for k in keys)
        except KeyError as err:
            raise DataError(f"{path}:{line_no}: not a {schema} record (no {err})") from None
        if gold == MNLI_NO_LABEL and schema != "ANLI":
            skipped += 1
            continue
        label = ANLI_LABELS.get(str(gold)) if schema == "ANLI" else _canonical_nli_label(gold)
        if not isinstance(gold, str) or label not in labels:
            raise DataError(
                f"{path}:{line_no}: unknown {keys[2]} {gold!r}; expected one of "
                f"{list(ANLI_LABELS) if schema == 'ANLI' else list(labels)}"
            )
        examples.append(ClassificationExample(premise, hypothesis, label))
    report_skipped(path, skipped, "without a gold label ('-')")
    return nonempty(examples, path)


_MNLI_KEYS = ("sentence1", "sentence2", "gold_label")


def _canonical_nli_label(label: str) -> str:
    # XNLI's raw files say "contradictory"; XTREME's preprocessing maps it to "contradiction".
    return "contradiction" if label == "contradictory" else label

"""Multiple-choice releases: HellaSwag jsonl, Cosmos QA csv/jsonl, CommonsenseQA jsonl and
COPA/XCOPA jsonl, each into `MultipleChoiceExample`s (label = index of the right choice)."""

from __future__ import annotations

import csv
from pathlib import Path

from trainers.data.examples import DataError, MultipleChoiceExample
from trainers.data.readers._common import jsonl_rows, nonempty, open_text

COSMOS_ANSWERS = ("answer0", "answer1", "answer2", "answer3")
# XTREME's download script overwrites every XCOPA test label with 0 to prevent cheating; a long
# file whose labels are all 0 is that file, not data (2^-20 by chance for a balanced set).
ZEROED_LABELS_MIN_ROWS = 20


def read_hellaswag_jsonl(path: Path, labels: tuple[str, ...]) -> list[MultipleChoiceExample]:
    """HellaSwag's release: ctx (ctx_a + ctx_b), four endings, label; test has no labels."""
    examples = []
    for line_no, row in jsonl_rows(path, "HellaSwag"):
        ctx, endings = _fields(path, line_no, row, ("ctx", "endings"), "HellaSwag")
        if "label" not in row:
            raise DataError(f"{path}:{line_no}: no label (HellaSwag hides test labels; use val)")
        examples.append(_example(path, line_no, ctx, "", endings, row["label"]))
    return nonempty(examples, path)


def read_cosmosqa(path: Path, labels: tuple[str, ...]) -> list[MultipleChoiceExample]:
    """Cosmos QA's release: train.csv / valid.csv (a header row, quoted multi-line contexts) or
    the jsonl files, both with context, question, answer0-3 and label."""
    if path.suffix == ".jsonl":
        rows = jsonl_rows(path, "Cosmos QA")
    else:
        rows = _csv_dicts(path)
    examples = []
    for line_no, row in rows:
        context, question, *answers = _fields(
            path, line_no, row, ("context", "question", *COSMOS_ANSWERS), "Cosmos QA"
        )
        if row.get("label") in (None, ""):
            raise DataError(f"{path}:{line_no}: no label (Cosmos QA hides test labels; use valid)")
        examples.append(_example(path, line_no, context, question, answers, row["label"]))
    return nonempty(examples, path)


def read_commonsenseqa_jsonl(path: Path, labels: tuple[str, ...]) -> list[MultipleChoiceExample]:
    """CommonsenseQA's release: question.stem, question.choices [{label, text}], answerKey."""
    examples = []
    for line_no, row in jsonl_rows(path, "CommonsenseQA"):
        try:
            stem = row["question"]["stem"]
            keys = [c["label"] for c in row["question"]["choices"]]
            texts = [c["text"] for c in row["question"]["choices"]]
        except (KeyError, TypeError) as err:
            raise DataError(f"{path}:{line_no}: not a CommonsenseQA record ({err!r})") from None
        if "answerKey" not in row:
            raise DataError(f"{path}:{line_no}: no answerKey (test answers are hidden; use dev)")
        if row["answerKey"] not in keys:
            raise DataError(f"{path}:{line_no}: answerKey {row['answerKey']!r} not in {keys}")
        examples.append(_example(path, line_no, "", stem, texts, keys.index(row["answerKey"])))
    return nonempty(examples, path)


def read_copa_jsonl(path: Path, labels: tuple[str, ...]) -> list[MultipleChoiceExample]:
    """COPA (SuperGLUE) and XCOPA: premise, choice1, choice2, question ("cause"/"effect"), label.

    The question word is kept as released: the format decides how to phrase it, and an
    English template would otherwise be spliced into every XCOPA language.
    """
    examples = []
    for line_no, row in jsonl_rows(path, "COPA"):
        premise, one, two, question = _fields(
            path, line_no, row, ("premise", "choice1", "choice2", "question"), "COPA"
        )
        if question not in ("cause", "effect"):
            raise DataError(f"{path}:{line_no}: question {question!r} is not cause or effect")
        examples.append(_example(path, line_no, premise, question, (one, two), row.get("label")))
    if len(examples) >= ZEROED_LABELS_MIN_ROWS and all(e.label == 0 for e in examples):
        raise DataError(
            f"{path}: every label is 0: XTREME's download script zeroes XCOPA test labels; "
            "use the original release's test file (cambridgeltl/xcopa data/{lang}/test.{lang}.jsonl)"
        )
    return nonempty(examples, path)


def _fields(path: Path, line_no: int, row: dict, keys: tuple[str, ...], what: str) -> list:
    missing = [k for k in keys if k not in row]
    if missing:
        raise DataError(f"{path}:{line_no}: not a {what} record (no {', '.join(missing)})")
    return [row[k] for k in keys]


def _example(path, line_no, context, question, choices, label) -> MultipleChoiceExample:
    choices = tuple(choices)
    try:
        index = int(label)  # releases store it as an int, a digit string, or a csv field
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(choices) or isinstance(label, bool):
        raise DataError(
            f"{path}:{line_no}: label {label!r} is not a choice index 0-{len(choices) - 1}"
        )
    if not all(isinstance(c, str) for c in choices):
        raise DataError(f"{path}:{line_no}: choices must be strings")
    return MultipleChoiceExample(context, question, choices, index)


def _csv_dicts(path: Path):
    """(first line number, row) per csv record after the header row."""
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []  # reads the header row
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataError(f"{path}:{start}: {err}") from None
            # DictReader pads short rows with None and files extra fields under None.
            if None in row or None in row.values():
                raise DataError(f"{path}:{start}: expected {len(columns)} comma-separated columns")
            yield start, row

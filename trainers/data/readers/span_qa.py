"""SQuAD-format JSON (SQuAD v1.1 / v2.0, XQuAD, MLQA, TyDiQA-GoldP): data -> paragraphs -> qas.

JSON releases are one document (SQuAD's is a single line), so errors found after parsing name
the file, the line where the question's id appears and the question's JSON path.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainers.data.examples import Answer, DataError, SpanQAExample
from trainers.data.readers._common import line_of, nonempty, read_json


def read_squad_json(path: Path, labels: tuple[str, ...]) -> list[SpanQAExample]:
    """Every question in file order; SQuAD v2's `is_impossible` questions have no answers.

    Each answer's `answer_start` must point at its text in the context: a wrong offset would
    train the model on the wrong span, so it is an error, not a warning.
    """
    doc = read_json(path, "SQuAD-format")
    examples = []
    where = "data"
    try:
        for i, article in enumerate(doc["data"]):
            where = f"data[{i}]"
            for j, paragraph in enumerate(article["paragraphs"]):
                where = f"data[{i}].paragraphs[{j}]"
                context = paragraph["context"]
                for k, qa in enumerate(paragraph["qas"]):
                    where = f"data[{i}].paragraphs[{j}].qas[{k}]"
                    examples.append(_example(path, where, context, qa))
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}: {where}: not SQuAD format (missing or bad {err})") from None
    return nonempty(examples, path)


def _example(path: Path, where: str, context: str, qa: dict) -> SpanQAExample:
    qid, question = str(qa["id"]), qa["question"]

    def fail(message: str) -> DataError:
        line = line_of(path, json.dumps(qid))
        return DataError(f"{path}:{line}: {where} (id {qid}): {message}")

    impossible = bool(qa.get("is_impossible", False))
    answers = []
    for raw in qa["answers"]:
        try:
            text, start = raw["text"], raw["answer_start"]
        except (KeyError, TypeError) as err:
            raise fail(f"an answer without {err}") from None
        if not text:
            raise fail(
                "empty answer text (XTREME's download script strips test answers; use the "
                "original release's files)"
            )
        if not isinstance(start, int) or context[start : start + len(text)] != text:
            found = context[start : start + len(text)] if isinstance(start, int) else start
            raise fail(f"answer_start {start} points at {found!r}, not {text!r}")
        answers.append(Answer(text, start))
    if impossible and answers:
        raise fail("is_impossible but has answers")
    if not impossible and not answers:
        raise fail("no answers and not marked is_impossible")
    return SpanQAExample(qid, question, context, tuple(answers))

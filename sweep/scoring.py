"""`xstilts score`: one prediction file in XTREME's submission format against its gold file."""

from __future__ import annotations

from pathlib import Path

from trainers.config import DataConfig
from trainers.data.readers import READERS, SET_READERS
from trainers.data.source import load_examples, resolve_labels
from trainers.submission import score_predictions
from trainers.tasks import get_task


def score(
    task_name: str,
    language: str,
    predictions: Path,
    *,
    gold: list[Path] | None = None,
    data_root: Path | None = None,
    split: str = "test",
) -> dict:
    """The scored file as plain data: task, language, gold source, example count, metrics.

    Gold comes from `gold` (files in the task's release format, in the task's declared order
    for multi-file sets such as BUCC's `<lang>`, `en` and `gold` files) or from the task's own
    layout under `data_root`, as training and zero-shot evaluation read it."""
    task = get_task(task_name)
    data = DataConfig(source="local", root=str(data_root or "."))
    task = resolve_labels(task, data) if data_root else task
    if gold:
        if task.reader in SET_READERS:
            examples = [SET_READERS[task.reader](tuple(gold), task.labels)]
        else:
            examples = [e for path in gold for e in READERS[task.reader](path, task.labels)]
        source = [str(p) for p in gold]
    else:
        examples = load_examples(task, split, language, data)
        source = [f"{data_root} ({split})"]
    metrics = score_predictions(task, language, examples, predictions)
    n = len(examples[0].query_ids) if task.format == "retrieval" else len(examples)
    return {
        "task": task.name,
        "language": language,
        "gold": source,
        "predictions": str(predictions),
        "n_examples": n,
        "metrics": metrics,
    }

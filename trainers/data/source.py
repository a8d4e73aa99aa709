"""Loading a task split: a local directory in the release layout, or a Hugging Face dataset id."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trainers.config import DataConfig
from trainers.data.examples import DataError
from trainers.data.hub import load_hub
from trainers.data.readers import READERS, SET_READERS
from trainers.remote import local_dir
from trainers.tasks.registry import Task

SPLITS = ("train", "dev", "test")


def data_root(data: DataConfig) -> Path:
    """The local data root: itself, or, for a root on shared storage (`s3://bucket/xtreme`), this
    node's copy of it, fetched whole on first use (`trainers.remote.local_dir`)."""
    return Path(local_dir(data.root))


def local_paths(task: Task, split: str, lang: str, root: str | Path) -> tuple[Path, ...]:
    names = task.local.paths(split, lang)
    if not names:
        why = " (it has no training data: evaluate it directly)" if not task.needs_training else ""
        raise DataError(f"task {task.name} declares no local {split} files{why}")
    return tuple(Path(root) / name for name in names)


def load_examples(task: Task, split: str, lang: str, data: DataConfig) -> list:
    """The examples of one split in one language.

    Retrieval tasks return a one-element list: the split's `RetrievalSet` (queries are scored
    against the whole pool, so the set, not a query, is the unit a reader can produce).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    task = resolve_labels(task, data)
    if data.source == "hub":
        return load_hub(task, split, lang, data)
    paths = local_paths(task, split, lang, data_root(data))
    if task.reader in SET_READERS:
        return [SET_READERS[task.reader](paths, task.labels)]
    read = READERS[task.reader]
    return [example for path in paths for example in read(path, task.labels)]


def resolve_labels(task: Task, data: DataConfig) -> Task:
    """The task with `labels` read from its `label_file` (one label per line under the data
    root); tasks with declared labels come back unchanged.

    CCG's supertag set depends on the user's CCGbank conversion, so it cannot be declared.
    `Task` stays frozen: this returns a copy, and everything that sizes a head or indexes
    labels must use that copy (the loop's data setup and the zero-shot evaluator, right after
    `get_task`). `load_examples` calls it itself so readers check tags against the real set.
    """
    if task.label_file is None or task.labels:
        return task
    if data.source != "local":
        raise DataError(
            f"task {task.name}: its labels come from {task.label_file} under a local data root; "
            "use data.source: local"
        )
    path = data_root(data) / task.label_file
    if not path.is_file():
        raise DataError(
            f"{path}: label file not found (task {task.name} reads its label set from it, "
            "one label per line)"
        )
    labels: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            label = line.strip()
            if not label:
                continue
            if label in labels:
                raise DataError(f"{path}:{line_no}: label {label!r} listed twice")
            labels.append(label)
    if not labels:
        raise DataError(f"{path}: no labels")
    return dataclasses.replace(task, labels=tuple(labels))


def read_corpus(root: str | Path, template: str, lang: str) -> list[str]:
    """One sentence per line; blank lines are separators, not sentences."""
    path = Path(root) / template.format(lang=lang)
    if not path.is_file():
        raise DataError(f"{path}: corpus file not found")
    with open(path, encoding="utf-8") as fh:
        lines = [line.strip() for line in fh if line.strip()]
    if not lines:
        raise DataError(f"{path}: empty corpus")
    return lines


def load_translated(task: Task, translation, data: DataConfig) -> list:
    """Translated training examples of `task` (translate-train), read with the task's own reader.

    The file is a path under the data root (or absolute); hub tasks name a local file too.
    """
    name = translation.train.format(lang=translation.language)
    path = Path(name)
    if not path.is_absolute():
        if not data.root:
            raise DataError(
                f"task {task.name}: translated data {name} is relative but there is no data root"
            )
        path = data_root(data) / path
    if not path.is_file():
        raise DataError(f"{path}: translated training data of {task.name} not found")
    if task.reader in SET_READERS:
        raise DataError(f"task {task.name}: retrieval tasks have no training data to translate")
    return READERS[task.reader](path, resolve_labels(task, data).labels)


def read_hub_corpus(corpus, lang: str, cache_dir: str | None) -> list[str]:
    """One language of a hub text corpus (or a local dataset directory in the hub's layout)."""
    import datasets

    config = corpus.config.format(lang=lang) if corpus.config else None
    where = f"{corpus.dataset}[{config}:{corpus.split}]"
    try:
        rows = datasets.load_dataset(
            corpus.dataset, config, split=corpus.split, cache_dir=cache_dir
        )
    except Exception as err:  # offline, unknown config, ...: one line naming the corpus
        raise DataError(f"{where}: could not load ({type(err).__name__}: {err})") from err
    if corpus.column not in rows.column_names:
        raise DataError(f"{where}: no column {corpus.column!r}; columns: {rows.column_names}")
    lines: list[str] = []
    for text in rows[corpus.column]:
        lines.extend(line.strip() for line in str(text).splitlines() if line.strip())
        if corpus.max_lines and len(lines) >= corpus.max_lines:
            lines = lines[: corpus.max_lines]
            break
    if not lines:
        raise DataError(f"{where}: empty corpus")
    return lines

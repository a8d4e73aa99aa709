"""Loading a task split from the Hugging Face hub: each of the task's `HubSource`s that has the
split is loaded (with `datasets`) and its rows mapped to the format's examples through the
source's column mapping; several sources or hub splits are concatenated.

Rows without a label (hub test splits store -1 or "") are skipped, counted and reported, as the
local readers do; every other problem is a `DataError` naming dataset[config:split] and row.
"""

from __future__ import annotations

from collections.abc import Callable

from trainers.config import DataConfig
from trainers.data.examples import (
    Answer,
    ClassificationExample,
    DataError,
    MultipleChoiceExample,
    RetrievalSet,
    SpanQAExample,
    TaggingExample,
)
from trainers.tasks.registry import HubSource, Task


class Unlabelled(Exception):
    """A hub row whose label is missing (-1 or ""): skipped and counted, not an error."""


def load_hub(task: Task, split: str, lang: str, data: DataConfig) -> list:
    if not task.hub_sources():
        raise DataError(f"task {task.name} has no Hugging Face source; use data.source: local")
    sources = [hub for hub in task.hub_sources() if hub.serves(split, lang)]
    if not sources:
        raise DataError(f"task {task.name}: no Hugging Face source has {split} data for {lang}")
    import datasets  # imported here: a local run should not pay for it

    examples: list = []
    for hub in sources:
        names = hub.splits[split]
        try:
            config = hub.config_for(lang)
        except ValueError as err:
            raise DataError(f"task {task.name}: {err}") from None
        for name in (names,) if isinstance(names, str) else names:
            where = f"{hub.dataset}[{config}:{name}]"
            try:
                rows = datasets.load_dataset(
                    hub.dataset, config, split=name, cache_dir=data.cache_dir
                )
            except Exception as err:  # offline, unknown config, ...: one line naming the split
                raise DataError(f"{where}: could not load ({type(err).__name__}: {err})") from err
            examples.extend(_convert(task, hub, lang, rows, where))
    return examples


def _convert(task: Task, hub: HubSource, lang: str, rows, where: str) -> list:
    if task.format == "retrieval":
        return [_aligned_pairs(hub, rows, where)]
    # The span QA variants (span_qa_v2, span_qa_mlqa) differ only in scoring, not in examples.
    convert = CONVERTERS.get("span_qa" if task.format.startswith("span_qa") else task.format)
    if convert is None:
        raise DataError(f"{where}: no hub mapping for format {task.format!r}")
    prefix = hub.id_prefix_by_lang.get(lang)
    examples, skipped = [], 0
    for i, row in enumerate(rows):
        if prefix is not None and not str(row[hub.columns["id"]]).startswith(prefix):
            continue  # a split that mixes languages (TyDiQA GoldP): not this language's row
        try:
            examples.append(convert(task, hub, row))
        except Unlabelled:
            skipped += 1
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise DataError(f"{where}: row {i}: {err}") from None
    if skipped:
        print(f"{where}: skipped {skipped} rows without a label")
    if not examples:
        raise DataError(f"{where}: no examples" + (f" ({skipped} unlabelled)" if skipped else ""))
    return examples


def _label_name(task: Task, hub: HubSource, raw) -> str:
    if raw is None or raw == "" or (isinstance(raw, int) and raw < 0):
        raise Unlabelled
    if isinstance(raw, str) and raw.isdigit() and hub.label_names:
        raw = int(raw)
    name = hub.label_names[raw] if isinstance(raw, int) and hub.label_names else str(raw)
    if name not in task.labels:
        raise ValueError(f"label {raw!r} is not one of {list(task.labels)}")
    return name


def _classification(task: Task, hub: HubSource, row: dict) -> ClassificationExample:
    col = hub.columns
    text_b = row[col["text_b"]] if "text_b" in col else None
    return ClassificationExample(
        row[col["text_a"]], text_b, _label_name(task, hub, row[col["label"]])
    )


def _tagging(task: Task, hub: HubSource, row: dict) -> TaggingExample:
    col = hub.columns
    tokens, tags = tuple(row[col["tokens"]]), tuple(row[col["tags"]])
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    return TaggingExample(tokens, tuple(_label_name(task, hub, t) for t in tags))


def _multiple_choice(task: Task, hub: HubSource, row: dict) -> MultipleChoiceExample:
    col = hub.columns
    spec = col["choices"]
    keys: list = list(hub.label_names)
    if isinstance(spec, tuple):  # one column per choice (Cosmos QA's answer0..3, COPA)
        choices = [row[c] for c in spec]
    elif isinstance(row[spec], dict):  # {label: [...], text: [...]} (CommonsenseQA)
        choices, keys = row[spec]["text"], list(row[spec]["label"])
    else:  # one list column (HellaSwag's endings)
        choices = row[spec]
    raw = row[col["label"]]
    if raw is None or raw == "" or (isinstance(raw, int) and raw < 0):
        raise Unlabelled
    if isinstance(raw, str) and not raw.isdigit():
        if raw not in keys:
            raise ValueError(f"answer {raw!r} is not one of {keys}")
        index = keys.index(raw)  # answer letters ("A".."E") index the choice labels
    else:
        index = int(raw)
    if not 0 <= index < len(choices):
        raise ValueError(f"label {raw!r} is not a choice index 0-{len(choices) - 1}")
    return MultipleChoiceExample(
        row[col["context"]] if "context" in col else "",
        row[col["question"]] if "question" in col else "",
        tuple(choices),
        index,
    )


def _span_qa(task: Task, hub: HubSource, row: dict) -> SpanQAExample:
    col = hub.columns
    context, found = row[col["context"]], row[col["answers"]]
    answers = []
    for text, start in zip(found["text"], found["answer_start"], strict=True):
        if context[start : start + len(text)] != text:
            raise ValueError(f"answer_start {start} does not point at {text!r}")
        answers.append(Answer(text, start))
    # The hub's SQuAD v2 has no is_impossible column: no answers is unanswerable.
    return SpanQAExample(str(row[col["id"]]), row[col["question"]], context, tuple(answers))


def _aligned_pairs(hub: HubSource, rows, where: str) -> RetrievalSet:
    """Aligned translation pairs (the hub's Tatoeba): row i's query translates candidate i."""
    queries = [row[hub.columns["query"]] for row in rows]
    candidates = [row[hub.columns["candidate"]] for row in rows]
    if not queries:
        raise DataError(f"{where}: no examples")
    ids = tuple(str(i) for i in range(len(queries)))
    return RetrievalSet(
        ids, tuple(queries), ids, tuple(candidates), {i: frozenset({i}) for i in ids}
    )


CONVERTERS: dict[str, Callable[[Task, HubSource, dict], object]] = {
    "classification": _classification,
    "tagging": _tagging,
    "multiple_choice": _multiple_choice,
    "span_qa": _span_qa,
}

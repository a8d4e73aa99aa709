"""Zero-shot evaluation of an exported model on every test language of its task, and retrieval
straight from an encoder.

Each (task, split, language) is read from its evaluation shards (`trainers.shards`, prepared on
first use), all the languages stream through one prediction run (a Ray Data actor pool, or the
plain loop), and each language is scored over every example. A language whose data or shards
are missing or damaged is reported in `Evaluation.errors` and the others are still scored.
Each score also comes per example (`Evaluation.examples`), so a report can resample examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer

from trainers import shards
from trainers.config import DataConfig, Windows
from trainers.data.examples import DataError
from trainers.data.source import data_root, load_examples, local_paths, resolve_labels
from trainers.eval_pipeline import ActorPool, run_plain, run_ray
from trainers.formats import get_format
from trainers.formats.base import ExampleStats, ratios
from trainers.formats.retrieval import retrieval_scores
from trainers.predictors import EncoderPredictor, TaskPredictor, decode_predictions
from trainers.remote import local_dir
from trainers.tasks import Task, get_task

EXAMPLE_COLUMNS = ("language", "metric", "example", "numerator", "denominator")


@dataclass(frozen=True)
class Evaluation:
    """Rows of (language, metric, value, n_examples); per language that could not be evaluated,
    the one-line reason (the file that was missing or damaged); and `examples`, columns of
    EXAMPLE_COLUMNS: per (language, metric) one numerator and denominator per example (its
    index in the gold file), whose sums' ratio is the row's value (see `Format.example_stats`).
    """

    rows: list[dict]
    errors: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list] = field(default_factory=lambda: {c: [] for c in EXAMPLE_COLUMNS})

    def complete(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Run:
    """How predictions are computed: `pool` None runs the plain single-process loop on
    `device`; an `ActorPool` streams the shards through Ray Data."""

    batch_size: int = 64
    device: str = "cpu"
    pool: ActorPool | None = None
    cache: Path | None = None
    predictions: Path | None = None  # a folder for prediction files; None: none are written

    def shard_cache(self) -> Path:
        return Path(self.cache) if self.cache else shards.default_cache() / "eval-shards"

    def predict(self, sets, predictor_cls, kwargs: dict, name: str) -> dict[str, dict]:
        if self.pool is None:
            return run_plain(sets, predictor_cls(**kwargs, device=self.device), self.batch_size)
        return run_ray(sets, predictor_cls, kwargs, self.pool, self.batch_size, name)


def zero_shot(
    model_dir: str | Path,
    task_name: str,
    languages: tuple[str, ...],
    data: DataConfig,
    *,
    split: str = "test",
    windows: Windows | None = None,
    pooling: str = "first",
    run: Run = Run(),
) -> Evaluation:
    """`windows` must be the target trial's own (`OptimConfig.windows()`): the model was trained
    and selected on inputs cut that way. None: the defaults."""
    windows = windows or Windows()
    # Label sets read from the data (CCG's supertags) size the head: resolve them first.
    task = resolve_labels(get_task(task_name), data)
    # On shared storage the inference actors fetch the model on their own nodes; this node
    # needs only the tokenizer (and fetches the whole directory once, as they do).
    tokenizer = AutoTokenizer.from_pretrained(local_dir(str(model_dir)))
    fmt = get_format(task.format, windows)
    identity = shards.tokenizer_identity(tokenizer)
    prepared, errors = {}, {}
    for lang in languages:
        try:
            examples = load_examples(task, split, lang, data)
            inputs = feature_inputs(task, split, lang, data, examples, identity, windows)
            shard_set = shards.prepare(
                run.shard_cache(),
                "features",
                f"{task.name}/{split}-{lang}",
                inputs,
                lambda e=examples: fmt.featurize(task, e, tokenizer, windows.max_length),
            )
            shard_set.verify()
            prepared[lang] = (examples, shard_set)
        except DataError as err:
            errors[lang] = str(err)
    kwargs = dict(
        model_dir=str(model_dir), task=task, windows=windows, pooling=pooling,
        batch_size=run.batch_size,
    )  # fmt: skip
    sets = [s for _, s in prepared.values()]
    outputs = run.predict(sets, TaskPredictor, kwargs, f"zero_shot-{task.name}") if sets else {}
    rows, columns = [], {c: [] for c in EXAMPLE_COLUMNS}
    for lang, (examples, shard_set) in prepared.items():
        features = shards.read_rows(shard_set)
        predictions = decode_predictions(outputs[shard_set.key]["prediction"])
        stats = fmt.example_stats(task, examples, features, predictions, language=lang)
        rows.extend(_rows(lang, ratios(stats), len(examples)))
        _add_examples(columns, lang, stats)
        if run.predictions:
            from trainers.prediction_files import prediction_name, write_predictions

            path = Path(run.predictions) / task.name / prediction_name(task, split, lang)
            write_predictions(task, lang, examples, features, predictions, path, fmt)
    return Evaluation(rows, errors, columns)


def retrieval(
    model_dir: str | Path,
    task_name: str,
    languages: tuple[str, ...],
    data: DataConfig,
    *,
    split: str = "test",
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int = 512,
    run: Run = Run(),
) -> Evaluation:
    """A retrieval task straight from an encoder (no head): embeddings of one layer, pooled,
    compared by cosine. `layer`/`pooling` default to the task's declared representation at the
    same relative depth in this encoder. BUCC's margin threshold is chosen on the dev split and
    applied unchanged to test: choosing it on test gold would flatter the score."""
    task = get_task(task_name)
    if task.format != "retrieval":
        raise ValueError(f"task {task_name} is not a retrieval task (format {task.format})")
    local = Path(local_dir(str(model_dir)))
    layer = retrieval_layer(task, local) if layer is None else layer
    pooling = pooling or task.representation.pooling
    tokenizer = AutoTokenizer.from_pretrained(local)
    identity = shards.tokenizer_identity(tokenizer)
    splits = ("dev", split) if task.reader == "bucc" and split != "dev" else (split,)
    prepared, errors = {}, {}
    for lang in languages:
        try:
            for which in splits:
                (retrieval_set,) = load_examples(task, which, lang, data)
                sides = [
                    _text_shards(run, task, side, texts, tokenizer, identity, max_length)
                    for side, texts in (
                        ("queries", retrieval_set.queries),
                        ("candidates", retrieval_set.candidates),
                    )
                ]
                prepared[lang, which] = (retrieval_set, *sides)
        except DataError as err:
            errors[lang] = str(err)
            prepared = {k: v for k, v in prepared.items() if k[0] != lang}
    sets = [s for _, *sides in prepared.values() for s in sides]
    kwargs = dict(model_dir=str(model_dir), layer=layer, pooling=pooling, batch_size=run.batch_size)
    outputs = run.predict(sets, EncoderPredictor, kwargs, f"retrieval-{task.name}") if sets else {}

    def scores(lang, which, threshold=None):
        retrieval_set, queries, candidates = prepared[lang, which]
        query_emb, cand_emb = (_tensor(outputs[s.key]["embedding"]) for s in (queries, candidates))
        metrics, stats = retrieval_scores(
            task.reader, query_emb, cand_emb, retrieval_set, threshold
        )
        return metrics, stats, retrieval_set, query_emb, cand_emb

    rows, columns = [], {c: [] for c in EXAMPLE_COLUMNS}
    for lang in languages:
        if lang in errors:
            continue
        threshold = scores(lang, "dev")[0]["threshold"] if len(splits) == 2 else None
        metrics, stats, retrieval_set, query_emb, cand_emb = scores(lang, split, threshold)
        rows.extend(_rows(lang, metrics, len(retrieval_set.query_ids)))
        _add_examples(columns, lang, stats)
        if run.predictions:
            from trainers.prediction_files import prediction_name, write_retrieval_predictions

            path = Path(run.predictions) / task.name / prediction_name(task, split, lang)
            write_retrieval_predictions(
                task.reader, retrieval_set, query_emb, cand_emb, path,
                threshold=metrics.get("threshold"),
            )  # fmt: skip
    return Evaluation(rows, errors, columns)


def retrieval_layer(task: Task, model_dir: Path) -> int:
    """The task's declared layer at the same relative depth in this encoder (14 of 24 -> 2 of 4)."""
    config = AutoConfig.from_pretrained(model_dir)
    depth = getattr(config, "num_hidden_layers", None) or config.num_layers
    return task.representation.layer_for(depth)


def _text_shards(run: Run, task: Task, side: str, texts, tokenizer, identity, max_length: int):
    inputs = {
        "kind": "texts",
        "format_version": shards.FORMAT_VERSIONS["texts"],
        "tokenizer": identity,
        "max_length": max_length,
        "texts": shards.content_digest(texts),
    }

    def rows():
        ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        return [{"input_ids": x} for x in ids]

    # Named by task and side, keyed by content: a pool every language shares is stored once.
    shard_set = shards.prepare(run.shard_cache(), "texts", f"{task.name}-{side}", inputs, rows)
    shard_set.verify()
    return shard_set


def feature_inputs(
    task: Task, split: str, lang: str, data: DataConfig, examples, identity: dict, windows
) -> dict:
    """Everything that changes a task's features in one language: their shard set's key."""
    return {
        "task": task.name,
        "format": task.format,
        "format_version": shards.FORMAT_VERSIONS[task.format],
        "reader": task.reader,
        "labels": list(task.labels),
        "tokenizer": identity,
        "windows": _token_windows(task, windows),
        "split": split,
        "language": lang,
        "source": _source_digest(task, split, lang, data, examples),
    }


def _token_windows(task: Task, windows: Windows) -> dict:
    """The window settings that change a task's tokens (the answer length only changes
    which span is predicted)."""
    if task.format.startswith("span_qa"):
        return windows.model_dump(exclude={"max_answer_length"})
    return {"max_length": windows.max_length}


def _source_digest(task: Task, split: str, lang: str, data: DataConfig, examples) -> str:
    """The source files' bytes; data from the hub has no files here, so its examples' content."""
    if data.source != "local":
        return shards.content_digest(examples)
    paths = list(local_paths(task, split, lang, data_root(data)))
    if task.label_file:
        paths.append(data_root(data) / task.label_file)
    return shards.files_digest(paths)


def _tensor(array):
    import torch

    return torch.from_numpy(array)


def _rows(lang: str, scores: dict, n_examples: int) -> list[dict]:
    return [
        {"language": lang, "metric": metric, "value": float(value), "n_examples": n_examples}
        for metric, value in scores.items()
    ]


def _add_examples(columns: dict[str, list], lang: str, stats: ExampleStats) -> None:
    for metric, (numerators, denominators) in stats.items():
        n = len(numerators)
        columns["language"].extend([lang] * n)
        columns["metric"].extend([metric] * n)
        columns["example"].extend(range(n))
        columns["numerator"].extend(numerators)
        columns["denominator"].extend(denominators)

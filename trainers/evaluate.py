"""Zero-shot evaluation of an exported target model on every test language of its task."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer

from trainers.config import DataConfig, ModelConfig, Windows
from trainers.data.source import load_examples, resolve_labels
from trainers.formats import get_format
from trainers.formats.retrieval import embed, score_retrieval
from trainers.model import TaskModel, hidden_size, load_encoder
from trainers.tasks import Task, get_task


def load_encoder_dir(model_dir: Path) -> tuple[torch.nn.Module, object]:
    """An exported encoder directory's encoder (loaded strictly) and its tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = load_encoder(str(model_dir), ModelConfig(name=str(model_dir)), len(tokenizer))
    return encoder, tokenizer


def load_task_model(model_dir: Path, task: Task, pooling: str) -> tuple[TaskModel, object]:
    """Encoder + the head trained for `task` (labels resolved), both loaded strictly."""
    task_name = task.name
    encoder, tokenizer = load_encoder_dir(model_dir)
    head = get_format(task.format).build_head(task, hidden_size(encoder), pooling)
    saved = torch.load(Path(model_dir) / "heads.pt", map_location="cpu", weights_only=True)
    if saved["task"] != task_name:
        raise RuntimeError(
            f"{model_dir}: head was trained for {saved['task']!r}, not {task_name!r}"
        )
    head.load_state_dict(
        {k.removeprefix("head."): v for k, v in saved["state_dict"].items()}, strict=True
    )
    return TaskModel(encoder, head).eval(), tokenizer


@torch.no_grad()
def zero_shot(
    model_dir: Path,
    task_name: str,
    languages: tuple[str, ...],
    data: DataConfig,
    *,
    split: str = "test",
    windows: Windows | None = None,
    batch_size: int = 64,
    pooling: str = "first",
    device: str = "cpu",
) -> list[dict]:
    """Rows of (language, metric, value, n_examples) over every example of every language.

    `windows` must be the target trial's own (`OptimConfig.windows()`): the model was trained
    and selected on inputs cut that way. None: the defaults. The model runs in fp32 on `device`
    whatever precision it trained in, so a score does not depend on where it was computed."""
    windows = windows or Windows()
    # Label sets read from the data (CCG's supertags) size the head: resolve them first.
    task = resolve_labels(get_task(task_name), data)
    model, tokenizer = load_task_model(model_dir, task, pooling)
    model.to(device)
    fmt = get_format(task.format, windows)
    rows = []
    for lang in languages:
        examples = load_examples(task, split, lang, data)
        features = fmt.featurize(task, examples, tokenizer, windows.max_length)
        predictions: list = []
        for start in range(0, len(features), batch_size):
            batch = fmt.collate(features[start : start + batch_size], tokenizer.pad_token_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            predictions.extend(fmt.predict(model(batch), batch))
        scores = fmt.score(task, examples, features, predictions, language=lang)
        for metric, value in scores.items():
            rows.append(
                {
                    "language": lang,
                    "metric": metric,
                    "value": float(value),
                    "n_examples": len(examples),
                }
            )
    return rows


@torch.no_grad()
def retrieval(
    model_dir: Path,
    task_name: str,
    languages: tuple[str, ...],
    data: DataConfig,
    *,
    split: str = "test",
    layer: int | None = None,
    pooling: str | None = None,
    max_length: int = 512,
    batch_size: int = 64,
    device: str = "cpu",
) -> list[dict]:
    """Rows of (language, metric, value, n_examples) for a retrieval task, straight from an
    encoder (no head): embeddings of one layer, pooled, compared by cosine.

    `layer`/`pooling` default to the task's declared representation at the same relative depth
    in this encoder. BUCC's margin threshold is chosen on the dev split and applied unchanged to
    test: choosing it on test gold would flatter the score.
    """
    task = get_task(task_name)
    if task.format != "retrieval":
        raise ValueError(f"task {task_name} is not a retrieval task (format {task.format})")
    encoder, tokenizer = load_encoder_dir(model_dir)
    encoder.to(device)
    depth = getattr(encoder.config, "num_hidden_layers", None) or encoder.config.num_layers
    layer = layer if layer is not None else task.representation.layer_for(depth)
    pooling = pooling or task.representation.pooling

    def encode(texts):
        return embed(
            encoder, tokenizer, texts, layer=layer, pooling=pooling,
            max_length=max_length, batch_size=batch_size,
        )  # fmt: skip

    def scores(which: str, lang: str, threshold: float | None = None) -> tuple[dict, int]:
        (retrieval_set,) = load_examples(task, which, lang, data)
        metrics = score_retrieval(
            task.reader,
            encode(retrieval_set.queries),
            encode(retrieval_set.candidates),
            retrieval_set,
            threshold=threshold,
        )
        return metrics, len(retrieval_set.query_ids)

    rows = []
    for lang in languages:
        threshold = None
        if task.reader == "bucc" and split != "dev":
            threshold = scores("dev", lang)[0]["threshold"]
        metrics, n_queries = scores(split, lang, threshold)
        for metric, value in metrics.items():
            rows.append(
                {"language": lang, "metric": metric, "value": float(value), "n_examples": n_queries}
            )
    return rows

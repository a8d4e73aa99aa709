"""Zero-shot evaluation of an exported target model on every test language of its task."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer

from trainers.config import DataConfig, ModelConfig
from trainers.data.source import load_examples
from trainers.formats import get_format
from trainers.model import TaskModel, hidden_size, load_encoder
from trainers.tasks import get_task


def load_task_model(model_dir: Path, task_name: str, pooling: str) -> tuple[TaskModel, object]:
    """Encoder + the head trained for `task_name`, both loaded strictly."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    task = get_task(task_name)
    encoder = load_encoder(str(model_dir), ModelConfig(name=str(model_dir)), len(tokenizer))
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
    max_length: int = 256,
    batch_size: int = 64,
    pooling: str = "first",
) -> list[dict]:
    """Rows of (language, metric, value, n_examples) over every example of every language."""
    model, tokenizer = load_task_model(model_dir, task_name, pooling)
    task = get_task(task_name)
    fmt = get_format(task.format)
    rows = []
    for lang in languages:
        examples = load_examples(task, split, lang, data)
        features = fmt.featurize(task, examples, tokenizer, max_length)
        predictions: list = []
        for start in range(0, len(features), batch_size):
            batch = fmt.collate(features[start : start + batch_size], tokenizer.pad_token_id)
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

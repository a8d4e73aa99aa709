"""Predictors: a model loaded once from an exported directory, then called on batches of shard
rows (a pyarrow Table of `trainers.shards` rows), one output row per input row.

They are plain callable classes, so the same object serves the Ray Data pipeline (as the
`map_batches` class, one per actor) and the plain single-process loop it is checked against.
Outputs carry each row's `set` and `row`: whoever collects them puts them back in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from transformers import AutoTokenizer

from trainers.config import ModelConfig, Windows
from trainers.formats import get_format
from trainers.formats.retrieval import embed_ids
from trainers.model import TaskModel, hidden_size, load_encoder, save_encoder
from trainers.remote import local_dir
from trainers.tasks import Task


def load_encoder_dir(model_dir: str | Path) -> tuple[torch.nn.Module, object]:
    """An exported encoder directory's encoder (loaded strictly) and its tokenizer."""
    model_dir = Path(local_dir(str(model_dir)))  # on shared storage: this node's copy
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = load_encoder(str(model_dir), ModelConfig(name=str(model_dir)), len(tokenizer))
    return encoder, tokenizer


def load_task_model(model_dir: str | Path, task: Task, pooling: str) -> tuple[TaskModel, object]:
    """Encoder + the head trained for `task` (labels resolved), both loaded strictly."""
    encoder, tokenizer = load_encoder_dir(model_dir)
    head = get_format(task.format).build_head(task, hidden_size(encoder), pooling)
    saved = torch.load(
        Path(local_dir(str(model_dir))) / "heads.pt", map_location="cpu", weights_only=True
    )
    if saved["task"] != task.name:
        raise RuntimeError(
            f"{model_dir}: head was trained for {saved['task']!r}, not {task.name!r}"
        )
    head.load_state_dict(
        {k.removeprefix("head."): v for k, v in saved["state_dict"].items()}, strict=True
    )
    return TaskModel(encoder, head).eval(), tokenizer


def save_task_model(encoder, head: torch.nn.Module, tokenizer, task: str, out: Path) -> Path:
    """An encoder and its task head in the layout a target trial's export has (what
    `load_task_model` reads): for models made outside a sweep (benchmarks, tests)."""
    save_encoder(encoder, tokenizer, Path(out))
    state = {f"head.{k}": v for k, v in head.state_dict().items()}
    torch.save({"task": task, "state_dict": state}, Path(out) / "heads.pt")
    return Path(out)


class TaskPredictor:
    """The format's prediction for each feature row, as JSON text (predictions differ in shape
    from format to format: a label index, a tag per word, a span QA window's n-best).

    The model runs in fp32 whatever precision it trained in, so a score does not depend on the
    device it was computed on."""

    def __init__(
        self,
        model_dir: str,
        task: Task,
        *,
        windows: Windows,
        pooling: str,
        batch_size: int,
        device: str = "cpu",
    ):
        self.model, tokenizer = load_task_model(model_dir, task, pooling)
        self.model.to(device)
        self.pad_id = tokenizer.pad_token_id
        self.format = get_format(task.format, windows)
        self.batch_size = batch_size
        self.device = device

    @torch.no_grad()
    def __call__(self, table: pa.Table) -> dict[str, np.ndarray]:
        rows = table.to_pylist()
        predictions: list = []
        for begin in range(0, len(rows), self.batch_size):
            batch = self.format.collate(rows[begin : begin + self.batch_size], self.pad_id)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            predictions.extend(self.format.predict(self.model(batch), batch))
        return {
            "set": table.column("set").to_numpy(zero_copy_only=False),
            "row": table.column("row").to_numpy(),
            "prediction": np.array([json.dumps(p) for p in predictions], dtype=object),
        }


class EncoderPredictor:
    """Each text row's embedding: one hidden layer, pooled, unit length (retrieval)."""

    def __init__(
        self, model_dir: str, *, layer: int, pooling: str, batch_size: int, device: str = "cpu"
    ):
        self.encoder, tokenizer = load_encoder_dir(model_dir)
        self.encoder.to(device).eval()
        self.pad_id = tokenizer.pad_token_id
        self.layer, self.pooling, self.batch_size = layer, pooling, batch_size

    def __call__(self, table: pa.Table) -> dict[str, np.ndarray]:
        ids = table.column("input_ids").to_pylist()
        parts = [
            embed_ids(
                self.encoder,
                ids[begin : begin + self.batch_size],
                self.pad_id,
                layer=self.layer,
                pooling=self.pooling,
            )
            for begin in range(0, len(ids), self.batch_size)
        ]
        return {
            "set": table.column("set").to_numpy(zero_copy_only=False),
            "row": table.column("row").to_numpy(),
            "embedding": torch.cat(parts).numpy() if parts else np.zeros((0, 0), np.float32),
        }


def decode_predictions(values) -> list:
    return [json.loads(v) for v in values]

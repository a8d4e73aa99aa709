"""The Ray Train worker: rebuild the typed config and run the plain training loop."""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
from pathlib import Path

import ray.train

from trainers.config import TrainConfig


class RayReporter:
    def report(self, metrics: dict, checkpoint_dir: Path) -> None:
        # Every rank reports (report is a barrier); Ray merges the ranks' files into one checkpoint.
        # Every micro-batch's loss is for local comparison; Tune's results keep the round's mean
        # and each optimizer step's loss (`step_losses`, what the experiment trackers plot).
        metrics = {k: v for k, v in metrics.items() if k != "train_losses"}
        ray.train.report(
            metrics, checkpoint=ray.train.Checkpoint.from_directory(str(checkpoint_dir))
        )
        shutil.rmtree(checkpoint_dir, ignore_errors=True)

    def restore_dir(self):
        checkpoint = ray.train.get_checkpoint()
        return checkpoint.as_directory() if checkpoint else contextlib.nullcontext(None)


def use_assigned_cpus() -> None:
    """One intra-op thread per assigned CPU, rounding up.

    Ray sets OMP_NUM_THREADS to the floor of the assigned CPUs, so a worker given 1.8 CPUs (a
    fraction left for drivers on a small machine) would train on one thread.
    """
    import torch

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if cpus:
        torch.set_num_threads(max(1, math.ceil(cpus - 1e-6)))


def train_worker(config: dict) -> None:
    # Imported here, not at the top: each Tune trial actor imports this module to hand
    # `train_worker` to its TorchTrainer, and the loop's imports (transformers, DeepSpeed) cost
    # it ~6 s of CPU that only the Train workers need.
    from trainers.loop import train

    use_assigned_cpus()
    cfg = TrainConfig.model_validate(config["train"])
    with tempfile.TemporaryDirectory(prefix="xstilts-") as scratch:
        train(cfg, RayReporter(), Path(scratch))

"""A one-worker trial trained in its Tune trial's own process, with no Ray Train worker group.

A Train run costs a trial a controller and a worker process, a placement group and their polls:
about 15 s of start-up before the first step on a 2-core machine (`bench/trial_overhead.py`),
for a trial whose one worker could as well run where its driver already is. Here the loop runs
in the Tune trainable itself and reports through `ray.tune.report`.

Checkpoints keep Train's layout and rules, so that everything reading a sweep finds them the
same way: `<train storage>/<trial id>/checkpoint_*`, the best by `score_key` and the latest kept,
the others deleted. `checkpoints.json` there names both and is written after the checkpoint is
whole; a retried or resumed trial continues from the latest it names (resumption by the run's
identity, as Train does).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from trainers import remote

INDEX = "checkpoints.json"


class TrialProcessReporter:
    """Persists each round's checkpoint under `run` (a path or URI) and reports to Tune."""

    def __init__(self, run: str, score_key: str = "dev_score", send=None):
        self.run = run
        self.score_key = score_key
        self.send = send or _tune_report
        self.index = _read_index(run)

    def report(self, metrics: dict, checkpoint_dir: Path) -> None:
        name = f"checkpoint_{int(metrics['round']):06d}"
        uri = remote.join(self.run, name)
        _persist(Path(checkpoint_dir), uri)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        index = self._next_index(name, metrics.get(self.score_key))
        _write_index(self.run, index)
        for stale in {self.index.get("latest"), self.index.get("best")} - {None, *_kept(index)}:
            remote.delete_dir(remote.join(self.run, stale))
        self.index = index
        # Every micro-batch's loss is for local comparison; Tune keeps the round's mean and each
        # optimizer step's loss, as with Train's reporter.
        kept = {k: v for k, v in metrics.items() if k != "train_losses"}
        self.send({**kept, "checkpoint_path": uri})

    def restore_dir(self):
        latest = self.index.get("latest")
        if latest is None:
            return contextlib.nullcontext(None)
        return remote.fetched(remote.join(self.run, latest))

    def _next_index(self, name: str, score) -> dict:
        best, best_score = self.index.get("best"), self.index.get("best_score")
        if best is None or (score is not None and (best_score is None or score > best_score)):
            best, best_score = name, score
        return {"latest": name, "best": best, "best_score": best_score}


def _tune_report(metrics: dict) -> None:
    from ray import tune

    tune.report(metrics)


def _kept(index: dict) -> set[str]:
    return {index["latest"], index["best"]}


def _read_index(run: str) -> dict:
    uri = remote.join(run, INDEX)
    return json.loads(remote.read_text(uri)) if remote.exists(uri) else {}


def _write_index(run: str, index: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="xstilts-index-") as scratch:
        local = Path(scratch, INDEX)
        local.write_text(json.dumps(index))
        remote.upload_file(local, remote.join(run, INDEX))  # whole or not at all


def _persist(local: Path, uri: str) -> None:
    """Copy a checkpoint to storage. On a file system it is copied beside its name and moved into
    place (a round redone after a failure replaces its earlier copy)."""
    if remote.is_uri(uri):
        remote.publish(local, uri)
        return
    dest = Path(uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(local, tmp)
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def train_in_trial(config: dict) -> None:
    """The Tune trainable of a trial that trains in its own process."""
    from trainers.config import TrainConfig
    from trainers.loop import train
    from trainers.ray_worker import use_assigned_cpus

    plan = config["trial"]
    use_assigned_cpus()
    cfg = TrainConfig.model_validate(plan["train"])
    reporter = TrialProcessReporter(remote.join(plan["train_storage"], plan["trial_id"]))
    with tempfile.TemporaryDirectory(prefix="xstilts-") as scratch:
        train(cfg, reporter, Path(scratch))

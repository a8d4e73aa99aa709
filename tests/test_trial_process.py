"""A one-worker trial trains in its Tune trial's own process: its checkpoints keep Ray Train's
layout and rules (the best and the latest kept), and a restarted trial continues from the latest."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.spec_resources import ResourcesSpec
from trainers.trial_process import INDEX, TrialProcessReporter


def a_checkpoint(tmp: Path, round_: int) -> Path:
    directory = tmp / "scratch" / f"round-{round_}"
    (directory / "state").mkdir(parents=True)
    (directory / "state" / "weights.bin").write_bytes(bytes([round_]) * 8)
    (directory / "xstilts.json").write_text(json.dumps({"metrics": {"round": round_}}))
    return directory


def report_rounds(run: str, tmp: Path, scores: list[float | None], start: int = 1) -> list[dict]:
    sent: list[dict] = []
    reporter = TrialProcessReporter(run, send=sent.append)
    for round_, score in enumerate(scores, start=start):
        metrics = {"round": round_, "train_losses": [1.0, 2.0], "train_loss": 1.5}
        if score is not None:
            metrics["dev_score"] = score
        reporter.report(metrics, a_checkpoint(tmp, round_))
    return sent


def kept(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith("checkpoint_"))


def test_the_best_and_the_latest_checkpoints_are_kept_and_the_others_deleted(tmp_path):
    run = tmp_path / "train" / "trial"
    report_rounds(str(run), tmp_path, [0.5, 0.9, 0.7, 0.6])
    assert kept(run) == ["checkpoint_000002", "checkpoint_000004"]
    index = json.loads((run / INDEX).read_text())
    assert index == {"latest": "checkpoint_000004", "best": "checkpoint_000002", "best_score": 0.9}
    assert not list(run.glob(".*"))  # no half-copied checkpoint left beside them
    assert not (tmp_path / "scratch" / "round-4").exists()  # the loop's copy is gone


def test_a_new_best_replaces_the_old_one(tmp_path):
    run = tmp_path / "trial"
    report_rounds(str(run), tmp_path, [0.5, 0.6, 0.8])
    assert kept(run) == ["checkpoint_000003"]


def test_tune_gets_the_rounds_metrics_with_their_checkpoint_and_without_every_loss(tmp_path):
    run = tmp_path / "trial"
    sent = report_rounds(str(run), tmp_path, [0.5])
    assert sent == [
        {
            "round": 1,
            "train_loss": 1.5,
            "dev_score": 0.5,
            "checkpoint_path": str(run / "checkpoint_000001"),
        }
    ]


def test_a_restarted_trial_continues_from_its_latest_checkpoint(tmp_path):
    run = tmp_path / "trial"
    report_rounds(str(run), tmp_path, [0.9, 0.5])
    with TrialProcessReporter(str(run), send=print).restore_dir() as restored:
        assert (Path(restored) / "state" / "weights.bin").read_bytes() == bytes([2]) * 8
    # It remembers the best of its first attempt: a worse third round deletes only round 2.
    report_rounds(str(run), tmp_path, [0.4], start=3)
    assert kept(run) == ["checkpoint_000001", "checkpoint_000003"]


def test_a_round_redone_after_a_failure_replaces_its_earlier_copy(tmp_path):
    run = tmp_path / "trial"
    report_rounds(str(run), tmp_path, [0.5, 0.6])
    report_rounds(str(run), tmp_path, [0.7], start=2)
    assert kept(run) == ["checkpoint_000002"]
    assert (run / "checkpoint_000002" / "state" / "weights.bin").read_bytes() == bytes([2]) * 8


def test_a_trial_without_checkpoints_starts_fresh(tmp_path):
    with TrialProcessReporter(str(tmp_path / "trial")).restore_dir() as restored:
        assert restored is None


def test_checkpoints_on_storage_uris_are_kept_and_restored_the_same_way(tmp_path):
    run = f"file://{tmp_path}/bucket/train/trial"
    report_rounds(run, tmp_path, [0.5, 0.9, 0.7])
    assert kept(tmp_path / "bucket" / "train" / "trial") == [
        "checkpoint_000002",
        "checkpoint_000003",
    ]
    with TrialProcessReporter(run, send=print).restore_dir() as restored:
        assert (Path(restored) / "state" / "weights.bin").read_bytes() == bytes([3]) * 8


@pytest.mark.parametrize(
    "shape, in_own_process",
    [
        ({}, True),
        ({"workers": 2}, False),
        ({"preemptible": True}, False),  # only Train's watcher hears a spot node's notice
        ({"in_trial_process": False}, False),
    ],
)
def test_only_a_one_worker_trial_off_spot_nodes_trains_in_its_own_process(shape, in_own_process):
    assert ResourcesSpec(**shape).trains_in_trial_process() is in_own_process


def test_a_trial_in_its_own_process_asks_for_the_workers_shape_and_a_driver_for_a_drivers():
    shape = {"cpus_per_worker": 4, "gpus_per_worker": 1, "worker_resources": {"a100": 1},
             "driver_cpus": 0.01, "driver_resources": {"head": 1}}  # fmt: skip
    assert ResourcesSpec(**shape).trial_resources() == {"CPU": 4, "GPU": 1, "a100": 1}
    assert ResourcesSpec(**shape, workers=2).trial_resources() == {"CPU": 0.01, "head": 1}


def test_a_trials_process_group_ignores_the_one_its_environment_names(tmp_path):
    """A sweep started from a process with a group of its own (a test run's, a launcher's)
    passes its variables on to every trial process: their one-process groups must not try to
    join it, nor listen on its port."""
    code = (
        "import socket, torch.distributed as dist\n"
        "from trainers.distributed import ensure_process_group\n"
        "taken = socket.socket(); taken.bind(('127.0.0.1', int(__import__('os').environ['MASTER_PORT'])));"
        " taken.listen()\n"
        "ensure_process_group()\n"
        "print(dist.get_rank(), dist.get_world_size())\n"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MASTER_PORT": str(port), "RANK": "3", "WORLD_SIZE": "4"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["0", "1"]

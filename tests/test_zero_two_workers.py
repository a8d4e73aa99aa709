"""ZeRO stages 1, 2 and 3 with two data-parallel workers under Ray Train on CPU (gloo): each
saves a checkpoint both ranks write into, resumes from it with the same losses as a run that
never stopped, and hands on consolidated weights (stage 3's partitions gathered) that equal
the uninterrupted run's.

One worker group trains every stage, uninterrupted and then resumed from round 1's checkpoint
(a group costs half a minute to start on this machine). Ray Train's own part, the group killed
and restarted from the checkpoint Train merged from both ranks, is tried at stage 3, whose
partitioned parameters are the hardest to restore."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
from test_loop import consolidated_encoder_fingerprint, finetune
from test_worker_failure import train_workers_under

from trainers.checkpoint import export_encoder, read_meta
from trainers.model import fingerprint
from trainers.predictors import load_encoder_dir

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROUNDS = 3
STAGES = (1, 2, 3)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def start(benchmark, tmp_path_factory):
    """A random tiny encoder in the hand-off layout, so that the runs need no pretraining."""
    from test_loop import TINY

    from trainers.model import save_random_encoder

    directory = tmp_path_factory.mktemp("start") / "encoder"
    return save_random_encoder(TINY, str(benchmark / "tokenizer"), 0, directory)


def kill_the_workers_after_round_one(run_dir: Path, killed: list[int]) -> None:
    """Once both ranks have written round 1's checkpoint, SIGKILL this test's Ray Train worker
    processes, as a lost node would; `killed` gets the rounds saved by then, then the pids.
    (Killing one rank of two sometimes cost two of Train's failures, the other rank's shutdown
    counted as a second: seen once in four runs.)"""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for checkpoint in run_dir.glob("checkpoint_*"):
            ranks = {p.name for p in (checkpoint / "state").rglob("*zero_pp_rank_*")}
            if any("rank_1" in r for r in ranks) and (checkpoint / "xstilts.json").is_file():
                time.sleep(0.5)  # let Train register the report before its workers die
                killed.append(len(list(run_dir.glob("checkpoint_*"))))  # rounds saved by then
                for proc in train_workers_under(os.getpid()):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.send_signal(signal.SIGKILL)
                        killed.append(proc.pid)
                return
        time.sleep(0.1)


def train_two_workers_killed(cfg, storage: Path, name: str) -> list[tuple]:
    """(round, step, mean loss, dev score, checkpoint directory) for each round reported, once
    each, with the workers killed after round 1 and the group restarted from its checkpoint."""
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer

    from trainers.ray_worker import train_worker

    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"train": cfg.model_dump(mode="json")},
        torch_config=TorchConfig(backend="gloo"),
        scaling_config=ray.train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.9}),
        run_config=ray.train.RunConfig(
            name=name,
            storage_path=str(storage),
            failure_config=ray.train.FailureConfig(max_failures=1),
        ),
    )
    killed: list[int] = []
    killer = threading.Thread(
        target=kill_the_workers_after_round_one, args=(storage / name, killed), daemon=True
    )
    killer.start()
    result = trainer.fit()
    killer.join(timeout=10)
    saved_before, *pids = killed
    assert 1 <= saved_before < cfg.optim.rounds and len(pids) == 2, (
        f"killed {pids} after {saved_before} rounds"
    )
    reported = sorted(result.best_checkpoints, key=lambda pair: pair[1]["round"])
    return [
        (m["round"], m["step"], m["train_loss"], m["dev_score"], Path(c.path)) for c, m in reported
    ]


def two_worker_config(benchmark, start, stage: int):
    cfg = finetune(benchmark, start, "intermediate", "synth_mnli", rounds=ROUNDS,
                   examples=256, stage=stage)  # fmt: skip
    # Rounds long enough for a kill after round 1 to land before the last one.
    return cfg.model_copy(
        update={"workers": 2, "optim": cfg.optim.model_copy(update={"epochs": 24})}
    )


def every_stage_whole_and_resumed(config: dict) -> None:
    """On each of the two workers: for every stage, the run uninterrupted, then the run resumed
    from its round-1 checkpoint (into which both ranks copied their files, as Train merges
    them). Rank 0 writes what each reported to `<root>/<stage>/<run>.json`. Its imports are
    its own: the function travels to the workers by value."""
    import json
    import tempfile
    from pathlib import Path

    import torch.distributed as dist

    from trainers.config import TrainConfig
    from trainers.local import LocalReporter
    from trainers.loop import train
    from trainers.ray_worker import use_assigned_cpus

    use_assigned_cpus()
    root = Path(config["root"])
    for stage, train_config in config["train"].items():
        cfg = TrainConfig.model_validate(train_config)
        whole = LocalReporter(root / stage / "whole")
        resumed = LocalReporter(
            root / stage / "resumed", resume_from=root / stage / "whole" / "checkpoint_000"
        )
        for name, reporter in (("whole", whole), ("resumed", resumed)):
            with tempfile.TemporaryDirectory(prefix="xstilts-") as scratch:
                train(cfg, reporter, Path(scratch))
            dist.barrier()  # both ranks' files are in place before anyone reads them
            if dist.get_rank() == 0:
                reported = [
                    [m["round"], m["step"], m["train_loss"], m["dev_score"], str(c)]
                    for m, c in zip(reporter.history, reporter.checkpoints, strict=True)
                ]
                (root / stage / f"{name}.json").write_text(json.dumps(reported))


@pytest.fixture(scope="module")
def every_stage(benchmark, start, tmp_path_factory) -> Path:
    import sys

    import ray.train
    from ray import cloudpickle
    from ray.train.torch import TorchConfig, TorchTrainer

    # The workers cannot import this test module: its function travels by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    root = tmp_path_factory.mktemp("stages")
    configs = {
        str(stage): two_worker_config(benchmark, start, stage).model_dump(mode="json")
        for stage in STAGES
    }
    TorchTrainer(
        every_stage_whole_and_resumed,
        train_loop_config={"root": str(root), "train": configs},
        torch_config=TorchConfig(backend="gloo"),
        scaling_config=ray.train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.9}),
        run_config=ray.train.RunConfig(name="stages", storage_path=str(root / "ray")),
    ).fit()
    return root


def reported(root: Path, stage: int, run: str) -> list[tuple]:
    rows = json.loads((root / str(stage) / f"{run}.json").read_text())
    return [(*row[:4], Path(row[4])) for row in rows]


@pytest.mark.parametrize("stage", STAGES)
def test_two_workers_save_resume_and_hand_off_at_every_zero_stage(every_stage, tmp_path, stage):
    whole, resumed = reported(every_stage, stage, "whole"), reported(every_stage, stage, "resumed")
    first = whole[0][4]
    assert read_meta(first)["zero_stage"] == stage
    # Both ranks wrote their part of the DeepSpeed state into the one checkpoint.
    assert {p.name for p in (first / "state").rglob("*zero_pp_rank_1*")}
    # Resumed from round 1, the later rounds have the losses and scores of the unbroken run.
    assert [r[:4] for r in resumed] == [r[:4] for r in whole[1:]]
    final_whole, final_resumed = whole[-1][4], resumed[-1][4]
    assert consolidated_encoder_fingerprint(final_resumed) == consolidated_encoder_fingerprint(
        final_whole
    )
    handed_on, _ = load_encoder_dir(export_encoder(final_resumed, tmp_path / "handoff"))
    assert fingerprint(handed_on) == consolidated_encoder_fingerprint(final_whole)


def test_a_killed_worker_group_restarts_from_the_checkpoint_train_merged(
    benchmark, start, every_stage, tmp_path
):
    cfg = two_worker_config(benchmark, start, 3)
    resumed = train_two_workers_killed(cfg, tmp_path, "resumed")
    # Train merged both ranks' files into each checkpoint it kept.
    assert {p.name for p in (resumed[0][4] / "state").rglob("*zero_pp_rank_1*")}
    # The rounds after the kill ran in the restarted group, from the last checkpoint: once
    # each, with the losses and scores of the run that never stopped.
    whole = reported(every_stage, 3, "whole")
    assert [r[:4] for r in resumed] == [r[:4] for r in whole]
    assert consolidated_encoder_fingerprint(resumed[-1][4]) == consolidated_encoder_fingerprint(
        whole[-1][4]
    )

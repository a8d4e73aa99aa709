"""A training process killed mid-trial (SIGKILL, from outside, as the OOM killer or a dying node
would) costs the trial a restart from its last checkpoint, and nothing else: the trial ends with
the same metrics as an undisturbed run. A trial that runs out of restarts is marked failed with
its cause, and the sweep goes on with the others.

These trials have one worker, so each trains in its Tune trial's own process, which Tune
restarts; a Ray Train worker group's restart is `test_node_loss`'s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from tiny_sweeps import KILLABLE_ROUNDS, OPTIM, killable_sweep, tiny_sweep

from sweep import store

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROUNDS = KILLABLE_ROUNDS


def fragile_spec(benchmark: Path) -> dict:
    """Two trials of one task, and no restarts."""
    optim = {**OPTIM, "epochs": 3}
    phases = {
        "intermediate": {
            "tasks": ["synth_mnli"],
            "optim": {**optim, "rounds": ROUNDS},
            # 60 epochs give rounds of a few seconds each, so that the kill lands inside the
            # trial; the survivor trains 3. The grid's order (fixed, by trial id) runs the long
            # trial first, and the killer takes the first trial to report round 1.
            "search": {"epochs": [60, 3]},
        },
        "target": {
            "tasks": ["synth_udpos"],
            "starts": ["synth_mnli"],
            "optim": {**optim, "epochs": 1, "rounds": 1},
        },
    }
    return tiny_sweep(
        "failure", benchmark, phases, {"max_failures": 0},
        asha={"grace_period": ROUNDS, "reduction_factor": 2},  # no trial stopped early
    )  # fmt: skip


TRAIN_WORKER, TRIAL = "ray::RayTrainWorker", "ray::ImplicitFunc"  # process titles


def train_workers_under(pid: int, title: str = TRAIN_WORKER) -> list[psutil.Process]:
    """The processes titled `title` among `pid`'s descendants (the Ray it started): Ray Train's
    workers, or the Tune trials (`TRIAL`), which train themselves when they have one worker."""
    found = []
    for proc in psutil.Process(pid).children(recursive=True):
        try:
            if title in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


class WorkerKiller(threading.Thread):
    """Waits until an intermediate trial has reported round 1 (so a checkpoint exists), then
    SIGKILLs the trial processes training under `sweep`, once."""

    def __init__(self, sweep: subprocess.Popen, out: Path):
        super().__init__(daemon=True)
        self.sweep, self.out = sweep, out
        self.killed: list[int] = []
        self.trial_id: str | None = None
        self.status = ""
        self.rounds_before: list[int] = []

    def run(self) -> None:
        while self.sweep.poll() is None:
            rows = (
                store.read_results(self.out).to_pandas()
                if (self.out / "results").is_dir()
                else None
            )
            reported = (
                rows[(rows.phase == "intermediate") & (rows["round"] >= 1)]
                if rows is not None
                else []
            )
            if len(reported):
                workers = train_workers_under(self.sweep.pid, TRIAL)
                for proc in workers:
                    proc.send_signal(signal.SIGKILL)
                    self.killed.append(proc.pid)
                if workers:
                    self.trial_id = reported.trial_id.iloc[0]
                    rows = store.read_results(self.out).to_pandas()  # reported before it died
                    self.rounds_before = sorted(set(rows[rows.trial_id == self.trial_id]["round"]))
                    self.status = subprocess.run(  # what a user sees while the sweep runs
                        [sys.executable, "-m", "sweep.cli", "status", str(self.out)],
                        capture_output=True, text=True, timeout=60,
                    ).stdout  # fmt: skip
                    return
            time.sleep(0.2)


def run_killed_sweep(spec: dict, tmp: Path, name: str) -> tuple[Path, WorkerKiller]:
    """Run the sweep, killing its training trial's process once, after round 1."""
    spec_path, out = tmp / f"{name}.yaml", tmp / name
    spec_path.write_text(yaml.safe_dump(spec))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sweep = subprocess.Popen(
        # --no-reuse: the undisturbed sweep trained the same trials, and they are to train again.
        [sys.executable, "-m", "sweep.cli", "run", str(spec_path), "--out", str(out), "--no-reuse"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    killer = WorkerKiller(sweep, out)
    killer.start()
    output, _ = sweep.communicate(timeout=900)
    assert sweep.returncode == 0, output[-3000:]
    (tmp / f"{name}.log").write_text(output)
    return out, killer


def trial_results(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "results")
    columns = ["phase", "task", "language", "metric", "round", "value", "n_examples"]
    return frame[columns].sort_values(columns).reset_index(drop=True)


def rounds_reported(out: Path, trial_id: str) -> list[tuple]:
    """What the trial reported to Tune each round: its step, mean training loss and dev score."""
    lines = (out / "ray" / "intermediate" / trial_id / "result.json").read_text().splitlines()
    results = [json.loads(line) for line in lines]
    return [(r["round"], r["step"], r["train_loss"], r["dev_score"]) for r in results]


def test_a_killed_worker_restarts_from_its_checkpoint_and_ends_as_an_undisturbed_run(
    benchmark, tmp_path, calm_sweep
):
    calm = calm_sweep  # the same sweep, never interrupted
    hurt, killer = run_killed_sweep(killable_sweep(benchmark, max_failures=1), tmp_path, "hurt")
    assert killer.killed, "no training worker was found to kill"
    assert "phase intermediate: running (1 running)" in killer.status
    # Killed after round 1, before round 2: the later rounds ran in the restarted trial.
    assert killer.rounds_before == [1]
    assert f"running  {killer.trial_id} round 1/{ROUNDS} dev " in killer.status
    status = json.loads((hurt / "status.json").read_text())["trials"]
    assert status[killer.trial_id]["state"] == "done"
    # Rounds 2 and 3 ran after the restart: each once, with the same losses as undisturbed.
    assert rounds_reported(hurt, killer.trial_id) == rounds_reported(calm, killer.trial_id)
    assert [r[0] for r in rounds_reported(hurt, killer.trial_id)] == [1, 2, 3]
    # Every round's dev metrics, the hand-off and the zero-shot scores, to the last digit.
    pd.testing.assert_frame_equal(trial_results(hurt), trial_results(calm))


def test_a_trial_out_of_restarts_is_failed_with_its_cause_and_the_sweep_goes_on(
    benchmark, tmp_path
):
    out, killer = run_killed_sweep(fragile_spec(benchmark), tmp_path, "fragile")
    assert killer.killed
    trials = json.loads((out / "status.json").read_text())["trials"]
    intermediate = {t: s for t, s in trials.items() if s["phase"] == "intermediate"}
    assert intermediate[killer.trial_id]["state"] == "failed"
    params = json.loads(
        (out / "ray" / "intermediate" / killer.trial_id / "params.json").read_text()
    )
    assert params["trial"]["train"]["optim"]["epochs"] == 60  # the long trial, as planned
    assert intermediate[killer.trial_id]["error"]  # the cause, in words
    [survivor] = [s for t, s in intermediate.items() if t != killer.trial_id]
    assert survivor["state"] == "done"
    assert [s["state"] for s in trials.values() if s["phase"] == "target"] == ["done"]

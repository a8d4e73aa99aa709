"""The driver's time ledger of each trial in `status.json`: start-up, training, evaluation, the
rest of the loop and teardown add up to the trial's wall time, across attempts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sweep import progress
from sweep.progress import StoreCallback, read_status


def plan(trial_id: str = "t1") -> dict:
    return {"trial_id": trial_id, "phase": "target", "task": "synth_xnli", "intermediate": "none",
            "target": "synth_xnli", "config_id": "c0", "seed": 0, "metric": "accuracy",
            "train": {"optim": {"rounds": 2}}}  # fmt: skip


@pytest.fixture
def clock(monkeypatch):
    """A settable time.time for the callback, and no store writes (the rows are tested elsewhere)."""
    now = SimpleNamespace(t=1000.0)
    monkeypatch.setattr(progress.time, "time", lambda: now.t)
    monkeypatch.setattr(progress, "store_round", lambda *args: True)
    monkeypatch.setattr("sweep.reusing.register", lambda *args: None)
    return now


def result(round_: int, wall: float, train: float, evaluate: float) -> dict:
    return {"round": round_, "dev_score": 0.5, "wall_seconds": wall, "train_seconds": train,
            "eval_seconds": evaluate}  # fmt: skip


SETUP = {"setup/process_group": 0.5, "setup/data": 1.5, "setup/model": 2.0, "setup/engine": 1.0}


def run_attempt(callback, trial, now, start: float) -> None:
    """Started at `start`; the loop starts 12 s later (5 s of them the worker's own set-up,
    reported with the first round); two rounds of 10 s (7 training, 2
    evaluating, 1 checkpointing); the trial ends 3 s after its last result."""
    now.t = start
    callback.on_trial_start(0, [], trial)
    now.t = start + 22
    callback.on_trial_result(0, [], trial, {**result(1, 10.0, 7.0, 2.0), **SETUP})
    now.t = start + 32
    callback.on_trial_result(0, [], trial, result(2, 20.0, 7.0, 2.0))
    now.t = start + 35
    callback.on_trial_complete(0, [], trial)


def test_a_trials_wall_time_splits_into_start_up_training_evaluation_and_teardown(tmp_path, clock):
    callback = StoreCallback(tmp_path, "s", echo=lambda line: None)
    run_attempt(callback, SimpleNamespace(config={"trial": plan()}), clock, 1000.0)
    entry = read_status(tmp_path)["trials"]["t1"]
    assert entry["time"] == pytest.approx(
        {
            "wall": 35.0,
            "startup": 12.0,
            "worker_setup": 5.0,
            "train": 14.0,
            "evaluate": 4.0,
            "teardown": 3.0,
        }  # fmt: skip
    )
    assert (entry["started_at"], entry["ended_at"]) == (1000.0, 1035.0)


def test_a_second_attempt_adds_to_the_first(tmp_path, clock):
    callback = StoreCallback(tmp_path, "s", echo=lambda line: None)
    trial = SimpleNamespace(config={"trial": plan()})
    run_attempt(callback, trial, clock, 1000.0)
    run_attempt(StoreCallback(tmp_path, "s", echo=lambda line: None), trial, clock, 2000.0)
    entry = read_status(tmp_path)["trials"]["t1"]
    assert entry["time"]["wall"] == pytest.approx(70.0)
    assert entry["time"]["train"] == pytest.approx(28.0)
    assert entry["time"]["worker_setup"] == pytest.approx(10.0)
    assert (entry["started_at"], entry["ended_at"]) == (2000.0, 2035.0)


def test_a_running_trial_shows_its_time_so_far(tmp_path, clock):
    callback = StoreCallback(tmp_path, "s", echo=lambda line: None)
    trial = SimpleNamespace(config={"trial": plan()})
    callback.on_trial_start(0, [], trial)
    clock.t = 1022.0
    callback.on_trial_result(0, [], trial, result(1, 10.0, 7.0, 2.0))
    entry = read_status(tmp_path)["trials"]["t1"]
    assert entry["time"] == pytest.approx(
        {
            "wall": 22.0,
            "startup": 12.0,
            "worker_setup": 0.0,
            "train": 7.0,
            "evaluate": 2.0,
            "teardown": 0.0,
        }  # fmt: skip
    )
    assert "ended_at" not in entry


def test_a_late_first_result_does_not_make_the_loop_shorter_than_its_parts(tmp_path, clock):
    """The first result reached the driver 2 s after it was sent, the second without lag."""
    callback = StoreCallback(tmp_path, "s", echo=lambda line: None)
    trial = SimpleNamespace(config={"trial": plan()})
    callback.on_trial_start(0, [], trial)
    clock.t = 1024.0
    callback.on_trial_result(0, [], trial, result(1, 10.0, 7.0, 2.0))
    clock.t = 1032.0
    callback.on_trial_result(0, [], trial, result(2, 20.0, 7.0, 2.0))
    clock.t = 1035.0
    callback.on_trial_complete(0, [], trial)
    t = read_status(tmp_path)["trials"]["t1"]["time"]
    assert t["startup"] == pytest.approx(12.0)
    assert t["startup"] + t["train"] + t["evaluate"] + t["teardown"] <= t["wall"]


def test_a_failed_trial_keeps_the_time_it_spent(tmp_path, clock):
    callback = StoreCallback(tmp_path, "s", echo=lambda line: None)
    trial = SimpleNamespace(config={"trial": plan()}, error_file=None)
    callback.on_trial_start(0, [], trial)
    clock.t = 1040.0
    callback.on_trial_error(0, [], trial)
    entry = read_status(tmp_path)["trials"]["t1"]
    assert entry["state"] == "failed"
    assert entry["time"]["wall"] == pytest.approx(40.0)
    assert entry["time"]["startup"] == pytest.approx(40.0)  # it never reached its loop

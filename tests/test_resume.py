"""A sweep whose driver is killed (SIGKILL: no clean-up, as when its machine dies) continues with
`xstilts resume DIR`: finished trials are not rerun, interrupted ones continue from their last
checkpoint, finished phases are not re-entered, and the final results table equals the table of a
sweep that was never interrupted."""

from __future__ import annotations

import json
import os
import queue
import re
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
from tiny_sweeps import KILLABLE_ROUNDS, killable_sweep

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROUNDS = KILLABLE_ROUNDS
COLUMNS = ["phase", "trial_id", "task", "language", "split", "metric", "round", "step", "value",
           "n_examples"]  # fmt: skip


def status(out: Path) -> dict:
    try:
        return json.loads((out / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"phases": {}, "trials": {}}


def during_the_intermediate_phase(out: Path, lines: list[str]) -> bool:
    trials = status(out)["trials"].values()
    return any(t["phase"] == "intermediate" and t.get("round") == 1 for t in trials)


def between_phases(out: Path, lines: list[str]) -> bool:
    # Printed after the phase ended, before its hand-off is exported and the next phase starts.
    return any("best checkpoint from" in line for line in lines)


def during_evaluation(out: Path, lines: list[str]) -> bool:
    return status(out)["phases"].get("zero_shot", {}).get("state") == "running"


def xstilts(*args: str, kill_when=None, out: Path | None = None) -> tuple[str, bool]:
    """Run the CLI; with `kill_when(out, lines)`, SIGKILL it the moment that holds. Returns its
    output and whether it was killed; the Ray processes it started are gone either way."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sweep.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    lines: list[str] = []
    incoming: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [incoming.put(x) for x in proc.stdout], daemon=True).start()
    started, killed, ours = time.monotonic(), False, set()
    while proc.poll() is None and time.monotonic() - started < 900:
        while not incoming.empty():
            lines.append(incoming.get())
        if kill_when is not None and kill_when(out, lines):
            ours = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    time.sleep(0.5)
    while not incoming.empty():
        lines.append(incoming.get())
    _end_orphans(ours)
    output = "".join(lines)
    assert killed or proc.returncode == 0, output[-3000:]
    return output, killed


def _end_orphans(pids: set[int]) -> None:
    """The driver's machine died with it: end the Ray processes it started (Ray would end them
    itself within seconds; never anyone else's processes)."""
    for proc in filter(None, map(_process, pids)):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue


def _process(pid: int):
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def results(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "results")
    return frame[COLUMNS].sort_values(COLUMNS).reset_index(drop=True)


@pytest.fixture
def calm(calm_sweep) -> Path:
    """The same sweep, never interrupted."""
    return calm_sweep


def test_a_sweep_killed_three_times_and_resumed_ends_as_an_uninterrupted_one(
    benchmark, tmp_path, calm
):
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(yaml.safe_dump(killable_sweep(benchmark)))

    # --no-reuse: the calm sweep trained these very trials, and they are to train again here.
    output, killed = xstilts("run", str(spec), "--out", str(out), "--no-reuse",
                             kill_when=during_the_intermediate_phase, out=out)  # fmt: skip
    assert killed
    assert "reuse: off (--no-reuse); 3 trial(s) to train" in output
    [inter] = [t for t, s in status(out)["trials"].items() if s["phase"] == "intermediate"]
    first, killed = xstilts("resume", str(out), kill_when=between_phases, out=out)
    assert killed
    # The interrupted trial continued from its last checkpoint (round 1, or round 2 if its worker
    # outlived the driver long enough to save it): no round before it was trained again.
    [after] = re.findall(rf"1 to run \({inter} after round (\d)\)", first)
    assert 1 <= int(after) < ROUNDS
    assert all(f"{inter} round {r}/{ROUNDS}" not in first for r in range(1, int(after) + 1))
    assert f"{inter} round {ROUNDS}/{ROUNDS}" in first

    second, killed = xstilts("resume", str(out), kill_when=during_evaluation, out=out)
    assert killed
    assert "== phase intermediate: done before the interruption, not re-entered" in second
    assert f"{inter} round" not in second

    third, killed = xstilts("resume", str(out))
    assert not killed
    assert "== phase intermediate: done before the interruption, not re-entered" in third
    final = status(out)
    assert {p: s["state"] for p, s in final["phases"].items()} == {
        "intermediate": "done", "target": "done", "zero_shot": "done"}  # fmt: skip
    assert all(t["state"] == "done" for t in final["trials"].values())
    # Nothing stored twice, nothing missing: the same rows with the same values, to the last digit.
    table = results(out)
    assert not table.duplicated(["phase", "trial_id", "task", "language", "split", "metric",
                                 "round"]).any()  # fmt: skip
    pd.testing.assert_frame_equal(table, results(calm))
    assert set(table.phase) == {"similarity", "intermediate", "target", "zero_shot"}


def test_a_second_sweep_takes_the_trials_the_first_finished_and_trains_the_rest(
    benchmark, tmp_path, calm
):
    changed = killable_sweep(benchmark)
    changed["name"] = "again"
    changed["phases"]["target"]["optim"]["learning_rate"] = 3e-4  # targets differ, not the rest
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(changed))
    out = tmp_path / "out"
    output, _ = xstilts("run", str(tmp_path / "spec.yaml"), "--out", str(out))
    [inter] = [t for t, s in status(calm)["trials"].items() if s["phase"] == "intermediate"]
    # Taken from the calm sweep, or from the resumed one (it trained the same trial since).
    [earlier] = re.findall(rf"reuse: {inter}, trained by (\S+) \({inter}\)", output)
    assert Path(earlier).parent.parent == tmp_path.parent
    assert "reuse: 1 trial(s) trained before; 2 to train" in output
    assert f"[intermediate] reuse {inter}: {ROUNDS} round(s) trained by {earlier}" in output
    assert "[intermediate] start" not in output
    assert output.count("[target] start") == 2
    assert status(out)["trials"][inter]["reused_from"] == f"{earlier} ({inter})"
    ours, theirs = results(out), results(calm)
    pd.testing.assert_frame_equal(
        ours[ours.phase == "intermediate"].reset_index(drop=True),
        theirs[theirs.phase == "intermediate"].reset_index(drop=True),
    )
    assert set(pd.read_parquet(out / "results").sweep) == {"again"}


def test_resuming_a_finished_sweep_changes_nothing(calm):
    before = results(calm)
    output, _ = xstilts("resume", str(calm))
    assert "the sweep finished; nothing to resume" in output
    pd.testing.assert_frame_equal(results(calm), before)


def test_resume_names_a_directory_without_a_sweep(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "resume", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"xstilts: {tmp_path}: not a sweep directory (no status.json or results/)"
    )

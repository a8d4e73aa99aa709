"""Where a sweep's trials spend their wall time: training and evaluating, or everything else.

Runs the demo sweep through the real CLI (`xstilts run demo --no-reuse`, or `--spec` another),
timing it from the command's start to its exit, then reads the time ledger the sweep driver
keeps for every trial in `status.json` (`sweep.progress.TrialClock`):

- start-up: from Tune starting the trial to the training loop's first step, split into Ray's
  part (actors and worker processes, their imports) and the worker's own set-up as the loop
  times it (process group, data, model, DeepSpeed engine, restoring a checkpoint);
- training: the loop's optimizer steps; evaluation: its English dev evaluations;
- the rest of the loop (checkpoints, reports) and teardown (last result to the trial's end).

The figure is the share of the trials' wall time spent training or evaluating (the issue's
target: at least 70%). The baseline it is set against is the whole sweep's wall time
(`sweep wall`): besides the trials it holds the driver's start, planning, hand-offs between
phases and the zero-shot evaluations no trial overlapped, printed as `no trial running`.

Run:  .venv/bin/python bench/sweep_overhead.py           (the demo: ~10 minutes on 2 idle cores)
      .venv/bin/python bench/sweep_overhead.py --from DIR   (an existing sweep's output: no run)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PARTS = ("ray_startup", "worker_setup", "train", "evaluate", "loop_rest", "teardown")
TARGET = 0.70


def run_sweep(spec: str, out: Path) -> float:
    """Seconds `xstilts run` took, from the command's start to its exit."""
    xstilts = Path(sys.executable).parent / "xstilts"
    started = time.time()
    done = subprocess.run([str(xstilts), "run", spec, "--out", str(out), "--no-reuse"])
    if done.returncode != 0:
        raise SystemExit(f"sweep_overhead: `xstilts run {spec}` failed (exit {done.returncode})")
    return time.time() - started


def ledger(out: Path) -> dict[str, dict]:
    """Trials with a complete time ledger (ended), by trial id."""
    path = out / "status.json"
    if not path.is_file():
        raise SystemExit(f"sweep_overhead: {path} not found: not a sweep's output directory")
    trials = json.loads(path.read_text())["trials"]
    return {k: v for k, v in trials.items() if "ended_at" in v and "time" in v}


def parts(entry: dict) -> dict[str, float]:
    t = entry["time"]
    rest = t["wall"] - t["startup"] - t["train"] - t["evaluate"] - t["teardown"]
    setup = t.get("worker_setup", 0.0)
    return {
        "wall": t["wall"],
        "ray_startup": t["startup"] - setup,
        "worker_setup": setup,
        "train": t["train"],
        "evaluate": t["evaluate"],
        "loop_rest": max(0.0, rest),
        "teardown": t["teardown"],
    }


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of the intervals: the time at least one trial was running."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def summarise(trials: dict[str, dict], sweep_wall: float | None) -> float:
    by_phase: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for entry in trials.values():
        sums = by_phase[entry["phase"]]
        sums["trials"] += 1
        for key, value in parts(entry).items():
            sums[key] += value
    total: dict[str, float] = defaultdict(float)
    for phase, sums in by_phase.items():
        for key, value in sums.items():
            total[key] += value
        print(line(f"phase {phase}", sums))
    print(line("all trials", total))
    share = (total["train"] + total["evaluate"]) / total["wall"]
    verdict = "met" if share >= TARGET else "NOT met"
    print(
        f"sweep_overhead: trials spent {share:.1%} of their wall time training or evaluating "
        f"(target {TARGET:.0%}: {verdict})"
    )
    intervals = [(e["started_at"], e["ended_at"]) for e in trials.values()]
    busy = busy_seconds(intervals)
    if sweep_wall is None:  # an existing output: from the first trial's start to the last end
        sweep_wall = max(b for _, b in intervals) - min(a for a, _ in intervals)
    useful = total["train"] + total["evaluate"]
    print(
        f"sweep_overhead: sweep wall {sweep_wall:.1f} s, no trial running {sweep_wall - busy:.1f} s "
        f"({(sweep_wall - busy) / sweep_wall:.0%}); trial time / sweep wall "
        f"{total['wall'] / sweep_wall:.2f}x, training+evaluating / sweep wall "
        f"{useful / sweep_wall:.2f}x"
    )
    return share


def line(label: str, sums: dict[str, float]) -> str:
    wall = sums["wall"]
    shares = ", ".join(f"{k} {sums[k]:.1f} s ({sums[k] / wall:.0%})" for k in PARTS)
    return f"sweep_overhead: {label}: {int(sums['trials'])} trials, {wall:.1f} s wall: {shares}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="demo", help="spec to run (default: the demo)")
    parser.add_argument("--out", type=Path, help="where the sweep writes (default: a temp dir)")
    parser.add_argument("--from", dest="existing", type=Path, help="read this output, run nothing")
    args = parser.parse_args()
    if args.existing is not None:
        trials, wall = ledger(args.existing), None
    else:
        out = args.out or Path(tempfile.mkdtemp(prefix="xstilts-overhead-")) / "out"
        wall = run_sweep(args.spec, out)
        trials = ledger(out)
    if not trials:
        raise SystemExit("sweep_overhead: no trial with a time ledger in status.json")
    summarise(trials, wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

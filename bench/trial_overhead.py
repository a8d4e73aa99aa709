"""What Ray costs a trial before and after it trains: xstilts' trial set-up against stock Ray.

Each variant runs N trials one after another through Tune; each trial's training only imports
the training loop (as every real trial does) and reports once, so all a trial costs is start-up,
scheduling and teardown:

- baseline: a stock Ray Train `TorchTrainer` of one worker in each Tune trial, Train's
  preemption watcher on (Ray's defaults), and the trainable importing the training loop with
  its worker function (as xstilts did before);
- xstilts, Ray Train: `sweep.tune_driver`'s trainer (no Ray Data manager for runs without
  datasets), the preemption watcher off, as `xstilts run` sets them up on a Ray it starts
  itself, and the loop imported by the Train worker only: what a trial of several workers
  (or on spot nodes) costs;
- xstilts: a one-worker trial training in its Tune trial's own process
  (`trainers.trial_process`), as xstilts runs one-worker trials off spot nodes.

The figure is CPU seconds per trial, all processes of the machine together (/proc/stat): with
one trial at a time on an idle machine the extra processes start on the idle core and wall
time hardly moves, but a sweep keeps every core busy, and there each CPU second of start-up is
taken from training. Wall seconds per trial are printed too.

Run:  .venv/bin/python bench/trial_overhead.py [--trials 3]   (on an otherwise idle machine)
Prints every variant and the ratio baseline / xstilts of CPU seconds (above 1 is a saving).
`--no-train-variant` leaves out the middle one (the suite's quick check of the script).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


STOCK, TRAIN, IN_PROCESS = "stock", "train", "in_process"
NAMES = {
    STOCK: "baseline (stock Ray Train)",
    TRAIN: "xstilts, Ray Train (several workers, spot nodes)",
    IN_PROCESS: "xstilts (one worker, in the trial's process)",
}


def noop_worker(config: dict) -> None:
    import ray.train

    import trainers.loop  # noqa: F401  (what a real worker imports before it trains)

    ray.train.report({"round": 1, "dev_score": 1.0})


def trial(config: dict) -> None:
    if config["variant"] == IN_PROCESS:
        from ray import tune

        import trainers.loop  # noqa: F401  (what the trial imports before it trains)
        from trainers.distributed import ensure_process_group

        # The trial's own process group (Train's variants get theirs from TorchConfig); this one
        # also loads DeepSpeed's comm op, which a Train worker only does once it trains.
        ensure_process_group()
        tune.report({"round": 1, "dev_score": 1.0})
        return
    import ray.train
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from sweep.tune_driver import _trainer_class

    lean = config["variant"] != STOCK
    if not lean:
        import trainers.loop  # noqa: F401  (the trainable's old import of the worker module)
    trainer_class = _trainer_class() if lean else TorchTrainer
    trainer_class(
        noop_worker,
        torch_config=TorchConfig(backend="gloo"),
        scaling_config=ray.train.ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.9}),
        run_config=ray.train.RunConfig(
            name=f"t{config['i']}",
            storage_path=config["storage"],
            callbacks=[TuneReportCallback()],
        ),
    ).fit()


def cpu_seconds() -> float:
    """CPU time the whole machine has spent so far (user + nice + system), in seconds."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return (int(fields[0]) + int(fields[1]) + int(fields[2])) / os.sysconf("SC_CLK_TCK")


def per_trial(variant: str, trials: int, storage: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per trial."""
    import ray
    from ray import tune

    from sweep.runner import ENV, LOCAL_ENV

    env = ENV if variant == STOCK else LOCAL_ENV
    # A trial training in its own process asks for the worker's CPUs; a Train run's driver little.
    cpus = 0.9 if variant == IN_PROCESS else 0.01
    ray.init(num_cpus=2, log_to_driver=False, runtime_env={"env_vars": env})
    try:
        tuner = tune.Tuner(
            tune.with_resources(trial, {"CPU": cpus}),
            param_space={
                "i": tune.grid_search(list(range(trials))),
                "variant": variant,
                "storage": storage,
            },
            tune_config=tune.TuneConfig(max_concurrent_trials=1),
            run_config=tune.RunConfig(name=variant, storage_path=storage, verbose=0),
        )
        started, cpu = time.monotonic(), cpu_seconds()
        results = tuner.fit()
        elapsed, cpu = time.monotonic() - started, cpu_seconds() - cpu
        if results.errors:
            raise SystemExit(f"trial_overhead: a trial failed: {results.errors[0]}")
        return elapsed / trials, cpu / trials
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="trials per variant (default 3)")
    parser.add_argument(
        "--no-train-variant", action="store_true", help="measure only the baseline and xstilts"
    )
    args = parser.parse_args()
    variants = (STOCK, IN_PROCESS) if args.no_train_variant else (STOCK, TRAIN, IN_PROCESS)
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")
    with tempfile.TemporaryDirectory(prefix="xstilts-bench-") as storage:
        measured = {v: per_trial(v, args.trials, storage) for v in variants}
    for variant, (wall, cpu) in measured.items():
        print(f"trial_overhead: {NAMES[variant]}: {cpu:.1f} CPU-s/trial, {wall:.1f} wall-s/trial")
    (stock_wall, stock_cpu), (wall, cpu) = measured[STOCK], measured[IN_PROCESS]
    print(
        f"trial_overhead: ratio baseline/xstilts {stock_cpu / cpu:.2f}x CPU-s per trial, "
        f"{stock_wall / wall:.2f}x wall-s ({args.trials} trials each, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()

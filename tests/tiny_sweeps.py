"""The smallest sweeps the Ray tests run: a one-layer encoder on the synthetic benchmark, one
worker of 0.9 CPU per trial and evaluations of 0.9 CPU, so that a trial and an evaluation fit on
this machine's 2 cores beside the drivers. Evaluations run the model in their own task
(`eval_actors: 0`): an actor's start-up would take longer than the tiny model's inference.
The Ray Data pipeline runs in test_cluster_sweep's sweep, and against the plain loop in
test_eval_pipeline."""

from __future__ import annotations

from pathlib import Path

TINY = {"architecture": "xlm-roberta", "hidden_size": 32, "num_layers": 1, "num_heads": 2,
        "intermediate_size": 64, "max_positions": 64}  # fmt: skip
TINY_MODEL = {"name": "tiny-xlmr", "tokenizer": "synthetic", "tiny": TINY}
OPTIM = {"learning_rate": 1e-3, "batch_size": 32, "max_length": 48, "max_train_examples": 320}
ONE_WORKER = {"workers": 1, "cpus_per_worker": 0.9, "driver_cpus": 0.01,
              "max_concurrent_trials": 1, "eval_actors": 0, "eval_cpus": 0.9}  # fmt: skip


def tiny_sweep(name: str, benchmark: Path, phases: dict, resources: dict | None = None, **rest):
    """A spec (as YAML would give it) of the tiny model on the synthetic benchmark, seed 0."""
    return {
        "name": name,
        "model": TINY_MODEL,
        "data": {"source": "synthetic", "root": str(benchmark)},
        "phases": phases,
        "resources": {**ONE_WORKER, **(resources or {})},
        "seeds": [0],
        **rest,
    }


KILLABLE_ROUNDS = 3
TRACKING_ALL_ON = {"tensorboard": True, "mlflow": True, "wandb": {"project": "xstilts-test"}}


def wandb_env(root: Path) -> dict[str, str]:
    """W&B's variables for a tracked sweep's process, set before its Ray starts so that the W&B
    logging actors inherit them: nothing leaves this machine, and W&B's settings, caches and
    runs stay under `root` (the runs in `wandb_dir(root)`)."""
    homes = ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR")
    env = {name: str(root / "wandb-home" / name.lower()) for name in homes}
    return {**env, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def wandb_dir(root: Path) -> Path:
    return Path(wandb_env(root)["WANDB_DIR"])


def killable_sweep(benchmark: Path, **resources) -> dict:
    """The sweep the interruption tests kill (test_resume, test_worker_failure): one trained
    intermediate trial with rounds of a few seconds each, so that a kill lands inside it, then
    a target from both starts."""
    phases = {
        "intermediate": {
            "tasks": ["none", "synth_mnli"],
            "optim": {**OPTIM, "epochs": 60, "rounds": KILLABLE_ROUNDS},
        },
        "target": {"tasks": ["synth_udpos"], "optim": {**OPTIM, "epochs": 2, "rounds": 1}},
    }
    return tiny_sweep("resume", benchmark, phases, resources)

"""Trial bookkeeping during a phase: results into the store, states into `status.json`, a line
per event on the console. A Tune callback, so it runs in the sweep driver's process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ray.tune import Callback

from sweep import store
from trainers import remote

STATUS = "status.json"
DONE, STOPPED, FAILED, RUNNING, PENDING = "done", "stopped", "failed", "running", "pending"
# An evaluation's outcome: every language scored, some languages not, or none at all.
COMPLETE, INCOMPLETE = "complete", "incomplete"


def read_status(out_dir: Path) -> dict:
    path = Path(out_dir) / STATUS
    return json.loads(path.read_text()) if path.is_file() else {"phases": {}, "trials": {}}


def write_status(out_dir: Path, status: dict) -> None:
    path = Path(out_dir) / STATUS
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(status, indent=1, sort_keys=True))
    os.replace(tmp, path)


def set_phase(out_dir: Path, phase: str, state: str, **extra) -> None:
    status = read_status(out_dir)
    status["phases"][phase] = {"state": state, "time": time.time(), **extra}
    write_status(out_dir, status)


def update_trial(out_dir: Path, trial_id: str, defaults: dict, **fields) -> None:
    """Set `fields` on a trial's status entry, creating it from `defaults` the first time."""
    status = read_status(out_dir)
    status["trials"].setdefault(trial_id, dict(defaults)).update(fields)
    write_status(out_dir, status)


def say(line: str) -> None:
    """The default echo. Tune pickles its callbacks, and pickles the builtin `print` by name:
    once a Ray Train worker in this process has patched `builtins.print` (Train v2 does), the
    name no longer finds the same object and the pickling fails. A module function always does."""
    print(line, flush=True)


class StoreCallback(Callback):
    def __init__(self, out_dir: Path, sweep: str, echo=say):
        self.out_dir = Path(out_dir)
        self.sweep = sweep
        self.echo = echo
        self.last_round: dict[str, int] = {}

    def _update(self, plan: dict, **fields) -> None:
        defaults = {
            "phase": plan["phase"],
            "task": plan["task"],
            "intermediate": plan["intermediate"],
            "target": plan["target"],
            "config_id": plan["config_id"],
            "seed": plan["seed"],
            "rounds": top_round(plan),
        }
        update_trial(self.out_dir, plan["trial_id"], defaults, **fields)

    def on_trial_start(self, iteration, trials, trial, **info):
        plan = trial.config["trial"]
        self._update(plan, state=RUNNING)
        self.echo(
            f"[{plan['phase']}] start {plan['trial_id']} ({plan['config_id']}, seed {plan['seed']})"
        )

    def on_trial_result(self, iteration, trials, trial, result, **info):
        plan = trial.config["trial"]
        store_round(self.out_dir, self.sweep, plan, result)
        self.last_round[plan["trial_id"]] = result["round"]
        self._update(plan, state=RUNNING, round=result["round"], dev_score=result["dev_score"])
        self.echo(
            f"[{plan['phase']}] {plan['trial_id']} round {result['round']}/{top_round(plan)}: "
            f"dev {plan['metric']} {result['dev_score']:.4f}"
        )

    def on_trial_complete(self, iteration, trials, trial, **info):
        plan = trial.config["trial"]
        rounds = top_round(plan)
        reached = self.last_round.get(plan["trial_id"], 0)
        state = DONE if reached >= rounds else STOPPED
        self._update(plan, state=state)
        if state == DONE:  # later sweeps may take it instead of training it again
            from sweep.reusing import register

            register(self.out_dir, plan)
        note = "" if state == DONE else f" (ASHA stopped it after round {reached}/{rounds})"
        self.echo(f"[{plan['phase']}] {state} {plan['trial_id']}{note}")

    def on_trial_error(self, iteration, trials, trial, **info):
        plan = trial.config["trial"]
        cause = _first_line(getattr(trial, "error_file", None))
        self._update(plan, state=FAILED, error=cause)
        self.echo(f"[{plan['phase']}] FAILED {plan['trial_id']}: {cause}")


def top_round(plan: dict) -> int:
    """The round a trial is done at: its last, or the phase's ASHA max_t if that comes first."""
    return plan.get("max_rounds", plan["train"]["optim"]["rounds"])


def round_label(plan: dict, round_: int) -> str:
    """The store label of one round's dev rows: a round is stored once, whoever stores it."""
    return f"{plan['phase']}-{plan['trial_id']}-r{round_}"


def store_round(out_dir: Path, sweep: str, plan: dict, result: dict) -> bool:
    """Store a round's dev rows unless they are there already (a resumed sweep stores the rounds
    a killed driver missed, and must not store them twice); True when it wrote them."""
    label = round_label(plan, result["round"])
    if store.has_part(out_dir, label):
        return False
    rows = [
        result_row(sweep, plan, result, key.removeprefix("dev/"), value)
        for key, value in result.items()
        if key.startswith("dev/") and not key.endswith("/n_examples")
        and isinstance(value, (int, float))
    ]  # fmt: skip
    if "train_loss" in result:  # the round's mean training loss, a scheduler's other metric
        loss = result_row(sweep, plan, result, "loss", result["train_loss"])
        rows.append({**loss, "split": "train", "n_examples": int(result.get("train_examples", 0))})
    return store.write_rows(out_dir, rows, label=label) is not None


def result_row(sweep: str, plan: dict, result: dict, metric: str, value: float) -> dict:
    """A dev row. A mixture reports `member/metric` for each member task (and `mlm`): the row's
    task is then that member, and its n_examples the member's dev set."""
    task, _, member_metric = metric.rpartition("/")
    n_examples = result.get(f"dev/{task}/n_examples" if task else "dev/n_examples", 0)
    return {
        "sweep": sweep,
        "phase": plan["phase"],
        "trial_id": plan["trial_id"],
        "config_id": plan["config_id"],
        "intermediate": plan["intermediate"],
        "target": plan["target"],
        "task": task or plan["task"],
        "language": "multi" if task == "mlm" else plan["language"],
        "split": "dev",
        "metric": member_metric,
        "value": float(value),
        "n_examples": int(n_examples),
        "round": int(result["round"]),
        "step": int(result["step"]),
        "learning_rate": float(plan["train"]["optim"]["learning_rate"]),
        "hparams": json.dumps(plan["train"]["optim"], sort_keys=True),
        "seed": int(plan["seed"]),
        "checkpoint_path": checkpoint_uri(plan, result.get("checkpoint_path")),
        "wall_seconds": float(result.get("wall_seconds", 0.0)),
    }


def checkpoint_uri(plan: dict, path: str | None) -> str:
    """A reported checkpoint's full address. Ray reports paths on the storage's file system, with
    the URI's scheme (and query) stripped: on shared storage, rebuild them from the trial's."""
    if not path:
        return ""
    if not remote.is_uri(plan.get("train_storage", "")) or remote.is_uri(path):
        return str(path)
    return remote.join(plan["train_storage"], plan["trial_id"], Path(path).name)


def _first_line(error_file: str | None) -> str:
    if not error_file or not Path(error_file).is_file():
        return "unknown error (see the trial's logs under the Ray storage path)"
    lines = [line.strip() for line in Path(error_file).read_text().splitlines() if line.strip()]
    # The last line of a Python traceback names the exception; that is the cause worth showing.
    return lines[-1][:300] if lines else "unknown error"

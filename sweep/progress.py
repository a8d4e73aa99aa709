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
WAITING = "waiting"  # paused at an ASHA rung until promoted (`asha.promotion: pause`)
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
    """`waits`: whether the scheduler has just paused a trial at a rung (it decides before the
    callbacks see the result)."""

    def __init__(self, out_dir: Path, sweep: str, echo=say, waits=None):
        self.out_dir = Path(out_dir)
        self.sweep = sweep
        self.echo = echo
        self.waits = waits
        self.last_round: dict[str, int] = {}
        self.clock: dict[str, TrialClock] = {}

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
        self.clock[plan["trial_id"]] = TrialClock(time.time())
        self._update(plan, state=RUNNING)
        self.echo(
            f"[{plan['phase']}] start {plan['trial_id']} ({plan['config_id']}, seed {plan['seed']})"
        )

    def on_trial_result(self, iteration, trials, trial, result, **info):
        plan = trial.config["trial"]
        store_round(self.out_dir, self.sweep, plan, result)
        self.last_round[plan["trial_id"]] = result["round"]
        waits = self.waits is not None and self.waits(trial.trial_id)
        self._update(
            plan,
            state=WAITING if waits else RUNNING,
            round=result["round"],
            dev_score=result["dev_score"],
            **self._timed(plan, result),
        )
        self.echo(
            f"[{plan['phase']}] {plan['trial_id']} round {result['round']}/{top_round(plan)}: "
            f"dev {plan['metric']} {result['dev_score']:.4f}"
            + (" (waits for ASHA to promote it)" if waits else "")
        )
        if waits:  # the attempt ends here; a promotion starts the next one
            self._ended(plan)

    def on_trial_complete(self, iteration, trials, trial, **info):
        plan = trial.config["trial"]
        rounds = top_round(plan)
        reached = self.last_round.get(plan["trial_id"], 0)
        state = DONE if reached >= rounds else STOPPED
        self._update(plan, state=state)
        if state == DONE:  # later sweeps may take it instead of training it again
            from sweep.reusing import register

            register(self.out_dir, plan)
        self._ended(plan)
        note = "" if state == DONE else f" (ASHA stopped it after round {reached}/{rounds})"
        self.echo(f"[{plan['phase']}] {state} {plan['trial_id']}{note}")

    def on_trial_error(self, iteration, trials, trial, **info):
        plan = trial.config["trial"]
        cause = _first_line(getattr(trial, "error_file", None))
        self._update(plan, state=FAILED, error=cause)
        self._ended(plan)
        self.echo(f"[{plan['phase']}] FAILED {plan['trial_id']}: {cause}")

    def _timed(self, plan: dict, result: dict) -> dict:
        """The trial's time ledger after a round's result (see `TrialClock`)."""
        clock = self.clock.get(plan["trial_id"])
        if clock is None:  # a result from before this driver started the trial
            return {}
        now = time.time()
        # The loop's clock started after start-up. A result reaches the driver a moment after
        # the worker sent it: the earliest estimate over the results has the least of that lag.
        loop_started = now - float(result.get("wall_seconds", 0.0))
        if clock.loop_started is None:
            # The worker's own part of start-up (process group, data, model, engine, restore);
            # the rest is Ray's actors and processes and their imports.
            clock.worker_setup = sum(v for k, v in result.items() if k.startswith("setup/"))
        clock.loop_started = min(loop_started, clock.loop_started or loop_started)
        clock.last_result = now
        clock.train += float(result.get("train_seconds", 0.0))
        clock.evaluate += float(result.get("eval_seconds", 0.0))
        return clock.fields(self._earlier(plan))

    def _ended(self, plan: dict) -> None:
        clock = self.clock.pop(plan["trial_id"], None)
        if clock is not None:
            clock.ended = time.time()
            fields = clock.fields(self._earlier(plan))
            update_trial(self.out_dir, plan["trial_id"], {}, **fields)

    def _earlier(self, plan: dict) -> dict:
        """The ledger of the trial's earlier attempts (a failure, a resumed sweep)."""
        entry = read_status(self.out_dir)["trials"].get(plan["trial_id"], {})
        return entry.get("attempts_time", {})


class TrialClock:
    """Where one attempt of a trial spends its wall time, as the driver sees it: start-up (from
    Tune starting the trial to the loop's first step: worker processes, imports, data, model,
    engine; `worker_setup` is the part the loop timed itself), training steps, dev evaluation,
    the rest of the loop (checkpoints, reports), and teardown (from the last result to the
    trial's end). The sweep-overhead benchmark reads these from `status.json`."""

    def __init__(self, started: float):
        self.started = started
        self.loop_started: float | None = None
        self.last_result: float | None = None
        self.ended: float | None = None
        self.train = self.evaluate = self.worker_setup = 0.0

    def attempt(self) -> dict:
        end = self.ended or self.last_result or self.started
        loop = (self.loop_started or end) - self.started
        return {
            "wall": end - self.started,
            "startup": loop,
            "worker_setup": self.worker_setup,
            "train": self.train,
            "evaluate": self.evaluate,
            "teardown": end - (self.last_result or end),
        }

    def fields(self, earlier: dict) -> dict:
        """Status fields: this attempt's times added to the earlier attempts' (`time`), and the
        attempt's own bounds; `attempts_time` is what a next attempt adds to."""
        total = {k: earlier.get(k, 0.0) + v for k, v in self.attempt().items()}
        fields = {"time": total, "started_at": self.started}
        if self.ended is not None:
            fields.update(ended_at=self.ended, attempts_time=total)
        return fields


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

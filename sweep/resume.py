"""What a sweep already holds, so that `xstilts resume` (and a reused trial) redoes none of it.

The results store and `status.json` are the sweep's memory. A trial whose status says done,
stopped or failed is finished and never rerun; any other trial continues from the last
checkpoint its Ray Train run persisted (the run is named after the trial, so Train finds it).
A driver killed after Train persisted a round's checkpoint but before it stored the round's
rows leaves that round only in the checkpoint's `xstilts.json`: `backfill` stores it from there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sweep import store
from sweep.progress import DONE, FAILED, STOPPED, read_status, store_round, update_trial
from trainers import remote

FINISHED = (DONE, STOPPED, FAILED)


def finished_trials(out: Path, trial_ids) -> dict[str, str]:
    """trial_id -> its final state, for the trials of `trial_ids` that have one."""
    status = read_status(out)["trials"]
    states = {t: status.get(t, {}).get("state") for t in trial_ids}
    return {t: s for t, s in states.items() if s in FINISHED}


def backfill(out: Path, sweep: str, plan: dict) -> int:
    """Store the rounds an unfinished trial checkpointed but never stored; returns the round of
    its latest checkpoint (0: none), the round it continues after."""
    run = remote.join(plan["train_storage"], plan["trial_id"])
    latest, stored = 0, []
    metas = [
        n for n in remote.files_under(run) if re.fullmatch(r"checkpoint_[^/]+/xstilts\.json", n)
    ]
    for name in sorted(metas):
        meta = json.loads(remote.read_text(remote.join(run, name)))
        checkpoint = remote.join(run, name.partition("/")[0])
        result = {**meta["metrics"], "checkpoint_path": checkpoint}
        latest = max(latest, result["round"])
        if store_round(out, sweep, plan, result):
            stored.append(result["round"])
    if stored:
        defaults = {"phase": plan["phase"], "rounds": plan["train"]["optim"]["rounds"]}
        update_trial(out, plan["trial_id"], defaults, round=max(stored))
    return latest


def history(out: Path, plans: list[dict]) -> dict[str, list[tuple[int, dict]]]:
    """trial_id -> [(round, {metric key as reported: value})] of the rounds already stored, in
    the keys a Tune result has (`dev_score`, `train_loss`), for schedulers and searchers."""
    if not plans:
        return {}
    phase = plans[0]["phase"]
    frame = store.read_results(out, f"{phase}-").to_pandas()
    found: dict[str, list[tuple[int, dict]]] = {}
    for plan in plans:
        rows = frame[(frame.trial_id == plan["trial_id"]) & (frame.task == plan["task"])]
        rounds = []
        for round_, part in rows.groupby("round"):
            values = {}
            dev = part[(part.split == "dev") & (part.metric == plan["metric"])]
            if len(dev):
                values["dev_score"] = float(dev.value.iloc[0])
            loss = part[(part.split == "train") & (part.metric == "loss")]
            if len(loss):
                values["train_loss"] = float(loss.value.iloc[0])
            rounds.append((int(round_), values))
        if rounds:
            found[plan["trial_id"]] = sorted(rounds, key=lambda r: r[0])
    return found


def sampled_before(out: Path, searches, metric: str = "dev_score") -> list[tuple]:
    """The hyperopt trials an interrupted sweep sampled and stored a round of, rebuilt from its
    store as (TrialPlan, their last `metric`, finished or not): finished ones count as samples
    taken, the others continue."""
    from sweep.handoff import primary_metric

    if not searches:
        return []
    phase = searches[0].phase
    by_group = {s.group: s for s in searches}
    frame = store.read_results(out, f"{phase}-").to_pandas()
    found = []
    for trial_id, entry in sorted(read_status(out)["trials"].items()):
        if entry.get("phase") != phase:
            continue
        group = (
            entry["task"]
            if phase == "intermediate"
            else f"{entry['intermediate']}->{entry['target']}"
        )
        rows = frame[frame.trial_id == trial_id]
        search = by_group.get(group)
        if search is None or rows.empty:
            continue
        optim = json.loads(rows.hparams.iloc[0])
        trial = search.trial({k: optim[k] for k in search.space}, int(entry["seed"]))
        if trial.trial_id() != trial_id:  # the spec changed under it: not one of this search's
            continue
        plan = {"phase": phase, "trial_id": trial_id, "task": trial.task,
                "metric": primary_metric(trial.task)}  # fmt: skip
        rounds = history(out, [plan]).get(trial_id, [])
        score = rounds[-1][1].get(metric) if rounds else None
        found.append((trial, score, entry.get("state") in FINISHED))
    return found

"""Taking finished trials from earlier sweeps instead of training them again.

Every training trial gets the key of everything that decides its result (`sweep.reuse`): its
config, the key of the encoder it starts from, its data's checksums and the training code. A
trial that ends done is registered under its key; a later sweep with a trial of the same key
copies that trial's rows into its own store and starts the next phase from its checkpoint, where
the earlier sweep left it. Keys chain: an intermediate hand-off is keyed by its group of trials,
so a target trial's key changes whenever anything upstream of it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sweep import store
from sweep.handoff import Context, best_checkpoints
from sweep.plan import TrialPlan
from sweep.progress import DONE, round_label, update_trial
from sweep.reuse import ReuseIndex, group_key, source_key, trial_key
from sweep.spec import NONE
from trainers.config import TrainConfig


@dataclass(frozen=True)
class Keys:
    trials: dict[str, str]  # trial_id -> the key of its result
    starts: dict[str, str]  # 'none' and each intermediate entry -> the key of its hand-off


def sweep_keys(ctx: Context, train_config: Callable[[TrialPlan], TrainConfig]) -> Keys:
    """The key of every training trial of the plan, before anything runs."""
    spec, plan = ctx.spec, ctx.plan
    trials: dict[str, str] = {}
    start = _start_key(ctx)
    for trial in plan.pretrain:
        random = source_key(
            "random", tiny=spec.model.tiny, tokenizer=ctx.tokenizer, seed=trial.seed
        )
        trials[trial.trial_id()] = trial_key(train_config(trial), random)
        start = source_key(
            "trained", key=group_key([trials[trial.trial_id()]], _rule(ctx, "pretrain"))
        )
    for trial in plan.intermediate:
        trials[trial.trial_id()] = trial_key(train_config(trial), start)
    starts = {NONE: start}
    for entry in {t.task for t in plan.intermediate}:
        group = [trials[t.trial_id()] for t in plan.intermediate if t.task == entry]
        starts[entry] = source_key("trained", key=group_key(group, _rule(ctx, "intermediate")))
    for search in plan.searches_for("intermediate"):
        # Sampled as the phase runs: the group is keyed by what it samples from, and how.
        template = trial_key(train_config(search.template), start)
        how = {"space": search.space, "num_samples": search.num_samples, "seeds": search.seeds}
        sampled = group_key([template], {"hyperopt": how})
        starts[search.task] = source_key(
            "trained", key=group_key([sampled], _rule(ctx, "intermediate"))
        )
    for trial in plan.target:
        trials[trial.trial_id()] = trial_key(train_config(trial), starts[trial.intermediate])
    return Keys(trials, starts)


def _start_key(ctx: Context) -> str:
    """Where a sweep without pretraining starts: seeded random tiny weights, a local directory's
    files, or a hub model id."""
    model = ctx.spec.model
    if model.tiny is not None:
        return source_key(
            "random", tiny=model.tiny, tokenizer=ctx.tokenizer, seed=ctx.spec.seeds[0]
        )
    if Path(model.name).is_dir():
        return source_key("local", directory=model.name)
    return source_key("hub", model=model.name)


def _rule(ctx: Context, phase: str) -> dict:
    """How a hand-off is chosen from its group: the best dev score among the trials ASHA let
    finish, so ASHA's settings are part of it."""
    if phase == "pretrain":
        return {"metric": "mlm_accuracy"}
    return {"metric": "dev_score", "asha": ctx.spec.asha_for(phase).model_dump(mode="json")}


def found(index: ReuseIndex, key: str) -> dict | None:
    """The earlier sweep's record of a key, if its rows and a checkpoint are still there."""
    record = index.lookup(key)
    if record is None:
        return None
    source = Path(record["out"])
    best = best_checkpoints(source, record["phase"], record["trial_id"])
    return record if record["trial_id"] in best else None


def take(ctx: Context, plan: dict, record: dict) -> int:
    """Copy an earlier sweep's trial into this sweep as `plan`'s, done; returns its rounds."""
    source, phase, earlier = Path(record["out"]), record["phase"], record["trial_id"]
    table = store.read_results(source, f"{phase}-{earlier}-r")
    rows = [r for r in table.to_pylist() if r["trial_id"] == earlier and r["phase"] == phase]
    rounds = sorted({r["round"] for r in rows})
    for round_ in rounds:
        label = round_label(plan, round_)
        if store.has_part(ctx.out, label):
            continue
        copied = [
            {
                **r,
                "sweep": ctx.spec.name,
                "trial_id": plan["trial_id"],
                "config_id": plan["config_id"],
            }
            for r in rows
            if r["round"] == round_
        ]
        store.write_rows(ctx.out, copied, label=label)
    defaults = {"phase": plan["phase"], "task": plan["task"], "intermediate": plan["intermediate"],
                "target": plan["target"], "config_id": plan["config_id"], "seed": plan["seed"],
                "rounds": plan["max_rounds"]}  # fmt: skip
    update_trial(ctx.out, plan["trial_id"], defaults, state=DONE, round=rounds[-1],
                 reused_from=f"{source} ({earlier})")  # fmt: skip
    return len(rounds)


def register(out: Path, plan: dict, index: ReuseIndex | None = None) -> None:
    """Remember a trial that ended done, for later sweeps."""
    if plan.get("reuse_key"):
        index = index or ReuseIndex()
        index.register(plan["reuse_key"], {"out": str(out), "phase": plan["phase"],
                                           "trial_id": plan["trial_id"]})  # fmt: skip

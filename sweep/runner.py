"""Running a sweep: the phases in order and the hand-off between them.

pretrain (optional) -> intermediate -> retrieval -> target -> zero_shot (the evaluation phases
are in `sweep.evaluation`). Each training phase is one Tuner;
between phases the best checkpoint of each configuration is consolidated into a plain encoder
directory under `<out>/handoff/`, which the next phase's trials load strictly.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import yaml

from sweep.cost import trial_hours
from sweep.evaluation import Retrieval, ZeroShot, ZeroShotCallback
from sweep.handoff import Context, best_checkpoints, export, primary_metric
from sweep.plan import TrialPlan, expand
from sweep.progress import DONE, StoreCallback, read_status, say, set_phase
from sweep.resume import backfill, finished_trials, history, sampled_before
from sweep.reuse import ReuseIndex
from sweep.reusing import found, sweep_keys, take
from sweep.search import GroupedSearch, total_trials
from sweep.similarity import start_similarity
from sweep.spec import NONE, SweepSpec
from sweep.storage import Mirror, sweep_storage
from sweep.tune_driver import make_scheduler, make_tuner
from trainers import remote
from trainers.config import DataConfig, TrainConfig
from trainers.shards import default_cache

RUN = "run.json"  # how the sweep was started (`--no-reuse`), for `xstilts resume`
ENV = {"TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}
# On a Ray we start ourselves (one machine, no spot nodes) Train's preemption watcher has nothing
# to watch, yet costs every trial one more actor process (~3 s of CPU, measured). Sweeps on a
# cluster (`ray up`, RAY_ADDRESS) keep it: that is where nodes get drained.
LOCAL_ENV = {**ENV, "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"}


def resolve_data(spec: SweepSpec) -> tuple[DataConfig, str]:
    """The worker-side data config and tokenizer; generates the synthetic benchmark if needed."""
    if spec.data.source == "synthetic":
        from trainers.synth import ensure_benchmark

        root = (
            Path(spec.data.root)
            if spec.data.root
            else default_cache() / f"synthetic-seed{spec.data.seed}"
        )
        root = ensure_benchmark(root, seed=spec.data.seed)
        tokenizer = (
            str(root / "tokenizer")
            if spec.model.tokenizer == "synthetic"
            else spec.model.tokenizer_source()
        )
        return DataConfig(source="local", root=str(root)), tokenizer
    data = DataConfig(source=spec.data.source, root=spec.data.root, cache_dir=spec.data.cache_dir)
    return data, spec.model.tokenizer_source()


def run_sweep(
    spec: SweepSpec, out: Path, echo=say, *, resume: bool = False, reuse: bool = True
) -> Path:
    """Run every phase of `spec` into `out`; with `resume`, continue the sweep `out` holds:
    finished trials and phases are kept, interrupted trials continue from their checkpoints.
    With `reuse`, trials an earlier sweep finished (same key) are taken instead of trained."""
    import ray

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    storage = sweep_storage(spec.storage_path, spec.name)
    # The spec kept with the sweep names its storage, wherever it came from ($XSTILTS_STORAGE):
    # a resumed sweep must find its checkpoints in the same place.
    spec = spec.model_copy(update={"storage_path": storage})
    if resume:
        reuse = json.loads((out / RUN).read_text())["reuse"] if (out / RUN).is_file() else reuse
    else:
        spec_text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
        (out / "spec.yaml").write_text(spec_text)
        (out / RUN).write_text(json.dumps({"reuse": reuse}))
    data, tokenizer = resolve_data(spec)
    ctx = Context(
        spec, expand(spec), out, data, tokenizer, echo, resume=resume, reuse=reuse, storage=storage
    )
    ctx = replace(ctx, keys=sweep_keys(ctx, lambda t: _train_config(ctx, t, "")).trials)
    _forecast(ctx)
    with ThreadPoolExecutor(max_workers=1) as background:
        # A tiny model's random start imports torch and transformers, seconds of CPU, while
        # Ray's processes start: the two overlap.
        random_init = ctx.spec.model.tiny and not ctx.plan.pretrain
        random_start = background.submit(_random_start, ctx) if random_init else None
        started_ray = not ray.is_initialized()
        if started_ray:
            # The dashboard serves the State API that Ray Train's placement-group cleaner polls:
            # without it, every trial stopped by ASHA leaks its placement group and later trials
            # never start.
            env = _env(preemptible=spec.resources.preemptible)
            ray.init(log_to_driver=False, configure_logging=False, runtime_env={"env_vars": env})
    mirror = Mirror(out, storage) if storage else None
    if mirror is not None:
        echo(f"storage: {storage} (this directory is copied to {mirror.uri})")
        mirror.start()
    try:
        start = _run_pretrain(ctx, random_start)
        similarity = start_similarity(ctx, start)  # beside the intermediate phase
        starts = {NONE: start, **_run_intermediate(ctx, start)}
        similarity.finish()
        retrieval = Retrieval(ctx, starts).start()  # beside the target phase
        zero_shot = ZeroShot(ctx)
        _run_target(ctx, starts, zero_shot, retrieval)
        retrieval.finish()
        zero_shot.finish()
    finally:
        if mirror is not None:
            mirror.stop()
        if started_ray:
            ray.shutdown()
    return out


def _forecast(ctx: Context) -> None:
    """Say what the sweep takes from earlier sweeps and what it will train."""
    if not ctx.reuse:
        ctx.echo(f"reuse: off (--no-reuse); {len(ctx.keys)} trial(s) to train")
        return
    index = ReuseIndex()
    taken = {t: r for t, k in ctx.keys.items() if (r := found(index, k)) is not None}
    for trial_id, record in sorted(taken.items()):
        ctx.echo(f"reuse: {trial_id}, trained by {record['out']} ({record['trial_id']})")
    ctx.echo(f"reuse: {len(taken)} trial(s) trained before; {len(ctx.keys) - len(taken)} to train")


def _env(preemptible: bool = False) -> dict[str, str]:
    """The sweep's environment: lean on a local Ray, everything on a cluster or spot nodes."""
    return ENV if os.environ.get("RAY_ADDRESS") or preemptible else LOCAL_ENV


def _run_pretrain(ctx: Context, random_start: Future | None) -> str:
    if not ctx.plan.pretrain:
        return random_start.result() if random_start is not None else ctx.spec.model.name
    _run_phase(ctx, "pretrain", init_from=lambda t: "random")
    best = best_checkpoints(ctx.out, "pretrain")
    trial_id = max(best, key=lambda t: best[t][0])
    return export(ctx, best[trial_id][2], "pretrain")


def _random_start(ctx: Context) -> str:
    """A tiny encoder with no pretraining starts random: the same random weights for every
    trial (seeded by the spec's first seed), saved as pretraining's hand-off would be, so that
    `none` and each intermediate configuration start from one encoder."""
    from trainers.model import save_random_encoder

    directory = ctx.handoff_dir("pretrain")
    save_random_encoder(ctx.spec.model.tiny, ctx.tokenizer, ctx.spec.seeds[0], directory)
    return ctx.share(directory, "pretrain")


def _run_intermediate(ctx: Context, start: str) -> dict[str, str]:
    entries = {t.task for t in ctx.plan.intermediate}
    entries |= {s.task for s in ctx.plan.searches_for("intermediate")}
    if not entries:
        return {}
    _run_phase(ctx, "intermediate", init_from=lambda t: start)
    best = best_checkpoints(ctx.out, "intermediate")
    starts = {}
    for task in sorted(entries):
        candidates = {tid: v for tid, v in best.items() if v[3] == task}
        if not candidates:
            raise RuntimeError(f"intermediate task {task}: no trial reported a checkpoint")
        trial_id = max(candidates, key=lambda t: candidates[t][0])
        ctx.echo(
            f"[intermediate] {task}: best checkpoint from {trial_id} (dev {candidates[trial_id][0]:.4f})"
        )
        starts[task] = export(ctx, candidates[trial_id][2], "intermediate", task)
    return starts


def _run_target(
    ctx: Context, starts: dict[str, str], zero_shot: ZeroShot, retrieval: Retrieval
) -> None:
    _run_phase(
        ctx,
        "target",
        init_from=lambda t: starts[t.intermediate],
        callbacks=[ZeroShotCallback(zero_shot, retrieval)],
        on_trial=zero_shot.add,
    )


def start_order(spec: SweepSpec, trials: list[TrialPlan]) -> list[TrialPlan]:
    """Longest first; equal costs in a fixed pseudo-random order (the hash of the trial id)."""
    mixed = lambda t: hashlib.sha256(t.trial_id().encode()).hexdigest()  # noqa: E731
    return sorted(trials, key=lambda t: (-trial_hours(spec, t), mixed(t)))


def _run_phase(ctx: Context, phase: str, init_from, callbacks=(), on_trial=None) -> None:
    spec = ctx.spec
    if ctx.resume and read_status(ctx.out)["phases"].get(phase, {}).get("state") == "done":
        ctx.echo(f"== phase {phase}: done before the interruption, not re-entered")
        return
    count = ctx.plan.planned_trials(phase)
    set_phase(ctx.out, phase, "running", trials=count)
    ctx.echo(f"== phase {phase}: {count} trial(s)")
    storage = ctx.ray_storage()
    train_storage = remote.join(storage, "train")
    # Longest first: the short trials then fill the gaps at the end of the phase instead of a
    # long one running alone while the other slots idle (the phase ends with its last trial).
    # Equal costs (a grid) in a fixed pseudo-random order, not the grid's: ASHA compares each
    # trial with those that reached a rung before it, and a grid listed from the worst rate
    # to the best would have it stop nothing (bench/asha_savings.py replays this).
    ordered = start_order(spec, ctx.plan.trials(phase))
    dicts = [_trial_dict(ctx, t, init_from(t), train_storage) for t in ordered]
    searches = ctx.plan.searches_for(phase)
    metric = spec.asha_for(phase).metric if phase != "pretrain" else "dev_score"
    sampled = sampled_before(ctx.out, searches, metric) if ctx.resume else []
    for trial, _, finished_before in sampled:
        if finished_before:
            dicts.append(_trial_dict(ctx, trial, init_from(trial), train_storage))
            if on_trial is not None:
                on_trial(trial)
    finished = finished_trials(ctx.out, [d["trial_id"] for d in dicts]) if ctx.resume else {}
    if ctx.resume:
        _report_resume(ctx, phase, dicts, finished)
    finished.update(_take_earlier(ctx, [d for d in dicts if d["trial_id"] not in finished]))
    todo = [d for d in dicts if d["trial_id"] not in finished]
    asha = None
    if phase != "pretrain":
        slots = spec.resources_for(phase).max_concurrent_trials
        asha = make_scheduler(spec.asha_for(phase), _group_sizes(dicts, searches), slots)
    store_callback = StoreCallback(ctx.out, spec.name, ctx.echo, getattr(asha, "is_waiting", None))
    for trial_id, rounds in history(ctx.out, dicts).items():
        store_callback.last_round[trial_id] = rounds[-1][0]
        if asha is not None:
            plan = next(d for d in dicts if d["trial_id"] == trial_id)
            asha.remember(plan, rounds, running=trial_id not in finished)
    started = time.monotonic()
    search = None
    if searches:
        # Points sampled before an interruption count as samples taken: their finished trials
        # are taught to the search, the rest run first (an interrupted one from its checkpoint).
        todo = []

        def make_trial(trial: TrialPlan) -> dict:
            if on_trial is not None:
                on_trial(trial)
            return _trial_dict(ctx, trial, init_from(trial), train_storage)

        asha_spec = spec.asha_for(phase)
        search = GroupedSearch(
            searches, make_trial, metric=asha_spec.metric, mode=asha_spec.resolved_mode(),
            seed=spec.seeds[0], known=[(t.group, t.point, v) for t, v, done in sampled if done],
            unfinished=_unfinished(searches, sampled),
        )  # fmt: skip
    if todo or search:
        tuner = make_tuner(
            phase,
            todo,
            storage=storage,
            resources=spec.resources_for(phase),
            asha=asha,
            callbacks=[store_callback, *callbacks],
            search=search,
            num_samples=total_trials(searches),
            tracking=spec.tracking.resolved(spec.name, ctx.out),
        )
        tuner.fit()
    set_phase(ctx.out, phase, "done", trials=count, seconds=round(time.monotonic() - started, 1))


def _group_sizes(dicts: list[dict], searches) -> dict[str, int]:
    """Each group's trials in the phase: its planned ones, or what its search samples."""
    sizes: dict[str, int] = {}
    for plan in dicts:
        sizes[plan["group"]] = sizes.get(plan["group"], 0) + 1
    sizes.update({s.group: s.n_trials() for s in searches})
    return sizes


def _take_earlier(ctx: Context, dicts: list[dict]) -> dict[str, str]:
    """The trials an earlier sweep finished, copied into this one: trial_id -> done."""
    if not ctx.reuse:
        return {}
    index, taken = ReuseIndex(), {}
    for plan in dicts:
        record = found(index, plan["reuse_key"])
        if record is None:
            continue
        rounds = take(ctx, plan, record)
        ctx.echo(
            f"[{plan['phase']}] reuse {plan['trial_id']}: {rounds} round(s) trained by "
            f"{record['out']} ({record['trial_id']})"
        )
        taken[plan["trial_id"]] = DONE
    return taken


def _unfinished(searches, sampled: list[tuple]) -> list[tuple[str, dict, int]]:
    """(group, point, seed) of every seed not finished of a point sampled before."""
    seeds = {s.group: s.seeds for s in searches}
    done = {(t.group, t.trial_id()) for t, _, finished in sampled if finished}
    owed, points = [], []
    for trial, _, _ in sampled:
        if (trial.group, trial.point) in points:
            continue
        points.append((trial.group, trial.point))
        for seed in seeds[trial.group]:
            again = replace(trial, seed=seed)
            if (trial.group, again.trial_id()) not in done:
                owed.append((trial.group, trial.point, seed))
    return owed


def _report_resume(ctx: Context, phase: str, dicts: list[dict], finished: dict) -> None:
    """Store what interrupted trials checkpointed but never stored, and say what happens next."""
    continuing = []
    for plan in dicts:
        if plan["trial_id"] in finished:
            continue
        latest = backfill(ctx.out, ctx.spec.name, plan)
        continuing.append(
            f"{plan['trial_id']} after round {latest}" if latest else plan["trial_id"]
        )
    ctx.echo(
        f"[resume] phase {phase}: {len(finished)} trial(s) finished before, kept; "
        f"{len(continuing)} to run" + (f" ({', '.join(continuing)})" if continuing else "")
    )


def _pretrain_corpus(ctx: Context, trial: TrialPlan) -> dict:
    pre = ctx.spec.phases.pretrain
    if trial.task != "mlm":
        return {}
    return {"mlm_languages": pre.languages, "mlm_corpus": pre.corpus}


def _train_config(ctx: Context, trial: TrialPlan, init_from: str) -> TrainConfig:
    spec = ctx.spec
    res = spec.resources_for(trial.phase)
    return TrainConfig(
        phase=trial.phase,
        **trial.train_fields(),
        model=spec.model,
        init_from=init_from,
        tokenizer=ctx.tokenizer,
        data=ctx.data,
        optim=trial.optim,
        deepspeed=spec.deepspeed,
        seed=trial.seed,
        **_pretrain_corpus(ctx, trial),
        workers=res.workers,
        use_gpu=res.use_gpu(),
        reuse_head=trial.phase == "target" and spec.phases.target.reuse_head,
    )


def _trial_dict(ctx: Context, trial: TrialPlan, init_from: str, train_storage: str) -> dict:
    spec = ctx.spec
    res = spec.resources_for(trial.phase)
    train = _train_config(ctx, trial, init_from)
    rounds = trial.optim.rounds
    max_t = spec.asha_for(trial.phase).max_t if trial.phase != "pretrain" else None
    return {
        "trial_id": trial.trial_id(),
        "config_id": trial.config_id(),
        "phase": trial.phase,
        "max_rounds": min(rounds, max_t or rounds),
        "task": trial.task,
        "intermediate": trial.intermediate,
        "target": trial.target,
        "seed": trial.seed,
        "group": trial.group,
        "metric": primary_metric(trial.task),
        "language": "multi" if trial.task == "mlm" else "en",
        "train": train.model_dump(mode="json"),
        "train_storage": train_storage,
        "reuse_key": ctx.keys.get(trial.trial_id(), ""),
        "resources": {
            "workers": res.workers,
            "cpus_per_worker": res.cpus_per_worker,
            "gpus_per_worker": res.gpus_per_worker,
            "max_failures": res.max_failures,
            "max_preemptions": res.max_preemptions,
            "worker_resources": res.worker_resources,
        },
    }

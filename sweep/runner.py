"""Running a sweep: the phases in order and the hand-off between them.

pretrain (optional) -> intermediate -> retrieval -> target -> zero_shot (the evaluation phases
are in `sweep.evaluation`). Each training phase is one Tuner;
between phases the best checkpoint of each configuration is consolidated into a plain encoder
directory under `<out>/handoff/`, which the next phase's trials load strictly.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from sweep.cost import trial_hours
from sweep.evaluation import ZeroShot, ZeroShotCallback, run_retrieval
from sweep.handoff import Context, best_checkpoints, export, primary_metric
from sweep.plan import TrialPlan, expand
from sweep.progress import StoreCallback, set_phase
from sweep.spec import NONE, SweepSpec
from sweep.tune_driver import GroupedASHA, make_tuner
from trainers.config import DataConfig, TrainConfig
from trainers.shards import default_cache

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


def run_sweep(spec: SweepSpec, out: Path, echo=print) -> Path:
    import ray

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    data, tokenizer = resolve_data(spec)
    ctx = Context(spec, expand(spec), out, data, tokenizer, echo)
    started_ray = not ray.is_initialized()
    if started_ray:
        # The dashboard serves the State API that Ray Train's placement-group cleaner polls: without
        # it, every trial stopped by ASHA leaks its placement group and later trials never start.
        ray.init(log_to_driver=False, configure_logging=False, runtime_env={"env_vars": _env()})
    try:
        start = _run_pretrain(ctx)
        starts = {NONE: start, **_run_intermediate(ctx, start)}
        run_retrieval(ctx, starts)
        zero_shot = ZeroShot(ctx)
        _run_target(ctx, starts, zero_shot)
        zero_shot.finish()
    finally:
        if started_ray:
            ray.shutdown()
    return out


def _env() -> dict[str, str]:
    """The sweep's environment: lean on a local Ray, everything on a cluster."""
    return ENV if os.environ.get("RAY_ADDRESS") else LOCAL_ENV


def _run_pretrain(ctx: Context) -> str:
    if not ctx.plan.pretrain:
        return _random_start(ctx) if ctx.spec.model.tiny else ctx.spec.model.name
    _run_phase(ctx, "pretrain", ctx.plan.pretrain, init_from=lambda t: "random")
    best = best_checkpoints(ctx.out, "pretrain")
    trial_id = max(best, key=lambda t: best[t][0])
    return export(best[trial_id][2], ctx.out / "handoff" / "pretrain")


def _random_start(ctx: Context) -> str:
    """A tiny encoder with no pretraining starts random: the same random weights for every
    trial (seeded by the spec's first seed), saved as pretraining's hand-off would be, so that
    `none` and each intermediate configuration start from one encoder."""
    from trainers.model import save_random_encoder

    directory = ctx.out / "handoff" / "pretrain"
    return str(
        save_random_encoder(ctx.spec.model.tiny, ctx.tokenizer, ctx.spec.seeds[0], directory)
    )


def _run_intermediate(ctx: Context, start: str) -> dict[str, str]:
    trials = ctx.plan.intermediate
    if not trials:
        return {}
    _run_phase(ctx, "intermediate", trials, init_from=lambda t: start)
    best = best_checkpoints(ctx.out, "intermediate")
    starts = {}
    for task in sorted({t.task for t in trials}):
        candidates = {tid: v for tid, v in best.items() if v[3] == task}
        if not candidates:
            raise RuntimeError(f"intermediate task {task}: no trial reported a checkpoint")
        trial_id = max(candidates, key=lambda t: candidates[t][0])
        ctx.echo(
            f"[intermediate] {task}: best checkpoint from {trial_id} (dev {candidates[trial_id][0]:.4f})"
        )
        starts[task] = export(candidates[trial_id][2], ctx.out / "handoff" / "intermediate" / task)
    return starts


def _run_target(ctx: Context, starts: dict[str, str], zero_shot: ZeroShot) -> None:
    _run_phase(
        ctx,
        "target",
        ctx.plan.target,
        init_from=lambda t: starts[t.intermediate],
        callbacks=[ZeroShotCallback(zero_shot)],
    )


def _run_phase(
    ctx: Context, phase: str, trials: tuple[TrialPlan, ...], init_from, callbacks=()
) -> None:
    spec = ctx.spec
    set_phase(ctx.out, phase, "running", trials=len(trials))
    ctx.echo(f"== phase {phase}: {len(trials)} trial(s)")
    storage = Path(spec.storage_path) if spec.storage_path else ctx.out / "ray"
    # Longest first: the short trials then fill the gaps at the end of the phase instead of a
    # long one running alone while the other slots idle (the phase ends with its last trial).
    ordered = sorted(trials, key=lambda t: -trial_hours(spec, t))
    dicts = [_trial_dict(ctx, t, init_from(t), storage / "train") for t in ordered]
    asha = (
        GroupedASHA(spec.asha.grace_period, spec.asha.reduction_factor)
        if phase != "pretrain"
        else None
    )
    tuner = make_tuner(
        phase,
        dicts,
        storage=storage,
        driver_cpus=spec.resources.driver_cpus,
        max_concurrent=spec.resources_for(phase).max_concurrent_trials,
        asha=asha,
        callbacks=[StoreCallback(ctx.out, spec.name, ctx.echo), *callbacks],
    )
    started = time.monotonic()
    tuner.fit()
    set_phase(
        ctx.out, phase, "done", trials=len(trials), seconds=round(time.monotonic() - started, 1)
    )


def _pretrain_corpus(ctx: Context, trial: TrialPlan) -> dict:
    pre = ctx.spec.phases.pretrain
    if trial.task != "mlm":
        return {}
    return {"mlm_languages": pre.languages, "mlm_corpus": pre.corpus}


def _trial_dict(ctx: Context, trial: TrialPlan, init_from: str, train_storage: Path) -> dict:
    spec = ctx.spec
    res = spec.resources_for(trial.phase)
    train = TrainConfig(
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
    return {
        "trial_id": trial.trial_id(),
        "config_id": trial.config_id(),
        "phase": trial.phase,
        "task": trial.task,
        "intermediate": trial.intermediate,
        "target": trial.target,
        "seed": trial.seed,
        "group": trial.group,
        "metric": primary_metric(trial.task),
        "language": "multi" if trial.task == "mlm" else "en",
        "train": train.model_dump(mode="json"),
        "train_storage": str(train_storage),
        "resources": {
            "workers": res.workers,
            "cpus_per_worker": res.cpus_per_worker,
            "gpus_per_worker": res.gpus_per_worker,
            "max_failures": res.max_failures,
        },
    }

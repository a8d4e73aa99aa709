"""Running a sweep: the phases in order, the hand-off between them, and zero-shot evaluation.

pretrain (optional) -> intermediate -> target -> zero_shot. Each training phase is one Tuner;
between phases the best checkpoint of each configuration is consolidated into a plain encoder
directory under `<out>/handoff/`, which the next phase's trials load strictly.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from sweep import store
from sweep.plan import Plan, TrialPlan, expand
from sweep.progress import DONE, StoreCallback, read_status, set_phase
from sweep.spec import NONE, SweepSpec
from sweep.tune_driver import GroupedASHA, make_tuner
from trainers.config import DataConfig, TrainConfig

ENV = {"TOKENIZERS_PARALLELISM": "false", "PYTHONWARNINGS": "ignore"}


@dataclass(frozen=True)
class Context:
    spec: SweepSpec
    plan: Plan
    out: Path
    data: DataConfig
    tokenizer: str
    echo: object


def default_cache() -> Path:
    return Path(os.environ.get("XSTILTS_CACHE", Path.home() / ".cache" / "xstilts"))


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
        ray.init(log_to_driver=False, configure_logging=False, runtime_env={"env_vars": ENV})
    try:
        start = _run_pretrain(ctx)
        starts = {NONE: start, **_run_intermediate(ctx, start)}
        _run_retrieval(ctx, starts)
        _run_target(ctx, starts)
        _run_zero_shot(ctx)
    finally:
        if started_ray:
            ray.shutdown()
    return out


def _run_pretrain(ctx: Context) -> str:
    if not ctx.plan.pretrain:
        return ctx.spec.model.name
    _run_phase(ctx, "pretrain", ctx.plan.pretrain, init_from=lambda t: "random")
    best = best_checkpoints(ctx.out, "pretrain")
    trial_id = max(best, key=lambda t: best[t][0])
    return _export(ctx, best[trial_id][2], ctx.out / "handoff" / "pretrain")


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
        starts[task] = _export(
            ctx, candidates[trial_id][2], ctx.out / "handoff" / "intermediate" / task
        )
    return starts


def _run_retrieval(ctx: Context, starts: dict[str, str]) -> None:
    """Retrieval targets have no training data: each intermediate configuration's encoder (and
    `none`'s) is evaluated as it leaves phase intermediate, as the paper does."""
    import ray

    if not ctx.plan.retrieval:
        return
    spec = ctx.spec
    evaluate = spec.phases.evaluate
    set_phase(ctx.out, "retrieval", "running", trials=len(ctx.plan.retrieval))
    ctx.echo(f"== phase retrieval: {len(ctx.plan.retrieval)} evaluation(s), no training")
    remote = ray.remote(_retrieve).options(num_cpus=spec.resources.eval_cpus)
    pending = {
        remote.remote(
            starts[inter],
            task,
            ctx.plan.eval_languages(task),
            ctx.data.model_dump(),
            evaluate.split,
            evaluate.retrieval_layer,
            evaluate.retrieval_pooling,
            evaluate.batch_size,
        ): (inter, task)
        for inter, task in ctx.plan.retrieval
    }
    started = time.monotonic()
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        inter, task = pending.pop(ref)
        rows = ray.get(ref)
        trial_id = f"ret-{inter}-{task}"
        store.write_rows(
            ctx.out,
            [
                _retrieval_row(ctx, inter, task, r, starts[inter], time.monotonic() - started)
                for r in rows
            ],
            label=f"zero_shot-{trial_id}",
        )
        scores = ", ".join(
            f"{r['language']} {r['value']:.3f}" for r in rows if r["metric"] == primary_metric(task)
        )
        ctx.echo(f"[retrieval] {trial_id}: {scores}")
    set_phase(ctx.out, "retrieval", "done", trials=len(ctx.plan.retrieval))


def _retrieve(model_dir, task, languages, data, split, layer, pooling, batch_size) -> list[dict]:
    from trainers.evaluate import retrieval

    return retrieval(
        Path(model_dir),
        task,
        tuple(languages),
        DataConfig(**data),
        split=split,
        layer=layer,
        pooling=pooling,
        batch_size=batch_size,
    )


def _retrieval_row(ctx: Context, inter: str, task: str, row: dict, source: str, seconds) -> dict:
    evaluate = ctx.spec.phases.evaluate
    return _zero_shot_row(
        ctx,
        row,
        trial_id=f"ret-{inter}-{task}",
        config_id=f"retrieval,{inter},{task}",
        intermediate=inter,
        task=task,
        round=0,
        learning_rate=float("nan"),
        hparams={"layer": evaluate.retrieval_layer, "pooling": evaluate.retrieval_pooling},
        seed=ctx.spec.seeds[0],
        checkpoint_path=source,
        wall_seconds=seconds,
    )


def _run_target(ctx: Context, starts: dict[str, str]) -> None:
    _run_phase(ctx, "target", ctx.plan.target, init_from=lambda t: starts[t.intermediate])


def _run_phase(ctx: Context, phase: str, trials: tuple[TrialPlan, ...], init_from) -> None:
    spec = ctx.spec
    set_phase(ctx.out, phase, "running", trials=len(trials))
    ctx.echo(f"== phase {phase}: {len(trials)} trial(s)")
    storage = Path(spec.storage_path) if spec.storage_path else ctx.out / "ray"
    dicts = [_trial_dict(ctx, t, init_from(t), storage / "train") for t in trials]
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
        callbacks=[StoreCallback(ctx.out, spec.name, ctx.echo)],
    )
    started = time.monotonic()
    tuner.fit()
    set_phase(
        ctx.out, phase, "done", trials=len(trials), seconds=round(time.monotonic() - started, 1)
    )


def _trial_dict(ctx: Context, trial: TrialPlan, init_from: str, train_storage: Path) -> dict:
    spec = ctx.spec
    res = spec.resources_for(trial.phase)
    pre = spec.phases.pretrain
    train = TrainConfig(
        phase=trial.phase,
        task=trial.task,
        model=spec.model,
        init_from=init_from,
        tokenizer=ctx.tokenizer,
        data=ctx.data,
        optim=trial.optim,
        deepspeed=spec.deepspeed,
        seed=trial.seed,
        mlm_languages=pre.languages if trial.task == "mlm" else (),
        mlm_corpus=pre.corpus,
        workers=res.workers,
        use_gpu=res.use_gpu(),
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


def primary_metric(task: str) -> str:
    if task == "mlm":
        return "mlm_accuracy"
    from trainers.tasks import get_task

    return get_task(task).metric


def best_checkpoints(out: Path, phase: str) -> dict[str, tuple[float, int, str, str]]:
    """trial_id -> (best dev score, its round, its checkpoint path, task), from the store.

    Only checkpoints still on storage count (Ray keeps the best and the latest); on a tie the
    later round wins, as it does in Ray's retention.
    """
    table = store.read_results(out).to_pandas()
    rows = table[(table.phase == phase) & (table.split == "dev") & (table.checkpoint_path != "")]
    best: dict[str, tuple[float, int, str, str]] = {}
    for row in rows.sort_values("round").itertuples():
        if row.metric != primary_metric(row.task) or not _exists(row.checkpoint_path):
            continue
        if row.trial_id not in best or row.value >= best[row.trial_id][0]:
            best[row.trial_id] = (row.value, row.round, row.checkpoint_path, row.task)
    return best


def _exists(path: str) -> bool:
    if "://" in path:  # cloud storage: trust Ray's retention rather than listing buckets here
        return True
    return (Path(path) / "xstilts.json").is_file()


def _export(ctx: Context, checkpoint: str, out: Path) -> str:
    from trainers.checkpoint import export_encoder

    return str(export_encoder(Path(checkpoint), out))


def _run_zero_shot(ctx: Context) -> None:
    import ray

    spec = ctx.spec
    status = read_status(ctx.out)["trials"]
    best = best_checkpoints(ctx.out, "target")
    finished = [
        t
        for t in ctx.plan.target
        if status.get(t.trial_id(), {}).get("state") == DONE and t.trial_id() in best
    ]
    set_phase(ctx.out, "zero_shot", "running", trials=len(finished))
    ctx.echo(f"== phase zero_shot: {len(finished)} finished target trial(s) x their test languages")
    evaluate = ray.remote(_evaluate_trial).options(num_cpus=spec.resources.eval_cpus)
    pending = {}
    for trial in finished:
        _, round_, checkpoint, _ = best[trial.trial_id()]
        model_dir = _export(ctx, checkpoint, ctx.out / "handoff" / "target" / trial.trial_id())
        ref = evaluate.remote(
            model_dir,
            trial.task,
            ctx.plan.eval_languages(trial.task),
            ctx.data.model_dump(),
            spec.phases.evaluate.split,
            trial.optim.max_length,
            spec.phases.evaluate.batch_size,
            spec.model.pooling,
        )
        pending[ref] = (trial, round_, checkpoint, model_dir)
    started = time.monotonic()
    while pending:
        [ref], _ = ray.wait(list(pending), num_returns=1)
        trial, round_, checkpoint, model_dir = pending.pop(ref)
        rows = ray.get(ref)
        store.write_rows(
            ctx.out,
            [
                _eval_row(ctx, trial, r, round_, checkpoint, time.monotonic() - started)
                for r in rows
            ],
            label=f"zero_shot-{trial.trial_id()}",
        )
        shutil.rmtree(model_dir, ignore_errors=True)  # the checkpoint itself stays in Ray storage
        scores = ", ".join(
            f"{r['language']} {r['value']:.3f}"
            for r in rows
            if r["metric"] == primary_metric(trial.task)
        )
        ctx.echo(f"[zero_shot] {trial.trial_id()}: {scores}")
    set_phase(ctx.out, "zero_shot", "done", trials=len(finished))


def _evaluate_trial(
    model_dir, task, languages, data, split, max_length, batch_size, pooling
) -> list[dict]:
    from trainers.evaluate import zero_shot

    return zero_shot(
        Path(model_dir),
        task,
        tuple(languages),
        DataConfig(**data),
        split=split,
        max_length=max_length,
        batch_size=batch_size,
        pooling=pooling,
    )


def _eval_row(
    ctx: Context, trial: TrialPlan, row: dict, round_: int, checkpoint: str, seconds: float
) -> dict:
    return _zero_shot_row(
        ctx,
        row,
        trial_id=trial.trial_id(),
        config_id=trial.config_id(),
        intermediate=trial.intermediate,
        task=trial.task,
        round=round_,
        learning_rate=trial.optim.learning_rate,
        hparams=trial.hparams(),
        seed=trial.seed,
        checkpoint_path=checkpoint,
        wall_seconds=seconds,
    )


def _zero_shot_row(ctx: Context, row: dict, *, task: str, hparams: dict, **fields) -> dict:
    """A store row for one evaluated (language, metric) of a target task."""
    import json

    return {
        "sweep": ctx.spec.name,
        "phase": "zero_shot",
        "target": task,
        "task": task,
        "language": row["language"],
        "split": ctx.spec.phases.evaluate.split,
        "metric": row["metric"],
        "value": row["value"],
        "n_examples": row["n_examples"],
        "step": -1,
        "hparams": json.dumps(hparams, sort_keys=True),
        **fields,
    }

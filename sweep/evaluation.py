"""The evaluation phases: retrieval targets on each intermediate configuration's encoder, beside
the target phase, and zero-shot evaluation of every finished target trial in every test
language, started as each trial ends. Both run as Ray tasks that hold no training resources and
write their rows, and their per-example scores, to the results store."""

from __future__ import annotations

import shutil
import time

from ray.tune import Callback

from sweep import store
from sweep.handoff import Context, best_checkpoints, export, primary_metric
from sweep.plan import TrialPlan
from sweep.progress import (
    COMPLETE,
    DONE,
    FAILED,
    INCOMPLETE,
    read_status,
    set_phase,
    update_trial,
)
from sweep.spec import ResourcesSpec
from trainers import ray_tasks, remote


class _Evaluations:
    """Evaluations under way: `pending` maps each Ray task's ref to what `_store` needs."""

    pending: dict

    def poll(self, block: bool = False) -> None:
        """Store the evaluations that have ended; with `block`, wait for at least one."""
        import ray

        if not self.pending:
            return
        refs = list(self.pending)
        if block:
            ready, _ = ray.wait(refs, num_returns=1)
        else:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            self._store(ref, *self.pending.pop(ref))

    def _store(self, ref, *what) -> None:
        raise NotImplementedError


class Retrieval(_Evaluations):
    """Retrieval targets have no training data: each intermediate configuration's encoder (and
    `none`'s) is evaluated as it leaves phase intermediate, as the paper does. The evaluations
    hold no training resources, so they run beside the target phase's trials: `start` them
    before the phase, `poll` as it runs, and `finish` (wait for the rest) after it."""

    def __init__(self, ctx: Context, starts: dict[str, str]):
        self.ctx, self.starts = ctx, starts
        self.pending: dict = {}
        self.entered = False  # False: no retrieval target, or done before an interruption
        self.incomplete = 0
        self.started = time.monotonic()

    def start(self) -> Retrieval:
        ctx = self.ctx
        if not ctx.plan.retrieval:
            return self
        if ctx.resume and read_status(ctx.out)["phases"].get("retrieval", {}).get("state") == DONE:
            ctx.echo("== phase retrieval: done before the interruption, not re-entered")
            return self
        evaluate = ctx.spec.phases.evaluate
        self.entered = True
        set_phase(ctx.out, "retrieval", "running", trials=len(ctx.plan.retrieval))
        ctx.echo(
            f"== phase retrieval: {len(ctx.plan.retrieval)} evaluation(s), no training, "
            "beside phase target"
        )
        remote = _remote_evaluator(ctx.spec.resources)
        for inter, task in ctx.plan.retrieval:
            trial_id = f"ret-{inter}-{task}"
            if store.has_part(ctx.out, f"zero_shot-{trial_id}"):
                continue  # evaluated before the sweep was interrupted
            ref = remote.remote(
                "retrieval",
                self.starts[inter],
                task,
                ctx.plan.eval_languages(task),
                ctx.data.model_dump(),
                _run_options(ctx, trial_id),
                split=evaluate.split,
                layer=evaluate.retrieval_layer,
                pooling=evaluate.retrieval_pooling,
            )
            self.pending[ref] = (inter, task, trial_id)
        return self

    def finish(self) -> None:
        if not self.entered:
            return
        while self.pending:
            self.poll(block=True)
        set_phase(
            self.ctx.out, "retrieval", "done", trials=len(self.ctx.plan.retrieval),
            incomplete=self.incomplete,
        )  # fmt: skip

    def _store(self, ref, inter: str, task: str, trial_id: str) -> None:
        ctx = self.ctx
        defaults = {"phase": "retrieval", "task": task, "intermediate": inter, "target": task,
                    "config_id": f"retrieval,{inter},{task}", "seed": ctx.spec.seeds[0],
                    "rounds": 0, "state": DONE}  # fmt: skip
        rows, examples, complete = _record(ctx, ref, trial_id, task, defaults)
        self.incomplete += not complete
        seconds = time.monotonic() - self.started
        _write(
            ctx,
            f"zero_shot-{trial_id}",
            [_retrieval_row(ctx, inter, task, r, self.starts[inter], seconds) for r in rows],
            _example_columns(
                ctx, examples, trial_id=trial_id, intermediate=inter, target=task, task=task
            ),
        )


def _remote_evaluator(resources: ResourcesSpec):
    """The coordinator of one evaluation: it prepares shards, runs the pipeline and scores. The
    inference actors it starts hold the compute, so it asks for a driver's share of a CPU;
    without actors (`eval_actors: 0`) it runs the model itself, with an actor's share."""
    import ray

    if resources.eval_actors == 0:
        return ray.remote(ray_tasks.run_evaluator).options(
            num_cpus=resources.eval_cpus,
            num_gpus=resources.eval_gpus,
            resources=resources.eval_resources,
        )
    return ray.remote(ray_tasks.run_evaluator).options(
        num_cpus=resources.driver_cpus, resources=resources.driver_resources
    )


def _run_options(ctx: Context, trial_id: str) -> dict:
    spec = ctx.spec
    return {
        "batch_size": spec.phases.evaluate.batch_size,
        "pool": {
            "size": spec.resources.eval_actors,
            "cpus": spec.resources.eval_cpus,
            "gpus": spec.resources.eval_gpus,
            "resources": spec.resources.eval_resources,
        },
        "cache": spec.phases.evaluate.shard_cache,
        "predictions": str(ctx.out / "predictions" / trial_id),
    }


def _record(ctx: Context, ref, trial_id: str, task: str, defaults: dict) -> tuple[list, dict, bool]:
    """The rows and per-example columns of a finished evaluation and whether it is complete;
    its outcome goes into the trial's status (complete, or incomplete with the languages that
    failed and why) and a line onto the console. An evaluation that failed as a whole gives no
    rows: the sweep goes on."""
    import ray

    phase = defaults.get("phase", "zero_shot")
    try:
        result = ray.get(ref)
    except Exception as err:  # the evaluation, not the sweep, failed: record it and go on
        cause = str(err).strip().splitlines()[-1][:300] if str(err).strip() else repr(err)
        update_trial(ctx.out, trial_id, defaults, zero_shot=FAILED, zero_shot_error=cause)
        ctx.echo(f"[{phase}] FAILED {trial_id}: {cause}")
        return [], {}, False
    errors = result["errors"]
    update_trial(
        ctx.out, trial_id, defaults,
        zero_shot=INCOMPLETE if errors else COMPLETE, zero_shot_errors=errors,
    )  # fmt: skip
    scores = ", ".join(
        f"{r['language']} {r['value']:.3f}"
        for r in result["rows"]
        if r["metric"] == primary_metric(task)
    )
    ctx.echo(f"[{phase}] {trial_id}: {scores}")
    for lang, error in sorted(errors.items()):
        ctx.echo(f"[{phase}] INCOMPLETE {trial_id}: {lang} not evaluated: {error}")
    return result["rows"], result.get("examples") or {}, not errors


def _write(ctx: Context, label: str, rows: list[dict], examples: dict[str, list]) -> None:
    """The per-example part first: resume skips an evaluation whose results part exists
    (`store.has_part`), so a results part must imply its examples part."""
    store.write_examples(ctx.out, examples, label=label)
    store.write_rows(ctx.out, rows, label=label)


def _example_columns(ctx: Context, examples: dict, **fields: str) -> dict[str, list]:
    """An evaluation's per-example columns with the store's other columns (`fields`: trial_id,
    intermediate, target, task) repeated on every row."""
    n = len(examples.get("example", ()))
    fields = {"sweep": ctx.spec.name, "split": ctx.spec.phases.evaluate.split, **fields}
    return {
        name: [fields[name]] * n if name in fields else list(examples.get(name, ()))
        for name in store.EXAMPLE_SCHEMA.names
    }


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


class ZeroShot(_Evaluations):
    """Zero-shot evaluation of the finished target trials, each started the moment its trial ends.

    An evaluation holds no training resources, so the phase's next trials train meanwhile and
    only the last trial's evaluation is left when the target phase ends. Stopped trials (ASHA)
    are not evaluated: their hyper-parameters lost on English dev.
    """

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.trials = {t.trial_id(): t for t in ctx.plan.target}
        self.pending: dict = {}
        self.submitted: set[str] = set()
        self.incomplete = 0  # evaluations with a language (or everything) not evaluated
        self.started = time.monotonic()

    def add(self, trial: TrialPlan) -> None:
        """A trial sampled while the target phase runs (hyperopt), to be evaluated once done."""
        self.trials[trial.trial_id()] = trial

    def submit(self, trial_id: str) -> None:
        """Start the evaluation of a finished trial, once."""
        if trial_id in self.submitted or trial_id not in self.trials:
            return
        if store.has_part(self.ctx.out, f"zero_shot-{trial_id}"):
            self.submitted.add(trial_id)  # evaluated before the sweep was interrupted
            return
        best = best_checkpoints(self.ctx.out, "target", trial_id).get(trial_id)
        if best is None:  # a trial that never reported a checkpoint has nothing to evaluate
            return
        if not self.submitted:
            set_phase(self.ctx.out, "zero_shot", "running")
        self.submitted.add(trial_id)
        spec, trial = self.ctx.spec, self.trials[trial_id]
        _, round_, checkpoint, _ = best
        model_dir = export(self.ctx, checkpoint, "target", trial_id)
        ref = _remote_evaluator(spec.resources).remote(
            "zero_shot",
            model_dir,
            trial.task,
            self.ctx.plan.eval_languages(trial.task),
            self.ctx.data.model_dump(),
            _run_options(self.ctx, trial_id),
            split=spec.phases.evaluate.split,
            windows=trial.optim.windows(),
            pooling=spec.model.pooling,
        )
        self.pending[ref] = (trial, round_, checkpoint, model_dir)

    def finish(self) -> None:
        """Evaluate any finished trial not yet started (a resumed sweep), then wait for all."""
        status = read_status(self.ctx.out)["trials"]
        for trial_id in self.trials:
            if status.get(trial_id, {}).get("state") == DONE:
                self.submit(trial_id)
        self.ctx.echo(
            f"== phase zero_shot: {len(self.submitted)} finished target trial(s) x their test "
            f"languages ({len(self.pending)} still running)"
        )
        while self.pending:
            self.poll(block=True)
        set_phase(
            self.ctx.out, "zero_shot", "done", trials=len(self.submitted),
            incomplete=self.incomplete,
        )  # fmt: skip

    def _store(self, ref, trial: TrialPlan, round_: int, checkpoint: str, model_dir: str) -> None:
        trial_id = trial.trial_id()
        rows, examples, complete = _record(self.ctx, ref, trial_id, trial.task, {})
        self.incomplete += not complete
        _write(
            self.ctx,
            f"zero_shot-{trial_id}",
            [
                _eval_row(self.ctx, trial, r, round_, checkpoint, time.monotonic() - self.started)
                for r in rows
            ],
            _example_columns(
                self.ctx,
                examples,
                trial_id=trial_id,
                intermediate=trial.intermediate,
                target=trial.task,
                task=trial.task,
            ),
        )
        # The checkpoint itself stays in Ray storage; its export served this evaluation only.
        shutil.rmtree(self.ctx.handoff_dir("target", trial_id), ignore_errors=True)
        remote.delete_dir(model_dir)


class ZeroShotCallback(Callback):
    """Hands each target trial that ends DONE to `ZeroShot`, and stores finished evaluations
    (its own and `retrieval`'s, which run beside the phase) as Tune's loop turns. Listed after
    `StoreCallback`, which records the trial's state first."""

    def __init__(self, zero_shot: ZeroShot, retrieval: Retrieval | None = None):
        self.zero_shot, self.retrieval = zero_shot, retrieval

    def on_trial_complete(self, iteration, trials, trial, **info):
        trial_id = trial.config["trial"]["trial_id"]
        state = read_status(self.zero_shot.ctx.out)["trials"].get(trial_id, {}).get("state")
        if state == DONE:
            self.zero_shot.submit(trial_id)

    def on_step_end(self, iteration, trials, **info):
        self.zero_shot.poll()
        if self.retrieval is not None:
            self.retrieval.poll()


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

"""Task similarity under the starting encoder: for each planned (intermediate entry, target task)
pair, the cosine of the two tasks' mean-pooled representations (`trainers.similarity`), computed
in one Ray task beside the intermediate phase and stored as `similarity` rows, which the report
sets against each pair's zero-shot gain. A step for the report: when it fails, the sweep says so
in one line and goes on."""

from __future__ import annotations

import json

from sweep import store
from sweep.handoff import Context
from sweep.plan import entry_fields
from sweep.spec import NONE, ResourcesSpec
from trainers import ray_tasks

LABEL = "similarity"


def run_similarity(ctx: Context, start_model: str) -> None:
    """Store the similarity of every intermediate entry (`none` has no data) with every target
    under `start_model`, the encoder every intermediate configuration starts from. Nothing to do
    when `phases.evaluate.similarity_examples` is 0 or the store already has the rows (resume)."""
    start_similarity(ctx, start_model).finish()


class Similarity:
    """The similarity step under way: its Ray task runs beside the intermediate phase (it needs
    only the starting encoder), and `finish` stores its rows or says why there are none."""

    def __init__(self, ctx: Context, ref=None, counts: tuple[int, int] = (0, 0)):
        self.ctx, self.ref, self.counts = ctx, ref, counts

    def finish(self) -> None:
        if self.ref is None:
            return
        import ray

        ctx, n_examples = self.ctx, self.ctx.spec.phases.evaluate.similarity_examples
        try:
            result = ray.get(self.ref)
        except Exception as err:  # the report's extra, not the sweep, failed: say so and go on
            lines = str(err).strip().splitlines()
            cause = lines[-1][:300] if lines else repr(err)
            ctx.echo(f"[similarity] FAILED, the report will have no task similarity: {cause}")
            return
        finally:
            self.ref = None
        seconds, start_model = result["seconds"], result["model"]
        rows = [_row(ctx, pair, start_model, n_examples, seconds) for pair in result["pairs"]]
        store.write_rows(ctx.out, rows, label=LABEL)
        n_intermediates, n_targets = self.counts
        ctx.echo(
            f"[similarity] {len(rows)} pair(s) of {n_intermediates} intermediate(s) x "
            f"{n_targets} target(s), up to {n_examples} examples per task, in {seconds:.1f}s"
        )
        for name, reason in sorted(result["skipped"].items()):
            ctx.echo(f"[similarity] skipped {name}: {reason}")


def start_similarity(ctx: Context, start_model: str) -> Similarity:
    """`run_similarity`, started: the caller goes on (the intermediate phase) and finishes it."""
    n_examples = ctx.spec.phases.evaluate.similarity_examples
    intermediates = _intermediates(ctx)
    targets = _targets(ctx)
    if not n_examples or not intermediates or not targets:
        return Similarity(ctx)
    if store.has_part(ctx.out, LABEL):
        ctx.echo("[similarity] stored before the interruption, kept")
        return Similarity(ctx)
    ref = _start(ctx, start_model, intermediates, targets, n_examples)
    return Similarity(ctx, ref, (len(intermediates), len(targets)))


def _intermediates(ctx: Context) -> dict[str, list[dict]]:
    """Each planned intermediate entry's member tasks (MemberConfig dicts): the task itself, its
    translation, or a mixture's members."""
    plan = ctx.plan
    entries = {t.task for t in plan.intermediate} | {
        s.task for s in plan.searches_for("intermediate")
    }
    members = {}
    for entry in sorted(entries - {NONE}):
        fields = entry_fields(ctx.spec, entry)
        if "mixture" in fields:
            members[entry] = list(fields["mixture"]["members"])
        else:
            members[entry] = [{"task": fields["task"], "translation": fields.get("translation")}]
    return members


def _targets(ctx: Context) -> list[str]:
    """Every planned target task: fine-tuned ones and retrieval ones."""
    plan = ctx.plan
    trained = [t.target for t in plan.target] + [s.target for s in plan.searches_for("target")]
    return sorted({*trained, *(task for _, task in plan.retrieval)})


def _start(ctx: Context, start_model: str, intermediates, targets, n_examples: int):
    return _remote_similarities(ctx.spec.resources).remote(
        start_model,
        intermediates,
        targets,
        ctx.data.model_dump(),
        n_examples=n_examples,
        max_length=_max_length(ctx),
        seed=ctx.spec.seeds[0],
        tokenizer=ctx.tokenizer,
        batch_size=ctx.spec.phases.evaluate.batch_size,
    )


def _remote_similarities(resources: ResourcesSpec):
    """Like an evaluation (`sweep.evaluation._remote_evaluator`), but this task embeds on its
    own, so it asks for what an evaluation's inference actor does: its CPUs, its GPUs (the
    encoder runs on one when they are > 0) and its custom resources (the node type)."""
    import ray

    return ray.remote(ray_tasks.similarities).options(
        num_cpus=resources.eval_cpus,
        num_gpus=resources.eval_gpus,
        resources=resources.eval_resources,
    )


def _max_length(ctx: Context) -> int:
    """Inputs are cut as the intermediate phase cuts them: the encoder's view of its data."""
    return ctx.spec.phases.intermediate.optim.max_length


def _row(ctx: Context, pair: dict, start_model: str, n_examples: int, seconds: float) -> dict:
    inter, target = pair["intermediate"], pair["target"]
    hparams = {"examples_per_task": n_examples, "max_length": _max_length(ctx),
               "layer": "last", "pooling": "mean"}  # fmt: skip
    return {
        "sweep": ctx.spec.name,
        "phase": "similarity",
        "trial_id": f"sim-{inter}-{target}",
        "config_id": f"similarity,{inter},{target}",
        "intermediate": inter,
        "target": target,
        "task": target,
        "language": "en",
        "split": "train",
        "metric": "cosine",
        "value": float(pair["cosine"]),
        "n_examples": int(pair["n_examples"]),
        "round": 0,
        "step": -1,
        "learning_rate": float("nan"),
        "hparams": json.dumps(hparams, sort_keys=True),
        "seed": ctx.spec.seeds[0],
        "checkpoint_path": start_model,
        "wall_seconds": seconds,
    }

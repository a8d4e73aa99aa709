"""What phases hand each other: the sweep's context, each trial's best checkpoint from the
results store, and its export as a plain encoder directory under `<out>/handoff/` (published to
`<storage>/handoff/` when the sweep has shared storage, where workers on other nodes read it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sweep import store
from sweep.plan import Plan
from sweep.spec import SweepSpec
from trainers import remote
from trainers.config import DataConfig


@dataclass(frozen=True)
class Context:
    spec: SweepSpec
    plan: Plan
    out: Path
    data: DataConfig
    tokenizer: str
    echo: object
    resume: bool = False  # continuing an interrupted sweep in `out` (`xstilts resume`)
    reuse: bool = True  # take trials earlier sweeps finished (`--no-reuse`: train everything)
    keys: dict[str, str] = field(default_factory=dict)  # trial_id -> its reuse key
    storage: str | None = None  # shared storage (`sweep.storage`); None: all on this machine

    def ray_storage(self) -> str:
        """Where Ray keeps checkpoints and experiment state."""
        return self.storage or str(self.out / "ray")

    def handoff_dir(self, *parts: str) -> Path:
        return self.out / "handoff" / Path(*parts)

    def share(self, local: Path, *parts: str) -> str:
        """The hand-off `local` (under `handoff_dir(*parts)`) where every node can read it:
        itself on one machine, its copy under `<storage>/handoff/` otherwise."""
        if self.storage is None:
            return str(local)
        return remote.publish(local, remote.join(self.storage, "handoff", *parts))


def primary_metric(task: str) -> str:
    """The dev metric a trial is selected on: the task's, `task@lang`'s task's, or a mixture's
    aggregate (a mixture is the one kind of entry not in the registry; the spec checked it)."""
    if task == "mlm":
        return "mlm_accuracy"
    from trainers.data.mixture import MIXTURE_METRIC
    from trainers.tasks import REGISTRY

    base = task.partition("@")[0]
    return REGISTRY.get(base).metric if base in REGISTRY else MIXTURE_METRIC


def best_checkpoints(
    out: Path, phase: str, trial_id: str | None = None
) -> dict[str, tuple[float, int, str, str]]:
    """trial_id -> (best dev score, its round, its checkpoint path, task), from the store; with
    `trial_id`, that trial's alone (only its own part files are read).

    Only checkpoints still on storage count (Ray keeps the best and the latest); on a tie the
    later round wins, as it does in Ray's retention.
    """
    label = f"{phase}-{trial_id}-r" if trial_id else ""
    table = store.read_results(out, label).to_pandas()
    rows = table[(table.phase == phase) & (table.split == "dev") & (table.checkpoint_path != "")]
    if trial_id:
        rows = rows[rows.trial_id == trial_id]
    best: dict[str, tuple[float, int, str, str]] = {}
    for row in rows.sort_values("round").itertuples():
        if not _selects(row) or not _exists(row.checkpoint_path):
            continue
        if row.trial_id not in best or row.value >= best[row.trial_id][0]:
            best[row.trial_id] = (row.value, row.round, row.checkpoint_path, row.task)
    return best


def _selects(row) -> bool:
    """A row of the trial's own selection metric (not a mixture member's dev metric)."""
    own = {"pretrain": "mlm", "intermediate": row.intermediate, "target": row.target}
    return row.task == own.get(row.phase) and row.metric == primary_metric(row.task)


def _exists(path: str) -> bool:
    if "://" in path:  # cloud storage: trust Ray's retention rather than listing buckets here
        return True
    return (Path(path) / "xstilts.json").is_file()


def export(ctx: Context, checkpoint: str, *parts: str) -> str:
    """The checkpoint as a plain encoder directory, `handoff/<parts>`, shared with every node;
    one already exported from it is kept (a resumed sweep re-enters its hand-offs, and a
    paper-scale export takes minutes). On shared storage the published copy is what counts:
    a resumed sweep on a new head finds it there."""
    import json

    from trainers.checkpoint import export_encoder

    def exported_from(source: str) -> bool:
        return remote.exists(source) and json.loads(remote.read_text(source)).get(
            "checkpoint"
        ) == str(checkpoint)

    local = ctx.handoff_dir(*parts)
    if ctx.storage is not None:
        shared = remote.join(ctx.storage, "handoff", *parts)
        if exported_from(remote.join(shared, "source.json")):
            return shared
    if not exported_from(str(local / "source.json")):
        export_encoder(checkpoint, local)
    return ctx.share(local, *parts)

"""Running a predictor (`trainers.predictors`) over shard sets: streamed through a Ray Data actor
pool, or in a plain single-process loop, the reference the pipeline must match.

Both return, per shard set, every row's outputs in row order, and both check that each row came
back exactly once: nothing is split "equally" across actors (Ray's `streaming_split(equal=True)`
drops rows to do that), so a metric always counts every example.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from trainers.shards import ShardSet

# Rows per predictor call, in model batches: larger calls spread Ray Data's per-batch cost,
# and the predictor still runs the model `batch_size` rows at a time.
BATCHES_PER_CALL = 4


@dataclass(frozen=True)
class ActorPool:
    """The pipeline's inference actors: each loads the model once. One GPU per actor on a GPU
    cluster; fractions of a CPU here, beside the trials that are training."""

    size: int = 2
    cpus: float = 1.0
    gpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)  # a node type's own, to place them

    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"


def run_plain(sets: Sequence[ShardSet], predictor, batch_size: int) -> dict[str, dict]:
    """The reference: one process reads every shard in order and calls `predictor` on it."""
    outputs = []
    for shard_set in _unique(sets):
        for path in shard_set.files:
            table = pq.read_table(path)
            step = batch_size * BATCHES_PER_CALL
            outputs.extend(predictor(table.slice(b, step)) for b in range(0, table.num_rows, step))
    return collect(sets, outputs)


def run_ray(
    sets: Sequence[ShardSet],
    predictor_cls,
    predictor_kwargs: dict,
    pool: ActorPool,
    batch_size: int,
    name: str = "evaluation",
) -> dict[str, dict]:
    """`read_parquet` over every set's shards, `map_batches` through an actor pool of
    `predictor_cls`, outputs streamed back here. One pipeline for all the sets (every language
    of a task), so the actors load the model once for all of them."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Parquet's V2 reader lists files in a task that always asks for a whole CPU, at run time,
    # beside actors that may already hold every CPU (ours or another evaluation's): a
    # deadlock on a small machine. V1 plans its reads here, before any actor starts, and
    # reads with no CPU at all; one block per shard file, so every actor gets work. A read
    # that asks for no CPU is never held back, so cap them: one task reads a shard file in
    # milliseconds, while dozens at once start as many worker processes and delay the actors.
    context.use_datasource_v2 = False
    # The shards are on this node's disk (the cache of whoever prepared them): `local://` keeps
    # Ray Data's reads on this node, where on a cluster another node would not find the files.
    # Only the reads: the actors get the rows through the object store, wherever they run.
    files = [f"local://{path}" for shard_set in _unique(sets) for path in shard_set.files]
    if not files:
        return collect(sets, [])
    with warnings.catch_warnings():  # "local:// is deprecated" (after 2027; Ray is pinned)
        warnings.simplefilter("ignore")
        data = ray.data.read_parquet(
            files, num_cpus=0, concurrency=1, override_num_blocks=len(files)
        )
    data = data.map_batches(
        predictor_cls,
        fn_constructor_kwargs={**predictor_kwargs, "device": pool.device()},
        batch_size=batch_size * BATCHES_PER_CALL,
        batch_format="pyarrow",
        # Every actor starts at once (importing torch takes seconds; Ray Data's autoscaler
        # would add the second only after the first is busy); idle ones may be let go.
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool.size, initial_size=pool.size),
        num_cpus=pool.cpus,
        num_gpus=pool.gpus,
        resources=pool.resources or None,
    )
    data.set_name(name)
    return collect(sets, data.iter_batches(batch_size=None, batch_format="numpy"))


def collect(sets: Sequence[ShardSet], outputs: Iterable[dict]) -> dict[str, dict]:
    """Per set key, each output column in row order; every row exactly once."""
    parts: dict[str, list[dict]] = {s.key: [] for s in sets}
    for batch in outputs:
        keys = np.asarray(batch["set"])
        for key in np.unique(keys):
            picked = keys == key
            parts[str(key)].append({c: np.asarray(v)[picked] for c, v in batch.items()})
    collected = {}
    for shard_set in _unique(sets):
        columns = {
            c: np.concatenate([p[c] for p in parts[shard_set.key]])
            for c in (parts[shard_set.key][0] if parts[shard_set.key] else ())
        }
        rows = columns.pop("row", np.zeros(0, dtype=np.int64))
        columns.pop("set", None)
        order = np.argsort(rows, kind="stable")
        if not np.array_equal(rows[order], np.arange(shard_set.rows)):
            raise RuntimeError(
                f"{shard_set.directory}: {len(rows)} outputs for {shard_set.rows} rows "
                f"({len(set(rows.tolist()))} distinct)"
            )
        collected[shard_set.key] = {c: v[order] for c, v in columns.items()}
    return collected


def _unique(sets: Sequence[ShardSet]) -> list[ShardSet]:
    """Sets shared by several languages (one candidate pool) run once."""
    return list({s.key: s for s in sets}.values())

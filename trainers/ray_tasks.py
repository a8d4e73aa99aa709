"""The bodies of the Ray tasks a sweep's driver starts for evaluation and similarity. Configs
travel as dicts. A Ray worker imports the module that defines the function it runs, so these
live on the worker side: defined in the driver's modules, they made every evaluation worker
import Ray Tune and the sweep's planning code (~1.2 s of CPU each, measured) for nothing."""

from __future__ import annotations

import time
from pathlib import Path


def run_evaluator(
    name: str, model_dir: str, task: str, languages, data: dict, run: dict, **options
) -> dict:
    """`trainers.evaluate.<name>` (zero_shot or retrieval), with its pool of inference actors."""
    from trainers import evaluate
    from trainers.config import DataConfig
    from trainers.eval_pipeline import ActorPool

    pool = ActorPool(**run["pool"])
    run = evaluate.Run(
        batch_size=run["batch_size"],
        device=pool.device(),  # with no actors, this task's own (its share of the eval shape)
        pool=pool if pool.size else None,
        cache=run["cache"] and Path(run["cache"]),
        predictions=Path(run["predictions"]),
    )
    result = getattr(evaluate, name)(
        model_dir, task, tuple(languages), DataConfig(**data), run=run, **options
    )
    return {"rows": result.rows, "errors": result.errors, "examples": result.examples}


def similarities(model_dir: str, intermediates: dict, targets: list, data: dict, **options) -> dict:
    """`trainers.similarity.similarities`, with its own time: the driver collects the result
    whenever its phase ends."""
    from trainers.config import DataConfig, MemberConfig
    from trainers.similarity import similarities as measure

    started = time.monotonic()
    members = {e: [MemberConfig.model_validate(m) for m in ms] for e, ms in intermediates.items()}
    result = measure(model_dir, members, targets, DataConfig(**data), **options)
    return {"pairs": [p._asdict() for p in result.pairs], "skipped": result.skipped,
            "model": model_dir, "seconds": time.monotonic() - started}  # fmt: skip

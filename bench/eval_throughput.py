"""Zero-shot evaluation throughput: the Ray Data pipeline against the plain single-process loop.

Both evaluate the same exported model (the demo's tiny XLM-R shape, random weights: throughput
does not depend on what the weights learned) on the same evaluation shards: a synthetic XNLI test
set of --per-language pairs in each of the benchmark's four languages, prepared once before
either is timed. Each variant is timed from the call to the scored rows, so the pipeline pays
for starting its actors and loading the model in each; Ray itself is already up, as it is in a
sweep. The two must agree on every per-language number, or the run fails.

Run:  .venv/bin/python bench/eval_throughput.py [--per-language 24000] [--actors 2]
Prints examples per second of each and the ratio pipeline / plain (above 1: the pipeline is
faster). The target on a 2-core machine is 1.3x. It also times the plain loop on one thread,
which gives the ceiling of any pool of one-thread actors against a loop that already uses every
core through torch's own threads (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASK = "synth_xnli"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=24000, help="test pairs per language")
    parser.add_argument("--actors", type=int, default=2, help="inference actors (one CPU each)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    import ray
    import torch

    from trainers.config import Windows
    from trainers.eval_pipeline import ActorPool
    from trainers.evaluate import Run, zero_shot

    with tempfile.TemporaryDirectory(prefix="xstilts-eval-bench-") as tmp:
        tmp = Path(tmp)
        data, model = _setup(tmp, args.per_language)
        langs = ("en", "qaa", "qab", "qac")
        windows = Windows(max_length=64)
        plain_run = Run(batch_size=args.batch_size, cache=tmp / "shards")
        started = time.perf_counter()
        zero_shot(model, TASK, langs, data, windows=windows, run=plain_run)  # prepares shards
        print(f"eval_throughput: shards prepared in {time.perf_counter() - started:.1f}s")

        ray.init(num_cpus=args.actors, include_dashboard=False, log_to_driver=False)
        try:
            pool = ActorPool(size=args.actors, cpus=1.0)
            timed = {}
            for name, run in (("plain", plain_run), ("pipeline", replace(plain_run, pool=pool))):
                started = time.perf_counter()
                result = zero_shot(model, TASK, langs, data, windows=windows, run=run)
                timed[name] = (time.perf_counter() - started, result)
        finally:
            ray.shutdown()
        # The ceiling: each actor runs the model on one thread, the plain loop on all cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        started = time.perf_counter()
        zero_shot(model, TASK, langs, data, windows=windows, run=plain_run)
        one_thread_s = time.perf_counter() - started
        torch.set_num_threads(threads)

    (plain_s, plain), (piped_s, piped) = timed["plain"], timed["pipeline"]
    if piped.rows != plain.rows or not piped.complete():
        print("eval_throughput: FAILED: the pipeline's numbers differ from the plain loop's")
        return 1
    examples = sum(r["n_examples"] for r in plain.rows if r["metric"] == "accuracy")
    print(f"eval_throughput: {examples} examples in {len(langs)} languages, identical metrics")
    print(
        f"eval_throughput: plain loop (baseline): {examples / plain_s:8.1f} examples/s ({plain_s:.1f}s)"
    )
    print(
        f"eval_throughput: Ray Data pipeline, {args.actors} actors: {examples / piped_s:8.1f} examples/s ({piped_s:.1f}s)"
    )
    print(f"eval_throughput: ratio pipeline/plain {plain_s / piped_s:.2f}x")
    print(
        f"eval_throughput: plain loop on 1 thread (the plain loop used {threads}): "
        f"{examples / one_thread_s:.1f} examples/s; {args.actors} one-thread actors with no "
        f"start-up at all would reach {args.actors * plain_s / one_thread_s:.2f}x the plain loop"
    )
    return 0


def _setup(tmp: Path, per_language: int):
    """A data root with a large synthetic XNLI test set, and a tiny model exported for it."""
    import shutil

    import torch
    from transformers import AutoTokenizer

    from trainers.config import DataConfig, TinyEncoder
    from trainers.formats import get_format
    from trainers.model import build_from_config, hidden_size, tiny_config
    from trainers.predictors import save_task_model
    from trainers.synth import ensure_benchmark
    from trainers.synth.generator import write_parallel_nli
    from trainers.tasks import get_task

    benchmark = ensure_benchmark(tmp / "synthetic", seed=0)
    root = tmp / "data"
    root.mkdir()
    shutil.copytree(benchmark / "tokenizer", root / "tokenizer")
    write_parallel_nli(root / TASK, "test", per_language, seed=0, stream="bench:xnli:test")

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer")
    tiny = TinyEncoder(hidden_size=128, num_layers=4, num_heads=4, intermediate_size=512,
                       max_positions=128)  # fmt: skip
    encoder = build_from_config(tiny_config(tiny, len(tokenizer)))
    task = get_task(TASK)
    head = get_format(task.format).build_head(task, hidden_size(encoder), "first")
    model = save_task_model(encoder, head, tokenizer, TASK, tmp / "model")
    return DataConfig(source="local", root=str(root)), model


if __name__ == "__main__":
    sys.exit(main())

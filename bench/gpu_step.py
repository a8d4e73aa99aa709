"""Training-step throughput of an XLM-R Large-shaped classifier on one GPU, by precision and ZeRO.

The encoder has XLM-R Large's shape (24 layers, width 1024, 16 heads, feed-forward 4096, a
250,002-token vocabulary) with random weights, so nothing is downloaded; a step's cost does not
depend on the weights. Each variant builds the engine exactly as a trial does
(`trainers.loop.build_engine`) and times optimizer steps on random token batches, after warm-up:

- baseline: fp32, ZeRO stage 0 (what a trial gets with `precision: fp32`);
- bf16-autocast (`precision: auto` on a GPU: fp32 weights, bf16 matrix products) and DeepSpeed's
  bf16 weights (`precision: bf16`), each at ZeRO stages 0 and 2 (stage 2: the cluster specs').

Prints sequences/s, peak GPU memory, and the ratio of each variant's throughput to the baseline's,
plus the GPU-hours one MNLI epoch (392,702 pairs) would take at that rate: the figure the sweep's
cost model needs for a GPU cluster.

Run:  python bench/gpu_step.py [--batch 32 --length 128 --steps 20]   (needs a CUDA GPU)
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MNLI_TRAIN_PAIRS = 392_702
XLMR_LARGE = dict(
    hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096, max_positions=512
)
XLMR_VOCAB = 250_002


def measure(precision: str, stage: int, args) -> tuple[float, float]:
    """(sequences per second, peak GPU GiB) of one variant."""
    import torch

    from trainers.config import (
        DataConfig,
        DeepSpeedConfig,
        ModelConfig,
        OptimConfig,
        TinyEncoder,
        TrainConfig,
    )
    from trainers.distributed import ensure_process_group
    from trainers.formats import get_format
    from trainers.loop import build_engine
    from trainers.model import TaskModel, build_from_config, tiny_config
    from trainers.tasks import get_task

    shape = TinyEncoder(**XLMR_LARGE, dropout=0.1)
    cfg = TrainConfig(
        phase="intermediate",
        task="mnli",
        model=ModelConfig(name="xlmr-large-shape", tiny=shape),
        init_from="random",
        tokenizer="none",
        data=DataConfig(source="local", root="."),
        optim=OptimConfig(learning_rate=1e-5, batch_size=args.batch, max_length=args.length),
        deepspeed=DeepSpeedConfig(zero_stage=stage, precision=precision),
        use_gpu=True,
    )
    ensure_process_group(gpu=True)
    torch.manual_seed(0)
    encoder = build_from_config(tiny_config(shape, XLMR_VOCAB))
    head = get_format("classification").build_head(get_task("mnli"), 1024, "first")
    engine, step = build_engine(cfg, TaskModel(encoder, head), 10_000, 1, gpu=True)
    fmt = get_format("classification")
    batch = {
        "input_ids": torch.randint(5, XLMR_VOCAB, (args.batch, args.length), device="cuda"),
        "attention_mask": torch.ones(args.batch, args.length, dtype=torch.long, device="cuda"),
        "labels": torch.randint(0, 3, (args.batch,), device="cuda"),
    }
    torch.cuda.reset_peak_memory_stats()
    train_steps(engine, step, fmt, batch, args.warmup)
    started = time.perf_counter()
    train_steps(engine, step, fmt, batch, args.steps)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30
    del engine, step, encoder, head, batch
    gc.collect()
    torch.cuda.empty_cache()
    return args.steps * args.batch / seconds, peak


def train_steps(engine, step, fmt, batch: dict, n: int) -> None:
    import torch

    for _ in range(n):
        step(fmt.loss(engine(batch), batch))
    torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_step: no CUDA GPU here; nothing measured")
        return 0
    print(
        f"device: {torch.cuda.get_device_name()}; XLM-R Large shape, batch {args.batch} x "
        f"{args.length} tokens, {args.steps} timed steps after {args.warmup}"
    )
    variants = [
        ("fp32", 0),
        ("bf16-autocast", 0),
        ("bf16", 0),
        ("bf16-autocast", 2),
        ("bf16", 2),
    ]
    results = {v: measure(*v, args) for v in variants}
    base = results[variants[0]][0]
    for (precision, stage), (rate, peak) in results.items():
        hours = MNLI_TRAIN_PAIRS / rate / 3600
        print(
            f"{precision:>13} ZeRO-{stage}: {rate:7.1f} seq/s  peak {peak:5.1f} GiB  "
            f"x{rate / base:4.2f} vs fp32 ZeRO-0  MNLI epoch {hours:4.2f} GPU-h"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

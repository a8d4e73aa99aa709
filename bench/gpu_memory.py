"""Peak GPU memory of XLM-R Large-shaped training per ZeRO stage, and the largest batch that fits.

The model is the one bench/gpu_train.py builds (XLM-R Large's shape, random weights, the trial's
classification head), and so is the engine: `trainers.loop.build_engine` with precision `auto`
(bf16-autocast on a GPU: fp32 weights, gradients and AdamW states, bf16 matrix products). For each
ZeRO stage of `--stages` it prints:

- the peak memory (`torch.cuda.max_memory_allocated`) over a few optimizer steps at the paper's
  micro-batches: 32 sequences of 256 tokens (classification, tagging) and 16 of 384 (QA);
- the largest micro-batch of 256-token sequences that trains: doubling from 32, then bisection,
  catching out-of-memory errors (an engine is rebuilt after one), up to `--cap`.

Both answer for an 80 GB GPU (the issue's question) on whatever GPU runs them: torch's allocator
is held to what an H100 80GB holds (`--memory-limit-gib`, 79.1 by default), less what the process
already holds outside it (the CUDA context), so on an H200's 140 GiB "fits" still means fits on
80 GB. `--whole-gpu` measures against the GPU's own memory instead.

On one GPU ZeRO has no other rank to partition across, so the stages differ here only in their
buffers. What they save on 8 GPUs is printed as estimates (not measured) of the model states per
GPU: this project's arithmetic for bf16-autocast at every stage, and DeepSpeed's own estimators
(ZeRO-2 and ZeRO-3 only; they assume 16-bit weights with fp32 masters).

Run:  python bench/gpu_memory.py [--stages 0 1 2 3 --cap 1024 --steps 2 --memory-limit-gib 79.1]
      (needs a CUDA GPU; --whole-gpu for no limit)
      python bench/gpu_memory.py --tiny   (a tiny shape on the CPU, peak RSS: checks it runs)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_train import (  # noqa: E402
    Setup,
    device_name,
    make_setup,
    peak_memory,
    random_batch,
    release,
    reset_memory,
    sync,
    task_model,
    xstilts_engine,
    xstilts_step,
)

# (micro-batch, length, what trains at it): reference.md's effective batches, one worker.
WORKLOADS = ((32, 256, "classification/tagging"), (16, 384, "QA"))
SEARCH_LENGTH = 256
TINY_WORKLOADS = ((4, 32, "classification/tagging"), (2, 48, "QA"))
TINY_SEARCH_LENGTH = 32
ESTIMATE_GPUS = 8
# An H100 80GB's memory as CUDA reports it: torch's out-of-memory messages on one give its total
# capacity as 79.1-79.2 GiB. The smaller figure, so that what fits here fits there.
H100_80GB_GIB = 79.1


class StageEngine:
    """The engine of one ZeRO stage, reused across batch sizes and rebuilt after an out-of-memory
    error: a step that failed half way can leave ZeRO's gradient buckets or gathered weights."""

    def __init__(self, setup: Setup, stage: int, steps: int):
        self.setup, self.stage, self.steps = setup, stage, steps
        self.engine = self.step = None

    def trains(self, batch: int, length: int) -> bool:
        """Whether `steps` optimizer steps at this micro-batch run without running out of memory."""
        if self.engine is None:
            # The configured micro-batch only feeds DeepSpeed's bookkeeping: any batch trains.
            self.engine, self.step, _ = xstilts_engine(self.setup, self.stage, batch, length, False)
        rows = random_batch(self.setup, batch, length)
        try:
            for _ in range(self.steps):
                xstilts_step(self.engine, self.step, rows)
            sync(self.setup)
            return True
        except RuntimeError as error:  # torch.cuda.OutOfMemoryError is one
            # cuBLAS reports a failed workspace allocation in its own words.
            if not any(s in str(error).lower() for s in ("out of memory", "alloc_failed")):
                raise
        self.close()
        return False

    def close(self) -> None:
        if self.engine is not None:
            release(self.engine)
            self.engine = self.step = None
        reset_memory(self.setup)


def largest_fitting(fits, start: int, cap: int) -> tuple[int, bool]:
    """(largest n <= cap with fits(n), whether the cap ended the search): doubling from `start`,
    then bisection between the last size that fit and the first that did not."""
    low, high = 0, start
    while fits(high):
        low = high
        if high == cap:
            return cap, True
        high = min(2 * high, cap)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low, False


def measure_stage(setup: Setup, stage: int, args) -> None:
    workloads, search_length = (
        (TINY_WORKLOADS, TINY_SEARCH_LENGTH) if args.tiny else (WORKLOADS, SEARCH_LENGTH)
    )
    engine = StageEngine(setup, stage, args.steps)
    reset_memory(setup)
    for batch, length, use in workloads:
        if engine.trains(batch, length):
            memory = peak_memory(setup)
        else:
            memory = "out of memory"
        print(f"gpu_memory: ZeRO-{stage} micro-batch {batch} x {length} tokens ({use}): {memory}")
        reset_memory(setup)
    start = min(workloads[0][0], args.cap)
    largest, capped = largest_fitting(lambda n: engine.trains(n, search_length), start, args.cap)
    engine.close()
    bound = f" (the cap, --cap {args.cap}; larger untried)" if capped else ""
    print(f"gpu_memory: ZeRO-{stage} max micro-batch at length {search_length}: {largest}{bound}")


def allocator_fraction(limit: int, total: int, outside: int) -> float | None:
    """The share of the GPU's `total` bytes torch's allocator may reserve so that the process
    holds at most `limit` bytes, `outside` of them held already outside the allocator (the CUDA
    context); None where the GPU has no more than `limit` (nothing to hold back)."""
    if total <= limit:
        return None
    if outside >= limit:
        raise ValueError(f"{outside / 2**30:.2f} GiB are in use already, over the limit")
    return (limit - outside) / total


def hold_to(limit_gib: float | None) -> str:
    """Hold torch's allocator to `limit_gib` GiB in all (None: the whole GPU); says what holds."""
    import torch

    free, total = torch.cuda.mem_get_info()  # makes the CUDA context, so it is counted
    own = f"the GPU's {total / 2**30:.1f} GiB"
    if limit_gib is None:
        return f"{own} (--whole-gpu)"
    fraction = allocator_fraction(round(limit_gib * 2**30), total, total - free)
    if fraction is None:
        return f"{own} (no more than --memory-limit-gib {limit_gib:g})"
    torch.cuda.set_per_process_memory_fraction(fraction)
    return (
        f"{limit_gib:g} GiB of {own} (--memory-limit-gib; {(total - free) / 2**30:.2f} GiB of it "
        "held outside torch's allocator at the start)"
    )


def param_counts(setup: Setup) -> tuple[int, int]:
    """(all parameters, the largest module's own): what DeepSpeed's estimators take."""
    import torch

    with torch.device("meta"):  # shapes only: nothing allocated
        model, _ = task_model(setup)
    total = sum(p.numel() for p in model.parameters())
    largest = max(sum(p.numel() for p in m.parameters(recurse=False)) for m in model.modules())
    return total, largest


def autocast_states(params: int, largest: int, stage: int, gpus: int) -> float:
    """Bytes of model states per GPU under bf16-autocast: fp32 weights (4 bytes a parameter),
    gradients (4) and AdamW moments (8); stage 1 partitions the moments, 2 also the gradients,
    3 also the weights, gathering one module's at a time (the largest, at worst)."""
    weights, grads, moments = 4 * params, 4 * params, 8 * params
    if stage >= 1:
        moments /= gpus
    if stage >= 2:
        grads /= gpus
    if stage >= 3:
        weights = weights / gpus + 4 * largest
    return weights + grads + moments


def print_estimates(setup: Setup, stages: list[int]) -> None:
    from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs
    from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    total, largest = param_counts(setup)
    print(
        f"gpu_memory: {total / 1e6:.1f}M parameters, largest module {largest / 1e6:.1f}M; on one "
        "GPU ZeRO has no other rank to partition across, so what follows are estimates for "
        f"{ESTIMATE_GPUS} GPUs, model states only (no activations), not measured"
    )
    for stage in stages:
        ours = autocast_states(total, largest, stage, ESTIMATE_GPUS) / 2**30
        line = (
            f"gpu_memory: ZeRO-{stage} estimate on {ESTIMATE_GPUS} GPUs: {ours:.3g} GiB/GPU "
            "(bf16-autocast, fp32 states; our arithmetic)"
        )
        # DeepSpeed's own estimators (what its *_all_cold functions print), without offload.
        if stage == 2:
            _, gpu = estimate_zero2_model_states_mem_needs(
                total, num_gpus_per_node=ESTIMATE_GPUS, cpu_offload=False
            )
            line += f", {gpu / 2**30:.3g} GiB/GPU (DeepSpeed's estimator, 16-bit weights)"
        if stage == 3:
            _, gpu, _ = estimate_zero3_model_states_mem_needs(
                total,
                largest,
                num_gpus_per_node=ESTIMATE_GPUS,
                cpu_offload=False,
                cpu_offload_params=False,
            )
            line += f", {gpu / 2**30:.3g} GiB/GPU (DeepSpeed's estimator, 16-bit weights)"
        print(line)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, nargs="+")
    # Two steps reach the steady peak: the first creates AdamW's states, the second uses them.
    parser.add_argument("--steps", type=int, help="optimizer steps per measurement (default 2)")
    parser.add_argument("--cap", type=int, help="largest micro-batch tried")
    parser.add_argument(
        "--memory-limit-gib",
        type=float,
        default=H100_80GB_GIB,
        help=f"GPU memory the process may use in all (default {H100_80GB_GIB}: an H100 80GB's)",
    )
    parser.add_argument(
        "--whole-gpu", action="store_true", help="no memory limit: measure against the GPU's own"
    )
    parser.add_argument("--tiny", action="store_true", help="tiny shape on the CPU (a smoke run)")
    args = parser.parse_args()
    if args.memory_limit_gib <= 0:
        parser.error("--memory-limit-gib must be more than 0")
    defaults = (
        dict(stages=[0, 2], steps=1, cap=8)
        if args.tiny
        else dict(stages=[0, 1, 2, 3], steps=2, cap=1024)
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> int:
    args = parse_args()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print("gpu_memory: no CUDA GPU here; nothing measured")
        return 0
    from trainers.distributed import ensure_process_group

    setup = make_setup(args.tiny)
    if setup.gpu:
        try:
            memory = hold_to(None if args.whole_gpu else args.memory_limit_gib)
        except ValueError as error:
            print(f"gpu_memory: --memory-limit-gib {args.memory_limit_gib:g}: {error}")
            return 2
    else:
        memory = "no limit (CPU)"
    ensure_process_group(gpu=setup.gpu)  # DeepSpeed needs one
    measured = (
        "torch.cuda.max_memory_allocated"
        if setup.gpu
        else "the process's peak RSS, which never resets (CPU)"
    )
    print(
        f"gpu_memory: device {device_name(setup)}; {setup.shape.num_layers} layers, width "
        f"{setup.shape.hidden_size}, vocab {setup.vocab}; precision "
        f"{'bf16-autocast' if setup.gpu else 'fp32'}; peak = {measured}; optimizer steps per "
        f"measurement: {args.steps}"
    )
    print(f"gpu_memory: memory: {memory}")
    print_estimates(setup, args.stages)  # first: arithmetic, so a run cut short still has them
    for stage in args.stages:
        measure_stage(setup, stage, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

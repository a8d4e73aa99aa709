"""Kernel launches per training step of an XLM-R Large-shaped model: the trial's Stepper against
DeepSpeed clipping and reducing by itself (the baseline), ZeRO-0, one worker.

A GPU step of a large encoder at the paper's micro-batches is bound by the host launching
kernels one at a time, so the launches a step makes are a figure of its host time that needs no
GPU to measure (trainers/stepping.py says where DeepSpeed spends them). The model has XLM-R
Large's structure (24 layers, every parameter tensor of it) at a width of 16, so that the CPU
only dispatches. Counted: the torch operators that run a kernel (views, metadata and empty
allocations excluded) from the forward pass to the end of the step, apart from the optimizer's
own update, which is the same in both and which a GPU runs fused.

Run:  python bench/step_launches.py [--layers 24]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Operators that launch no kernel: views, metadata, uninitialised allocations.
NO_KERNEL = {
    "view", "_unsafe_view", "as_strided", "t", "transpose", "expand", "permute", "unsqueeze",
    "squeeze", "slice", "select", "alias", "detach", "split", "split_with_sizes", "unbind",
    "reshape", "_reshape_alias", "resolve_conj", "resolve_neg", "empty", "empty_like",
    "empty_strided", "lift_fresh", "set_",
}  # fmt: skip


def counter():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Launches(TorchDispatchMode):
        """Counts kernel-running operators while `on`."""

        def __init__(self):
            super().__init__()
            self.count, self.on = 0, True

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if self.on and func.overloadpacket.__name__ not in NO_KERNEL:
                self.count += 1
            return func(*args, **(kwargs or {}))

    return Launches()


def launches_per_step(layers: int, deepspeed_alone: bool) -> tuple[int, int]:
    """(launches of the forward pass, of the backward pass, reduction, clip and step)."""
    from gpu_train import Setup, random_batch, xstilts_engine

    from trainers.config import DeepSpeedConfig, TinyEncoder
    from trainers.formats import get_format

    shape = TinyEncoder(
        hidden_size=16, num_layers=layers, num_heads=2, intermediate_size=32, max_positions=64
    )
    setup = Setup(shape, 1000, False)
    batch = random_batch(setup, 2, 16)
    fmt = get_format("classification")
    original = DeepSpeedConfig.clips_in_loop
    if deepspeed_alone:  # DeepSpeed clips and reduces, as it does by itself
        DeepSpeedConfig.clips_in_loop = lambda self, workers, on_gpu: False
    try:
        engine, step, _ = xstilts_engine(setup, 0, 2, 16, False)
    finally:
        DeepSpeedConfig.clips_in_loop = original
    launches = counter()
    update = engine.optimizer.step

    def uncounted_update(*args, **kwargs):
        launches.on = False
        try:
            return update(*args, **kwargs)
        finally:
            launches.on = True

    engine.optimizer.step = uncounted_update
    for _ in range(2):  # optimizer states made, every lazy path taken
        step(fmt.loss(engine(batch), batch))
    with launches:
        loss = fmt.loss(engine(batch), batch)
        forward, launches.count = launches.count, 0
        step(loss)
    engine.destroy()
    return forward, launches.count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=24)
    args = parser.parse_args()
    from trainers.distributed import ensure_process_group

    ensure_process_group(gpu=False)
    base = launches_per_step(args.layers, deepspeed_alone=True)
    ours = launches_per_step(args.layers, deepspeed_alone=False)
    print(
        f"step_launches: XLM-R Large's structure ({args.layers} layers) at width 16, ZeRO-0, one "
        "worker; kernel launches per step, the optimizer's update left out"
    )
    for name, (forward, rest) in (("DeepSpeed alone (baseline)", base), ("xstilts", ours)):
        print(
            f"step_launches: {name}: {forward + rest} (forward {forward}; backward, reduction, "
            f"clip and step {rest})"
        )
    print(f"step_launches: ratio xstilts/baseline {sum(ours) / sum(base):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A micro-batch's backward and step on a DeepSpeed engine, as the trial loop and the GPU
benchmarks take them.

At ZeRO-0 DeepSpeed works per parameter in Python where one call over all of them would do:
- its gradient clipping takes each gradient's norm, then scales each gradient (two kernel
  launches per parameter, about 800 for XLM-R Large), and it copies two scalars to the GPU,
  which waits for the whole backward pass first. torch's `clip_grad_norm_` does the same
  arithmetic with a few multi-tensor kernels (`DeepSpeedConfig.clips_in_loop`);
- on one worker its backward "all-reduces" the gradients anyway: it copies all of them into
  flat buckets, all-reduces those over the one rank and copies them back (two passes over
  2.2 GB for XLM-R Large, and a launch per parameter). `build_engine` turns that reduction
  off, as DeepSpeed does itself when it has no communication backend, and the step makes the
  one thing it did that matters: a zero gradient for each trainable parameter that got none (a
  mixture's idle heads), so that AdamW moves it as before.

At the paper's micro-batches a GPU step of XLM-R Large took about ten times its arithmetic on
an H100 (BENCHMARKS.md), the mark of a step waiting on the host's launches: launches saved
should be time saved there (bench/step_launches.py counts them). Training is unchanged: the
same weights to float rounding (tests/test_stepping.py).
"""

from __future__ import annotations

import torch


class Stepper:
    """`stepper(loss)`: backward, then at the accumulation boundary the step."""

    def __init__(self, engine, clip: float):
        self.engine = engine
        self.clip = clip  # 0: DeepSpeed clips, or nothing is clipped
        self.params = [p for p in engine.module.parameters() if p.requires_grad]
        # DeepSpeed's reduction made zero gradients for the parameters that got none.
        self.fill = not engine.enable_backward_allreduce

    def __call__(self, loss: torch.Tensor) -> None:
        engine = self.engine
        engine.backward(loss)
        if engine.is_gradient_accumulation_boundary():
            if self.fill:
                for p in self.params:
                    if p.grad is None and p.numel():
                        p.grad = torch.zeros_like(p)
            if self.clip:
                torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        engine.step()

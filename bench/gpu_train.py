"""Training throughput of an XLM-R Large-shaped classifier on one GPU: xstilts vs HF Trainer.

The classifier has XLM-R Large's shape (24 layers, width 1024, 16 heads, feed-forward 4096, a
250,002-token vocabulary) with random weights, so nothing is downloaded; a step's cost does not
depend on the weights. Every batch holds full-length sequences of random tokens (XTREME's scripts
pad every input to the maximum length), so every token counts: tok/s = seq/s x length.

- baseline: Hugging Face `transformers.Trainer` training `XLMRobertaForSequenceClassification`
  built from the same config: bf16 mixed precision (`bf16=True`), its default optimizer, no
  evaluation, no saving, no reporting;
- xstilts: the engine a trial trains with (`trainers.loop.build_engine`): precision `auto`
  (bf16-autocast on a GPU), fused AdamW, at each ZeRO stage of `--stages`, optionally with
  activation checkpointing.

Both read batches through a DataLoader and are timed from the end of the last warm-up step to the
end of the last step, with the GPU synchronised at both ends. Printed per length and variant:
tokens/s, sequences/s, peak GPU memory, model FLOPs utilisation (MFU) and the ratio xstilts/Trainer.

MFU counts the model's training FLOPs per token, 6 N + 12 x layers x width x length, where N is
the encoder's parameters less its embedding tables (a lookup multiplies nothing; the classifier
head, which reads one token per sequence, is left out too) and the second term is attention's
scores and weighted values, forward and backward. Recomputation under activation checkpointing is
not counted, by definition. The peak is the GPU's dense bf16 rate; MFU is n/a for other devices.

Run:  python bench/gpu_train.py [--lengths 128 256 --stages 0 2 --batch 32 --steps 20]  (CUDA GPU)
      python bench/gpu_train.py --tiny   (a tiny shape on the CPU, fp32: checks the script runs)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_step import XLMR_LARGE, XLMR_VOCAB  # noqa: E402

from trainers.config import TinyEncoder  # noqa: E402

TINY = dict(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_positions=64)
TINY_VOCAB = 1000
NUM_LABELS = 3  # MNLI's
# Dense bf16 peak FLOP/s by device name (every listed word must appear); first match wins.
PEAK_BF16 = (
    (("NVL",), None),  # the NVL parts run at other clocks: no guess
    (("H100", "PCIe"), 756e12),
    (("H100", "HBM3"), 989e12),
    (("H100", "SXM"), 989e12),
    (("H200",), 989e12),
    (("A100",), 312e12),
)


@dataclass(frozen=True)
class Setup:
    """The model shape and the device every variant of a run shares."""

    shape: TinyEncoder
    vocab: int
    gpu: bool

    @property
    def device(self) -> str:
        return "cuda" if self.gpu else "cpu"


def make_setup(tiny: bool) -> Setup:
    shape = TINY if tiny else XLMR_LARGE
    return Setup(TinyEncoder(**shape, dropout=0.1), TINY_VOCAB if tiny else XLMR_VOCAB, not tiny)


def hf_config(setup: Setup):
    """The Hugging Face config both variants build from (trainers.model.tiny_config)."""
    from trainers.model import tiny_config

    config = tiny_config(setup.shape, setup.vocab)
    config.num_labels = NUM_LABELS
    return config


def random_batch(setup: Setup, rows: int, length: int) -> dict:
    """Full-length random sequences on the CPU: no padding, every token real."""
    import torch

    generator = torch.Generator().manual_seed(0)
    return {
        "input_ids": torch.randint(5, setup.vocab, (rows, length), generator=generator),
        "attention_mask": torch.ones(rows, length, dtype=torch.long),
        "labels": torch.randint(0, NUM_LABELS, (rows,), generator=generator),
    }


class Rows:
    """A batch dict as a dataset of its rows (what a DataLoader and the Trainer read)."""

    def __init__(self, batch: dict):
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch["labels"])

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.batch.items()}


def task_model(setup: Setup):
    """(TaskModel, its encoder): the trial's model, random, on torch's current default device."""
    from trainers.formats import get_format
    from trainers.model import TaskModel, build_from_config
    from trainers.tasks import get_task

    encoder = build_from_config(hf_config(setup))
    head = get_format("classification").build_head(
        get_task("mnli"), setup.shape.hidden_size, "first"
    )
    return TaskModel(encoder, head), encoder


def xstilts_engine(setup: Setup, stage: int, batch: int, length: int, checkpointing: bool):
    """(engine, encoder) built as a trial builds them: TaskModel, then `build_engine`."""
    import torch

    from trainers.config import DataConfig, DeepSpeedConfig, ModelConfig, OptimConfig, TrainConfig
    from trainers.loop import build_engine

    cfg = TrainConfig(
        phase="intermediate",
        task="mnli",
        model=ModelConfig(name="xlmr-large-shape", tiny=setup.shape),
        init_from="random",
        tokenizer="none",
        data=DataConfig(source="local", root="."),
        optim=OptimConfig(learning_rate=1e-5, batch_size=batch, max_length=length),
        deepspeed=DeepSpeedConfig(zero_stage=stage, precision="auto"),
        use_gpu=setup.gpu,
    )
    torch.manual_seed(0)
    # Built on the device: random init there takes a moment, where XLM-R Large on the CPU takes
    # seconds; the engine (DeepSpeed moves a CPU model to the device anyway) is the same.
    with torch.device(setup.device):
        model, encoder = task_model(setup)
    if checkpointing:
        encoder.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    engine = build_engine(cfg, model, 10_000, 1, gpu=setup.gpu)
    engine.train()
    return engine, encoder


def xstilts_step(engine, batch: dict) -> None:
    """One step as the trial loop takes it: batch to the device, loss, backward, step, loss read."""
    from trainers.formats import get_format

    batch = {k: v.to(engine.device) for k, v in batch.items()}
    loss = get_format("classification").loss(engine(batch), batch)
    engine.backward(loss)
    engine.step()
    loss.item()


def release(engine) -> None:
    engine.destroy()  # drops DeepSpeed's hooks and buffers, which hold the model otherwise


def sync(setup: Setup) -> None:
    import torch

    if setup.gpu:
        torch.cuda.synchronize()


def reset_memory(setup: Setup) -> None:
    """Free what earlier variants left and start a new peak (the GPU's; the CPU's cannot reset)."""
    import torch

    gc.collect()
    if setup.gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory(setup: Setup) -> str:
    """The peak since reset_memory on a GPU; on the CPU the process's peak RSS so far."""
    import torch

    if setup.gpu:
        return f"peak GPU {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    # ru_maxrss is in KiB on Linux.
    return f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"


@dataclass
class Result:
    name: str
    seconds: float
    tokens: int
    sequences: int
    memory: str
    attention: str

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def measure_xstilts(setup: Setup, stage: int, length: int, args) -> Result:
    import torch

    batch, checkpointing = args.batch, args.activation_checkpointing
    reset_memory(setup)
    engine, encoder = xstilts_engine(setup, stage, batch, length, checkpointing)
    data = Rows(random_batch(setup, batch * (args.warmup + args.steps), length))
    loader = iter(
        torch.utils.data.DataLoader(data, batch, shuffle=True, drop_last=True, pin_memory=setup.gpu)
    )
    for _ in range(args.warmup):
        xstilts_step(engine, next(loader))
    sync(setup)
    started = time.perf_counter()
    for _ in range(args.steps):
        xstilts_step(engine, next(loader))
    sync(setup)
    seconds = time.perf_counter() - started
    name = f"xstilts ZeRO-{stage}" + (" +ckpt" if checkpointing else "")
    result = Result(
        name,
        seconds,
        args.steps * batch * length,
        args.steps * batch,
        peak_memory(setup),
        encoder.config._attn_implementation,
    )
    release(engine)
    return result


def measure_trainer(setup: Setup, length: int, args) -> Result:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    class StepClock(TrainerCallback):
        """Times the same span as the xstilts loop: end of warm-up to the end of the last step."""

        def on_step_end(self, training_args, state, control, **kwargs):
            if state.global_step in (args.warmup, args.warmup + args.steps):
                sync(setup)
                marks.append(time.perf_counter())

    batch, marks = args.batch, []
    reset_memory(setup)
    torch.manual_seed(0)
    with torch.device(setup.device):
        model = AutoModelForSequenceClassification.from_config(hf_config(setup))
    data = Rows(random_batch(setup, batch * (args.warmup + args.steps), length))
    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=batch,
            max_steps=args.warmup + args.steps,
            learning_rate=1e-5,
            weight_decay=0.01,
            bf16=setup.gpu,
            use_cpu=not setup.gpu,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_drop_last=True,
            seed=0,
        )
        trainer = Trainer(
            model=model, args=training_args, train_dataset=data, callbacks=[StepClock()]
        )
        trainer.remove_callback(PrinterCallback)  # its end-of-training dict is not our figures
        trainer.train()
        optimizer = getattr(training_args.optim, "value", training_args.optim)
        memory = peak_memory(setup)
        trainer.accelerator.free_memory()
    return Result(
        f"Trainer ({'bf16' if setup.gpu else 'fp32'}, {optimizer})",
        marks[1] - marks[0],
        args.steps * batch * length,
        args.steps * batch,
        memory,
        model.config._attn_implementation,
    )


def matmul_params(setup: Setup) -> int:
    """N of the MFU: the encoder's parameters less its embedding tables (see the docstring)."""
    import torch

    with torch.device("meta"):  # shapes only: nothing allocated
        _, encoder = task_model(setup)
    tables = {
        id(p)
        for m in encoder.modules()
        if isinstance(m, torch.nn.Embedding)
        for p in m.parameters()
    }
    return sum(p.numel() for p in encoder.parameters() if id(p) not in tables)


def flops_per_token(setup: Setup, n_params: int, length: int) -> float:
    return 6 * n_params + 12 * setup.shape.num_layers * setup.shape.hidden_size * length


def peak_flops(device_name: str) -> float | None:
    for words, peak in PEAK_BF16:
        if all(w in device_name for w in words):
            return peak
    return None


def mfu(tokens_per_s: float, per_token: float, peak: float | None) -> str:
    return "n/a" if peak is None else f"{100 * tokens_per_s * per_token / peak:.1f}%"


def device_name(setup: Setup) -> str:
    import torch

    return torch.cuda.get_device_name() if setup.gpu else "cpu"


def print_header(setup: Setup, args, n_params: int) -> None:
    import deepspeed
    import torch
    import transformers

    shape = setup.shape
    print(f"gpu_train: device {device_name(setup)}")
    print(
        f"gpu_train: torch {torch.__version__}, transformers {transformers.__version__}, "
        f"deepspeed {deepspeed.__version__}"
    )
    print(
        f"gpu_train: model {shape.num_layers} layers, width {shape.hidden_size}, "
        f"{shape.num_heads} heads, FFN {shape.intermediate_size}, vocab {setup.vocab}, random "
        f"weights; {n_params / 1e6:.1f}M parameters outside the embedding tables (MFU's N)"
    )
    precision, adamw = ("bf16-autocast", "fused AdamW") if setup.gpu else ("fp32", "AdamW")
    print(
        f"gpu_train: batch {args.batch} full-length sequences (every token real, no padding), "
        f"{args.steps} timed steps after {args.warmup} warm-up; xstilts: {precision}, {adamw}"
    )


def report(
    result: Result, length: int, per_token: float, peak: float | None, base: Result | None
) -> None:
    ratio = (
        ""
        if base is None
        else f", ratio xstilts/Trainer {result.tokens_per_s / base.tokens_per_s:.2f}x"
    )
    print(
        f"gpu_train: length {length} {result.name}: {result.tokens_per_s:.0f} tok/s, "
        f"{result.sequences / result.seconds:.1f} seq/s, {result.memory}, "
        f"MFU {mfu(result.tokens_per_s, per_token, peak)}, attention {result.attention}{ratio}"
    )


def compare(setup: Setup, length: int, base: Result, args, n_params: int, peak) -> None:
    """Each xstilts variant at `length`, then the summary line against the Trainer's result."""
    per_token = flops_per_token(setup, n_params, length)
    ours = [measure_xstilts(setup, stage, length, args) for stage in args.stages]
    for result in ours:
        report(result, length, per_token, peak, base)
    first = ours[0]
    print(
        f"gpu_train: length {length}: {first.name} {first.tokens_per_s:.0f} tok/s, "
        f"Trainer {base.tokens_per_s:.0f} tok/s, "
        f"ratio {first.tokens_per_s / base.tokens_per_s:.2f}x, "
        f"MFU {mfu(first.tokens_per_s, per_token, peak)}"
    )


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+")
    parser.add_argument("--stages", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup", type=int, help="untimed steps first (at least 1)")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="tiny shape on the CPU (a smoke run)")
    args = parser.parse_args()
    defaults = (
        dict(lengths=[16, 32], batch=4, steps=3, warmup=1)
        if args.tiny
        else dict(lengths=[128, 256], batch=32, steps=20, warmup=5)
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.warmup < 1:
        parser.error("--warmup must be at least 1: the clock starts at the end of a step")
    return args


def main() -> int:
    args = parse_args()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print("gpu_train: no CUDA GPU here; nothing measured")
        return 0
    if importlib.util.find_spec("accelerate") is None:  # before any GPU time is spent
        print("gpu_train: the Trainer baseline needs accelerate (pip install 'accelerate>=1.1')")
        return 1
    from trainers.distributed import ensure_process_group

    setup = make_setup(args.tiny)
    n_params = matmul_params(setup)
    print_header(setup, args, n_params)
    peak = peak_flops(device_name(setup))
    print(
        f"gpu_train: dense bf16 peak {peak / 1e12:.0f} TFLOP/s"
        if peak
        else "gpu_train: no dense bf16 peak known for this device: MFU n/a"
    )
    # The baselines run before DeepSpeed's process group exists: the RANK and LOCAL_RANK it sets
    # make Accelerate treat the Trainer as distributed (on the CPU it then wraps the model in
    # DistributedDataParallel), where a user's single-GPU Trainer run is not.
    baselines = {}
    for length in args.lengths:
        baselines[length] = measure_trainer(setup, length, args)
        report(baselines[length], length, flops_per_token(setup, n_params, length), peak, None)
    ensure_process_group(gpu=setup.gpu)  # DeepSpeed needs one
    for length in args.lengths:
        compare(setup, length, baselines[length], args, n_params, peak)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

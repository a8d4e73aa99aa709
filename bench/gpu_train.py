"""Training throughput of an XLM-R Large-shaped classifier on one GPU: xstilts vs HF Trainer.

The classifier has XLM-R Large's shape (24 layers, width 1024, 16 heads, feed-forward 4096, a
250,002-token vocabulary) with random weights, so nothing is downloaded; a step's cost does not
depend on the weights. By default every batch holds full-length sequences of random tokens
(XTREME's scripts pad every input to the maximum length), so every token counts:
tok/s = seq/s x length.

- baseline: Hugging Face `transformers.Trainer` training `XLMRobertaForSequenceClassification`
  built from the same config: bf16 mixed precision (`bf16=True`), its default optimizer, no
  evaluation, no saving, no reporting;
- xstilts: the engine a trial trains with (`trainers.loop.build_engine`): precision `auto`
  (bf16-autocast on a GPU), fused AdamW, at each ZeRO stage of `--stages`, optionally with
  activation checkpointing or `torch.compile` (`--compile`: `deepspeed.torch_compile`, compiled
  in the first warm-up step), stepped as a trial steps it (`trainers.stepping.Stepper`).

Both read batches through a DataLoader (with --real-lengths xstilts reads its TrainStream, as a
trial does) and are timed from the end of the last warm-up step to the end of the last step,
with the GPU synchronised at both ends. Printed per length and variant: tokens/s, sequences/s,
peak GPU memory, model FLOPs utilisation (MFU) and the ratio xstilts/Trainer.

With --real-lengths the sequences have the lengths users train on: premise+hypothesis pairs of
XNLI/MNLI in XLM-R's tokenizer, drawn (seeded) from a log-normal with a long tail (PAIR_* below),
random tokens. One length-grouping group's worth of pairs is drawn, and both variants train on the
same pairs in the same batches, which differ only in padding:

- baseline: `Trainer` with every pair padded to the length (XTREME's `pad_to_max_length`), read in
  order (with all of them the same length, order changes no step's cost);
- xstilts: the batches a trial trains on: a `trainers.data.batches.TrainStream` with
  `group_by_length=True` over the pairs as classification features, collated by the
  classification format (padded to each batch's longest pair), read as the trial loop reads it.

The figure is then real (non-padding) tokens/s, counted from the attention masks of the timed
batches, with each variant's padding share; MFU counts real tokens' FLOPs alone (attention at each
pair's own length), so padding counts as waste.

MFU counts the model's training FLOPs per token, 6 N + 12 x layers x width x length, where N is
the encoder's parameters less its embedding tables (a lookup multiplies nothing; the classifier
head, which reads one token per sequence, is left out too) and the second term is attention's
scores and weighted values, forward and backward. Recomputation under activation checkpointing is
not counted, by definition. The peak is the GPU's dense bf16 rate; MFU is n/a for other devices.

Run:  python bench/gpu_train.py [--lengths 128 256 --stages 0 2 --batch 32 --steps 20]  (CUDA GPU)
      python bench/gpu_train.py --real-lengths   (variable-length pairs, real tokens/s)
      python bench/gpu_train.py --tiny [--real-lengths]   (a tiny shape on the CPU, fp32: checks
      the script runs)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import math
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_step import XLMR_LARGE, XLMR_VOCAB  # noqa: E402

from trainers.config import TinyEncoder  # noqa: E402

TINY = dict(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_positions=64)
TINY_VOCAB = 1000
NUM_LABELS = 3  # MNLI's
# --real-lengths: premise+hypothesis pairs of XNLI/MNLI in XLM-R's tokenizer (special tokens
# included) as a log-normal of median PAIR_MEDIAN tokens whose log-length has spread PAIR_SIGMA:
# mean about 45 tokens, about 1% of pairs over 128 (the long tail). A rough model of those sets,
# not a fit to them; each draw is cut to [PAIR_SHORTEST, the run's length], as truncation cuts.
PAIR_MEDIAN = 40
PAIR_SIGMA = 0.5
PAIR_SHORTEST = 8
PAIR_SEED = 0
# The tiny run draws pairs a quarter as long, so that its lengths 16 and 32 cut and pad them as
# 64 and 128 cut and pad the full-size ones.
TINY_PAIR_SCALE = 0.25
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


@dataclass
class Workload:
    """What the variants train on at one length: the Trainer's dataset and xstilts's batches."""

    rows: Rows  # the Trainer's dataset
    sampling: str  # the Trainer's train_sampling_strategy
    batches: Callable[[], Iterator[dict]]  # a fresh pass over xstilts's batches, per variant


def full_length_workload(setup: Setup, length: int, args) -> Workload:
    """Random full-length sequences, which both shuffle: every batch costs the same."""
    import torch

    rows = Rows(random_batch(setup, args.batch * (args.warmup + args.steps), length))
    return Workload(
        rows,
        "random",
        lambda: iter(
            torch.utils.data.DataLoader(
                rows, args.batch, shuffle=True, drop_last=True, pin_memory=setup.gpu
            )
        ),
    )


def pair_model(tiny: bool) -> tuple[float, int]:
    """(median, shortest) of the pair lengths drawn: PAIR_*, scaled down for the tiny run."""
    scale = TINY_PAIR_SCALE if tiny else 1
    return PAIR_MEDIAN * scale, max(1, round(PAIR_SHORTEST * scale))


def pair_lengths(count: int, length: int, tiny: bool) -> list[int]:
    """`count` pair lengths, seeded: the same draws at every run length, each cut to it."""
    median, shortest = pair_model(tiny)
    rng = random.Random(PAIR_SEED)
    draws = (round(rng.lognormvariate(math.log(median), PAIR_SIGMA)) for _ in range(count))
    return [min(length, max(shortest, n)) for n in draws]


def pair_features(setup: Setup, lengths: list[int]) -> list[dict]:
    """Features shaped as the classification format's featurize makes them, of random tokens."""
    import torch

    generator = torch.Generator().manual_seed(PAIR_SEED)
    ids = torch.randint(5, setup.vocab, (sum(lengths),), generator=generator).split(lengths)
    labels = torch.randint(0, NUM_LABELS, (len(lengths),), generator=generator).tolist()
    return [
        {"input_ids": seq.tolist(), "label": label, "example": i}
        for i, (seq, label) in enumerate(zip(ids, labels, strict=True))
    ]


def padded_to(features: list[dict], length: int, pad_id: int) -> dict:
    """The features as XTREME's scripts feed them: each padded to `length` (pad_to_max_length)."""
    import torch

    batch = {
        "input_ids": torch.full((len(features), length), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros(len(features), length, dtype=torch.long),
        "labels": torch.tensor([f["label"] for f in features]),
    }
    for row, feature in enumerate(features):
        n = len(feature["input_ids"])
        batch["input_ids"][row, :n] = torch.tensor(feature["input_ids"])
        batch["attention_mask"][row, :n] = 1
    return batch


def real_length_workload(setup: Setup, length: int, args) -> Workload:
    """Pairs of drawn lengths: xstilts reads the batches a trial's length-grouped TrainStream
    makes of them; the Trainer reads the same pairs in the same batches, each padded to `length`
    (in order: with every pair as long as the next, shuffling would change no step's cost)."""
    from trainers.data.batches import GROUP_BATCHES, TrainStream
    from trainers.formats import get_format

    # At least the pairs one group of length grouping sorts: the batches are then as even in
    # length as those of a trial, whose data holds many such groups.
    count = args.batch * max(GROUP_BATCHES, args.warmup + args.steps)
    features = pair_features(setup, pair_lengths(count, length, args.tiny))
    pad_id = hf_config(setup).pad_token_id
    collate = partial(get_format("classification").collate, pad_id=pad_id)
    stream = TrainStream(
        features, collate, args.batch, grad_accum=1, rank=0, world=1, seed=0, group_by_length=True
    )
    # The pairs of the stream's first batches, in its order: the Trainer's batch k holds the
    # pairs of the stream's batch k.
    trained = stream.epoch_order(0)[: args.batch * (args.warmup + args.steps)]
    rows = Rows(padded_to([features[i] for i in trained], length, pad_id))
    return Workload(rows, "sequential", lambda: stream.batches_from(0))


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


def xstilts_engine(
    setup: Setup, stage: int, batch: int, length: int, checkpointing: bool, compiled: bool = False
):
    """(engine, its Stepper, encoder) built as a trial builds them: TaskModel, `build_engine`."""
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
        deepspeed=DeepSpeedConfig(zero_stage=stage, precision="auto", torch_compile=compiled),
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
    engine, step = build_engine(cfg, model, 10_000, 1, gpu=setup.gpu)
    engine.train()
    return engine, step, encoder


def xstilts_step(engine, step, batch: dict) -> None:
    """One step as the trial loop takes it: batch to the device, loss, backward and step (the
    Stepper), loss read."""
    from trainers.formats import get_format

    batch = {k: v.to(engine.device) for k, v in batch.items()}
    loss = get_format("classification").loss(engine(batch), batch)
    step(loss)
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
    lengths: list[int]  # the real (non-padding) tokens of each timed sequence
    slots: int  # the timed batches' token positions, padding included
    memory: str
    attention: str

    @property
    def tokens(self) -> int:
        return sum(self.lengths)

    @property
    def sequences(self) -> int:
        return len(self.lengths)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def padding(self) -> float:
        return 1 - self.tokens / self.slots

    @property
    def attention_length(self) -> float:
        """The length attention's FLOPs per real token go with: sum(l^2) / sum(l)."""
        return sum(n * n for n in self.lengths) / self.tokens


def counts(masks: list) -> tuple[list[int], int]:
    """(real tokens of each sequence, token positions) of batches, from their attention masks."""
    return [n for mask in masks for n in mask.sum(1).tolist()], sum(m.numel() for m in masks)


def measure_xstilts(setup: Setup, stage: int, length: int, args, workload: Workload) -> Result:
    checkpointing = args.activation_checkpointing
    reset_memory(setup)
    engine, step, encoder = xstilts_engine(
        setup, stage, args.batch, length, checkpointing, args.compile
    )
    batches, masks = workload.batches(), []
    for _ in range(args.warmup):
        xstilts_step(engine, step, next(batches))
    sync(setup)
    started = time.perf_counter()
    for _ in range(args.steps):
        batch = next(batches)
        masks.append(batch["attention_mask"])  # counted after the clock stops
        xstilts_step(engine, step, batch)
    sync(setup)
    seconds = time.perf_counter() - started
    name = (
        f"xstilts ZeRO-{stage}"
        + (" +ckpt" if checkpointing else "")
        + (" +compile" if args.compile else "")
    )
    result = Result(
        name, seconds, *counts(masks), peak_memory(setup), encoder.config._attn_implementation
    )
    release(engine)
    return result


def measure_trainer(setup: Setup, args, workload: Workload) -> Result:
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        default_data_collator,
    )

    class StepClock(TrainerCallback):
        """Times the same span as the xstilts loop: end of warm-up to the end of the last step."""

        def on_step_end(self, training_args, state, control, **kwargs):
            if state.global_step in (args.warmup, args.warmup + args.steps):
                sync(setup)
                marks.append(time.perf_counter())

    def collate(rows: list[dict]) -> dict:
        """Trainer's own collator (it has no tokenizer), noting each batch's attention mask:
        collated in the main process in the order trained, so masks[warmup:] are the timed."""
        batch = default_data_collator(rows)
        masks.append(batch["attention_mask"])
        return batch

    marks, masks = [], []
    reset_memory(setup)
    torch.manual_seed(0)
    with torch.device(setup.device):
        model = AutoModelForSequenceClassification.from_config(hf_config(setup))
    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=args.batch,
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
            train_sampling_strategy=workload.sampling,
            seed=0,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=workload.rows,
            data_collator=collate,
            callbacks=[StepClock()],
        )
        trainer.remove_callback(PrinterCallback)  # its end-of-training dict is not our figures
        trainer.train()
        optimizer = getattr(training_args.optim, "value", training_args.optim)
        memory = peak_memory(setup)
        trainer.accelerator.free_memory()
    return Result(
        f"Trainer ({'bf16' if setup.gpu else 'fp32'}, {optimizer})",
        marks[1] - marks[0],
        *counts(masks[args.warmup : args.warmup + args.steps]),
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


def flops_per_token(setup: Setup, n_params: int, length: float) -> float:
    return 6 * n_params + 12 * setup.shape.num_layers * setup.shape.hidden_size * length


def peak_flops(device_name: str) -> float | None:
    for words, peak in PEAK_BF16:
        if all(w in device_name for w in words):
            return peak
    return None


def mfu(tokens_per_s: float, per_token: float, peak: float | None) -> str:
    return "n/a" if peak is None else f"{100 * tokens_per_s * per_token / peak:.1f}%"


def result_mfu(setup: Setup, n_params: int, peak: float | None, result: Result) -> str:
    """The MFU of the tokens counted real: padding's FLOPs count as waste."""
    per_token = flops_per_token(setup, n_params, result.attention_length)
    return mfu(result.tokens_per_s, per_token, peak)


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
        f"gpu_train: batch {args.batch} {batch_contents(args)}, "
        f"{args.steps} timed steps after {args.warmup} warm-up; xstilts: {precision}, {adamw}"
    )


def batch_contents(args) -> str:
    if not args.real_lengths:
        return "full-length sequences (every token real, no padding)"
    median, shortest = pair_model(args.tiny)
    return (
        f"pairs of drawn lengths (log-normal: median {median:g} tokens, sigma {PAIR_SIGMA}, "
        f"at least {shortest}, cut at the length): Trainer pads each to the length, xstilts "
        "batches them as a trial does (length-grouped TrainStream, each batch padded to its "
        "longest)"
    )


def throughput(result: Result, real: bool) -> str:
    """Tokens/s; with real lengths, real tokens/s and the sequences' mean length and padding."""
    if not real:
        return f"{result.tokens_per_s:.0f} tok/s"
    return (
        f"{result.tokens_per_s:.0f} real tok/s (mean length "
        f"{result.tokens / result.sequences:.1f}, padding {result.padding:.1%})"
    )


def report(result: Result, length: int, utilisation: str, base: Result | None, real: bool) -> None:
    ratio = (
        ""
        if base is None
        else f", ratio xstilts/Trainer {result.tokens_per_s / base.tokens_per_s:.2f}x"
    )
    print(
        f"gpu_train: length {length}{' real lengths' if real else ''} {result.name}: "
        f"{throughput(result, real)}, {result.sequences / result.seconds:.1f} seq/s, "
        f"{result.memory}, {'MFU on real tokens' if real else 'MFU'} {utilisation}, "
        f"attention {result.attention}{ratio}"
    )


def summary(length: int, first: Result, base: Result, utilisation: str, real: bool) -> str:
    ratio = first.tokens_per_s / base.tokens_per_s
    if not real:
        return (
            f"gpu_train: length {length}: {first.name} {first.tokens_per_s:.0f} tok/s, "
            f"Trainer {base.tokens_per_s:.0f} tok/s, ratio {ratio:.2f}x, MFU {utilisation}"
        )
    return (
        f"gpu_train: length {length} real lengths: {first.name} {first.tokens_per_s:.0f} real "
        f"tok/s (padding {first.padding:.1%}), Trainer {base.tokens_per_s:.0f} real tok/s "
        f"(padding {base.padding:.1%}), ratio {ratio:.2f}x, MFU on real tokens {utilisation}"
    )


def compare(
    setup: Setup, length: int, base: Result, args, n_params: int, peak, workload: Workload
) -> None:
    """Each xstilts variant at `length`, then the summary line against the Trainer's result."""
    ours = [measure_xstilts(setup, stage, length, args, workload) for stage in args.stages]
    for result in ours:
        report(result, length, result_mfu(setup, n_params, peak, result), base, args.real_lengths)
    first = ours[0]
    utilisation = result_mfu(setup, n_params, peak, first)
    print(summary(length, first, base, utilisation, args.real_lengths))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+")
    parser.add_argument("--stages", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup", type=int, help="untimed steps first (at least 1)")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="xstilts with deepspeed.torch_compile (TorchInductor)",
    )
    parser.add_argument("--tiny", action="store_true", help="tiny shape on the CPU (a smoke run)")
    parser.add_argument(
        "--real-lengths",
        action="store_true",
        help="variable-length pairs: Trainer padded to the length, xstilts length-grouped",
    )
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
    build = real_length_workload if args.real_lengths else full_length_workload
    workloads = {length: build(setup, length, args) for length in args.lengths}
    # The baselines run before DeepSpeed's process group exists: the RANK and LOCAL_RANK it sets
    # make Accelerate treat the Trainer as distributed (on the CPU it then wraps the model in
    # DistributedDataParallel), where a user's single-GPU Trainer run is not.
    baselines = {}
    for length in args.lengths:
        baselines[length] = base = measure_trainer(setup, args, workloads[length])
        report(base, length, result_mfu(setup, n_params, peak, base), None, args.real_lengths)
    ensure_process_group(gpu=setup.gpu)  # DeepSpeed needs one
    for length in args.lengths:
        compare(setup, length, baselines[length], args, n_params, peak, workloads[length])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

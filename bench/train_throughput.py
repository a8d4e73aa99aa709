"""Training throughput of the xstilts loop against Hugging Face `Trainer`, in real tokens per second.

Both train the same model (the demo's tiny XLM-R shape, random weights, same seed) on the same
data (a task of the synthetic benchmark, English train split, tokenised once by the task's
format) with the same batch size, learning rate and number of optimizer steps, on the CPU:

- baseline: `Trainer` on inputs padded to `--max-length`, as the XTREME scripts pad
  (`pad_to_max_length`), with its default AdamW;
- xstilts: `trainers.loop.train` exactly as a trial runs it (DeepSpeed engine, fp32 on the CPU,
  ZeRO stage 0 as the demo spec sets for one worker), length-grouped batches padded to each
  batch's longest input;
- for reference: xstilts without length grouping, and `Trainer` at its best (dynamic padding
  and `group_by_length`), so that each part of the gain is visible.

Real tokens are the non-padding ones, counted from the attention masks of the batches each
run trained on; time is the training steps alone (the loop's `train_seconds`, Trainer's
`train_runtime`), not model building or evaluation. Printed: every variant's real tokens/s and
padding share, and the ratio xstilts / baseline (the issue's target: at least 1.3x).

Run:  .venv/bin/python bench/train_throughput.py [--task synth_mnli --steps 80 --batch 32]
      (on an otherwise idle machine; --tiny: a seconds-long setting for the test suite)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEMO_SHAPE = dict(
    architecture="xlm-roberta", hidden_size=128, num_layers=4, num_heads=4,
    intermediate_size=512, max_positions=130, dropout=0.1,
)  # fmt: skip
TINY_SHAPE = dict(DEMO_SHAPE, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def train_config(args, root: Path, grouped: bool):
    from trainers.config import (
        DataConfig,
        DeepSpeedConfig,
        ModelConfig,
        OptimConfig,
        TinyEncoder,
        TrainConfig,
    )

    shape = TinyEncoder(**(TINY_SHAPE if args.tiny else DEMO_SHAPE))
    per_epoch = len(train_features(args, root)) // args.batch
    return TrainConfig(
        phase="target",
        task=args.task,
        model=ModelConfig(name="tiny-xlmr", tokenizer="synthetic", tiny=shape),
        init_from="random",
        tokenizer=str(root / "tokenizer"),
        data=DataConfig(source="local", root=str(root)),
        optim=OptimConfig(
            learning_rate=args.lr,
            batch_size=args.batch,
            max_length=args.max_length,
            rounds=1,
            # Exactly args.steps optimizer steps (the loop takes ceil(per_epoch * epochs)).
            epochs=(args.steps - 0.5) / per_epoch,
            group_by_length=grouped,
        ),
        deepspeed=DeepSpeedConfig(zero_stage=0, precision="fp32"),
    )


_FEATURES: dict = {}


def train_features(args, root: Path):
    """The task's English training features, tokenised and cut as the loop cuts them."""
    if "train" not in _FEATURES:
        from transformers import AutoTokenizer

        from trainers.config import DataConfig, Windows
        from trainers.data.source import load_examples, resolve_labels
        from trainers.formats import get_format
        from trainers.tasks import get_task

        data = DataConfig(source="local", root=str(root))
        task = resolve_labels(get_task(args.task), data)
        tokenizer = AutoTokenizer.from_pretrained(str(root / "tokenizer"))
        examples = load_examples(task, "train", task.train_language, data)
        fmt = get_format(task.format, Windows(max_length=args.max_length))
        features = fmt.featurize(task, examples, tokenizer, args.max_length)
        _FEATURES.update(train=features, task=task, tokenizer=tokenizer)
    return _FEATURES["train"]


def run_xstilts(args, root: Path, grouped: bool) -> dict:
    from trainers.local import LocalReporter
    from trainers.loop import train

    cfg = train_config(args, root, grouped)
    with tempfile.TemporaryDirectory() as scratch:
        reporter = LocalReporter(Path(scratch) / "checkpoints")
        train(cfg, reporter, Path(scratch) / "scratch")
    round_ = reporter.history[-1]
    assert round_["step"] == args.steps, round_["step"]
    return measured(
        round_["train_tokens"],
        padded_tokens(cfg, args.steps),
        round_["train_seconds"],
    )


def padded_tokens(cfg, steps: int) -> int:
    """Tokens the loop's batches held, padding included: its batch order is a pure function of
    the seed, so replaying the stream gives exactly the batches the run trained on."""
    from trainers.data.batches import build_data

    batches = build_data(cfg, 0, 1).batches_from(0)
    return sum(next(batches)[1]["input_ids"].numel() for _ in range(steps))


def run_trainer(args, root: Path, best: bool) -> dict:
    """Hugging Face Trainer on the same features: padded to max length, or at its best."""
    import torch
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from trainers.config import TinyEncoder
    from trainers.model import tiny_config

    features = train_features(args, root)
    task, tokenizer = _FEATURES["task"], _FEATURES["tokenizer"]
    shape = TINY_SHAPE if args.tiny else DEMO_SHAPE
    config = tiny_config(TinyEncoder(**shape), len(tokenizer))
    config.num_labels = len(task.labels)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config)
    counted = {"tokens": 0, "padded": 0}

    def collate(rows):
        width = max(len(r["input_ids"]) for r in rows) if best else args.max_length
        ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, : len(r["input_ids"])] = 1
        counted["tokens"] += int(mask.sum())
        counted["padded"] += mask.numel()
        labels = torch.tensor([r["label"] for r in rows])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    dataset = [{"input_ids": f["input_ids"], "label": f["label"]} for f in features]
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=args.batch,
            max_steps=args.steps,
            learning_rate=args.lr,
            weight_decay=0.01,
            warmup_steps=0.1,  # a float: a share of the steps, as the loop warms up
            max_grad_norm=1.0,
            train_sampling_strategy="group_by_length" if best else "random",
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=0,
        )
        trainer = Trainer(model=model, args=training, train_dataset=dataset, data_collator=collate)
        runtime = trainer.train().metrics["train_runtime"]
    return measured(counted["tokens"], counted["padded"], runtime)


def measured(tokens: int, padded: int, seconds: float) -> dict:
    return {"tokens": tokens, "padded": padded, "seconds": seconds, "rate": tokens / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="synth_mnli")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--data", type=Path, default=None, help="synthetic benchmark directory")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long setting (tests)")
    args = parser.parse_args()
    if args.tiny:
        args.steps, args.batch = 6, 8

    import torch

    from trainers.synth import ensure_benchmark

    data = args.data or Path(tempfile.gettempdir()) / "xstilts-bench" / "synthetic"
    root = ensure_benchmark(data, seed=0)
    lengths = [len(f["input_ids"]) for f in train_features(args, root)]
    print(
        f"train_throughput: {args.task}, {len(lengths)} English training examples of "
        f"{min(lengths)}-{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.1f}), "
        f"{args.steps} steps of {args.batch}, max length {args.max_length}, "
        f"torch {torch.__version__} on {torch.get_num_threads()} threads"
    )
    variants = {
        "Trainer, padded to max length (baseline)": lambda: run_trainer(args, root, best=False),
        "Trainer, dynamic padding + group_by_length": lambda: run_trainer(args, root, best=True),
        "xstilts, dynamic padding, shuffled": lambda: run_xstilts(args, root, grouped=False),
        "xstilts, dynamic padding, length-grouped": lambda: run_xstilts(args, root, grouped=True),
    }
    results = {name: run() for name, run in variants.items()}
    names = list(results)
    base, best_trainer, xstilts = results[names[0]], results[names[1]], results[names[3]]
    for name, r in results.items():
        print(
            f"train_throughput: {name:<44} {r['rate']:9.1f} real tokens/s  ({r['tokens']} in "
            f"{r['seconds']:.2f} s; padding {1 - r['tokens'] / r['padded']:.0%} of the batches)"
        )
    ratio = xstilts["rate"] / base["rate"]
    verdict = "met" if ratio >= 1.3 else "NOT met"
    print(f"train_throughput: ratio xstilts/baseline {ratio:.2f}x (target 1.30x: {verdict})")
    print(
        "train_throughput: ratio xstilts/Trainer at its best "
        f"{xstilts['rate'] / best_trainer['rate']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

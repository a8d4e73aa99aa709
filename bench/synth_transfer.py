"""Does zero-shot cross-lingual transfer work on the synthetic benchmark with a tiny model?

Plain PyTorch on CPU (no Ray, no DeepSpeed), end to end in a few minutes:
  (a) MLM-pretrain a tiny XLMRobertaForMaskedLM from scratch on corpus/*,
  (b) fine-tune encoder + a linear head on English synth_xnli (and, for comparison, first on
      synth_mnli then synth_xnli: X-STILTs), and on English synth_udpos,
  (c) evaluate zero-shot on every language's test set against chance / majority baselines.

    PYTHONPATH=. python bench/synth_transfer.py [--pretrain-steps N] [--seed S] ...
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from torch import nn
from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

from trainers.synth import LANGUAGES, generate

NLI_LABELS = ("entailment", "neutral", "contradiction")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data-dir", type=Path, help="reuse/generate the benchmark here instead of a temp dir"
    )
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--max-len", type=int, default=64)
    p.add_argument("--pretrain-steps", type=int, default=700)
    p.add_argument("--pretrain-batch", type=int, default=32)
    p.add_argument("--pretrain-lr", type=float, default=2e-3)
    p.add_argument("--mask-rate", type=float, default=0.3)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--init-range", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=0.3, help="XLM-R language sampling exponent")
    p.add_argument("--finetune-steps", type=int, default=300)
    p.add_argument("--finetune-batch", type=int, default=32)
    p.add_argument("--finetune-lr", type=float, default=1e-3)
    p.add_argument("--mnli-steps", type=int, default=400)
    p.add_argument("--pos-steps", type=int, default=100)
    p.add_argument("--skip-intermediate", action="store_true")
    # Two threads is right on an idle 2-core machine; on a busy one, OpenMP barriers make
    # two threads many times slower than one.
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="load the pretrained MLM from here if present, else save it there",
    )
    return p.parse_args()


# --- data -------------------------------------------------------------------------------


def read_tsv(path: Path) -> list[tuple[str, str, int]]:
    rows = [line.rstrip("\n").split("\t") for line in path.open(encoding="utf-8") if line.strip()]
    return [(a, b, NLI_LABELS.index(label)) for a, b, label in rows]


def read_mnli(path: Path) -> list[tuple[str, str, int]]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return [(r["sentence1"], r["sentence2"], NLI_LABELS.index(r["gold_label"])) for r in rows]


def read_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    sentences, words, tags = [], [], []
    for line in path.open(encoding="utf-8"):
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        word, tag = line.rstrip("\n").split("\t")
        words.append(word)
        tags.append(tag)
    return sentences


def packed_mlm_sequences(
    data: Path, tok, max_len: int, alpha: float, rng: random.Random
) -> list[list[int]]:
    """Sentences packed into max_len streams per language, languages mixed XLM-R style:
    sampled with probability proportional to (corpus size) ** alpha, which upsamples qac."""
    streams: dict[str, list[list[int]]] = {}
    for code in LANGUAGES:
        lines = (data / "corpus" / f"{code}.txt").read_text(encoding="utf-8").splitlines()
        ids = tok(lines, add_special_tokens=False)["input_ids"]
        seqs, cur = [], [tok.cls_token_id]
        for sent in ids:
            if len(cur) + len(sent) + 1 > max_len:
                seqs.append(cur)
                cur = [tok.cls_token_id]
            cur += sent[: max_len - 2] + [tok.sep_token_id]
        seqs.append(cur)
        streams[code] = seqs
    sizes = {code: sum(map(len, s)) for code, s in streams.items()}
    weights = {code: n**alpha for code, n in sizes.items()}
    total = sum(weights.values())
    n_total = sum(len(s) for s in streams.values())
    mixed: list[list[int]] = []
    for code, seqs in streams.items():
        want = round(n_total * weights[code] / total)
        mixed += [seqs[i % len(seqs)] for i in range(want)]
        print(f"  mlm {code}: {len(seqs)} sequences, sampled {want} ({weights[code] / total:.0%})")
    rng.shuffle(mixed)
    return mixed


def pad(batch: list[list[int]], pad_id: int, fill: int | None = None) -> torch.Tensor:
    width = max(map(len, batch))
    return torch.tensor(
        [row + [pad_id if fill is None else fill] * (width - len(row)) for row in batch]
    )


def mask_tokens(
    ids: torch.Tensor, tok, rate: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking of `rate` of the real tokens: 80% <mask>, 10% random, 10% kept.
    A short budget learns faster with more targets per step than BERT's 15%."""
    labels = ids.clone()
    special = (ids == tok.pad_token_id) | (ids == tok.cls_token_id) | (ids == tok.sep_token_id)
    chosen = (torch.rand(ids.shape, generator=gen) < rate) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    roll = torch.rand(ids.shape, generator=gen)
    inputs[chosen & (roll < 0.8)] = tok.mask_token_id
    randomize = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[randomize] = torch.randint(5, len(tok), ids.shape, generator=gen)[randomize]
    return inputs, labels


# --- training ---------------------------------------------------------------------------


def schedule(optimizer: torch.optim.Optimizer, steps: int, warmup: float = 0.1, decay: float = 0.3):
    """Warmup, a constant plateau, then linear decay over the last `decay` of the steps.
    A short run needs the peak rate for long: the MLM's loss only breaks through after a
    few hundred steps at full rate, and decaying from the start delays that."""

    def factor(step: int) -> float:
        w, d = max(1, int(steps * warmup)), max(1, int(steps * decay))
        return min(step / w, 1.0, max(0.0, (steps - step) / d))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def pretrain(args, tok, data: Path) -> XLMRobertaForMaskedLM:
    rng = random.Random(args.seed)
    seqs = packed_mlm_sequences(data, tok, args.max_len, args.alpha, rng)
    config = XLMRobertaConfig(
        vocab_size=len(tok),
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
        max_position_embeddings=args.max_len + 2,
        type_vocab_size=1,
        initializer_range=args.init_range,
        hidden_dropout_prob=args.dropout,
        attention_probs_dropout_prob=args.dropout,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
    )
    model = XLMRobertaForMaskedLM(config)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"  model: {params / 1e6:.2f}M parameters, {len(seqs)} packed sequences of <= {args.max_len}"
    )
    opt = torch.optim.AdamW(model.parameters(), lr=args.pretrain_lr, weight_decay=0.01)
    sched = schedule(opt, args.pretrain_steps)
    gen = torch.Generator().manual_seed(args.seed)
    model.train()
    for step in range(args.pretrain_steps):
        start = (step * args.pretrain_batch) % len(seqs)
        batch = pad(seqs[start : start + args.pretrain_batch], tok.pad_token_id)
        inputs, labels = mask_tokens(batch, tok, args.mask_rate, gen)
        hidden = model.roberta(
            input_ids=inputs, attention_mask=(batch != tok.pad_token_id).long()
        ).last_hidden_state
        # The vocabulary projection only at masked positions: a third of the step's compute.
        targets = labels != -100
        loss = nn.functional.cross_entropy(model.lm_head(hidden[targets]), labels[targets])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 100 == 0 or step == args.pretrain_steps - 1:
            print(f"  mlm step {step:5d} loss {loss.item():.3f}")
    return model


class Head(nn.Module):
    """Encoder plus one linear layer: on <s> for NLI, on every position for tagging."""

    def __init__(self, encoder: nn.Module, n_labels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        self.linear = nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.linear(self.dropout(hidden))


def nli_batches(tok, rows, max_len: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    enc = tok([r[0] for r in rows], [r[1] for r in rows], truncation=True, max_length=max_len)
    return enc["input_ids"], torch.tensor([r[2] for r in rows])


def tag_batch(tok, sentences, tags: list[str], max_len: int):
    enc = tok(
        [s[0] for s in sentences], is_split_into_words=True, truncation=True, max_length=max_len
    )
    labels = []
    for i, (_, sent_tags) in enumerate(sentences):
        row, previous = [], None
        for word in enc.word_ids(i):
            # Only a word's first sub-token carries its tag, as in XTREME.
            row.append(-100 if word is None or word == previous else tags.index(sent_tags[word]))
            previous = word
        labels.append(row)
    return enc["input_ids"], labels


def finetune(model: Head, ids, labels, args, steps: int, tagging: bool, pad_id: int) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=args.finetune_lr, weight_decay=0.01)
    sched = schedule(opt, steps, warmup=0.1)
    order: list[int] = []
    rng = random.Random(args.seed)
    model.train()
    for _ in range(steps):
        if len(order) < args.finetune_batch:
            more = list(range(len(ids)))
            rng.shuffle(more)
            order += more
        pick, order = order[: args.finetune_batch], order[args.finetune_batch :]
        batch = pad([ids[i] for i in pick], pad_id)
        logits = model(batch, (batch != pad_id).long())
        if tagging:
            target = pad([labels[i] for i in pick], -100)
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1), target.flatten(), ignore_index=-100
            )
        else:
            loss = nn.functional.cross_entropy(logits[:, 0], labels[pick])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()


@torch.no_grad()
def evaluate(model: Head, ids, labels, tagging: bool, pad_id: int) -> float:
    model.eval()
    correct = total = 0
    for start in range(0, len(ids), 128):
        batch = pad(ids[start : start + 128], pad_id)
        logits = model(batch, (batch != pad_id).long())
        if tagging:
            target = pad(labels[start : start + 128], -100)
            keep = target != -100
            correct += (logits.argmax(-1)[keep] == target[keep]).sum().item()
            total += keep.sum().item()
        else:
            correct += (logits[:, 0].argmax(-1) == labels[start : start + 128]).sum().item()
            total += len(batch)
    model.train()
    return correct / total


# --- the experiment ---------------------------------------------------------------------


def run_nli(args, tok, encoder, data: Path, intermediate: bool) -> dict[str, float]:
    model = Head(copy.deepcopy(encoder), len(NLI_LABELS))
    if intermediate:
        ids, labels = nli_batches(
            tok, read_mnli(data / "synth_mnli" / "multinli_1.0_train.jsonl"), args.max_len
        )
        finetune(model, ids, labels, args, args.mnli_steps, False, tok.pad_token_id)
        ids, labels = nli_batches(
            tok, read_mnli(data / "synth_mnli" / "multinli_1.0_dev_matched.jsonl"), args.max_len
        )
        print(
            f"  synth_mnli dev accuracy {evaluate(model, ids, labels, False, tok.pad_token_id):.3f}"
        )
    ids, labels = nli_batches(tok, read_tsv(data / "synth_xnli" / "train-en.tsv"), args.max_len)
    finetune(model, ids, labels, args, args.finetune_steps, False, tok.pad_token_id)
    scores = {}
    for code in LANGUAGES:
        ids, labels = nli_batches(
            tok, read_tsv(data / "synth_xnli" / f"test-{code}.tsv"), args.max_len
        )
        scores[code] = evaluate(model, ids, labels, False, tok.pad_token_id)
    return scores


def run_pos(args, tok, encoder, data: Path) -> tuple[dict[str, float], dict[str, float]]:
    train = read_conll(data / "synth_udpos" / "train-en.tsv")
    tags = sorted({t for _, sent_tags in train for t in sent_tags})
    model = Head(copy.deepcopy(encoder), len(tags))
    ids, labels = tag_batch(tok, train, tags, args.max_len)
    finetune(model, ids, labels, args, args.pos_steps, True, tok.pad_token_id)
    scores, majority = {}, {}
    for code in LANGUAGES:
        test = [(w, t) for w, t in read_conll(data / "synth_udpos" / f"test-{code}.tsv")]
        counts = Counter(t for _, sent_tags in test for t in sent_tags)
        majority[code] = counts.most_common(1)[0][1] / sum(counts.values())
        ids, labels = tag_batch(tok, test, tags, args.max_len)
        scores[code] = evaluate(model, ids, labels, True, tok.pad_token_id)
    return scores, majority


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data_dir or Path(tmp) / "synth"
        t = time.perf_counter()
        if not (data / "manifest.json").exists():
            generate(data, seed=args.seed)
        tok = AutoTokenizer.from_pretrained(str(data / "tokenizer"))
        timings["generate"] = time.perf_counter() - t

        t = time.perf_counter()
        print(f"(a) MLM pretraining: {args.pretrain_steps} steps x {args.pretrain_batch} sequences")
        if args.checkpoint and args.checkpoint.exists():
            encoder = XLMRobertaForMaskedLM.from_pretrained(str(args.checkpoint)).roberta
        else:
            mlm = pretrain(args, tok, data)
            if args.checkpoint:
                mlm.save_pretrained(str(args.checkpoint))
            encoder = mlm.roberta
        timings["pretrain"] = time.perf_counter() - t

        t = time.perf_counter()
        print(f"(b) synth_xnli fine-tuning: {args.finetune_steps} steps x {args.finetune_batch}")
        nli = run_nli(args, tok, encoder, data, intermediate=False)
        timings["xnli"] = time.perf_counter() - t

        t = time.perf_counter()
        pos, majority = run_pos(args, tok, encoder, data)
        timings["udpos"] = time.perf_counter() - t

        stilts = None
        if not args.skip_intermediate:
            t = time.perf_counter()
            print(f"    X-STILTs: synth_mnli {args.mnli_steps} steps, then synth_xnli")
            stilts = run_nli(args, tok, encoder, data, intermediate=True)
            timings["mnli+xnli"] = time.perf_counter() - t

    print("\n(c) zero-shot results (trained on English only)")
    print(f"{'lang':6}{'xnli':>8}{'chance':>8}{'stilts':>8}{'udpos':>8}{'majority':>10}")
    for code in LANGUAGES:
        st = f"{stilts[code]:8.3f}" if stilts else f"{'-':>8}"
        print(f"{code:6}{nli[code]:8.3f}{1 / 3:8.3f}{st}{pos[code]:8.3f}{majority[code]:10.3f}")
    print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))


if __name__ == "__main__":
    main()

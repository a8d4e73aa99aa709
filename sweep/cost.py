"""A documented cost model for the estimates `xstilts validate` prints: trial-hours, GPU-hours and
the GPU memory a trial's model states take.

These are planning numbers, not measurements of this code, and not promises: use them to size a
cluster and a budget, and expect a real sweep to differ by tens of percent.

Throughput is counted in encoded sequences per second at 256 tokens, and taken as linear in the
sequence length (a 384-token window costs 1.5 sequences):

- `GPU_SEQUENCES_PER_SECOND`: XLM-R Large training on one 80 GB GPU with bf16 autocast at ZeRO-2.
  `bench/gpu_step.py` measured 194 sequences/s of 128 tokens on one H100 (BENCHMARKS.md), about
  97/s of 256; the model takes 60/s to leave room for what that step benchmark leaves out: dev
  evaluation and checkpoints each round, data loading, and gradient all-reduce across workers.
  It is an H100's rate: slower GPUs (the L40S spot nodes of cluster.yaml) take longer.
- `TINY_SEQUENCES_PER_CPU`: a tiny encoder (the demo's) on one CPU core.
- `FULL_SIZE_SEQUENCES_PER_CPU`: a full-size model on CPU (possible, but impractical).
- `INFERENCE_SPEEDUP`: a forward pass alone (zero-shot and retrieval evaluation) against a
  training step (forward, backward and optimizer).

A trial's throughput is the per-worker rate times its workers; an evaluation's is the per-actor
rate times `resources.eval_actors`. Training examples are English training examples (one epoch),
test examples are counted over all of a task's test languages. A multiple-choice example encodes
one sequence per choice, and a span-QA example one per window (`SPAN_QA_WINDOWS`).
"""

from __future__ import annotations

from sweep.spec import SweepSpec
from trainers.config import ModelConfig

GPU_SEQUENCES_PER_SECOND = 60.0
TINY_SEQUENCES_PER_CPU = 150.0
FULL_SIZE_SEQUENCES_PER_CPU = 0.5
REFERENCE_LENGTH = 256  # the tokens per sequence the rates above are quoted at
INFERENCE_SPEEDUP = 3.0
# Retrieval sentences are short and `trainers.formats.retrieval.embed` batches them by length, so
# they cost their own length, a few dozen tokens, not the 512 they are truncated at.
RETRIEVAL_TOKENS = 64
# Windows per span-QA example at 384 tokens with stride 128: SQuAD v1.1's 87,599 training
# examples give 88,729 windows (Hugging Face course, chapter 7, question answering: 1.013), rounded
# up for XLM-R's longer sentencepiece splits. Shorter windows split more contexts.
SPAN_QA_WINDOWS = 1.02
DEFAULT_SIZE = 10_000  # a task the tables below do not know

# English training examples of one epoch, from each dataset's Hugging Face card or paper.
SNLI, MNLI, ANLI = 550_152, 392_702, 162_865  # ANLI: rounds 1-3, 16,946 + 45,460 + 100,459
SQUAD_V1 = 87_599  # rajpurkar/squad train; XQuAD and MLQA train on it
TRAIN_SIZES = {
    # The paper's nine intermediate tasks.
    "anli_plus": SNLI + MNLI + ANLI,  # one NLI head over the three (trainers/tasks/anli_plus.py)
    "mnli": MNLI,  # nyu-mll/multi_nli
    "qqp": 363_846,  # nyu-mll/glue qqp
    "sst2": 67_349,  # nyu-mll/glue sst2
    "squad_v2": 130_319,  # rajpurkar/squad_v2
    "hellaswag": 39_905,  # Rowan/hellaswag
    "cosmosqa": 25_262,  # allenai/cosmos_qa
    "commonsenseqa": 9_741,  # tau/commonsense_qa
    "ccg": 39_604,  # CCGbank sections 02-21, sentences (Hockenmaier and Steedman 2007)
    # XTREME targets: their English training data (google-research/xtreme download_data.sh).
    "xnli": MNLI,  # XNLI trains on MultiNLI
    "pawsx": 49_401,  # PAWS-X en train (Yang et al. 2019)
    "udpos": 21_253,  # XTREME's UD-POS English train (UD v2.5 English treebanks), sentences
    "panx": 20_000,  # WikiANN en train (Rahimi et al. 2019 splits), sentences
    "xquad": SQUAD_V1,
    "mlqa": SQUAD_V1,
    "tydiqa": 3_696,  # TyDiQA-GoldP English train
    # The synthetic benchmark's, as its generator writes them.
    "synth_mnli": 3_000,
    "synth_squad": 2_000,
    "synth_hellaswag": 2_000,
    "synth_xnli": 600,
    "synth_udpos": 1_000,
}
# Test examples over all of a task's XTREME languages (shared/docs/reference.md, "Test-set
# sizes"); for retrieval, sentences embedded, both sides.
TEST_SIZES = {
    "xnli": 75_150,  # 5,010 pairs x 15 languages
    "pawsx": 14_000,  # 2,000 pairs x 7 languages
    "udpos": 102_000,  # sentences, 33 languages
    "panx": 262_000,  # sentences, 40 languages
    "xquad": 13_090,  # 1,190 questions x 11 languages
    "mlqa": 42_000,  # questions whose context and question share a language, 7 languages
    "tydiqa": 5_000,  # GoldP dev (XTREME's test), 9 languages
    # Up to 1,000 pairs for each of 36 languages, 32k in all (reference.md); both sides embedded.
    "tatoeba": 2 * 32_000,
    # BUCC 2018's four training sets (XTREME's test): several hundred thousand sentences per
    # language side (reference.md), from about 0.1M (zh-en) to 0.5M (ru-en) each; taken as 2.6M
    # sentences over both sides of the four pairs, plus the sample sets (dev, where the margin
    # threshold is chosen), about a tenth as large. A planning figure; per-pair counts unverified.
    "bucc": 2_900_000,
    "synth_xnli": 1_600,
    "synth_udpos": 1_600,
}
MLM_EXAMPLES = 40_000  # synthetic corpora, all languages

# Parameters of known hub encoders, from each model's config.json: (architecture, vocabulary,
# width, layers, feed-forward width, position embeddings).
HUB_SHAPES = {
    "xlm-roberta-large": ("xlm-roberta", 250_002, 1024, 24, 4096, 514),  # ~560M
    "xlm-roberta-base": ("xlm-roberta", 250_002, 768, 12, 3072, 514),  # ~278M
    "bert-base-multilingual-cased": ("bert", 119_547, 768, 12, 3072, 512),  # ~178M
}
# Vocabularies of tokenizers a tiny encoder may be built on (it takes the tokenizer's size; the
# synthetic benchmark's is trained to at most 2,000 tokens, `trainers.synth.generator`).
TOKENIZER_VOCAB = {"synthetic": 2_000, **{name: s[1] for name, s in HUB_SHAPES.items()}}


def _per_worker_rate(spec: SweepSpec, gpus: float, cpus: float) -> float:
    """Training sequences per second of one worker (or evaluation actor) at 256 tokens."""
    if spec.model.tiny is not None:
        return TINY_SEQUENCES_PER_CPU * cpus
    if gpus > 0:
        return GPU_SEQUENCES_PER_SECOND * gpus
    return FULL_SIZE_SEQUENCES_PER_CPU * cpus


def _length_factor(tokens: int) -> float:
    return REFERENCE_LENGTH / max(tokens, 32)


def examples_per_second(spec: SweepSpec, phase: str, max_length: int) -> float:
    """Training sequences per second of one trial of `phase`, all its workers together."""
    res = spec.resources_for(phase)
    per_worker = _per_worker_rate(spec, res.gpus_per_worker, res.cpus_per_worker)
    return per_worker * res.workers * _length_factor(max_length)


def eval_sequences_per_second(spec: SweepSpec, tokens: int) -> float:
    """Sequences per second of one evaluation: its inference actors (or its task) together."""
    res = spec.resources
    per_actor = _per_worker_rate(spec, res.eval_gpus, res.eval_cpus)
    return per_actor * res.eval_processes() * INFERENCE_SPEEDUP * _length_factor(tokens)


def sequences_per_example(task: str) -> float:
    """Sequences one example of `task` encodes: one per choice, or per span-QA window."""
    from trainers.tasks import REGISTRY

    if task not in REGISTRY:
        return 1.0
    declared = REGISTRY.get(task)
    if declared.format == "multiple_choice":
        return float(declared.num_choices)
    return SPAN_QA_WINDOWS if declared.format.startswith("span_qa") else 1.0


def trial_hours(spec: SweepSpec, trial, evaluation: bool = False) -> float:
    """Hours of one training trial, or (`evaluation`) of its zero-shot evaluation."""
    if evaluation:
        sequences = TEST_SIZES.get(trial.task, DEFAULT_SIZE) * sequences_per_example(trial.task)
        return sequences / eval_sequences_per_second(spec, trial.optim.max_length) / 3600
    rate = examples_per_second(spec, trial.phase, trial.optim.max_length)
    return train_examples(trial) * trial.optim.epochs / rate / 3600


def retrieval_hours(spec: SweepSpec, task: str) -> float:
    """Hours of one retrieval evaluation (one encoder, every language of `task`)."""
    sentences = TEST_SIZES.get(task, DEFAULT_SIZE)
    return sentences / eval_sequences_per_second(spec, RETRIEVAL_TOKENS) / 3600


def train_examples(trial) -> float:
    """Sequences of one epoch: a mixture's epoch is each task member's data once, plus the
    continued-MLM share on top (as `trainers.data.batches.build_mixture` counts steps)."""
    cap = trial.optim.max_train_examples or float("inf")
    if trial.task == "mlm":
        return min(MLM_EXAMPLES, cap)
    fields = trial.train_fields()
    mixture = fields.get("mixture")
    if mixture is None:
        return _sequences(fields["task"], cap)
    tasks = sum(_sequences(m["task"], cap) for m in mixture["members"])
    return tasks / (1.0 - mixture["mlm_weight"])


def _sequences(task: str, cap: float) -> float:
    return min(TRAIN_SIZES.get(task, DEFAULT_SIZE), cap) * sequences_per_example(task)


def encoder_parameters(
    architecture: str, vocab: int, hidden: int, layers: int, ffn: int, positions: int
) -> int:
    """Parameters of an encoder as `trainers.model` builds it (no pooler, no task head).

    BERT and XLM-R: token, position and token-type embeddings and their LayerNorm; per layer the
    four attention projections with biases, the feed-forward pair with biases and two LayerNorms.
    mT5: token embeddings, bias-free projections, a gated feed-forward (three matrices) and RMS
    norms (its relative position buckets: `model_parameters`).
    """
    if architecture == "mt5":
        per_layer = 4 * hidden * hidden + 3 * hidden * ffn + 2 * hidden
        return vocab * hidden + layers * per_layer + hidden
    token_types = 1 if architecture == "xlm-roberta" else 2
    embeddings = (vocab + positions + token_types) * hidden + 2 * hidden
    per_layer = 4 * hidden * hidden + 2 * hidden * ffn + 9 * hidden + ffn
    return embeddings + layers * per_layer


def model_parameters(model: ModelConfig) -> int | None:
    """The encoder's parameter count: a known hub model's, a tiny encoder's from its shape, or
    None where neither says (an unknown hub id or a tiny encoder on an unknown tokenizer)."""
    tiny = model.tiny
    if tiny is None:
        shape = HUB_SHAPES.get(model.name.rstrip("/").rsplit("/", 1)[-1])
        return encoder_parameters(*shape) if shape else None
    tokenizer = model.tokenizer_source().rstrip("/").rsplit("/", 1)[-1]
    vocab = TOKENIZER_VOCAB.get(tokenizer)
    if vocab is None:
        return None
    parameters = encoder_parameters(
        tiny.architecture,
        vocab,
        tiny.hidden_size,
        tiny.num_layers,
        tiny.intermediate_size,
        tiny.max_positions + 2,  # as `trainers.model.tiny_config` sizes them
    )
    # mT5's first layer holds the relative position buckets: 32 per head.
    return parameters + (32 * tiny.num_heads if tiny.architecture == "mt5" else 0)


def model_state_bytes(
    parameters: int, zero_stage: int, workers: int, precision: str, offload: bool = False
) -> float:
    """GPU memory of one worker's model states: weights, gradients and AdamW's states.

    fp32 weights (fp32 and bf16-autocast): 4 bytes of weights, 4 of gradients and 8 of Adam's
    two moments, 16 per parameter. bf16/fp16 weights: 2 + 2 bytes, and 12 of optimizer states
    (fp32 master weights and the moments), 16 again. ZeRO-1 shards the optimizer states over the
    workers, ZeRO-2 the gradients too, ZeRO-3 the weights too (Rajbhandari et al. 2020);
    `offload` keeps the optimizer states in CPU memory. Activations, communication buckets and
    the CUDA context come on top.
    """
    low = precision in ("bf16", "fp16")
    weights, grads, optimizer = (2.0, 2.0, 12.0) if low else (4.0, 4.0, 8.0)
    if zero_stage >= 1:
        optimizer = 0.0 if offload else optimizer / workers
    if zero_stage >= 2:
        grads /= workers
    if zero_stage >= 3:
        weights /= workers
    return parameters * (weights + grads + optimizer)

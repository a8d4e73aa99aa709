"""How alike two tasks' data look to an encoder: each task becomes one vector, the mean over a
seeded sample of its English training examples of the encoder's last hidden states, mean-pooled
over the attention mask; two tasks' similarity is the cosine of their vectors.

Examples are encoded as the task trains on them (its format's features: NLI premise and
hypothesis as one pair, a QA question with its context), the first feature of each example (a
long QA context's first window). A multiple-choice example is the mean of its choices' sequences.
A translated entry (`task@lang`) reads the translated training file its intermediate phase
trains on. A mixture's vector is the unweighted mean of its task members' vectors (continued
MLM, a member through its weight, has no task data and takes no part). Retrieval targets have
no training data: their English sentences stand in (English queries where English is one of
their languages, the English side of BUCC and Tatoeba), dev before test; a task with none,
or whose data cannot be read, is skipped with the reason.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from transformers import AutoTokenizer

from trainers.config import DataConfig, MemberConfig, ModelConfig, Translation, Windows
from trainers.data.examples import DataError
from trainers.data.source import load_examples, load_translated, resolve_labels
from trainers.formats import get_format
from trainers.formats.base import pad_ids
from trainers.formats.classification import pool
from trainers.model import hidden_size, load_encoder
from trainers.remote import local_dir
from trainers.tasks import get_task

# Readers whose candidate side is English (BUCC: xx vs en; Tatoeba: xx vs eng).
ENGLISH_CANDIDATES = ("bucc", "tatoeba")

Member = str | MemberConfig  # a task name, `task@lang`, or a mixture member as a config gives it


class Similarity(NamedTuple):
    """One (intermediate entry, target task) pair: the cosine of their vectors, and how many
    examples the two vectors were computed over together."""

    intermediate: str
    target: str
    cosine: float
    n_examples: int


@dataclass(frozen=True)
class Similarities:
    """Every pair whose two vectors could be computed, each entry's and target's vector, and
    per skipped entry or target the one-line reason."""

    pairs: list[Similarity]
    intermediate_vectors: dict[str, torch.Tensor] = field(default_factory=dict)
    target_vectors: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def task_vector(
    model_dir: str | Path,
    task: Member,
    data: DataConfig,
    n_examples: int = 256,
    max_length: int = 256,
    seed: int = 0,
    *,
    tokenizer: str | None = None,
    batch_size: int = 64,
) -> torch.Tensor:
    """The vector of one task (or `task@lang`, or a member config) under the encoder at
    `model_dir`: (hidden,) float32. `tokenizer`: the model directory's own by default."""
    embedder = _Embedder.load(model_dir, tokenizer, batch_size)
    vector, _ = embedder.member_vector(_member(task), data, n_examples, max_length, seed)
    return vector


def similarities(
    model_dir: str | Path,
    intermediates: Mapping[str, Sequence[Member]],
    targets: Sequence[str],
    data: DataConfig,
    n_examples: int = 256,
    max_length: int = 256,
    seed: int = 0,
    *,
    tokenizer: str | None = None,
    batch_size: int = 64,
) -> Similarities:
    """The cosine of every intermediate entry (name -> its member tasks: one for a task, several
    for a mixture) with every target task. The encoder is loaded once and each task's vector
    computed once, whichever entries and targets share it."""
    embedder = _Embedder.load(model_dir, tokenizer, batch_size)
    cache: dict[str, tuple[torch.Tensor, int] | str] = {}  # member key -> (vector, n) or reason

    def vector_of(member: MemberConfig, retrieval_ok: bool):
        key = member.key()
        if key not in cache:
            try:
                cache[key] = embedder.member_vector(
                    member, data, n_examples, max_length, seed, retrieval_ok=retrieval_ok
                )
            except DataError as err:
                cache[key] = str(err)
        return cache[key]

    result = Similarities([])
    counts: dict[str, int] = {}
    for name, members in intermediates.items():
        found = [vector_of(_member(m), retrieval_ok=False) for m in members]
        reasons = [f for f in found if isinstance(f, str)]
        if not found or reasons:
            result.skipped[name] = reasons[0] if reasons else "no member tasks"
            continue
        result.intermediate_vectors[name] = torch.stack([v for v, _ in found]).mean(0)
        counts[name] = sum(n for _, n in found)
    for target in targets:
        found = vector_of(MemberConfig(task=target), retrieval_ok=True)
        if isinstance(found, str):
            result.skipped[target] = found
            continue
        result.target_vectors[target], counts[target] = found
    for name, left in result.intermediate_vectors.items():
        for target, right in result.target_vectors.items():
            cosine = torch.nn.functional.cosine_similarity(left.double(), right.double(), dim=0)
            # Rounding can put a vector's cosine with itself a hair above 1.
            cosine = float(cosine.clamp(-1.0, 1.0))
            pair = Similarity(name, target, cosine, counts[name] + counts[target])
            result.pairs.append(pair)
    return result


def _member(task: Member) -> MemberConfig:
    """A member config; `task@lang` as a string reads the task's declared translated file."""
    if isinstance(task, MemberConfig):
        return task
    name, _, lang = task.partition("@")
    if not lang:
        return MemberConfig(task=name)
    train = get_task(name).translate_train
    if train is None:
        raise ValueError(f"{task}: {name} declares no translated files; pass a MemberConfig")
    return MemberConfig(task=name, translation=Translation(language=lang, train=train))


@dataclass(frozen=True)
class _Embedder:
    """An encoder in eval mode with its tokenizer, on the GPU when there is one."""

    encoder: torch.nn.Module
    tokenizer: object
    device: torch.device
    batch_size: int

    @classmethod
    def load(cls, model_dir: str | Path, tokenizer: str | None, batch_size: int) -> _Embedder:
        local = local_dir(str(model_dir))  # on shared storage: this node's copy
        tok = AutoTokenizer.from_pretrained(local_dir(tokenizer) if tokenizer else local)
        encoder = load_encoder(local, ModelConfig(name=local), len(tok))
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        # fp32 whatever the encoder trained in, as evaluation does: a vector must not depend
        # on the device it was computed on.
        return cls(encoder.float().to(device).eval(), tok, device, batch_size)

    def member_vector(
        self,
        member: MemberConfig,
        data: DataConfig,
        n_examples: int,
        max_length: int,
        seed: int,
        *,
        retrieval_ok: bool = False,
    ) -> tuple[torch.Tensor, int]:
        """(the member's vector, the number of examples it averages)."""
        task = resolve_labels(get_task(member.task), data)
        if task.format == "retrieval":
            if not retrieval_ok:
                raise DataError(f"task {task.name}: retrieval tasks have no training data")
            texts = _sample(_english_sentences(task, data), n_examples, seed)
            ids = self.tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
            sequences = [[x] for x in ids]
        else:
            if member.translation is None:
                examples = load_examples(task, "train", task.train_language, data)
            else:
                examples = load_translated(task, member.translation, data)
            examples = _sample(examples, n_examples, seed)
            fmt = get_format(task.format, Windows(max_length=max_length))
            features = fmt.featurize(task, examples, self.tokenizer, max_length)
            sequences = _first_feature_sequences(features)
        if not sequences:
            raise DataError(f"task {member.key()}: no examples to embed")
        return self._mean_embedding(sequences), len(sequences)

    @torch.no_grad()
    def _mean_embedding(self, examples: list[list[list[int]]]) -> torch.Tensor:
        """The mean over examples of each example's mean over its sequences of the masked mean
        of the last hidden states."""
        flat = [(i, seq) for i, seqs in enumerate(examples) for seq in seqs]
        flat.sort(key=lambda item: len(item[1]))  # similar lengths share a batch: little padding
        per_example = torch.zeros(len(examples), hidden_size(self.encoder), dtype=torch.float64)
        for begin in range(0, len(flat), self.batch_size):
            chunk = flat[begin : begin + self.batch_size]
            ids, mask = pad_ids([seq for _, seq in chunk], self.tokenizer.pad_token_id)
            ids, mask = ids.to(self.device), mask.to(self.device)
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = pool(hidden.float(), mask, "mean").double().cpu()
            for (example, _), vector in zip(chunk, pooled, strict=True):
                per_example[example] += vector / len(examples[example])
        return per_example.mean(0).float()


def _first_feature_sequences(features: list[dict]) -> list[list[list[int]]]:
    """Per example, in order, its first feature's token sequences (a multiple-choice feature
    holds one per choice)."""
    first: dict[int, list[list[int]]] = {}
    for feature in features:
        ids = feature["input_ids"]
        sequences = ids if ids and isinstance(ids[0], list) else [ids]
        first.setdefault(feature["example"], [list(s) for s in sequences])
    return [first[i] for i in sorted(first)]


def _sample(items: Sequence, n: int, seed: int) -> list:
    """Up to `n` items chosen by `seed`, in their original order (the same for the same data)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in sorted(random.Random(seed).sample(range(len(items)), n))]


def _english_sentences(task, data: DataConfig) -> list[str]:
    """A retrieval task's English sentences (dev before test): its English queries where English
    is one of its languages, else the English side of a BUCC or Tatoeba language pair."""
    if task.train_language in task.languages:
        language, side = task.train_language, "queries"
    elif task.reader in ENGLISH_CANDIDATES:
        language, side = None, "candidates"
    else:
        raise DataError(f"task {task.name}: no English sentences to stand in for training data")
    errors = []
    for split in ("dev", "test"):
        for lang in [language] if language else task.languages:
            try:
                (retrieval_set,) = load_examples(task, split, lang, data)
            except DataError as err:
                errors.append(str(err))
                continue
            texts = [t for t in getattr(retrieval_set, side) if t.strip()]
            if texts:
                return texts
    raise DataError(errors[-1] if errors else f"task {task.name}: no English sentences")

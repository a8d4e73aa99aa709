"""Sentence retrieval, evaluation only: BUCC mining, Tatoeba, LAReQA and Mewsli-X.

No head is trained: sentences are embedded by mean (or first-token) pooling of one hidden layer
of the encoder (XTREME uses layer 14 of XLM-R Large's 24), L2-normalised so that a dot product
is a cosine. Similarities are computed in chunks (queries x candidates) and only the k best are
kept, so a million candidates (Mewsli-X) never need a full similarity matrix.

BUCC follows XTREME's and LASER's mining: k nearest neighbours both ways, the ratio margin
cos(x, y) / ((mean_k cos(x, .) + mean_k cos(., y)) / 2), each sentence's best candidate in both
directions, one-to-one greedy matching by descending margin. The margin threshold is chosen on
a dev/gold split (best F1) and applied unchanged to test: choosing it on test gold inflates F1.
All scores are fractions in [0, 1], and each is also given per query (`retrieval_scores`), so a
report can resample the queries.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

import torch

from trainers.data.examples import RetrievalSet
from trainers.formats.base import ExampleStats, pad_ids, ratios
from trainers.formats.classification import pool

KINDS = ("bucc", "tatoeba", "lareqa", "mewslix")
QUERY_CHUNK = 1024
CANDIDATE_CHUNK = 65536  # 1024 x 65536 float32 similarities: 256 MiB at a time


@torch.no_grad()
def embed(
    encoder,
    tokenizer,
    texts: Sequence[str],
    *,
    layer: int,
    pooling: str = "mean",
    max_length: int = 512,
    batch_size: int = 64,
) -> torch.Tensor:
    """(len(texts), hidden) float32 on the CPU, unit length (see `embed_ids`)."""
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    # Texts of similar length share a batch, so batches pad little.
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    out: torch.Tensor | None = None
    for begin in range(0, len(order), batch_size):
        rows = order[begin : begin + batch_size]
        pooled = embed_ids(
            encoder, [ids[i] for i in rows], tokenizer.pad_token_id, layer=layer, pooling=pooling
        )
        if out is None:
            out = torch.empty(len(texts), pooled.shape[-1])
        out[rows] = pooled
    return out if out is not None else torch.empty(0, 0)


@torch.no_grad()
def embed_ids(
    encoder, ids: Sequence[Sequence[int]], pad_id: int, *, layer: int, pooling: str = "mean"
) -> torch.Tensor:
    """One batch of token ids embedded: (len(ids), hidden) float32 on the CPU, unit length.

    `layer` indexes Hugging Face's `hidden_states` tuple: 0 is the embedding output, 1 the first
    layer's, and negative values count from the last layer. "mean" averages over the attention
    mask (special tokens included, as XTREME does), so padding never changes an embedding.
    """
    if pooling not in ("mean", "first"):
        raise ValueError(f"pooling must be 'mean' or 'first', not {pooling!r}")
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        batch, mask = pad_ids(ids, pad_id)
        batch, mask = batch.to(device), mask.to(device)
        states = encoder(input_ids=batch, attention_mask=mask, output_hidden_states=True)
        states = states.hidden_states
        if not -len(states) <= layer < len(states):
            raise ValueError(
                f"layer {layer} out of range: the encoder has {len(states)} hidden states "
                f"(embeddings + {len(states) - 1} layers)"
            )
        pooled = pool(states[layer].float(), mask, pooling)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu()
    finally:
        encoder.train(was_training)


@torch.no_grad()
def knn(
    queries: torch.Tensor,
    candidates: torch.Tensor,
    k: int,
    *,
    query_chunk: int = QUERY_CHUNK,
    candidate_chunk: int = CANDIDATE_CHUNK,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest dot products of each query over the candidates: (values, indices), both
    (n_queries, k), best first. Unit vectors make these cosines."""
    k = min(k, candidates.shape[0])
    values = torch.empty(queries.shape[0], k)
    indices = torch.empty(queries.shape[0], k, dtype=torch.long)
    for q0 in range(0, queries.shape[0], query_chunk):
        q = queries[q0 : q0 + query_chunk].float()
        best_v = torch.full((q.shape[0], 0), -math.inf, device=q.device)
        best_i = torch.empty((q.shape[0], 0), dtype=torch.long, device=q.device)
        for c0 in range(0, candidates.shape[0], candidate_chunk):
            sims = q @ candidates[c0 : c0 + candidate_chunk].float().T
            v, i = sims.topk(min(k, sims.shape[1]), dim=1)
            # Merge with the running best: the k best overall are among the k best so far
            # and the k best of this chunk.
            best_v, pick = torch.cat([best_v, v], 1).topk(min(k, best_v.shape[1] + v.shape[1]), 1)
            best_i = torch.cat([best_i, i + c0], 1).gather(1, pick)
        values[q0 : q0 + q.shape[0]] = best_v.cpu()
        indices[q0 : q0 + q.shape[0]] = best_i.cpu()
    return values, indices


class Margins(NamedTuple):
    """Each source's k nearest targets with their ratio margins, and each target's k nearest
    sources with theirs; all (n, k), best cosine first."""

    fwd_index: torch.Tensor
    fwd_score: torch.Tensor
    bwd_index: torch.Tensor
    bwd_score: torch.Tensor


def margin_scores(src_emb: torch.Tensor, tgt_emb: torch.Tensor, k: int = 4) -> Margins:
    x2y_sim, x2y_ind = knn(src_emb, tgt_emb, k)
    y2x_sim, y2x_ind = knn(tgt_emb, src_emb, k)
    x_mean, y_mean = x2y_sim.mean(1), y2x_sim.mean(1)
    fwd = x2y_sim / ((x_mean[:, None] + y_mean[x2y_ind]) / 2)
    bwd = y2x_sim / ((y_mean[:, None] + x_mean[y2x_ind]) / 2)
    return Margins(x2y_ind, fwd, y2x_ind, bwd)


def mine_bucc(
    src_emb: torch.Tensor,
    tgt_emb: torch.Tensor,
    src_ids: Sequence[str],
    tgt_ids: Sequence[str],
    k: int = 4,
) -> list[tuple[str, str, float]]:
    """One-to-one (src_id, tgt_id, margin) pairs, highest margin first (no threshold yet)."""
    m = margin_scores(src_emb, tgt_emb, k)
    fwd_best = m.fwd_score.argmax(1)
    bwd_best = m.bwd_score.argmax(1)
    n_src, n_tgt = src_emb.shape[0], tgt_emb.shape[0]
    src = torch.cat([torch.arange(n_src), m.bwd_index[torch.arange(n_tgt), bwd_best]])
    tgt = torch.cat([m.fwd_index[torch.arange(n_src), fwd_best], torch.arange(n_tgt)])
    score = torch.cat([m.fwd_score.max(1).values, m.bwd_score.max(1).values])
    pairs, seen_src, seen_tgt = [], set(), set()
    for i in torch.argsort(score, descending=True, stable=True).tolist():
        s, t = int(src[i]), int(tgt[i])
        if s not in seen_src and t not in seen_tgt:
            seen_src.add(s)
            seen_tgt.add(t)
            pairs.append((src_ids[s], tgt_ids[t], float(score[i])))
    return pairs


def _gold_pairs(gold: Mapping[str, Collection[str]]) -> set[tuple[str, str]]:
    return {(s, t) for s, targets in gold.items() for t in targets}


def best_threshold(
    pairs: Sequence[tuple[str, str, float]], gold: Mapping[str, Collection[str]]
) -> float:
    """The margin threshold with the best F1 on this (dev) gold: halfway between the last pair
    kept and the next. If no pair is right, +inf (extract nothing)."""
    gold_set = _gold_pairs(gold)
    ranked = sorted(pairs, key=lambda p: -p[2])
    best_f1, threshold, correct = 0.0, math.inf, 0
    for n, (s, t, score) in enumerate(ranked, start=1):
        correct += (s, t) in gold_set
        if not correct:
            continue
        precision, recall = correct / n, correct / len(gold_set)
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best_f1:
            best_f1 = f1
            threshold = (score + ranked[n][2]) / 2 if n < len(ranked) else score
    return threshold


def bucc_f1(
    pairs: Sequence[tuple[str, str, float]],
    gold: Mapping[str, Collection[str]],
    threshold: float,
) -> tuple[float, float, float]:
    """(precision, recall, F1) of the pairs whose margin is at least `threshold`."""
    gold_set = _gold_pairs(gold)
    kept = {(s, t) for s, t, score in pairs if score >= threshold}
    correct = len(kept & gold_set)
    if not correct:
        return 0.0, 0.0, 0.0
    precision, recall = correct / len(kept), correct / len(gold_set)
    return precision, recall, 2 * precision * recall / (precision + recall)


def bucc_stats(
    pairs: Sequence[tuple[str, str, float]], retrieval_set: RetrievalSet, threshold: float
) -> ExampleStats:
    """`bucc_f1` per source sentence (query), for the pairs whose margin is at least
    `threshold`: "f1" as (2 x right pairs, kept pairs + gold pairs), since F1 is
    2TP / (|kept| + |gold|), "precision" as (right, kept) and "recall" as (right, gold)."""
    row = {q: i for i, q in enumerate(retrieval_set.query_ids)}
    unknown = set(retrieval_set.gold) - set(row)
    if unknown:
        raise ValueError(f"{len(unknown)} gold sources are not queries, e.g. {min(unknown)}")
    n = len(row)
    kept, right = [0.0] * n, [0.0] * n
    gold = [float(len(retrieval_set.gold.get(q, ()))) for q in retrieval_set.query_ids]
    for s, t, score in pairs:
        if score >= threshold:
            kept[row[s]] += 1.0
            right[row[s]] += float(t in retrieval_set.gold.get(s, ()))
    return {
        "f1": ([2.0 * r for r in right], [k + g for k, g in zip(kept, gold, strict=True)]),
        "precision": (right, kept),
        "recall": (right, gold),
    }


def _ranked(query_emb, cand_emb, gold: Sequence[Collection[int]], k: int):
    """The positions of the queries that have a gold candidate (others are not scored: there
    is nothing to find), their top-k candidate indices and their gold sets."""
    asked = [i for i, g in enumerate(gold) if g]
    if not asked:
        raise ValueError("no query has a gold candidate")
    _, top = knn(query_emb[asked], cand_emb, k)
    return asked, top.tolist(), [gold[i] for i in asked]


def top1_accuracy(
    query_emb: torch.Tensor, cand_emb: torch.Tensor, gold: Sequence[Collection[int]]
) -> float:
    """Share of queries whose nearest candidate is a gold one (Tatoeba)."""
    _, top, golds = _ranked(query_emb, cand_emb, gold, 1)
    return sum(t[0] in g for t, g in zip(top, golds, strict=True)) / len(golds)


def average_precision(ranked: Sequence[int], gold: Collection[int], k: int) -> float:
    # LAReQA's AP@k: precision at each hit within the top k, over min(|gold|, k).
    hits, total = 0, 0.0
    for rank, cand in enumerate(ranked[:k], start=1):
        if cand in gold:
            hits += 1
            total += hits / rank
    return total / min(len(gold), k)


def reciprocal_rank(ranked: Sequence[int], gold: Collection[int], k: int) -> float:
    return next((1.0 / r for r, c in enumerate(ranked[:k], start=1) if c in gold), 0.0)


def map_at_k(
    query_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    gold: Sequence[Collection[int]],
    k: int = 20,
) -> float:
    """Mean average precision at k (LAReQA, Mewsli-X); gold holds candidate indices."""
    _, top, golds = _ranked(query_emb, cand_emb, gold, k)
    return sum(average_precision(t, g, k) for t, g in zip(top, golds, strict=True)) / len(golds)


def mrr_at_k(
    query_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    gold: Sequence[Collection[int]],
    k: int = 20,
) -> float:
    """Mean reciprocal rank of the first gold candidate within the top k (0 if none)."""
    _, top, golds = _ranked(query_emb, cand_emb, gold, k)
    return sum(reciprocal_rank(t, g, k) for t, g in zip(top, golds, strict=True)) / len(golds)


def gold_indices(retrieval_set: RetrievalSet) -> list[frozenset[int]]:
    """Per query, the positions of its gold candidates in the candidate pool."""
    position = {c: i for i, c in enumerate(retrieval_set.candidate_ids)}
    missing = {c for targets in retrieval_set.gold.values() for c in targets if c not in position}
    if missing:
        raise ValueError(f"{len(missing)} gold candidates are not in the pool, e.g. {min(missing)}")
    return [
        frozenset(position[c] for c in retrieval_set.gold.get(q, ()))
        for q in retrieval_set.query_ids
    ]


def score_retrieval(
    kind: str,
    query_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    retrieval_set: RetrievalSet,
    threshold: float | None = None,
) -> dict[str, float]:
    """Metrics with stable names: bucc f1/precision/recall/threshold, tatoeba accuracy,
    lareqa map@20, mewslix map@20 and mrr@20.

    BUCC: pass the threshold chosen on dev (this function's "threshold" on the dev set) when
    scoring test; `threshold=None` chooses it on `retrieval_set` itself, which is right for
    dev only.
    """
    return retrieval_scores(kind, query_emb, cand_emb, retrieval_set, threshold)[0]


def retrieval_scores(
    kind: str,
    query_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    retrieval_set: RetrievalSet,
    threshold: float | None = None,
) -> tuple[dict[str, float], ExampleStats]:
    """`score_retrieval`'s metrics and their stats per query, in `query_ids` order, from one
    search (Mewsli-X's pool has a million candidates: it is searched once).

    A query with no gold candidate is not scored and counts (0, 0). BUCC's "threshold" has no
    stats: it is a setting chosen on dev, the same for every sentence, not a sum over them.
    """
    if kind == "bucc":
        pairs = mine_bucc(query_emb, cand_emb, retrieval_set.query_ids, retrieval_set.candidate_ids)
        if threshold is None:
            threshold = best_threshold(pairs, retrieval_set.gold)
        stats = bucc_stats(pairs, retrieval_set, threshold)
        return {**ratios(stats), "threshold": threshold}, stats
    if kind not in KINDS:
        raise ValueError(f"unknown retrieval kind {kind!r}; known: {KINDS}")
    gold = gold_indices(retrieval_set)
    k = 1 if kind == "tatoeba" else 20
    asked, top, golds = _ranked(query_emb, cand_emb, gold, k)
    ranked = list(zip(top, golds, strict=True))
    if kind == "tatoeba":
        per_query = {"accuracy": [float(t[0] in g) for t, g in ranked]}
    else:
        per_query = {"map@20": [average_precision(t, g, k) for t, g in ranked]}
    if kind == "mewslix":
        per_query["mrr@20"] = [reciprocal_rank(t, g, k) for t, g in ranked]
    stats = {m: _scatter(values, asked, len(gold)) for m, values in per_query.items()}
    return ratios(stats), stats


def _scatter(values: list[float], asked: list[int], n: int) -> tuple[list[float], list[float]]:
    """(value, 1) at each asked query's position, (0, 0) at the others'."""
    num, den = [0.0] * n, [0.0] * n
    for i, value in zip(asked, values, strict=True):
        num[i], den[i] = value, 1.0
    return num, den

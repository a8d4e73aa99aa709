"""Retrieval: embeddings by layer and pooling, chunked nearest neighbours, BUCC margin mining with
a dev-chosen threshold, Tatoeba top-1 accuracy and mAP@20 / MRR@20 on hand-made embeddings."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoTokenizer

from trainers.config import TinyEncoder
from trainers.data.examples import RetrievalSet
from trainers.formats.retrieval import (
    best_threshold,
    bucc_f1,
    embed,
    knn,
    map_at_k,
    margin_scores,
    mine_bucc,
    mrr_at_k,
    score_retrieval,
    top1_accuracy,
)
from trainers.model import build_from_config, tiny_config


def unit(*rows) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def at_angles(degrees) -> torch.Tensor:
    """2-d unit vectors; from (1, 0) their cosine ranking follows their angle."""
    return torch.tensor([[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in degrees])


@pytest.fixture(scope="module")
def tokenizer(benchmark):
    return AutoTokenizer.from_pretrained(benchmark / "tokenizer")


@pytest.fixture(scope="module")
def encoder(tokenizer):
    torch.manual_seed(0)
    config = tiny_config(
        TinyEncoder(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64),
        vocab_size=len(tokenizer),
    )
    return build_from_config(config)


def test_embed_honours_layer_and_pooling_and_is_unit_length(encoder, tokenizer):
    texts = ["the cat sat", "a dog ran far away"]
    kw = dict(max_length=32, batch_size=8)
    mean_last = embed(encoder, tokenizer, texts, layer=-1, pooling="mean", **kw)
    assert mean_last.shape == (2, 32)
    assert torch.allclose(mean_last.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(mean_last, embed(encoder, tokenizer, texts, layer=2, **kw), atol=1e-6)
    assert not torch.allclose(mean_last, embed(encoder, tokenizer, texts, layer=0, **kw), atol=1e-3)
    first = embed(encoder, tokenizer, texts, layer=-1, pooling="first", **kw)
    assert not torch.allclose(mean_last, first, atol=1e-3)
    with pytest.raises(ValueError, match="out of range"):
        embed(encoder, tokenizer, texts, layer=3, **kw)


def test_padding_does_not_change_an_embedding(encoder, tokenizer):
    alone = embed(encoder, tokenizer, ["the cat"], layer=1, max_length=64)
    long = "the cat sat on the mat and then the dog ran after it all day long"
    padded = embed(encoder, tokenizer, [long, "the cat"], layer=1, max_length=64, batch_size=2)
    assert torch.allclose(alone[0], padded[1], atol=1e-5)


def test_chunked_nearest_neighbours_equal_the_full_similarity_matrix():
    torch.manual_seed(1)
    queries = torch.nn.functional.normalize(torch.randn(37, 8), dim=-1)
    candidates = torch.nn.functional.normalize(torch.randn(101, 8), dim=-1)
    values, indices = knn(queries, candidates, 5, query_chunk=10, candidate_chunk=7)
    full_values, full_indices = (queries @ candidates.T).topk(5, dim=1)
    assert torch.allclose(values, full_values, atol=1e-6)
    assert torch.equal(indices, full_indices)


def test_ratio_margins_and_mined_pairs_have_their_golden_values():
    x = unit([1.0, 0.0], [0.0, 1.0])
    y = unit([1.0, 0.0], [1.0, 1.0])
    m = margin_scores(x, y, k=2)
    # Means of the 2 nearest: x0 (1 + .7071) / 2, x1 (.7071 + 0) / 2, y0 .5, y1 .7071.
    assert m.fwd_index.tolist() == [[0, 1], [1, 0]]
    assert m.fwd_score[0].tolist() == pytest.approx([1.477592, 0.906163], abs=1e-5)
    assert m.fwd_score[1].tolist() == pytest.approx([4 / 3, 0.0], abs=1e-5)
    pairs = mine_bucc(x, y, ["de1", "de2"], ["en1", "en2"], k=2)
    assert [(s, t) for s, t, _ in pairs] == [("de1", "en1"), ("de2", "en2")]
    assert [score for *_, score in pairs] == pytest.approx([1.477592, 4 / 3], abs=1e-5)


def test_the_best_threshold_maximises_f1_and_is_halfway_to_the_next_pair():
    pairs = [("a", "x", 3.0), ("b", "y", 2.0), ("c", "z", 1.5), ("d", "w", 1.0), ("e", "v", 0.5)]
    gold = {"a": {"x"}, "b": {"y"}, "e": {"v"}, "f": {"u"}}
    # Kept 1: F1 .4; 2: .667; 3: .571; 4: .5; 5: .667 (not better than 2). Best after "b".
    threshold = best_threshold(pairs, gold)
    assert threshold == pytest.approx(1.75)
    assert bucc_f1(pairs, gold, threshold) == pytest.approx((1.0, 0.5, 2 / 3))
    assert best_threshold(pairs, {"q": {"r"}}) == math.inf


def planted(seed: int, n_src: int = 20, n_tgt: int = 40, n_gold: int = 12):
    """Random sentences; the first n_gold sources are noisy copies of shuffled targets."""
    gen = torch.Generator().manual_seed(seed)
    tgt = torch.nn.functional.normalize(torch.randn(n_tgt, 64, generator=gen), dim=-1)
    src = torch.nn.functional.normalize(torch.randn(n_src, 64, generator=gen), dim=-1)
    match = torch.randperm(n_tgt, generator=gen)[:n_gold]
    src[:n_gold] = torch.nn.functional.normalize(
        tgt[match] + 0.1 * torch.randn(n_gold, 64, generator=gen), dim=-1
    )
    src_ids = tuple(f"s{seed}-{i}" for i in range(n_src))
    tgt_ids = tuple(f"t{seed}-{j}" for j in range(n_tgt))
    gold = {src_ids[i]: frozenset({tgt_ids[int(j)]}) for i, j in enumerate(match)}
    return src, tgt, RetrievalSet(src_ids, src_ids, tgt_ids, tgt_ids, gold)


def test_bucc_mining_finds_the_planted_pairs_with_the_threshold_chosen_on_dev():
    dev_src, dev_tgt, dev = planted(seed=0)
    dev_scores = score_retrieval("bucc", dev_src, dev_tgt, dev)
    assert dev_scores["f1"] == pytest.approx(1.0)
    test_src, test_tgt, test = planted(seed=1)
    scores = score_retrieval("bucc", test_src, test_tgt, test, threshold=dev_scores["threshold"])
    assert scores == pytest.approx(
        {"f1": 1.0, "precision": 1.0, "recall": 1.0, "threshold": dev_scores["threshold"]}
    )
    # The given threshold is applied unchanged, never re-chosen on test gold.
    too_high = score_retrieval("bucc", test_src, test_tgt, test, threshold=1e9)
    assert too_high["f1"] == 0.0 and too_high["threshold"] == 1e9


def test_top1_accuracy_counts_queries_whose_nearest_candidate_is_gold():
    candidates = at_angles([0, 90, 180])
    queries = at_angles([10, 80, 100])  # nearest: 0, 1, 1
    assert top1_accuracy(queries, candidates, [{0}, {1}, {2}]) == pytest.approx(2 / 3)
    ids = ("a", "b", "c")
    tatoeba = RetrievalSet(ids, ids, ids, ids, {i: frozenset({i}) for i in ids})
    assert score_retrieval("tatoeba", queries, candidates, tatoeba) == {
        "accuracy": pytest.approx(2 / 3)
    }


def test_map_and_mrr_at_k_have_their_golden_values():
    candidates = at_angles([0, 10, 20, 30, 40])  # from angle 0, ranked in this order
    queries = at_angles([0, 0])
    gold = [{0, 2}, {1}]
    # Query 0: hits at ranks 1 and 3: AP (1/1 + 2/3) / 2, RR 1. Query 1: rank 2: AP = RR = 1/2.
    assert map_at_k(queries, candidates, gold) == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert mrr_at_k(queries, candidates, gold) == pytest.approx(3 / 4)
    # Only the top k count, and AP divides by min(|gold|, k).
    assert map_at_k(queries, candidates, gold, k=2) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert map_at_k(queries, candidates, [{4}, {3}], k=2) == 0.0
    cand_ids = ("c0", "c1", "c2", "c3", "c4")
    mewslix = RetrievalSet(
        ("q0", "q1"),
        ("", ""),
        cand_ids,
        cand_ids,
        {"q0": frozenset({"c0", "c2"}), "q1": frozenset({"c1"})},
    )
    assert score_retrieval("mewslix", queries, candidates, mewslix) == pytest.approx(
        {"map@20": 2 / 3, "mrr@20": 3 / 4}
    )
    assert score_retrieval("lareqa", queries, candidates, mewslix) == pytest.approx(
        {"map@20": 2 / 3}
    )

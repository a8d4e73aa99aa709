"""Per-example scores: every format's `example_stats` gives one (numerator, denominator) per
example, in the gold file's order, whose sums' ratio is the format's score; hand-computed golden
values per format and per retrieval kind; and `zero_shot`'s examples reproduce its rows."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest
import torch

from tests.test_eval_pipeline import task_model
from trainers.data.examples import (
    Answer,
    ClassificationExample,
    MultipleChoiceExample,
    RetrievalSet,
    SpanQAExample,
    TaggingExample,
)
from trainers.formats import get_format
from trainers.formats.base import ratios
from trainers.formats.retrieval import (
    bucc_f1,
    bucc_stats,
    gold_indices,
    map_at_k,
    mine_bucc,
    mrr_at_k,
    retrieval_scores,
    top1_accuracy,
)
from trainers.formats.tagging import tagging_stats
from trainers.tasks.registry import LocalFiles, Task

TOL = 1e-9


def task(fmt: str, labels: tuple[str, ...] = ()) -> Task:
    return Task(
        name=f"toy_{fmt}",
        format=fmt,
        reader="none",
        labels=labels,
        metric="accuracy",
        languages=("en",),
        roles=("intermediate",),
        local=LocalFiles("train", "dev", "test"),
    )


def assert_one_entry_per_example_summing_to_the_score(fmt, tsk, examples, features, predictions,
                                                      language="en"):  # fmt: skip
    stats = get_format(fmt).example_stats(tsk, examples, features, predictions, language)
    scores = get_format(fmt).score(tsk, examples, features, predictions, language)
    assert set(stats) == set(scores)
    for num, den in stats.values():
        assert len(num) == len(den) == len(examples)
    assert ratios(stats) == pytest.approx(scores, abs=TOL)
    return stats


# --- classification and multiple choice: (correct, 1) -------------------------------------------


def test_classification_counts_each_example_right_or_wrong_once():
    labels = ("entailment", "neutral", "contradiction")
    examples = [ClassificationExample("a", "b", label) for label in labels]
    features = [{"label": i, "example": i} for i in range(3)]
    stats = assert_one_entry_per_example_summing_to_the_score(
        "classification", task("classification", labels), examples, features, [0, 2, 2]
    )
    assert stats == {"accuracy": ([1.0, 0.0, 1.0], [1.0, 1.0, 1.0])}


def test_multiple_choice_counts_each_question_right_or_wrong_once():
    examples = [MultipleChoiceExample("c", "q", ("x", "y", "z"), label) for label in (0, 1, 2)]
    features = [{"label": e.label, "example": i} for i, e in enumerate(examples)]
    stats = assert_one_entry_per_example_summing_to_the_score(
        "multiple_choice", task("multiple_choice"), examples, features, [0, 1, 0]
    )
    assert stats == {"accuracy": ([1.0, 1.0, 0.0], [1.0, 1.0, 1.0])}


# --- tagging: span F1 as (2 TP, |pred| + |gold|), token accuracy as (right, words) --------------

NER = ("O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC")


def test_two_ner_sentences_have_their_hand_counted_chunks_even_across_windows():
    gold = [("B-PER", "I-PER", "O", "B-LOC"), ("O", "B-ORG")]
    pred = [("B-PER", "I-PER", "O", "B-ORG"), ("B-MISC", "B-ORG")]
    examples = [TaggingExample(tuple(f"w{i}" for i in range(len(g))), g) for g in gold]
    # The first sentence was cut into two windows: its entry is still one.
    features = [
        {"example": 0, "words": [0, 1]},
        {"example": 0, "words": [2, 3]},
        {"example": 1, "words": [0, 1]},
    ]
    index = {t: i for i, t in enumerate(NER)}
    predictions = [[index[t] for t in tags] for tags in (pred[0][:2], pred[0][2:], pred[1])]
    stats = assert_one_entry_per_example_summing_to_the_score(
        "tagging", task("tagging", NER), examples, features, predictions
    )
    # Sentence 1: PER right, LOC predicted as ORG: TP 1 of 2 predicted, 2 gold; 3 of 4 words.
    # Sentence 2: ORG right, a spurious MISC: TP 1 of 2 predicted, 1 gold; 1 of 2 words.
    assert stats == {"f1": ([2.0, 2.0], [4.0, 3.0]), "token_accuracy": ([3.0, 1.0], [4.0, 2.0])}
    assert ratios(stats)["f1"] == pytest.approx(4 / 7, abs=TOL)  # P 2/4, R 2/3


@pytest.mark.parametrize("tags", [NER, ("NOUN", "VERB", "ADJ", "PUNCT")], ids=["ner", "pos"])
def test_tagging_stats_sum_to_seqeval_s_own_f1(tags):
    from seqeval.metrics import f1_score

    rng = random.Random(0)
    gold = [[rng.choice(tags) for _ in range(rng.randint(0, 9))] for _ in range(40)]
    pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in s] for s in gold]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # POS tags are not IOB tags
        expected = f1_score(gold, pred)
    assert 0 < expected < 1
    assert ratios(tagging_stats(gold, pred))["f1"] == pytest.approx(expected, abs=TOL)


# --- span QA: (exact_i, 1) and (f1_i, 1) per question -------------------------------------------

CONTEXT = "the cat sat on the mat"
WORDS = np.array([(0, 3), (4, 7), (8, 11), (12, 14), (15, 18), (19, 22)], dtype=np.int32)
FIRST = 5  # where the context starts in every window (after the question)


def window(example: int, words: slice) -> dict:
    return {"example": example, "offsets": WORDS[words], "context_start": FIRST}


def span(first_word: int, last_word: int, score: float, window_start: int = 0) -> dict:
    at = FIRST - window_start
    return {"spans": [(at + first_word, at + last_word, score)], "null": 0.0}


def test_a_question_answered_across_windows_is_scored_once_with_its_best_span():
    examples = [
        SpanQAExample("q0", "where?", CONTEXT, (Answer("the mat", 15),)),
        SpanQAExample("q1", "who?", CONTEXT, (Answer("cat", 4),)),
    ]
    features = [window(0, slice(0, 4)), window(0, slice(2, 6)), window(1, slice(0, 6))]
    predictions = [
        span(1, 1, 2.0),  # "cat", outscored by the next window's span
        span(3, 5, 3.0, window_start=2),  # "on the mat"
        span(1, 1, 1.0),  # "cat"
    ]
    stats = assert_one_entry_per_example_summing_to_the_score(
        "span_qa", task("span_qa"), examples, features, predictions
    )
    # "on the mat" vs "the mat": tokens [on, mat] vs [mat]: P 1/2, R 1, F1 2/3; not exact.
    assert stats["exact"] == ([0.0, 1.0], [1.0, 1.0])
    assert stats["f1"][0] == pytest.approx([2 / 3, 1.0], abs=TOL)
    assert stats["f1"][1] == [1.0, 1.0]


def test_mlqa_stats_normalise_in_the_examples_language():
    context = "der Hund bellt"
    examples = [SpanQAExample("q", "wer?", context, (Answer("Hund", 4),))]
    offsets = np.array([(0, 3), (4, 8), (9, 14)], dtype=np.int32)
    features = [{"example": 0, "offsets": offsets, "context_start": FIRST}]
    predictions = [span(0, 1, 1.0)]  # "der Hund"
    german = assert_one_entry_per_example_summing_to_the_score(
        "span_qa_mlqa", task("span_qa_mlqa"), examples, features, predictions, language="de"
    )
    english = get_format("span_qa_mlqa").example_stats(
        task("span_qa_mlqa"), examples, features, predictions, "en"
    )
    assert german["exact"] == ([1.0], [1.0])  # "der" is a German article
    assert english["exact"] == ([0.0], [1.0])


# --- retrieval: per query ------------------------------------------------------------------------


def at_angles(degrees) -> torch.Tensor:
    """2-d unit vectors; from (1, 0) their cosine ranking follows their angle."""
    return torch.tensor([[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in degrees])


def test_bucc_stats_count_each_source_sentence_s_pairs_at_the_threshold():
    pairs = [("a", "x", 3.0), ("b", "y", 2.0), ("c", "z", 1.5), ("d", "w", 1.0)]
    ids = ("a", "b", "c", "d", "f")
    gold = {"a": frozenset({"x"}), "b": frozenset({"q"}), "f": frozenset({"u", "v"})}
    stats = bucc_stats(pairs, RetrievalSet(ids, ids, (), (), gold), threshold=1.5)
    # Kept: a-x (right), b-y (wrong), c-z (no gold); d-w is under the threshold; f has 2 gold.
    assert stats == {
        "f1": ([2.0, 0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 1.0, 0.0, 2.0]),
        "precision": ([1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0, 0.0]),
        "recall": ([1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 2.0]),
    }
    assert tuple(ratios(stats)[m] for m in ("precision", "recall", "f1")) == pytest.approx(
        bucc_f1(pairs, gold, 1.5), abs=TOL
    )


def test_bucc_stats_of_mined_pairs_sum_to_bucc_f1_at_every_threshold():
    gen = torch.Generator().manual_seed(0)
    tgt = torch.nn.functional.normalize(torch.randn(40, 16, generator=gen), dim=-1)
    src = torch.nn.functional.normalize(torch.randn(30, 16, generator=gen), dim=-1)
    # The first 15 sources are noisy copies of targets 0, 2, 4, ...: some are mined right.
    src[:15] = torch.nn.functional.normalize(
        tgt[0:30:2] + 0.3 * torch.randn(15, 16, generator=gen), dim=-1
    )
    src_ids, tgt_ids = tuple(f"s{i}" for i in range(30)), tuple(f"t{j}" for j in range(40))
    gold = {src_ids[i]: frozenset({tgt_ids[2 * i]}) for i in range(15)}
    retrieval_set = RetrievalSet(src_ids, src_ids, tgt_ids, tgt_ids, gold)
    pairs = mine_bucc(src, tgt, src_ids, tgt_ids)
    for threshold in sorted({score for *_, score in pairs})[::5] + [math.inf]:
        metrics, stats = retrieval_scores("bucc", src, tgt, retrieval_set, threshold)
        precision, recall, f1 = bucc_f1(pairs, gold, threshold)
        assert metrics == pytest.approx(
            {"f1": f1, "precision": precision, "recall": recall, "threshold": threshold}, abs=TOL
        )
        assert "threshold" not in stats and all(len(n) == 30 for n, _ in stats.values())
    assert bucc_f1(pairs, gold, min(score for *_, score in pairs))[2] > 0


def test_tatoeba_and_mewslix_stats_are_per_query_and_skip_queries_without_gold():
    candidates = at_angles([0, 10, 20, 30, 40])  # from angle 0, ranked in this order
    queries = at_angles([0, 0, 0])
    cand_ids = ("c0", "c1", "c2", "c3", "c4")
    gold = {"q0": frozenset({"c0", "c2"}), "q2": frozenset({"c1"})}  # q1: nothing to find
    mewslix = RetrievalSet(("q0", "q1", "q2"), ("", "", ""), cand_ids, cand_ids, gold)
    metrics, stats = retrieval_scores("mewslix", queries, candidates, mewslix)
    # q0: hits at ranks 1 and 3: AP (1 + 2/3) / 2, RR 1. q2: rank 2: AP = RR = 1/2.
    assert stats["map@20"][0] == pytest.approx([5 / 6, 0.0, 1 / 2], abs=TOL)
    assert stats["mrr@20"] == ([1.0, 0.0, 0.5], [1.0, 0.0, 1.0])
    assert stats["map@20"][1] == [1.0, 0.0, 1.0]
    indices = gold_indices(mewslix)
    assert metrics["map@20"] == map_at_k(queries, candidates, indices)
    assert metrics["mrr@20"] == mrr_at_k(queries, candidates, indices)
    assert ratios(stats) == metrics

    tatoeba_metrics, tatoeba = retrieval_scores("tatoeba", queries, candidates, mewslix)
    assert tatoeba == {"accuracy": ([1.0, 0.0, 0.0], [1.0, 0.0, 1.0])}
    assert tatoeba_metrics["accuracy"] == top1_accuracy(queries, candidates, indices) == 0.5
    lareqa_metrics, lareqa = retrieval_scores("lareqa", queries, candidates, mewslix)
    assert lareqa == {"map@20": stats["map@20"]} and lareqa_metrics["map@20"] == metrics["map@20"]


# --- zero_shot: the examples it returns reproduce its rows --------------------------------------


@pytest.mark.parametrize("task_name", ["synth_udpos", "synth_xquad"])
def test_zero_shot_examples_reproduce_every_row_it_returns(benchmark, tmp_path, task_name):
    from trainers.config import DataConfig, Windows
    from trainers.evaluate import Run, zero_shot

    model = task_model(benchmark, task_name, tmp_path / "model")
    data = DataConfig(source="local", root=str(benchmark))
    result = zero_shot(
        model, task_name, ("en", "qaa"), data, windows=Windows(max_length=48),
        run=Run(cache=tmp_path / "shards"),
    )  # fmt: skip
    assert result.complete() and result.rows
    assert reproduced(result.examples) == pytest.approx(
        {(r["language"], r["metric"]): r["value"] for r in result.rows}, abs=TOL
    )
    for r in result.rows:
        entries = [
            e
            for lang, metric, e in zip(
                result.examples["language"],
                result.examples["metric"],
                result.examples["example"],
                strict=True,
            )
            if (lang, metric) == (r["language"], r["metric"])
        ]
        assert entries == list(range(r["n_examples"]))  # one per example, in the file's order


def reproduced(examples: dict[str, list]) -> dict[tuple[str, str], float]:
    """Each (language, metric)'s sum(numerator) / sum(denominator) over its examples."""
    sums: dict[tuple[str, str], list[float]] = {}
    for lang, metric, num, den in zip(
        examples["language"], examples["metric"], examples["numerator"],
        examples["denominator"], strict=True,
    ):  # fmt: skip
        acc = sums.setdefault((lang, metric), [0.0, 0.0])
        acc[0] += num
        acc[1] += den
    return {key: num / den if den else 0.0 for key, (num, den) in sums.items()}

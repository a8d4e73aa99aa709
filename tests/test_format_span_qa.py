"""Span QA: sliding windows, answer positions, n-best predictions, aggregation over windows, and
the SQuAD v1.1 / MLQA metrics on hand-made answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from trainers.config import OptimConfig, TinyEncoder, Windows
from trainers.data.examples import Answer, SpanQAExample
from trainers.formats import get_format
from trainers.formats.qa_metrics import exact_match, normalize_mlqa, qa_scores, token_f1
from trainers.model import TaskModel, build_from_config, tiny_config
from trainers.tasks.registry import LocalFiles, Task

TASK = Task(
    name="toy_qa",
    format="span_qa",
    reader="none",
    labels=(),
    metric="f1",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles("train", "dev", "test"),
)
LONG_CONTEXT = " ".join(f"the cat number {i} sat on mat {i}." for i in range(30))


def long_example(number: int = 27) -> SpanQAExample:
    text = f"mat {number}"
    return SpanQAExample(
        f"q{number}", "where did it sit?", LONG_CONTEXT, (Answer(text, LONG_CONTEXT.index(text)),)
    )


@pytest.fixture(scope="module")
def tokenizer(benchmark):
    return AutoTokenizer.from_pretrained(benchmark / "tokenizer")


@pytest.fixture()
def fmt():
    return get_format("span_qa")


def test_windows_cover_every_context_token_and_a_long_context_yields_several(tokenizer, fmt):
    features = fmt.featurize(TASK, [long_example()], tokenizer, max_length=48)
    assert len(features) > 3
    assert all(len(f["input_ids"]) <= 48 for f in features)
    whole = tokenizer(LONG_CONTEXT, add_special_tokens=False, return_offsets_mapping=True)
    covered = {tuple(int(x) for x in o) for f in features for o in f["offsets"]}
    assert covered == set(whole["offset_mapping"])
    # Consecutive windows overlap: an answer cut by one window's edge is whole in the next.
    for a, b in zip(features, features[1:], strict=False):
        assert b["offsets"][0][0] < a["offsets"][-1][1]


def test_the_answer_round_trips_from_characters_to_tokens_and_back_in_a_later_window(
    tokenizer, fmt
):
    example = long_example(27)
    features = fmt.featurize(TASK, [example], tokenizer, max_length=48)
    holding = [i for i, f in enumerate(features) if f["start"] != 0]
    assert holding and holding[0] > 0  # the answer is far from the first window
    for i, f in enumerate(features):
        if i not in holding:
            assert (f["start"], f["end"]) == (0, 0)
            continue
        first = f["context_start"]
        start, end = f["offsets"][f["start"] - first][0], f["offsets"][f["end"] - first][1]
        assert example.context[start:end] == "mat 27"


def test_an_answer_at_the_very_start_and_end_of_the_context_round_trips(tokenizer, fmt):
    context = "Paris is big. The capital is Paris"
    examples = [
        SpanQAExample("a", "which city?", context, (Answer("Paris", 0),)),
        SpanQAExample("b", "which city?", context, (Answer("Paris", 29),)),
    ]
    for f in fmt.featurize(TASK, examples, tokenizer, max_length=64):
        first = f["context_start"]
        start, end = f["offsets"][f["start"] - first][0], f["offsets"][f["end"] - first][1]
        assert context[start:end] == "Paris"


def test_unanswerable_questions_point_at_the_cls_token(tokenizer, fmt):
    example = SpanQAExample("u", "where did it sit?", LONG_CONTEXT, ())
    features = fmt.featurize(TASK, [example], tokenizer, max_length=48)
    assert all((f["start"], f["end"]) == (0, 0) for f in features)
    batch = fmt.collate(features, tokenizer.pad_token_id)
    assert batch["start_positions"].tolist() == [0] * len(features)


def test_span_qa_trains_a_step(tokenizer, fmt):
    torch.manual_seed(0)
    config = tiny_config(
        TinyEncoder(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
        vocab_size=len(tokenizer),
    )
    model = TaskModel(build_from_config(config), fmt.build_head(TASK, 32, "first"))
    features = fmt.featurize(TASK, [long_example(3), long_example(20)], tokenizer, 48)
    batch = fmt.collate(features, tokenizer.pad_token_id)
    logits = model(batch)
    loss = fmt.loss(logits, batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert len(fmt.predict(logits.detach(), batch)) == len(features)


def test_predictions_stay_in_the_context_and_within_the_longest_answer(tokenizer, fmt):
    features = fmt.featurize(TASK, [long_example()], tokenizer, max_length=48)[:1]
    batch = fmt.collate(features, tokenizer.pad_token_id)
    first = features[0]["context_start"]
    logits = torch.zeros(1, batch["input_ids"].shape[1], 2)
    logits[0, 1, :] = 50.0  # a question token: never an answer
    logits[0, first + 2, 0] = 10.0
    logits[0, first + 4, 1] = 9.0
    logits[0, first + 1, 1] = 11.0  # would pair with the best start, but ends before it
    logits[0, first + 32, 1] = 12.0  # 31 tokens from the best start: longer than 30
    (prediction,) = fmt.predict(logits, batch)
    assert prediction["spans"][0] == (first + 2, first + 4, pytest.approx(19.0))
    assert prediction["null"] == pytest.approx(0.0)
    context = batch["context_mask"][0]
    for start, end, _ in prediction["spans"]:
        assert context[start] and context[end] and 0 <= end - start < 30
    assert len(prediction["spans"]) == 20


def test_a_specs_window_settings_reach_the_format_and_the_registry_keeps_its_defaults(tokenizer):
    optim = OptimConfig(max_length=48, doc_stride=4, max_query_length=16, max_answer_length=2)
    narrow = get_format("span_qa", optim.windows())
    assert (narrow.doc_stride, narrow.max_query_length, narrow.max_answer_length) == (4, 16, 2)
    assert get_format("span_qa").max_answer_length == 30
    # Less overlap between windows: fewer windows over the same context.
    wide = get_format("span_qa", Windows(max_length=48, doc_stride=16))
    assert len(narrow.featurize(TASK, [long_example()], tokenizer, 48)) < len(
        wide.featurize(TASK, [long_example()], tokenizer, 48)
    )
    # A 2-token answer limit: the 3-token span (start +2, end +4) is no longer predicted.
    features = narrow.featurize(TASK, [long_example()], tokenizer, max_length=48)[:1]
    batch = narrow.collate(features, tokenizer.pad_token_id)
    first = features[0]["context_start"]
    logits = torch.zeros(1, batch["input_ids"].shape[1], 2)
    logits[0, first + 2, 0] = 10.0
    logits[0, first + 4, 1] = 9.0
    (prediction,) = narrow.predict(logits, batch)
    assert all(end - start < 2 for start, end, _ in prediction["spans"])


def test_the_best_span_over_all_windows_is_the_answer(tokenizer):
    fmt = get_format("span_qa_v2")
    context = "aa bb cc dd"
    example = SpanQAExample("x", "q", context, (Answer("cc", 6),))
    offsets = np.array([[0, 2], [3, 5], [6, 8], [9, 11]], dtype=np.int32)
    features = [
        {"example": 0, "context_start": 4, "offsets": offsets[:2]},
        {"example": 0, "context_start": 4, "offsets": offsets[2:]},
    ]
    predictions = [
        {"spans": [(4, 5, 3.0)], "null": 1.0},  # "aa bb"
        {"spans": [(4, 4, 5.0), (5, 5, 4.0)], "null": 2.0},  # "cc"
    ]
    assert fmt.answers([example], features, predictions) == ["cc"]
    assert fmt.score(TASK, [example], features, predictions) == {"exact": 1.0, "f1": 1.0}
    # The null score (the lowest over windows) only wins when it beats the best span.
    predictions[0]["null"] = 6.0
    predictions[1]["null"] = 7.0
    assert fmt.answers([example], features, predictions) == [""]
    # SQuAD v1.1 rules always answer.
    assert get_format("span_qa").answers([example], features, predictions) == ["cc"]


@pytest.mark.parametrize(
    ("prediction", "gold", "exact", "f1"),
    [
        ("the cat", "a cat sat", 0.0, 2 / 3),
        ("The Cat!", "cat", 1.0, 1.0),
        ("cat sat on", "a cat sat", 0.0, 0.8),
        ("dog", "cat", 0.0, 0.0),
        ("", "cat", 0.0, 0.0),
    ],
)
def test_squad_exact_and_f1_on_hand_made_answers(prediction, gold, exact, f1):
    assert exact_match(prediction, gold) == exact
    assert token_f1(prediction, gold) == pytest.approx(f1, abs=1e-9)


def test_squad_scores_take_the_best_gold_and_an_unanswerable_gold_wants_an_empty_answer():
    scores = qa_scores(["the cat", "", "cat", "a"], [["dog", "a cat"], [], [], ["the"]])
    # 1 (best gold), 1 (empty for no answer), 0 (an answer for no answer), 1 (both empty).
    assert scores == {"exact": pytest.approx(3 / 4), "f1": pytest.approx(3 / 4)}


def test_mlqa_scores_chinese_by_characters():
    assert normalize_mlqa("北京大学。", "zh") == "北 京 大 学"
    assert token_f1("北京大学", "北京", "mlqa", "zh") == pytest.approx(2 / 3)
    assert token_f1("北京大学", "北京", "squad") == 0.0  # one whitespace token each


def test_mlqa_strips_each_languages_articles_and_unicode_punctuation():
    assert exact_match("la casa", "casa", "mlqa", "es") == 1.0
    assert exact_match("der Hund", "Hund", "mlqa", "de") == 1.0
    assert exact_match("der Hund", "Hund", "mlqa", "en") == 0.0
    assert exact_match("«casa»", "casa", "mlqa", "es") == 1.0
    assert exact_match("«casa»", "casa", "squad") == 0.0  # « is not ASCII punctuation


def test_the_mlqa_variant_scores_with_the_language_it_is_given(tokenizer):
    fmt = get_format("span_qa_mlqa")
    context = "vio la casa grande"
    example = SpanQAExample("e", "qué vio?", context, (Answer("casa", 7),))
    features = fmt.featurize(TASK, [example], tokenizer, max_length=64)
    (feature,) = features
    starts = [int(o[0]) for o in feature["offsets"]]
    ends = [int(o[1]) for o in feature["offsets"]]
    # The last piece starting at "la" and the piece ending "casa" (see _answer_positions).
    la = max(i for i, c in enumerate(starts) if c == context.index("la"))
    casa = ends.index(context.index("casa") + 4)
    first = feature["context_start"]
    prediction = {"spans": [(first + la, first + casa, 2.0)], "null": -math.inf}
    assert fmt.answers([example], features, [prediction]) == ["la casa"]
    assert fmt.score(TASK, [example], features, [prediction], language="es")["exact"] == 1.0
    assert fmt.score(TASK, [example], features, [prediction], language="en")["exact"] == 0.0

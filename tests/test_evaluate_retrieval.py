"""Retrieval targets evaluated straight from an encoder: the task's layer at the same relative
depth, every query counted, BUCC's threshold carried from dev to test, and per-query scores
that reproduce every value but the threshold."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

import trainers.evaluate as evaluate
from trainers.config import DataConfig, TinyEncoder
from trainers.model import build_from_config, save_encoder, tiny_config

FIXTURES = Path(__file__).parent / "fixtures" / "xtreme"


@pytest.fixture(scope="module")
def encoder_dir(benchmark, tmp_path_factory) -> Path:
    tokenizer = AutoTokenizer.from_pretrained(benchmark / "tokenizer")
    tiny = TinyEncoder(hidden_size=32, num_layers=4, num_heads=2, intermediate_size=64)
    out = tmp_path_factory.mktemp("encoder") / "model"
    save_encoder(build_from_config(tiny_config(tiny, len(tokenizer))), tokenizer, out)
    return out


def test_identical_sentences_are_retrieved_perfectly_by_any_encoder(encoder_dir, tmp_path):
    names, animals = ("Anna", "Marco", "Lena", "Omar", "Sofia"), ("dog", "cat", "horse", "bird")
    # Distinct words (numbers may all be <unk> to the synthetic tokenizer, which would tie).
    sentences = [f"{a} saw the {b} near {c} ." for a in names for b in animals for c in names]
    (tmp_path / "tatoeba").mkdir()
    for side in ("deu", "eng"):
        (tmp_path / "tatoeba" / f"tatoeba.deu-eng.{side}").write_text("\n".join(sentences) + "\n")
    result = evaluate.retrieval(
        encoder_dir, "tatoeba", ("de",), DataConfig(source="local", root=str(tmp_path))
    )
    assert result.rows == [
        {"language": "de", "metric": "accuracy", "value": 1.0, "n_examples": len(sentences)}
    ]
    n = len(sentences)
    assert result.examples == {"language": ["de"] * n, "metric": ["accuracy"] * n,
                               "example": list(range(n)), "numerator": [1.0] * n,
                               "denominator": [1.0] * n}  # fmt: skip


def test_the_default_layer_keeps_xtreme_s_relative_depth(encoder_dir, monkeypatch):
    layers = []

    class Spy(evaluate.EncoderPredictor):
        def __init__(self, *args, layer, **kwargs):
            layers.append(layer)
            super().__init__(*args, layer=layer, **kwargs)

    monkeypatch.setattr(evaluate, "EncoderPredictor", Spy)
    data = DataConfig(source="local", root=str(FIXTURES))
    evaluate.retrieval(encoder_dir, "tatoeba", ("de", "fr"), data)
    assert layers == [2]  # layer 14 of 24 -> 2 of 4 (rounded); one predictor for all languages
    evaluate.retrieval(encoder_dir, "tatoeba", ("de",), data, layer=-1, pooling="first")
    assert layers[-1] == -1


def test_bucc_scores_test_with_the_threshold_chosen_on_dev(encoder_dir, monkeypatch):
    calls = []
    real_scores = evaluate.retrieval_scores

    def spy(kind, query_emb, cand_emb, retrieval_set, threshold=None):
        result = real_scores(kind, query_emb, cand_emb, retrieval_set, threshold=threshold)
        calls.append((threshold, result[0]["threshold"]))
        return result

    monkeypatch.setattr(evaluate, "retrieval_scores", spy)
    result = evaluate.retrieval(
        encoder_dir, "bucc", ("de",), DataConfig(source="local", root=str(FIXTURES))
    )
    rows = result.rows
    (dev_given, dev_chosen), (test_given, test_used) = calls
    assert dev_given is None and test_given == dev_chosen == test_used
    assert {r["metric"] for r in rows} == {"f1", "precision", "recall", "threshold"}
    queries = len((FIXTURES / "bucc2018" / "de-en.test.de").read_text().splitlines())
    assert {r["n_examples"] for r in rows} == {queries}
    # Per source sentence, the test split's sums give its f1, precision and recall again.
    examples = result.examples
    sums = {}
    for metric, num, den in zip(
        examples["metric"], examples["numerator"], examples["denominator"], strict=True
    ):
        total = sums.setdefault(metric, [0.0, 0.0])
        total[0] += num
        total[1] += den
    assert {m: n / d if d else 0.0 for m, (n, d) in sums.items()} == pytest.approx(
        {r["metric"]: r["value"] for r in rows if r["metric"] != "threshold"}, abs=1e-9
    )
    assert examples["example"] == list(range(queries)) * 3


def test_a_task_with_a_head_is_not_a_retrieval_task(encoder_dir):
    with pytest.raises(ValueError, match="not a retrieval task"):
        evaluate.retrieval(encoder_dir, "xnli", ("de",), DataConfig(source="local", root="/x"))

"""The synthetic PAWS-X, PAN-X and BUCC tasks: they read through the real readers in every
language, carry what makes each task what it is (PAWS pairs share their words, entities are
well-formed IOB2, mined pairs hide among untranslated sentences), and adding them left every
file of earlier generator versions byte-identical."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from trainers.config import DataConfig
from trainers.data.source import load_examples
from trainers.synth.generator import (
    BUCC_SIZES,
    PANX_SIZES,
    PAWSX_SIZES,
    SQUAD_SIZES,
    XCOPA_SIZES,
    XQUAD_SIZES,
)
from trainers.tasks import get_task

LANGS = ("en", "qaa", "qab", "qac")

# sha256 prefixes of files that version 2 wrote, seed 0: the demo's published scores rest on them.
UNCHANGED_SINCE_VERSION_2 = {
    "corpus/qab.txt": "22acadfc68142892",
    "synth_xnli/test-qaa.tsv": "1f4bc58b68661f94",
    "synth_udpos/train-en.tsv": "3f41125c4ca0f03e",
    "synth_mnli/multinli_1.0_train.jsonl": "9e8f437134f9e974",
}


@pytest.fixture(scope="module")
def data(benchmark) -> DataConfig:
    return DataConfig(source="local", root=str(benchmark))


def test_earlier_files_are_byte_identical_to_version_2(benchmark):
    for name, prefix in UNCHANGED_SINCE_VERSION_2.items():
        assert hashlib.sha256((benchmark / name).read_bytes()).hexdigest()[:16] == prefix, name


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_pawsx_pairs_hold_the_same_words_whatever_their_label(data, split):
    langs = ("en",) if split == "train" else LANGS
    for lang in langs:
        examples = load_examples(get_task("synth_pawsx"), split, lang, data)
        assert len(examples) == PAWSX_SIZES[split]
        assert Counter(e.label for e in examples) == {
            "paraphrase": PAWSX_SIZES[split] // 2,
            "not_paraphrase": PAWSX_SIZES[split] // 2,
        }
    for e in load_examples(get_task("synth_pawsx"), split, "en", data):
        assert Counter(e.text_a.lower().split()) == Counter(e.text_b.lower().split())


def test_pawsx_dev_and_test_are_the_same_pairs_in_every_language(data):
    labels = {
        lang: [e.label for e in load_examples(get_task("synth_pawsx"), "test", lang, data)]
        for lang in LANGS
    }
    assert all(labels[lang] == labels["en"] for lang in LANGS)


def test_panx_tags_are_well_formed_iob2_with_people_and_places(data):
    for lang in LANGS:
        for split in ("train", "dev", "test") if lang == "en" else ("dev", "test"):
            sentences = load_examples(get_task("synth_panx"), split, lang, data)
            assert len(sentences) == PANX_SIZES[split]
            tags = Counter(t for s in sentences for t in s.tags)
            assert {"O", "B-PER", "I-PER", "B-LOC"} <= set(tags)
            for s in sentences:
                for before, tag in zip(("O", *s.tags), s.tags, strict=False):
                    assert not tag.startswith("I-") or before[2:] == tag[2:]


def test_bucc_gold_pairs_hide_among_untranslated_sentences(data):
    task = get_task("synth_bucc")
    for lang in ("qaa", "qab", "qac"):
        for split, (pairs, distractors) in BUCC_SIZES.items():
            (mined,) = load_examples(task, split, lang, data)
            assert len(mined.query_ids) == len(mined.candidate_ids) == pairs + distractors
            assert sum(len(g) for g in mined.gold.values()) == pairs
            assert len(set(mined.queries)) == len(mined.queries)  # no ambiguous duplicates
    assert task.needs_training is False and "en" not in task.languages


def test_bucc_ids_follow_the_release_naming(benchmark):
    first = (Path(benchmark) / "synth_bucc" / "qab-en.test.qab").read_text().splitlines()[0]
    assert first.split("\t")[0] == "qab-000000000"


def test_squad_has_a_third_unanswerable_questions_and_exact_answer_offsets(data):
    # The reader itself rejects an answer_start that does not point at the answer text.
    for split, size in SQUAD_SIZES.items():
        examples = load_examples(get_task("synth_squad"), split, "en", data)
        assert len(examples) == size
        unanswerable = sum(not e.answers for e in examples) / size
        assert 0.28 < unanswerable < 0.38
        for e in examples:
            assert e.question.count("?") == 1
            assert all(e.context[a.start : a.start + len(a.text)] == a.text for a in e.answers)


def test_xquad_asks_the_same_answerable_questions_in_every_language(data):
    ids = {}
    for lang in LANGS:
        examples = load_examples(get_task("synth_xquad"), "test", lang, data)
        assert len(examples) == XQUAD_SIZES["test"] and all(e.answers for e in examples)
        ids[lang] = [e.qid for e in examples]
    assert all(ids[lang] == ids["en"] for lang in LANGS)
    assert len(load_examples(get_task("synth_xquad"), "train", "en", data)) == XQUAD_SIZES["train"]


def test_hellaswag_items_have_four_distinct_endings_and_spread_answers(data):
    examples = load_examples(get_task("synth_hellaswag"), "train", "en", data)
    assert all(len(set(e.choices)) == 4 for e in examples)
    answers = Counter(e.label for e in examples)
    assert set(answers) == {0, 1, 2, 3} and min(answers.values()) > len(examples) / 5


def test_xcopa_asks_the_same_items_in_every_language(data):
    labels = {
        lang: [e.label for e in load_examples(get_task("synth_xcopa"), "test", lang, data)]
        for lang in LANGS
    }
    assert all(labels[lang] == labels["en"] for lang in LANGS)
    assert len(labels["en"]) == XCOPA_SIZES["test"] and 0.4 < sum(labels["en"]) / 400 < 0.6


@pytest.mark.parametrize(("task", "parallel"), [("synth_mlqa", True), ("synth_tydiqa", False)])
def test_mlqa_and_tydiqa_layouts_hold_answerable_questions_per_language(data, task, parallel):
    ids = {}
    for lang in LANGS:
        examples = load_examples(get_task(task), "test", lang, data)
        assert len(examples) == 300 and all(e.answers for e in examples)
        ids[lang] = [e.qid for e in examples]
    # MLQA's test questions are parallel across languages; TyDiQA's are each language's own.
    assert all((ids[lang] == ids["en"]) == parallel for lang in LANGS if lang != "en")
    assert get_task("synth_mlqa").format == "span_qa_mlqa"

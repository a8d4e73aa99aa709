"""Readers for every real release format: malformed rows name file:line, missing files name the
file, and each format's traps are handled (SQuAD v2 unanswerables and answer offsets, PAN-X's
`lang:` prefix, BUCC gold pairs, Tatoeba alignment, XTREME's stripped test labels); the hub
loader maps each format family's real column names (with `datasets.load_dataset` faked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainers.config import DataConfig
from trainers.data import readers as R
from trainers.data.examples import (
    Answer,
    ClassificationExample,
    DataError,
    MultipleChoiceExample,
    SpanQAExample,
    TaggingExample,
)
from trainers.data.source import load_examples
from trainers.tasks import get_task

NLI = ("entailment", "neutral", "contradiction")
PANX = get_task("panx").labels
LABELS = {
    R.read_pawsx_tsv: get_task("pawsx").labels,
    R.read_glue_tsv: get_task("sst2").labels,
    R.read_anli_jsonl: NLI,
    R.read_nli_jsonl: NLI,
    R.read_panx_tsv: PANX,
}
SQUAD = {"id": "q1", "question": "Where?", "answers": [{"text": "Paris", "answer_start": 0}]}


def squad_doc(context: str, *qas: dict) -> str:
    return json.dumps(
        {"version": "1.1", "data": [{"paragraphs": [{"context": context, "qas": qas}]}]}
    )


# (reader, file name, content, the message a malformed second record gives)
MALFORMED = [
    (R.read_pawsx_tsv, "dev-de.tsv", "a\tb\t1\na\tb\t2\n", r"dev-de\.tsv:2: unknown label '2'"),
    (R.read_pawsx_tsv, "test-de.tsv", "a\tb\t1\na\tb\n", r"test-de\.tsv:2: no label column"),
    (
        R.read_glue_tsv,
        "train.tsv",
        "sentence\tlabel\ngood film\t1\nbad film\n",
        r"train\.tsv:3: expected 2 tab-separated columns, found 1",
    ),
    (R.read_glue_tsv, "test.tsv", "index\tsentence\n0\tgood\n", r"test\.tsv:1: no 'label' column"),
    (
        R.read_anli_jsonl,
        "train.jsonl",
        '{"context": "a", "hypothesis": "b", "label": "e"}\n{"context": "a", "label": "e"}\n',
        r"train\.jsonl:2: not a ANLI record \(no 'hypothesis'\)",
    ),
    (
        R.read_anli_jsonl,
        "dev.jsonl",
        '{"context": "a", "hypothesis": "b", "label": "e"}\n{"context": "a", "hypothesis": "b", '
        '"label": "x"}\n',
        r"dev\.jsonl:2: unknown label 'x'",
    ),
    (
        R.read_nli_jsonl,
        "snli_1.0_dev.jsonl",
        '{"sentence1": "a", "sentence2": "b", "gold_label": "neutral"}\n{broken\n',
        r"snli_1\.0_dev\.jsonl:2: not a MultiNLI record",
    ),
    (
        R.read_panx_tsv,
        "dev-de.tsv",
        "Paris\tB-LOC\n\nBerlin\tB-CITY\n",
        r"dev-de\.tsv:3: unknown tag",
    ),
    (R.read_panx_tsv, "test-de.tsv", "Paris\tB-LOC\nBerlin\n", r"test-de\.tsv:2: .* no tag"),
    (
        R.read_hellaswag_jsonl,
        "hellaswag_val.jsonl",
        '{"ctx": "c", "endings": ["a", "b"], "label": 1}\n{"ctx": "c", "endings": ["a"], "label": 3}\n',
        r"hellaswag_val\.jsonl:2: label 3 is not a choice index 0-0",
    ),
    (
        R.read_hellaswag_jsonl,
        "hellaswag_test.jsonl",
        '{"ctx": "c", "endings": ["a", "b"]}\n',
        r"hellaswag_test\.jsonl:1: no label",
    ),
    (
        R.read_cosmosqa,
        "valid.csv",
        'id,context,question,answer0,answer1,answer2,answer3,label\nx,"two\nlines",q,a,b,c,d,0\n'
        "y,c,q,a,b,c,d,7\n",
        r"valid\.csv:4: label '7' is not a choice index 0-3",
    ),
    (
        R.read_cosmosqa,
        "train.csv",
        "id,context,question,answer0,answer1,answer2,answer3,label\nx,c,q,a,b\n",
        r"train\.csv:2: expected 8 comma-separated columns",
    ),
    (
        R.read_commonsenseqa_jsonl,
        "dev_rand_split.jsonl",
        '{"answerKey": "A", "question": {"stem": "s", "choices": [{"label": "A", "text": "a"}]}}\n'
        '{"answerKey": "C", "question": {"stem": "s", "choices": [{"label": "A", "text": "a"}]}}\n',
        r"dev_rand_split\.jsonl:2: answerKey 'C' not in \['A'\]",
    ),
    (
        R.read_copa_jsonl,
        "val-et.jsonl",
        '{"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 0}\n'
        '{"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "label": 0}\n',
        r"val-et\.jsonl:2: question 'why' is not cause or effect",
    ),
]


@pytest.mark.parametrize(("reader", "name", "content", "message"), MALFORMED)
def test_a_malformed_record_names_file_and_line(tmp_path, reader, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        reader(path, LABELS.get(reader, ()))


@pytest.mark.parametrize("name", sorted(R.READERS))
def test_a_missing_file_is_named(tmp_path, name):
    with pytest.raises(DataError, match=r"nope\.txt: file not found"):
        R.READERS[name](tmp_path / "nope.txt", NLI)


@pytest.mark.parametrize("name", sorted(R.SET_READERS))
def test_a_missing_file_of_a_retrieval_split_is_named(tmp_path, name):
    paths = {"bucc": 3, "tatoeba": 2, "lareqa": 1, "mewslix": 2}[name]
    with pytest.raises(DataError, match=r"nope\d\.txt: file not found"):
        R.SET_READERS[name]([tmp_path / f"nope{i}.txt" for i in range(paths)], ())


def test_xtreme_csv_quoting_is_undone(tmp_path):
    path = tmp_path / "dev-en.tsv"
    path.write_text('"He said ""yes""."\tHe agreed.\t1\n')
    labels = get_task("pawsx").labels
    assert R.read_pawsx_tsv(path, labels) == [
        ClassificationExample('He said "yes".', "He agreed.", "paraphrase")
    ]


def test_glue_tsv_reads_qqp_pairs_by_header(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tA?\tB?\t1\n")
    labels = get_task("qqp").labels
    assert R.read_glue_tsv(path, labels) == [ClassificationExample("A?", "B?", "duplicate")]


def test_squad_v2_unanswerable_questions_have_no_answers(tmp_path):
    path = tmp_path / "dev-v2.0.json"
    impossible = {"id": "q2", "question": "Who?", "answers": [], "is_impossible": True}
    path.write_text(squad_doc("Paris is big.", {**SQUAD, "is_impossible": False}, impossible))
    assert R.read_squad_json(path, ()) == [
        SpanQAExample("q1", "Where?", "Paris is big.", (Answer("Paris", 0),)),
        SpanQAExample("q2", "Who?", "Paris is big.", ()),
    ]


def test_answer_start_must_point_at_the_answer_text(tmp_path):
    path = tmp_path / "xquad.de.json"
    lines = squad_doc("In Paris.", SQUAD).replace(', "qas"', ',\n"qas"')
    path.write_text(lines)
    with pytest.raises(DataError, match=r"xquad\.de\.json:2: .*qas\[0\] \(id q1\): answer_start 0"):
        R.read_squad_json(path, ())


def test_every_answer_offset_in_the_fixtures_points_at_its_text():
    root = Path(__file__).parent / "fixtures"
    for path in [*root.glob("xtreme/**/*.json"), *root.glob("intermediate/squad/*.json")]:
        if "lareqa" in path.parts:
            continue
        for example in R.read_squad_json(path, ()):
            for answer in example.answers:
                assert (
                    example.context[answer.start : answer.start + len(answer.text)] == answer.text
                )


def test_xtremes_stripped_test_answers_are_refused(tmp_path):
    path = tmp_path / "xquad.en.json"
    stripped = {"id": "q1", "question": "Where?", "answers": [{"answer_start": 0, "text": ""}]}
    path.write_text(squad_doc("Paris.", stripped))
    with pytest.raises(DataError, match="empty answer text .*strips test answers"):
        R.read_squad_json(path, ())


def test_a_squad_question_with_no_answers_must_be_marked_impossible(tmp_path):
    path = tmp_path / "dev-v1.1.json"
    path.write_text(squad_doc("Paris.", {"id": "q1", "question": "Where?", "answers": []}))
    with pytest.raises(DataError, match="no answers and not marked is_impossible"):
        R.read_squad_json(path, ())


def test_broken_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "train-v1.1.json"
    path.write_text('{"data": [\n{oops}]}')
    with pytest.raises(DataError, match=r"train-v1\.1\.json:2:2: not a SQuAD-format file"):
        R.read_squad_json(path, ())


def test_panx_raw_lang_prefix_is_stripped(tmp_path):
    path = tmp_path / "de-train"
    path.write_text("de:Angela\tB-PER\nde:Merkel\tI-PER\n\nde:in\tO\nde:Berlin\tB-LOC\n")
    assert R.read_panx_tsv(path, PANX) == [
        TaggingExample(("Angela", "Merkel"), ("B-PER", "I-PER")),
        TaggingExample(("in", "Berlin"), ("O", "B-LOC")),
    ]


def test_panx_tokens_that_only_look_prefixed_are_kept(tmp_path):
    path = tmp_path / "train-en.tsv"
    path.write_text("re:Invent\tB-ORG\nin\tO\nLas\tB-LOC\n")
    assert R.read_panx_tsv(path, PANX)[0].tokens == ("re:Invent", "in", "Las")


def _bucc(tmp_path: Path, gold: str) -> list[Path]:
    files = {
        "de-en.test.de": "de-1\tDer Himmel ist blau.\nde-2\tIch trinke Kaffee.\nde-3\tNein.\n",
        "de-en.test.en": "en-1\tI drink coffee.\nen-2\tThe sky is blue.\n",
        "de-en.test.gold": gold,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [tmp_path / name for name in files]


def test_bucc_gold_pairs_map_source_ids_to_english_ids(tmp_path):
    found = R.read_bucc(_bucc(tmp_path, "de-1\ten-2\nde-2\ten-1\n"), ())
    assert found.query_ids == ("de-1", "de-2", "de-3")
    assert found.candidates == ("I drink coffee.", "The sky is blue.")
    assert found.gold == {"de-1": frozenset({"en-2"}), "de-2": frozenset({"en-1"})}


def test_a_bucc_gold_pair_with_an_unknown_id_names_file_and_line(tmp_path):
    with pytest.raises(DataError, match=r"de-en\.test\.gold:2: pair .* unknown sentence id"):
        R.read_bucc(_bucc(tmp_path, "de-1\ten-2\nde-9\ten-1\n"), ())


def test_a_missing_bucc_gold_file_explains_xtremes_deletion(tmp_path):
    paths = _bucc(tmp_path, "")
    paths[2].unlink()
    with pytest.raises(DataError, match=r"test\.gold: file not found \(XTREME's download script"):
        R.read_bucc(paths, ())


def test_tatoeba_pairs_line_i_with_line_i(tmp_path):
    src, eng = tmp_path / "tatoeba.deu-eng.deu", tmp_path / "tatoeba.deu-eng.eng"
    src.write_text("Ich habe Hunger.\nDas Buch ist rot.\n")
    eng.write_text("I am hungry.\nThe book is red.\n")
    found = R.read_tatoeba([src, eng], ())
    assert found.queries == ("Ich habe Hunger.", "Das Buch ist rot.")
    assert found.gold == {"0": frozenset({"0"}), "1": frozenset({"1"})}
    assert found.candidates[int(next(iter(found.gold["1"])))] == "The book is red."


def test_tatoeba_sides_of_different_lengths_are_refused(tmp_path):
    src, eng = tmp_path / "a.deu", tmp_path / "a.eng"
    src.write_text("Eins.\nZwei.\n")
    eng.write_text("One.\n")
    with pytest.raises(DataError, match=r"a\.deu: 2 sentences but .*a\.eng has 1"):
        R.read_tatoeba([src, eng], ())


def test_a_blank_tatoeba_line_names_file_and_line(tmp_path):
    src, eng = tmp_path / "a.deu", tmp_path / "a.eng"
    src.write_text("Eins.\n\nDrei.\n")
    eng.write_text("One.\nTwo.\nThree.\n")
    with pytest.raises(DataError, match=r"a\.deu:2: empty sentence"):
        R.read_tatoeba([src, eng], ())


def test_xcopa_test_files_with_zeroed_labels_are_refused(tmp_path):
    path = tmp_path / "test-et.jsonl"
    row = {"premise": "p", "choice1": "a", "choice2": "b", "question": "effect", "label": 0}
    path.write_text("".join(json.dumps(row) + "\n" for _ in range(25)))
    with pytest.raises(DataError, match="every label is 0: XTREME's download script zeroes"):
        R.read_copa_jsonl(path, ())


def test_mewslix_test_mentions_without_entity_ids_are_refused(tmp_path):
    root = Path(__file__).parent / "fixtures" / "xtreme" / "mewslix"
    row = json.loads((root / "wikinews_mentions" / "test-en.jsonl").read_text())
    row["mentions"][0]["entity_id"] = ""
    (tmp_path / "test-en.jsonl").write_text(json.dumps(row) + "\n")
    paths = [tmp_path / "test-en.jsonl", root / "candidate_set_entities.jsonl"]
    with pytest.raises(DataError, match=r"test-en\.jsonl:1: mention test-en-0: no entity_id"):
        R.read_mewslix(paths, ())


# ---- the hub loader, per format family, with datasets.load_dataset faked ----


@pytest.fixture
def hub(monkeypatch):
    """Tables keyed by (dataset, config, split); records what was asked for."""
    datasets = pytest.importorskip("datasets")
    tables: dict = {}
    asked: list = []

    def load_dataset(path, name=None, split=None, cache_dir=None):
        asked.append((path, name, split))
        if (path, name, split) not in tables:
            raise FileNotFoundError(f"no such table {(path, name, split)}")
        return datasets.Dataset.from_dict(tables[(path, name, split)])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return tables, asked


HUB = DataConfig(source="hub")


def test_hub_nli_maps_ints_to_names_and_skips_unlabelled_rows(hub, capsys):
    tables, asked = hub
    row = {"premise": ["p", "q"], "hypothesis": ["h", "i"], "label": [2, -1]}
    tables[("stanfordnlp/snli", None, "train")] = row
    tables[("nyu-mll/multi_nli", None, "train")] = {**row, "label": [0, 1]}
    for r in (1, 2, 3):
        tables[("facebook/anli", None, f"train_r{r}")] = {**row, "label": [1, 1]}
    examples = load_examples(get_task("anli_plus"), "train", "en", HUB)
    assert examples[0] == ClassificationExample("p", "h", "contradiction")
    assert len(examples) == 1 + 2 + 3 * 2
    assert [a[2] for a in asked][-3:] == ["train_r1", "train_r2", "train_r3"]
    assert "stanfordnlp/snli[None:train]: skipped 1 rows without a label" in capsys.readouterr().out


def test_hub_single_sentence_classification_has_no_second_text(hub):
    tables, _ = hub
    tables[("nyu-mll/glue", "sst2", "validation")] = {
        "sentence": ["fine"],
        "label": [1],
        "idx": [0],
    }
    examples = load_examples(get_task("sst2"), "test", "en", HUB)
    assert examples == [ClassificationExample("fine", None, "positive")]


def test_hub_tagging_maps_class_label_ints_to_tags(hub):
    tables, asked = hub
    tables[("google/xtreme", "PAN-X.de", "validation")] = {
        "tokens": [["Angela", "Merkel", "in", "Berlin"]],
        "ner_tags": [[1, 2, 0, 5]],
        "langs": [["de"] * 4],
    }
    examples = load_examples(get_task("panx"), "dev", "de", HUB)
    assert examples == [
        TaggingExample(("Angela", "Merkel", "in", "Berlin"), ("B-PER", "I-PER", "O", "B-LOC"))
    ]


def test_hub_multiple_choice_columns_of_each_release(hub):
    tables, _ = hub
    tables[("Rowan/hellaswag", None, "train")] = {
        "ctx": ["c"],
        "endings": [["a", "b", "c", "d"]],
        "label": ["2"],
    }
    tables[("allenai/cosmos_qa", None, "validation")] = {
        "context": ["ctx"],
        "question": ["q?"],
        **{f"answer{i}": [f"a{i}"] for i in range(4)},
        "label": [3],
    }
    tables[("tau/commonsense_qa", None, "train")] = {
        "question": ["stem?", "hidden?"],
        "choices": [{"label": ["A", "B"], "text": ["x", "y"]}] * 2,
        "answerKey": ["B", ""],
    }
    assert load_examples(get_task("hellaswag"), "train", "en", HUB) == [
        MultipleChoiceExample("c", "", ("a", "b", "c", "d"), 2)
    ]
    assert load_examples(get_task("cosmosqa"), "test", "en", HUB) == [
        MultipleChoiceExample("ctx", "q?", ("a0", "a1", "a2", "a3"), 3)
    ]
    assert load_examples(get_task("commonsenseqa"), "train", "en", HUB) == [
        MultipleChoiceExample("", "stem?", ("x", "y"), 1)
    ]


def test_hub_xcopa_trains_on_copa_and_tests_on_xcopa(hub):
    tables, asked = hub
    copa = {"premise": ["p"], "choice1": ["a"], "choice2": ["b"], "question": ["cause"]}
    tables[("aps/super_glue", "copa", "train")] = {**copa, "label": [1]}
    tables[("cambridgeltl/xcopa", "et", "test")] = {**copa, "label": [0]}
    xcopa = get_task("xcopa")
    assert load_examples(xcopa, "train", "en", HUB)[0].label == 1
    assert load_examples(xcopa, "test", "et", HUB) == [
        MultipleChoiceExample("p", "cause", ("a", "b"), 0)
    ]
    assert asked == [("aps/super_glue", "copa", "train"), ("cambridgeltl/xcopa", "et", "test")]


def test_hub_span_qa_maps_answer_dicts_and_empty_answers_are_unanswerable(hub):
    tables, _ = hub
    tables[("rajpurkar/squad_v2", None, "validation")] = {
        "id": ["a", "b"],
        "title": ["t", "t"],
        "context": ["Paris is big.", "Paris is big."],
        "question": ["Where?", "Who?"],
        "answers": [{"text": ["Paris"], "answer_start": [0]}, {"text": [], "answer_start": []}],
    }
    assert load_examples(get_task("squad_v2"), "dev", "en", HUB) == [
        SpanQAExample("a", "Where?", "Paris is big.", (Answer("Paris", 0),)),
        SpanQAExample("b", "Who?", "Paris is big.", ()),
    ]


def test_hub_tydiqa_keeps_only_the_languages_rows(hub):
    tables, _ = hub
    tables[("google/xtreme", "tydiqa", "validation")] = {
        "id": ["finnish-1-0", "english-2-0"],
        "title": ["t", "t"],
        "context": ["Helsinki on pääkaupunki.", "Helsinki is the capital."],
        "question": ["Mikä?", "What?"],
        "answers": [
            {"text": ["Helsinki"], "answer_start": [0]},
            {"text": ["Helsinki"], "answer_start": [0]},
        ],
    }
    examples = load_examples(get_task("tydiqa"), "test", "fi", HUB)
    assert [e.qid for e in examples] == ["finnish-1-0"]


def test_hub_span_offsets_are_checked(hub):
    tables, _ = hub
    tables[("google/xtreme", "XQuAD.de", "validation")] = {
        "id": ["a"],
        "context": ["In Paris."],
        "question": ["Wo?"],
        "answers": [{"text": ["Paris"], "answer_start": [0]}],
    }
    with pytest.raises(
        DataError, match=r"google/xtreme\[XQuAD\.de:validation\]: row 0: answer_start"
    ):
        load_examples(get_task("xquad"), "test", "de", HUB)


def test_hub_tatoeba_pairs_become_an_aligned_retrieval_set(hub):
    tables, asked = hub
    tables[("google/xtreme", "tatoeba.deu", "validation")] = {
        "source_sentence": ["Hallo.", "Danke."],
        "target_sentence": ["Hello.", "Thanks."],
        "source_lang": ["deu", "deu"],
        "target_lang": ["eng", "eng"],
    }
    (found,) = load_examples(get_task("tatoeba"), "test", "de", HUB)
    assert found.queries == ("Hallo.", "Danke.") and found.candidates == ("Hello.", "Thanks.")
    assert found.gold == {"0": frozenset({"0"}), "1": frozenset({"1"})}


def test_a_hub_failure_names_dataset_config_and_split(hub):
    with pytest.raises(
        DataError, match=r"google-research-datasets/paws-x\[ko:test\]: could not load"
    ):
        load_examples(get_task("pawsx"), "test", "ko", HUB)


def test_a_hub_split_of_only_unlabelled_rows_is_an_error(hub):
    tables, _ = hub
    tables[("nyu-mll/glue", "qqp", "validation")] = {
        "question1": ["a"],
        "question2": ["b"],
        "label": [-1],
    }
    with pytest.raises(
        DataError, match=r"nyu-mll/glue\[qqp:validation\]: no examples \(1 unlabelled\)"
    ):
        load_examples(get_task("qqp"), "dev", "en", HUB)


def test_tasks_without_a_hub_source_say_so(hub):
    with pytest.raises(DataError, match="task bucc has no Hugging Face source"):
        load_examples(get_task("bucc"), "test", "de", HUB)
    with pytest.raises(DataError, match="no config for language 'lt'"):
        load_examples(get_task("udpos"), "test", "lt", HUB)

"""The task library: every X-STILTs intermediate task and XTREME / XTREME-R target is registered
with its role, format, metric and XTREME's exact language lists, and each task's local loader
reads its fixture (tests/fixtures, in the release layout) into the right examples."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trainers.config import DataConfig
from trainers.data.examples import (
    ClassificationExample,
    DataError,
    MultipleChoiceExample,
    RetrievalSet,
    SpanQAExample,
    TaggingExample,
)
from trainers.data.readers import READERS, SET_READERS
from trainers.data.source import load_examples, resolve_labels
from trainers.tasks import REGISTRY, get_task
from trainers.tasks.registry import LocalFiles, Task, TaskRegistry

FIXTURES = Path(__file__).parent / "fixtures"

INTERMEDIATE = {
    "anli_plus": "classification",
    "mnli": "classification",
    "qqp": "classification",
    "sst2": "classification",
    "squad_v2": "span_qa_v2",
    "hellaswag": "multiple_choice",
    "cosmosqa": "multiple_choice",
    "commonsenseqa": "multiple_choice",
    "ccg": "tagging",
}
TARGETS = {
    "xnli": "classification",
    "pawsx": "classification",
    "udpos": "tagging",
    "panx": "tagging",
    "xquad": "span_qa",
    "mlqa": "span_qa_mlqa",
    "tydiqa": "span_qa",
    "bucc": "retrieval",
    "tatoeba": "retrieval",
    "xcopa": "multiple_choice",
    "lareqa": "retrieval",
    "mewslix": "retrieval",
}
METRICS = {
    **dict.fromkeys(["anli_plus", "mnli", "qqp", "sst2", "xnli", "pawsx"], "accuracy"),
    **dict.fromkeys(["hellaswag", "cosmosqa", "commonsenseqa", "xcopa", "tatoeba"], "accuracy"),
    **dict.fromkeys(["squad_v2", "xquad", "mlqa", "tydiqa", "udpos", "panx", "bucc"], "f1"),
    "ccg": "token_accuracy",
    "lareqa": "map@20",
    "mewslix": "map@20",
}

# google-research/xtreme evaluate.py: XTREME_TASK2LANGS and XTREME_R_TASK2LANGS (LAReQA's list
# there is empty because it is scored over one pool: its languages are XQuAD-R's eleven).
XTREME = {
    "pawsx": "de en es fr ja ko zh",
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh",
    "panx": "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru "
    "ja ka ko th sw yo my zh kk tr et fi hu",
    "udpos": "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th "
    "tl tr ur vi yo zh",
    "bucc": "de fr ru zh",
    "tatoeba": "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka "
    "ko th sw zh kk tr et fi hu",
    "xquad": "en es de el ru tr ar vi th zh hi",
    "mlqa": "en es de ar hi vi zh",
    "tydiqa": "en ar bn fi id ko ru sw te",
}
XTREME_R_EXTRA = {
    "panx": "qu pl uk az lt pa gu ro",
    "udpos": "lt pl uk wo ro",
    "tatoeba": "az lt pl uk ro",
    "xquad": "ro",
    "xnli": "",
    "mlqa": "",
    "tydiqa": "",
}
XTREME_R_ONLY = {
    "xcopa": "et ht id it qu sw ta th tr vi zh",
    "mewslix": "ar de en es fa ja pl ro ta tr uk",
    "lareqa": "ar de el en es hi ru th tr vi zh",
}
COUNTS = {"xnli": 15, "pawsx": 7, "udpos": 33, "panx": 40, "xquad": 11, "mlqa": 7, "tydiqa": 9}
COUNTS |= {"bucc": 4, "tatoeba": 36, "xcopa": 11, "lareqa": 11, "mewslix": 11}

# Languages each target's fixture holds (two per target, as in download_data.sh's layout).
FIXTURE_LANGUAGES = {
    "xnli": ("en", "de"),
    "pawsx": ("en", "de"),
    "udpos": ("en", "de"),
    "panx": ("en", "de"),
    "xquad": ("en", "de"),
    "mlqa": ("en", "de"),
    "tydiqa": ("en", "fi"),
    "bucc": ("de", "fr"),
    "tatoeba": ("de", "fr"),
    "xcopa": ("et", "it"),
    "lareqa": ("en", "de"),
    "mewslix": ("en", "de"),
}
EXAMPLE_TYPES = {
    "classification": ClassificationExample,
    "tagging": TaggingExample,
    "multiple_choice": MultipleChoiceExample,
    "span_qa": SpanQAExample,
    "span_qa_v2": SpanQAExample,
    "span_qa_mlqa": SpanQAExample,
    "retrieval": RetrievalSet,
}


def langs(spaced: str) -> set[str]:
    return set(spaced.split())


@pytest.mark.parametrize(("name", "fmt"), sorted(INTERMEDIATE.items()))
def test_every_intermediate_task_is_registered_with_its_format(name, fmt):
    task = get_task(name)
    assert task.roles == ("intermediate",)
    assert (task.format, task.metric, task.languages) == (fmt, METRICS[name], ("en",))


@pytest.mark.parametrize(("name", "fmt"), sorted(TARGETS.items()))
def test_every_target_task_is_registered_with_its_format(name, fmt):
    task = get_task(name)
    assert task.roles == ("target",)
    assert (task.format, task.metric) == (fmt, METRICS[name])
    assert len(task.languages) == COUNTS[name]


@pytest.mark.parametrize("name", sorted(XTREME))
def test_xtreme_languages_are_xtremes_exact_lists(name):
    assert set(get_task(name).test_languages("xtreme")) == langs(XTREME[name])


@pytest.mark.parametrize("name", sorted(XTREME_R_EXTRA))
def test_xtreme_r_extends_the_xtreme_lists(name):
    task = get_task(name)
    expected = langs(XTREME[name]) | langs(XTREME_R_EXTRA[name])
    assert set(task.test_languages("xtreme-r")) == expected
    assert set(task.xtreme_r_extra_languages) == langs(XTREME_R_EXTRA[name])


@pytest.mark.parametrize("name", sorted(XTREME_R_ONLY))
def test_xtreme_r_additions_are_not_xtreme_tasks(name):
    task = get_task(name)
    assert set(task.test_languages("xtreme-r")) == langs(XTREME_R_ONLY[name])
    with pytest.raises(ValueError, match=f"{name} is not part of xtreme$"):
        task.test_languages("xtreme")


@pytest.mark.parametrize("name", ["pawsx", "bucc"])
def test_xtreme_r_dropped_pawsx_and_bucc(name):
    with pytest.raises(ValueError, match="not part of xtreme-r"):
        get_task(name).test_languages("xtreme-r")


def test_an_unknown_benchmark_is_refused():
    with pytest.raises(ValueError, match="benchmark must be one of"):
        get_task("xnli").test_languages("xtreme-up")


def test_a_task_registered_twice_is_an_error():
    registry = TaskRegistry()
    registry.add(get_task("qqp"))
    with pytest.raises(ValueError, match="'qqp' is registered twice"):
        registry.add(dataclasses.replace(get_task("qqp"), description="another"))


def test_every_task_names_a_known_reader():
    for name in REGISTRY.names():
        task = get_task(name)
        assert (task.reader in SET_READERS) == (task.format == "retrieval"), name
        assert task.reader in READERS or task.reader in SET_READERS, name


def test_retrieval_targets_need_no_training_and_pool_layer_14_of_24():
    for name in ("bucc", "tatoeba", "lareqa", "mewslix"):
        task = get_task(name)
        assert not task.needs_training and task.local.train is None
        rep = task.representation
        assert (rep.layer, rep.reference_layers, rep.pooling) == (14, 24, "mean")
        assert rep.layer_for(24) == 14 and rep.layer_for(2) == 1
    assert all(get_task(n).needs_training for n in [*INTERMEDIATE, "xnli", "xcopa"])


def test_a_split_a_task_does_not_have_is_named():
    data = DataConfig(source="local", root=str(FIXTURES / "xtreme"))
    with pytest.raises(DataError, match="tatoeba declares no local train files .*no training"):
        load_examples(get_task("tatoeba"), "train", "de", data)


def test_chance_is_one_over_labels_or_choices():
    assert get_task("qqp").chance() == 0.5
    assert get_task("commonsenseqa").chance() == 0.2
    assert get_task("hellaswag").chance() == 0.25
    assert get_task("squad_v2").chance() == 0.0


def test_a_task_that_needs_training_must_declare_train_files():
    with pytest.raises(ValueError, match="declares no train files"):
        Task(
            name="t",
            format="classification",
            reader="xnli_tsv",
            labels=("a",),
            metric="accuracy",
            languages=("en",),
            roles=("target",),
            local=LocalFiles(train=None, dev="d.tsv", test="t.tsv"),
        )


def _cases():
    for name in sorted(INTERMEDIATE):
        for split in ("train", "dev", "test"):
            yield name, split, "en"
    for name in sorted(TARGETS):
        task = get_task(name)
        for split in ("train", "dev", "test"):
            if task.local.paths(split, FIXTURE_LANGUAGES[name][0]):
                for lang in ("en",) if split == "train" else FIXTURE_LANGUAGES[name]:
                    yield name, split, lang


@pytest.mark.parametrize(("name", "split", "lang"), list(_cases()))
def test_each_task_reads_its_fixture(name, split, lang):
    task = get_task(name)
    root = FIXTURES / ("intermediate" if name in INTERMEDIATE else "xtreme")
    data = DataConfig(source="local", root=str(root))
    examples = load_examples(task, split, lang, data)
    assert examples and all(isinstance(e, EXAMPLE_TYPES[task.format]) for e in examples)
    labels = resolve_labels(task, data).labels
    for example in examples:
        if isinstance(example, ClassificationExample):
            assert example.label in labels
        elif isinstance(example, TaggingExample):
            assert set(example.tags) <= set(labels) and len(example.tags) == len(example.tokens)
        elif isinstance(example, MultipleChoiceExample):
            assert len(example.choices) == task.num_choices
            assert 0 <= example.label < task.num_choices
        elif isinstance(example, SpanQAExample):
            assert all(example.context[a.start :].startswith(a.text) for a in example.answers)
        else:
            assert len(examples) == 1 and example.gold
            assert set(example.gold) <= set(example.query_ids)
            assert all(c in example.candidate_ids for g in example.gold.values() for c in g)


def test_anli_plus_concatenates_snli_mnli_and_the_three_anli_rounds(capsys):
    data = DataConfig(source="local", root=str(FIXTURES / "intermediate"))
    examples = load_examples(get_task("anli_plus"), "train", "en", data)
    # SNLI: 3 rows, one without a gold label; MultiNLI: 3; ANLI: 3 per round.
    assert len(examples) == 2 + 3 + 3 * 3
    assert {e.label for e in examples} == {"entailment", "neutral", "contradiction"}
    assert (
        "snli_1.0_train.jsonl: skipped 1 examples without a gold label" in capsys.readouterr().out
    )


def test_ccg_labels_come_from_the_label_file_and_the_task_stays_frozen():
    data = DataConfig(source="local", root=str(FIXTURES / "intermediate"))
    ccg = get_task("ccg")
    resolved = resolve_labels(ccg, data)
    assert ccg.labels == () and resolved is not ccg
    assert resolved.labels[:3] == ("N", "N/N", "NP[nb]/N") and resolved.num_labels == 7
    assert resolve_labels(get_task("udpos"), data) is get_task("udpos")


def test_a_missing_ccg_label_file_is_named(tmp_path):
    data = DataConfig(source="local", root=str(tmp_path))
    with pytest.raises(DataError, match=r"ccg/tags\.txt: label file not found \(task ccg"):
        load_examples(get_task("ccg"), "train", "en", data)


def test_a_label_listed_twice_names_file_and_line(tmp_path):
    (tmp_path / "ccg").mkdir()
    (tmp_path / "ccg" / "tags.txt").write_text("N\nN/N\nN\n")
    with pytest.raises(DataError, match=r"tags\.txt:3: label 'N' listed twice"):
        resolve_labels(get_task("ccg"), DataConfig(source="local", root=str(tmp_path)))

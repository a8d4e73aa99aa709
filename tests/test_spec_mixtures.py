"""Mixtures, translated intermediate data and head reuse in the spec and the plan: named
mixtures swept like single tasks, `all` resolved for the data source, and bad entries named by
their YAML key."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from sweep.plan import describe, expand
from sweep.spec import SpecError, load_spec
from trainers.tasks import PAPER_INTERMEDIATE, SYNTH_INTERMEDIATE

SYNTHETIC = {
    "name": "m",
    "model": {
        "name": "tiny-xlmr",
        "tokenizer": "synthetic",
        "tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64},
    },
    "data": {"source": "synthetic"},
    "phases": {
        "pretrain": {"enabled": True, "languages": ["en", "qaa"]},
        "intermediate": {
            "tasks": ["none", "synth_mnli", "synth_mnli@qaa", "all", "nli_mc"],
            "mixtures": {
                "nli_mc": {
                    "tasks": ["synth_mnli", "synth_hellaswag", "synth_mnli@qab"],
                    "sampler": {"kind": "temperature", "temperature": 2},
                    "mlm": {"weight": 0.1, "languages": ["en", "qaa"]},
                }
            },
        },
        "target": {"tasks": ["synth_xnli"], "reuse_head": True},
    },
    "deepspeed": {"zero_stage": 0},
    "seeds": [0, 1],
}


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def changed(path: list, value, base: dict = SYNTHETIC) -> dict:
    spec = copy.deepcopy(base)
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return spec


def test_single_tasks_translations_mixtures_and_none_form_one_grid(tmp_path):
    plan = expand(load_spec(write(tmp_path, SYNTHETIC)))
    entries = ("none", "synth_mnli", "synth_mnli@qaa", "all", "nli_mc")
    assert plan.intermediate_configs() == entries
    # none is not trained; four entries x two seeds are; every entry starts a target per seed.
    assert len(plan.intermediate) == 4 * 2
    assert len(plan.target) == 5 * 2
    assert {t.intermediate for t in plan.target} == set(entries)


def test_all_is_the_synthetic_benchmarks_intermediate_tasks_offline_and_the_papers_nine_else(
    tmp_path,
):
    synthetic = load_spec(write(tmp_path, SYNTHETIC))
    assert synthetic.mixture("all").tasks == SYNTH_INTERMEDIATE
    real = changed(["data"], {"source": "local", "root": "/data/xtreme"})
    real = changed(["model"], {"name": "xlm-roberta-large"}, real)
    real = changed(
        ["phases"], {"intermediate": {"tasks": ["all"]}, "target": {"tasks": ["xnli"]}}, real
    )
    spec = load_spec(write(tmp_path, real))
    assert spec.mixture("all").tasks == PAPER_INTERMEDIATE
    assert len(PAPER_INTERMEDIATE) == 9
    assert spec.mixture("mnli") is None


def test_a_mixture_trial_carries_its_members_sampler_and_continued_mlm(tmp_path):
    plan = expand(load_spec(write(tmp_path, SYNTHETIC)))
    trial = next(t for t in plan.intermediate if t.task == "nli_mc")
    fields = trial.train_fields()
    mixture = fields["mixture"]
    assert [m["task"] for m in mixture["members"]] == [
        "synth_mnli",
        "synth_hellaswag",
        "synth_mnli",
    ]
    assert mixture["members"][2]["translation"] == {
        "language": "qab",
        "train": "translate-train/synth_mnli/multinli_1.0_train.{lang}.jsonl",
    }
    assert mixture["sampler"]["kind"] == "temperature" and mixture["mlm_weight"] == 0.1
    assert fields["mlm_languages"] == ["en", "qaa"]
    translated = next(t for t in plan.intermediate if t.task == "synth_mnli@qaa")
    assert translated.train_fields()["task"] == "synth_mnli"
    assert translated.train_fields()["translation"]["language"] == "qaa"


def test_a_mixtures_trial_id_changes_with_its_definition(tmp_path):
    ids = lambda spec: {t.task: t.trial_id() for t in expand(spec).intermediate}  # noqa: E731
    before = ids(load_spec(write(tmp_path, SYNTHETIC)))
    uniform = changed(
        ["phases", "intermediate", "mixtures", "nli_mc", "sampler"], {"kind": "uniform"}
    )
    after = ids(load_spec(write(tmp_path, uniform)))
    assert before["nli_mc"] != after["nli_mc"]
    assert before["synth_mnli"] == after["synth_mnli"] and before["all"] == after["all"]


def test_validate_prints_each_mixtures_members_and_probabilities(tmp_path):
    lines = "\n".join(describe(expand(load_spec(write(tmp_path, SYNTHETIC)))))
    assert "nli_mc" in lines and "synth_hellaswag" in lines and "mlm 10%" in lines


INTER = ["phases", "intermediate"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            [*INTER, "mixtures", "synth_mnli"],
            {"tasks": ["synth_squad"]},
            "mixtures.synth_mnli: a mixture cannot be named like a task",
        ),
        (
            [*INTER, "mixtures", "nli_mc", "tasks"],
            ["synth_mnli", "synth_tatoeba"],
            "mixtures.nli_mc.tasks: 'synth_tatoeba' is not an intermediate task",
        ),
        (
            [*INTER, "mixtures", "nli_mc", "sampler"],
            {"kind": "capped"},
            "phases.intermediate.mixtures.nli_mc.sampler: cap is required with kind capped",
        ),
        (
            [*INTER, "mixtures", "nli_mc", "sampler"],
            {"kind": "fixed", "weights": {"synth_mnli": 1}},
            "mixtures.nli_mc.sampler.weights: keys ['synth_mnli'] must be the members",
        ),
        (
            [*INTER, "mixtures", "all"],
            {"sampler": {"kind": "fixed", "weights": {"synth_mnli": 1}}},
            "phases.intermediate.mixtures.all.sampler.weights: keys ['synth_mnli'] must be",
        ),
        (
            [*INTER, "mixtures", "nli_mc", "mlm", "weight"],
            1.0,
            "mixtures.nli_mc.mlm.weight: Input should be less than 1",
        ),
        (
            [*INTER, "tasks"],
            ["synth_squad@qaa"],
            "'synth_squad@qaa': synth_squad declares no translated files; name them in "
            "translations.synth_squad",
        ),
        (
            [*INTER, "tasks"],
            ["nope_mix"],
            "'nope_mix' is not a intermediate task",
        ),
        (
            [*INTER, "reuse_head"],
            True,
            "reuse_head: only the target phase reuses heads",
        ),
        (
            ["phases", "target", "mixtures"],
            {"x": {"tasks": ["synth_mnli"]}},
            "mixtures: only the intermediate phase has mixtures",
        ),
    ],
)
def test_a_bad_mixture_entry_names_its_yaml_key(tmp_path, path, value, message):
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, changed(path, value)))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


HUB = {
    "name": "h",
    "model": {"name": "xlm-roberta-large"},
    "data": {"source": "hub"},
    "phases": {
        "intermediate": {
            "tasks": ["mnli", "mix"],
            "mixtures": {
                "mix": {"tasks": ["mnli", "squad_v2"], "mlm": {"weight": 0.2, "languages": ["en"]}}
            },
        },
        "target": {"tasks": ["xnli"]},
    },
}


def test_continued_mlm_on_hub_data_needs_a_hub_corpus(tmp_path):
    with pytest.raises(SpecError, match=r"mixtures\.mix\.mlm\.hub: a hub text dataset is required"):
        load_spec(write(tmp_path, HUB))
    corpus = {"dataset": "wikimedia/wikipedia", "config": "20231101.{lang}", "max_lines": 100000}
    spec = load_spec(
        write(tmp_path, changed([*INTER, "mixtures", "mix", "mlm", "hub"], corpus, HUB))
    )
    fields = next(t for t in expand(spec).intermediate if t.task == "mix").train_fields()
    assert fields["mlm_hub"]["dataset"] == "wikimedia/wikipedia"


def test_translated_files_on_hub_data_are_named_by_an_absolute_path(tmp_path):
    relative = changed([*INTER, "translations"], {"mnli": "mt/mnli.{lang}.jsonl"}, HUB)
    relative = changed([*INTER, "mixtures"], {}, relative)
    relative = changed([*INTER, "tasks"], ["mnli@de"], relative)
    with pytest.raises(SpecError, match=r"translations\.mnli: with data.source hub"):
        load_spec(write(tmp_path, relative))
    absolute = changed([*INTER, "translations"], {"mnli": "/mt/mnli.{lang}.jsonl"}, relative)
    trial = expand(load_spec(write(tmp_path, absolute))).intermediate[0]
    assert json.loads(trial.definition)["translation"] == {
        "language": "de",
        "train": "/mt/mnli.{lang}.jsonl",
    }

"""Reuse keys (sweep.reuse): a phase result's key changes with every input that decides it (each
TrainConfig field, each data file read, the start, the training code) and with nothing else
(paths that differ between sweeps, files the trial does not read, evaluation-only code); file
checksums are cached; the reuse index round-trips its records.

Runs offline on the synthetic benchmark, generated once into a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from sweep import reuse
from sweep.reuse import (
    PATH_FIELDS,
    ReuseIndex,
    code_fingerprint,
    data_fingerprint,
    group_key,
    source_key,
    trial_key,
)
from trainers.config import (
    DataConfig,
    DeepSpeedConfig,
    HubCorpus,
    ModelConfig,
    OptimConfig,
    TinyEncoder,
    TrainConfig,
    Translation,
)
from trainers.data.examples import DataError
from trainers.synth import ensure_benchmark

TRANSLATED = "translate-train/synth_mnli/multinli_1.0_train.{lang}.jsonl"
# Alternative strings a changed field may take where "<value>-changed" names no real data.
KNOWN_STRINGS = ("synth_xnli", "synth_mnli", "qaa", "qab", "copy/{lang}.txt")
# The only fields left out of the key: paths that differ between sweeps for the same inputs.
EXCLUDED = {("init_from",), ("tokenizer",), ("data", "root"), ("data", "cache_dir")}
START = source_key("hub", model="xlm-roberta-base", revision="main")
LONG_AGO = 1_600_000_000_000_000_000  # ns: files older than the checksum cache's settling time


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = ensure_benchmark(tmp_path_factory.mktemp("bench") / "synthetic", seed=0)
    for lang in ("en", "qaa", "qab", "qac"):  # files for the KNOWN_STRINGS template
        (root / "copy").mkdir(exist_ok=True)
        shutil.copy(root / "corpus" / f"{lang}.txt", root / "copy" / f"{lang}.txt")
    # MNLI's local layout, so a hub trial of mnli can switch to data.source local.
    shutil.copytree(root / "synth_mnli", root / "multinli_1.0", dirs_exist_ok=True)
    for path in root.rglob("*"):
        os.utime(path, ns=(LONG_AGO, LONG_AGO))
    return root


@pytest.fixture
def bench(generated, tmp_path, monkeypatch) -> Path:
    """A private copy of the benchmark (mtimes kept) and a private cache."""
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    return Path(shutil.copytree(generated, tmp_path / "data"))


@pytest.fixture
def fresh_code_fingerprint():
    code_fingerprint.cache_clear()
    yield
    code_fingerprint.cache_clear()


def single(root: Path, **changes) -> TrainConfig:
    """An intermediate trial on translated data, with every optional scalar set."""
    config = TrainConfig(
        phase="intermediate",
        task="synth_mnli",
        model=ModelConfig(name="xlm-roberta-base", tokenizer="synthetic", tiny=TinyEncoder()),
        init_from=str(root.parent / "handoff" / "random-encoder"),
        tokenizer=str(root / "tokenizer"),
        data=DataConfig(root=str(root), cache_dir=str(root.parent / "hf-cache")),
        optim=OptimConfig(decay_ratio=0.5, max_train_examples=100),
        deepspeed=DeepSpeedConfig(),
        seed=1,
        mlm_languages=("en", "qaa"),
        mlm_hub=HubCorpus(dataset="wikimedia/wikipedia", config="20231101.{lang}", max_lines=9),
        translation=Translation(language="qaa", train=TRANSLATED),
    )
    return changed(config, **changes)


def changed(config: TrainConfig, **changes) -> TrainConfig:
    return TrainConfig.model_validate({**config.model_dump(), **changes})


def mixture(root: Path, **sampler) -> TrainConfig:
    members = [{"task": "synth_mnli", "translation": {"language": "qab", "train": TRANSLATED}}]
    members.append({"task": "synth_xnli"})
    if sampler.get("kind") == "fixed":
        members.append({"task": "synth_mnli"})
    mix = {"members": members, "sampler": sampler, "mlm_weight": 0.2 if "weights" in sampler else 0}
    return single(root, task="mix", translation=None, mlm_hub=None, mixture=mix)


def base_configs(root: Path) -> dict[str, TrainConfig]:
    """Between them, a value for every field: some fields exclude others (a sampler's cap and
    temperature; a mixture and a translation)."""
    weights = {"synth_mnli@qab": 2.0, "synth_xnli": 1.0, "synth_mnli": 1.0}
    return {
        "translate-train": single(root),
        "hub": single(
            root, task="mnli", translation=None, data={"source": "hub", "root": str(root)}
        ),
        "fixed mixture with MLM": mixture(root, kind="fixed", weights=weights),
        "capped mixture": mixture(root, kind="capped", cap=1000),
        "temperature mixture": mixture(root, kind="temperature", temperature=2.0),
        "uniform mixture": mixture(root, kind="uniform"),
    }


def leaves(tree, path=()):
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    elif isinstance(tree, list) and tree:
        for i, value in enumerate(tree):
            yield from leaves(value, (*path, i))
    else:
        yield path, tree


def without_none(annotation):
    if get_origin(annotation) in (Union, type(int | None)):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def field_of(path) -> tuple[tuple[str, ...], object]:
    """The declared field a dumped leaf belongs to, and the type of the leaf."""
    fields, annotation = [], TrainConfig
    for part in path:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields.append(part)
            annotation = annotation.model_fields[part].annotation
        else:  # an item of a tuple or dict field
            args = get_args(annotation)
            annotation = args[-1] if get_origin(annotation) is dict else args[0]
        annotation = without_none(annotation)
    return tuple(fields), annotation


def declared_fields(model=TrainConfig, prefix=()):
    for name, field in model.model_fields.items():
        annotation = without_none(field.annotation)
        if get_origin(annotation) is tuple:
            annotation = get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from declared_fields(annotation, (*prefix, name))
        else:
            yield (*prefix, name)


def alternatives(value, annotation) -> list:
    if get_origin(annotation) is Literal:
        return [a for a in get_args(annotation) if a != value]
    if annotation is bool:
        return [not value]
    if annotation is int:
        return [1, 2, 1000] if value is None else [value + 1, value * 2, value - 1]
    if annotation is float:
        return [value / 2, value * 2] if value else [0.5, 2.0]
    if annotation is str:
        return [f"{value}-changed", *KNOWN_STRINGS]
    return []  # an unset sub-config or an empty container: another base config sets it


def replaced(tree, path, value):
    tree = json.loads(json.dumps(tree))
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return tree


def test_changing_any_train_config_field_changes_the_key(bench):
    covered = set()
    for label, config in base_configs(bench).items():
        before = trial_key(config, START)
        dumped = config.model_dump(mode="json")
        for path, value in leaves(dumped):
            field, annotation = field_of(path)
            if field in EXCLUDED:
                continue
            for other in alternatives(value, annotation):
                try:
                    other_config = TrainConfig.model_validate(replaced(dumped, path, other))
                    after = trial_key(other_config, START)
                except (ValueError, KeyError):  # not valid, or names data that is not there
                    continue
                if other_config == config:
                    continue
                assert after != before, f"{label}: {path} = {other!r} kept the key"
                covered.add(field)
                break
    missing = set(declared_fields()) - covered - EXCLUDED
    assert not missing, f"no test changed these fields (give them an alternative): {missing}"


def test_only_paths_that_differ_between_sweeps_are_left_out_of_the_key():
    assert set(PATH_FIELDS) == EXCLUDED


def test_the_same_trial_in_two_sweeps_gets_one_key(bench):
    first = single(bench)
    # Another sweep: its own hand-off folder and datasets cache, and the config as a worker
    # rebuilds it from Tune's JSON.
    second = TrainConfig.model_validate(
        json.loads(json.dumps(changed(first, init_from="/elsewhere/handoff").model_dump()))
    )
    assert trial_key(first, START) == trial_key(second, START)


def test_the_same_data_under_another_root_keeps_the_key(bench, tmp_path):
    moved = Path(shutil.copytree(bench, tmp_path / "moved" / "synthetic"))
    here, there = single(bench), single(moved)
    assert data_fingerprint(here) == data_fingerprint(there)
    assert trial_key(here, START) == trial_key(there, START)
    assert here.data.root != there.data.root and here.tokenizer != there.tokenizer


def test_changing_a_data_file_changes_the_key(bench):
    config = single(bench)
    before = trial_key(config, START)
    with open(bench / "synth_mnli" / "multinli_1.0_dev_matched.jsonl", "a") as fh:
        fh.write("\n")
    assert trial_key(config, START) != before


def test_a_file_the_trial_does_not_read_keeps_the_key(bench):
    config = single(bench)
    before = trial_key(config, START)
    (bench / "synth_udpos" / "test-en.tsv").write_text("changed\n")
    (bench / "synth_mnli" / "multinli_1.0_train.jsonl").write_text("replaced by translation\n")
    assert trial_key(config, START) == before


def test_a_missing_input_file_is_an_error(bench):
    (bench / "translate-train" / "synth_mnli" / "multinli_1.0_train.qaa.jsonl").unlink()
    with pytest.raises(DataError, match="not found"):
        trial_key(single(bench), START)


def test_mixture_member_files_are_fingerprinted(bench):
    weights = {"synth_mnli@qab": 1.0, "synth_xnli": 1.0, "synth_mnli": 1.0}
    config = mixture(bench, kind="fixed", weights=weights)
    inputs = data_fingerprint(config)
    assert {
        "synth_mnli/multinli_1.0_train.jsonl",
        "synth_mnli/multinli_1.0_dev_matched.jsonl",
        "translate-train/synth_mnli/multinli_1.0_train.qab.jsonl",
        "synth_xnli/train-en.tsv",
        "synth_xnli/dev-en.tsv",
        "corpus/en.txt",  # continued MLM
        "corpus/qaa.txt",
        "tokenizer:tokenizer.json",
    } <= set(inputs)
    before = trial_key(config, START)
    (bench / "translate-train" / "synth_mnli" / "multinli_1.0_train.qab.jsonl").write_text("x\n")
    assert trial_key(config, START) != before


def test_a_label_file_read_at_run_time_is_fingerprinted(bench):
    (bench / "ccg").mkdir()
    for name in ("train.tsv", "dev.tsv", "tags.txt"):
        (bench / "ccg" / name).write_text("N\n")
    config = single(bench, task="ccg", translation=None)
    before = trial_key(config, START)
    assert "ccg/tags.txt" in data_fingerprint(config)
    (bench / "ccg" / "tags.txt").write_text("N\nNP\n")
    assert trial_key(config, START) != before


def test_a_hub_trial_is_keyed_by_the_datasets_its_task_declares(bench):
    inputs = data_fingerprint(base_configs(bench)["hub"])
    hub = {k for k in inputs if k.startswith("hub:")}
    assert hub == {
        "hub:nyu-mll/multi_nli[None:train]",
        "hub:nyu-mll/multi_nli[None:validation_matched]",
        "hub:datasets",
    }
    assert not any(k.startswith("multinli_1.0/") for k in inputs)


def test_the_start_changes_the_key(bench, tmp_path):
    config = single(bench)
    tiny = TinyEncoder()
    starts = [
        START,
        source_key("hub", model="xlm-roberta-base", revision="v2"),
        source_key("hub", model="xlm-roberta-large", revision="main"),
        source_key("random", tiny=tiny, tokenizer=config.tokenizer, seed=0),
        source_key("random", tiny=tiny, tokenizer=config.tokenizer, seed=1),
        source_key("random", tiny=tiny.model_copy(update={"num_layers": 3}), tokenizer="x", seed=0),
        source_key("local", directory=bench / "tokenizer"),
        source_key("trained", key=trial_key(config, START)),
    ]
    assert len({trial_key(config, start) for start in starts}) == len(starts)


def test_a_local_start_is_keyed_by_its_bytes_not_its_path(bench, tmp_path):
    copy = shutil.copytree(bench / "tokenizer", tmp_path / "elsewhere")
    key = source_key("local", directory=bench / "tokenizer")
    assert source_key("local", directory=copy) == key
    (copy / "tokenizer_config.json").write_text("{}")
    assert source_key("local", directory=copy) != key


def test_a_start_with_missing_or_unknown_fields_is_refused():
    assert source_key("hub", model="m") == source_key("hub", model="m", revision=None)
    with pytest.raises(ValueError, match="missing \\['seed'\\]"):
        source_key("random", tiny={}, tokenizer="t")
    with pytest.raises(ValueError, match="unknown \\['revison'\\]"):
        source_key("hub", model="m", revison="main")
    with pytest.raises(ValueError, match="kind"):
        source_key("s3", url="x")


def test_a_trial_refuses_its_init_path_as_a_start_key(bench):
    config = single(bench)
    with pytest.raises(ValueError, match="init_key"):
        trial_key(config, config.init_from)


def test_code_changes_change_the_fingerprint(tmp_path, monkeypatch, fresh_code_fingerprint):
    code = Path(shutil.copytree(reuse.TRAINERS, tmp_path / "trainers"))
    monkeypatch.setattr(reuse, "TRAINERS", code)
    original = code_fingerprint()
    code_fingerprint.cache_clear()
    (code / "evaluate.py").write_text("# evaluation only: training does not change\n")
    assert code_fingerprint() == original
    for changed_file in ("loop.py", "tasks/nli.py"):
        code_fingerprint.cache_clear()
        (code / changed_file).write_text((code / changed_file).read_text() + "# changed\n")
        assert code_fingerprint() != original
    code_fingerprint.cache_clear()
    current = code_fingerprint()
    real = reuse._version
    monkeypatch.setattr(reuse, "_version", lambda name: "9.9" if name == "torch" else real(name))
    code_fingerprint.cache_clear()
    assert code_fingerprint() != current


def test_the_evaluation_only_modules_exist_and_the_task_registry_is_hashed():
    for name in reuse.EVALUATION_ONLY:
        assert (reuse.TRAINERS / name).is_file(), f"{name} was renamed: update EVALUATION_ONLY"
    hashed = {p.relative_to(reuse.TRAINERS).as_posix() for p in reuse._training_sources()}
    assert {"loop.py", "model.py", "tasks/registry.py", "tasks/synthetic.py"} <= hashed
    assert not hashed & reuse.EVALUATION_ONLY


def test_checksums_are_cached_and_a_corrupt_cache_is_recomputed(bench, monkeypatch):
    config = single(bench)
    inputs = data_fingerprint(config)
    cache_file = Path(os.environ["XSTILTS_CACHE"]) / "checksums.json"
    cached = json.loads(cache_file.read_text())
    assert str(bench / "synth_mnli" / "multinli_1.0_dev_matched.jsonl") in cached

    def no_hashing(path):
        raise AssertionError(f"{path} hashed again")

    with monkeypatch.context() as patch:
        patch.setattr(reuse, "file_sha256", no_hashing)
        assert data_fingerprint(config) == inputs
    cache_file.write_text('{"half a file')
    assert data_fingerprint(config) == inputs
    assert json.loads(cache_file.read_text()) == cached


def test_index_round_trips_and_ignores_unreadable_records(tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    index = ReuseIndex()
    assert index.root == tmp_path / "cache" / "reuse"
    key, other = "ab" + "0" * 62, "cd" + "1" * 62
    record = {"checkpoint": "/runs/a/handoff/t1", "score": 0.75, "round": 3}
    assert index.lookup(key) is None
    index.register(key, record)
    assert index.lookup(key) == record
    assert (index.root / "ab" / f"{key}.json").is_file()
    assert not list(index.root.rglob("*.tmp"))
    (index.root / "cd").mkdir()
    (index.root / "cd" / f"{other}.json").write_text("{not json")
    assert index.lookup(other) is None
    shutil.copy(index.root / "ab" / f"{key}.json", index.root / "cd" / f"{other}.json")
    assert index.lookup(other) is None  # a record filed under another key's name
    with pytest.raises(ValueError, match="not a reuse key"):
        index.register("../escape", record)


def test_a_group_key_depends_on_its_trials_and_rule_not_their_order():
    a, b, c = ("a" * 64, "b" * 64, "c" * 64)
    rule = {"metric": "dev/accuracy", "mode": "max", "asha": {"grace_period": 1}}
    assert group_key([a, b], rule) == group_key([b, a], rule)
    assert group_key([a, b], rule) != group_key([a, c], rule)
    assert group_key([a, b], rule) != group_key([a, b], {**rule, "mode": "min"})
    with pytest.raises(ValueError):
        group_key([], rule)

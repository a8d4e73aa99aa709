"""Evaluation shards: prepared once and reused; a key that changes with every input that changes
the tokens; a stale, damaged or incomplete cache is refused, naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from trainers import shards
from trainers.config import DataConfig, Windows
from trainers.data.examples import DataError
from trainers.data.source import load_examples
from trainers.evaluate import feature_inputs
from trainers.tasks import get_task

FIXTURES = Path(__file__).parent / "fixtures" / "xtreme"


@pytest.fixture(scope="module")
def tokenizer(benchmark):
    return AutoTokenizer.from_pretrained(benchmark / "tokenizer")


def rows(n: int) -> list[dict]:
    return [{"input_ids": list(range(1 + i % 7)), "label": i % 3} for i in range(n)]


def test_a_set_is_prepared_once_and_read_back_whole_in_row_order(tmp_path):
    built = []

    def make():
        built.append(1)
        return rows(5000)

    first = shards.prepare(tmp_path, "features", "xnli/test-de", {"a": 1}, make)
    again = shards.prepare(tmp_path, "features", "xnli/test-de", {"a": 1}, make)
    assert built == [1] and again == first
    assert first.rows == 5000 and len(first.files) == 3  # 2048 rows a file
    first.verify()
    back = shards.read_rows(first)
    assert [r["row"] for r in back] == list(range(5000))
    assert [(r["input_ids"], r["label"]) for r in back] == [
        (r["input_ids"], r["label"]) for r in rows(5000)
    ]
    assert {r["set"] for r in back} == {first.key}
    assert not [p for p in first.directory.parent.iterdir() if p.name.startswith(".")]


def test_rows_are_stored_shortest_first_so_batches_pad_little(tmp_path):
    shard_set = shards.prepare(tmp_path, "features", "t", {"a": 1}, lambda: rows(50))
    import pyarrow.parquet as pq

    lengths = [len(ids) for ids in pq.read_table(shard_set.files[0])["input_ids"].to_pylist()]
    assert lengths == sorted(lengths)


def test_every_input_that_changes_the_tokens_changes_the_key(benchmark, tokenizer, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(FIXTURES / "xquad", root / "xquad")
    data = DataConfig(source="local", root=str(root))
    task = get_task("xquad")
    identity = shards.tokenizer_identity(tokenizer)

    def key(task=task, windows=None, identity=identity, lang="de", split="test"):
        windows = windows or Windows()
        examples = load_examples(task, split, lang, data)
        inputs = feature_inputs(task, split, lang, data, examples, identity, windows)
        return shards.shard_key(inputs)

    base = key()
    assert key() == base  # the same inputs, the same key
    other_tokenizer = AutoTokenizer.from_pretrained(benchmark / "tokenizer")
    other_tokenizer.add_tokens(["zzzunseen"])
    changed = {
        "max length": key(windows=Windows(max_length=128)),
        "doc stride": key(windows=Windows(doc_stride=64)),
        "query length": key(windows=Windows(max_query_length=32)),
        "tokenizer": key(identity=shards.tokenizer_identity(other_tokenizer)),
        "library version": key(identity={**identity, "transformers": "0.0.1"}),
        "language": key(lang="en"),
    }
    # The longest answer only changes which span is predicted, not the tokens: shared.
    assert key(windows=Windows(max_answer_length=5)) == base
    test_file = root / "xquad" / "xquad.de.json"
    test_file.write_text(test_file.read_text().replace("?", " ?", 1))
    changed["source file"] = key()
    assert len(set(changed.values()) | {base}) == len(changed) + 1, changed


def test_a_format_version_bump_gives_new_shards(tmp_path, tokenizer, monkeypatch):
    data = DataConfig(source="local", root=str(FIXTURES))
    task = get_task("xnli")
    examples = load_examples(task, "test", "de", data)
    identity = shards.tokenizer_identity(tokenizer)
    before = shards.shard_key(
        feature_inputs(task, "test", "de", data, examples, identity, Windows())
    )
    monkeypatch.setitem(shards.FORMAT_VERSIONS, "classification", 99)
    after = shards.shard_key(
        feature_inputs(task, "test", "de", data, examples, identity, Windows())
    )
    assert before != after


def test_a_stale_cache_cannot_be_read(tmp_path):
    old = shards.prepare(tmp_path, "features", "t", {"source": "v1"}, lambda: rows(10))
    new = shards.prepare(tmp_path, "features", "t", {"source": "v2"}, lambda: rows(20))
    assert new.directory != old.directory and new.rows == 20
    # An old set's manifest copied over the current one (a botched sync, a stale copy).
    shutil.copy(old.directory / shards.MANIFEST, new.directory / shards.MANIFEST)
    with pytest.raises(DataError, match=rf"{shards.MANIFEST}: shards of key {old.key}"):
        new.verify()


def test_a_damaged_or_missing_shard_is_refused_naming_the_file(tmp_path):
    shard_set = shards.prepare(tmp_path, "features", "t", {"a": 1}, lambda: rows(5000))
    damaged, original = shard_set.files[1], shard_set.files[1].read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"{damaged}: evaluation shard corrupt"):
        shard_set.verify()
    damaged.write_bytes(original)
    shard_set.verify()
    shard_set.files[2].unlink()
    with pytest.raises(DataError, match=rf"{shard_set.files[2]}: evaluation shard missing"):
        shards.load(shard_set.directory, shard_set.key).verify()


def test_an_unreadable_manifest_is_a_data_error(tmp_path):
    shard_set = shards.prepare(tmp_path, "features", "t", {"a": 1}, lambda: rows(3))
    (shard_set.directory / shards.MANIFEST).write_text("{not json")
    with pytest.raises(DataError, match="unreadable shard manifest"):
        shards.load(shard_set.directory, shard_set.key)


def test_the_manifest_records_what_made_the_set(tmp_path):
    inputs = {"task": "xnli", "windows": {"max_length": 128}}
    shard_set = shards.prepare(tmp_path, "features", "t", inputs, lambda: rows(3))
    manifest = json.loads((shard_set.directory / shards.MANIFEST).read_text())
    assert manifest["inputs"] == inputs and manifest["key"] == shard_set.key
    assert manifest["rows"] == 3

"""The per-example store beside the results: whole parts only, read back as written, one part per
evaluation, never under results/, and written by the sweep before the evaluation's results."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from sweep import evaluation, store


def columns(n: int = 3, **changes) -> dict[str, list]:
    base = {
        "sweep": ["s"] * n, "trial_id": ["t"] * n, "intermediate": ["none"] * n,
        "target": ["udpos"] * n, "task": ["udpos"] * n, "language": ["de"] * n,
        "split": ["test"] * n, "metric": ["f1"] * n, "example": list(range(n)),
        "numerator": [2.0 * i for i in range(n)], "denominator": [3.0] * n,
    }  # fmt: skip
    base.update(changes)
    return base


def test_examples_read_back_as_written_and_the_results_store_is_untouched(tmp_path):
    store.write_examples(tmp_path, columns(), label="zero_shot-t")
    store.write_examples(tmp_path, columns(2, trial_id=["u", "u"]), label="zero_shot-u")
    table = store.read_examples(tmp_path)
    assert table.schema == store.EXAMPLE_SCHEMA and table.num_rows == 5
    assert store.read_examples(tmp_path, "zero_shot-t").to_pydict() == columns()
    assert list(pd.read_parquet(store.examples_dir(tmp_path)).columns) == (
        store.EXAMPLE_SCHEMA.names
    )
    assert not store.results_dir(tmp_path).exists() and store.read_results(tmp_path).num_rows == 0


def test_a_failed_write_leaves_no_part_and_no_temporary_file(tmp_path, monkeypatch):
    def broken(table, where):
        open(where, "wb").write(b"PAR1 half written")
        raise OSError("disk full")

    monkeypatch.setattr(store.pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        store.write_examples(tmp_path, columns(), label="zero_shot-t")
    assert list(store.examples_dir(tmp_path).iterdir()) == []
    assert store.read_examples(tmp_path).num_rows == 0


def test_an_evaluation_stored_again_replaces_its_examples_instead_of_counting_twice(tmp_path):
    store.write_examples(tmp_path, columns(), label="zero_shot-t")
    store.write_examples(tmp_path, columns(), label="zero_shot-t-2")
    store.write_examples(tmp_path, columns(numerator=[1.0] * 3), label="zero_shot-t")
    assert len(list(store.examples_dir(tmp_path).iterdir())) == 2  # zero_shot-t-2's is kept
    again = store.read_examples(tmp_path).to_pydict()
    assert sorted(again["numerator"]) == [0.0, 1.0, 1.0, 1.0, 2.0, 4.0]


def test_ragged_or_incomplete_columns_are_refused_and_empty_ones_write_nothing(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        store.write_examples(tmp_path, columns(example=[0, 1]), label="a")
    incomplete = columns()
    del incomplete["split"]
    with pytest.raises(ValueError, match="split"):
        store.write_examples(tmp_path, incomplete, label="a")
    assert store.write_examples(tmp_path, columns(0), label="a") is None
    assert not store.examples_dir(tmp_path).exists()


def test_the_sweep_writes_an_evaluation_s_examples_before_its_results(tmp_path, monkeypatch):
    ctx = SimpleNamespace(
        out=tmp_path, spec=SimpleNamespace(name="s", phases=SimpleNamespace(
            evaluate=SimpleNamespace(split="test"))),
    )  # fmt: skip
    per_example = {"language": ["de"] * 2, "metric": ["f1"] * 2, "example": [0, 1],
                   "numerator": [0.0, 2.0], "denominator": [1.0, 3.0]}  # fmt: skip
    seen_first = []
    real_write_rows = store.write_rows

    def write_rows(out, rows, *, label):
        seen_first.append(store.read_examples(out, label).num_rows)
        return real_write_rows(out, rows, label=label)

    monkeypatch.setattr(store, "write_rows", write_rows)
    filled = evaluation._example_columns(
        ctx, per_example, trial_id="t", intermediate="mnli", target="udpos", task="udpos"
    )
    evaluation._write(ctx, "zero_shot-t", [], filled)
    assert seen_first == [2]  # resume trusts a results part: its examples were there already
    stored = store.read_examples(tmp_path, "zero_shot-t").to_pydict()
    assert stored == {**per_example, "sweep": ["s"] * 2, "trial_id": ["t"] * 2,
                      "intermediate": ["mnli"] * 2, "target": ["udpos"] * 2,
                      "task": ["udpos"] * 2, "split": ["test"] * 2}  # fmt: skip

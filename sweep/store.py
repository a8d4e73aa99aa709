"""The results store: one Parquet dataset under `<out>/results/`, a row per measured value, and
beside it `<out>/examples/`, a row per (evaluated value, test example) for bootstrapping.

Each writer adds whole part files, written to a temporary name and renamed into place, so a
crash never leaves a half-written file and readers only ever see complete parts. The store
is readable in one line: `pyarrow.parquet.read_table("<out>/results")` or
`pandas.read_parquet("<out>/results")`, and the same for `<out>/examples`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("sweep", pa.string()),  # the spec's name
        ("phase", pa.string()),  # pretrain | similarity | intermediate | target | zero_shot
        ("trial_id", pa.string()),  # stable id of the trial within the sweep
        ("config_id", pa.string()),  # the trial's configuration without the seed
        ("intermediate", pa.string()),  # intermediate task or "none" ("" in phase pretrain)
        ("target", pa.string()),  # target task ("" before the target phase)
        ("task", pa.string()),  # the task this value measures
        ("language", pa.string()),
        ("split", pa.string()),  # dev | test | train (training loss, task similarity)
        ("metric", pa.string()),  # stable metric names: accuracy, f1, token_accuracy, loss
        ("value", pa.float64()),
        ("n_examples", pa.int64()),  # how many examples the value was computed over
        ("round", pa.int32()),  # evaluation round within the trial (ASHA's time unit)
        ("step", pa.int64()),  # optimizer steps taken when measured
        ("learning_rate", pa.float64()),
        ("hparams", pa.string()),  # all hyper-parameters as sorted JSON
        ("seed", pa.int32()),
        ("checkpoint_path", pa.string()),
        ("wall_seconds", pa.float64()),  # trial wall time when measured
    ]
)
COLUMNS = tuple(SCHEMA.names)

# A zero-shot value is sum(numerator) / sum(denominator) over its rows here, one row per test
# example, so resampling examples resamples the value (a bootstrap confidence interval).
EXAMPLE_SCHEMA = pa.schema(
    [
        ("sweep", pa.string()),
        ("trial_id", pa.string()),
        ("intermediate", pa.string()),
        ("target", pa.string()),
        ("task", pa.string()),
        ("language", pa.string()),
        ("split", pa.string()),
        ("metric", pa.string()),  # the results row's metric
        ("example", pa.int64()),  # the example's index in its gold file
        ("numerator", pa.float64()),
        ("denominator", pa.float64()),
    ]
)


def results_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "results"


def examples_dir(out_dir: Path) -> Path:
    # Beside results/, not in it: results/ is read as one dataset of one schema.
    return Path(out_dir) / "examples"


def part_label(label: str) -> str:
    """A label as it appears at the start of its part files' names."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def write_rows(out_dir: Path, rows: Iterable[Mapping[str, object]], *, label: str) -> Path | None:
    """Add `rows` as one new part file; returns its path (None when there were no rows)."""
    rows = list(rows)
    if not rows:
        return None
    missing = [c for c in COLUMNS if any(c not in r for r in rows)]
    if missing:
        raise ValueError(f"results rows lack columns: {sorted(set(missing))}")
    table = pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows], schema=SCHEMA)
    return _write_part(results_dir(out_dir), table, label)


def write_examples(out_dir: Path, columns: Mapping[str, list], *, label: str) -> Path | None:
    """Add one evaluation's per-example rows (`columns`: a list per EXAMPLE_SCHEMA column) as
    one part file, replacing any earlier part of exactly `label`: an evaluation stored again
    after a crash between its examples and its results must not count twice. None when empty."""
    missing = sorted(set(EXAMPLE_SCHEMA.names) - set(columns))
    if missing:
        raise ValueError(f"example columns missing: {missing}")
    lengths = {name: len(columns[name]) for name in EXAMPLE_SCHEMA.names}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"example columns differ in length: {lengths}")
    if not lengths["example"]:
        return None
    table = pa.Table.from_pydict(
        {name: columns[name] for name in EXAMPLE_SCHEMA.names}, schema=EXAMPLE_SCHEMA
    )
    final = _write_part(examples_dir(out_dir), table, label)
    for earlier in _parts(examples_dir(out_dir), label):
        if earlier != final:
            earlier.unlink(missing_ok=True)
    return final


def _write_part(directory: Path, table: pa.Table, label: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{part_label(label)}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = directory / f".{final.name}.tmp"
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)  # a write that failed leaves nothing behind
    return final


def _parts(directory: Path, label: str) -> list[Path]:
    """The parts written under exactly `label`."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"{part_label(label)}-{'?' * 8}.parquet"))


def has_part(out_dir: Path, label: str) -> bool:
    """Whether a part was written under exactly `label`."""
    return bool(_parts(results_dir(out_dir), label))


def read_results(out_dir: Path, label: str = "") -> pa.Table:
    """Every complete part file (temporary files start with '.' and are ignored); with `label`,
    only the parts written under labels that start with it (one trial's, say)."""
    return _read(results_dir(out_dir), SCHEMA, label)


def read_examples(out_dir: Path, label: str = "") -> pa.Table:
    """`read_results` for the per-example rows."""
    return _read(examples_dir(out_dir), EXAMPLE_SCHEMA, label)


def _read(directory: Path, schema: pa.Schema, label: str) -> pa.Table:
    pattern = f"{part_label(label)}*.parquet"
    parts = sorted(p for p in directory.glob(pattern)) if directory.is_dir() else []
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(pq.read_table(p, schema=schema) for p in parts)

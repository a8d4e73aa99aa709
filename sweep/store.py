"""The results store: one Parquet dataset under `<out>/results/`, a row per measured value.

Each writer adds whole part files, written to a temporary name and renamed into place, so a
crash never leaves a half-written file and readers only ever see complete parts. The store
is readable in one line: `pyarrow.parquet.read_table("<out>/results")` or
`pandas.read_parquet("<out>/results")`.
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
        ("phase", pa.string()),  # pretrain | intermediate | target | zero_shot
        ("trial_id", pa.string()),  # stable id of the trial within the sweep
        ("config_id", pa.string()),  # the trial's configuration without the seed
        ("intermediate", pa.string()),  # intermediate task or "none" ("" in phase pretrain)
        ("target", pa.string()),  # target task ("" before the target phase)
        ("task", pa.string()),  # the task this value measures
        ("language", pa.string()),
        ("split", pa.string()),  # dev | test
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


def results_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "results"


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
    directory = results_dir(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{part_label(label)}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = directory / f".{final.name}.tmp"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def has_part(out_dir: Path, label: str) -> bool:
    """Whether a part was written under exactly `label`."""
    directory = results_dir(out_dir)
    return directory.is_dir() and any(directory.glob(f"{part_label(label)}-{'?' * 8}.parquet"))


def read_results(out_dir: Path, label: str = "") -> pa.Table:
    """Every complete part file (temporary files start with '.' and are ignored); with `label`,
    only the parts written under labels that start with it (one trial's, say)."""
    directory = results_dir(out_dir)
    pattern = f"{part_label(label)}*.parquet"
    parts = sorted(p for p in directory.glob(pattern)) if directory.is_dir() else []
    if not parts:
        return SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(p, schema=SCHEMA) for p in parts)

"""The report's tables as CSV files under `report/csv/`, one per table, long format.

Each file is written whole and renamed into place; files of tables the report no longer has
are removed, so the folder always matches the report beside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_csvs(directory: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.csv"):
        if stale.stem not in frames:
            stale.unlink()
    written = []
    for name, frame in frames.items():
        final = directory / f"{name}.csv"
        tmp = directory / f".{name}.csv.tmp"
        frame.to_csv(tmp, index=False)
        tmp.replace(final)
        written.append(final)
    return written

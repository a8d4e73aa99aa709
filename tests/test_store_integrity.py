"""The results store stays whole: writers in many processes at once, readers while they write,
and a writer killed in the middle of a part file never leave anything unreadable or lost."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from test_store import row

from sweep import store

WRITERS, PARTS, ROWS = 4, 25, 20


def write_parts(out: str, writer: int) -> None:
    for part in range(PARTS):
        rows = [row(trial_id=f"w{writer}", step=part * ROWS + i) for i in range(ROWS)]
        store.write_rows(Path(out), rows, label=f"w{writer}")


def read_until(out: str, stop, seen) -> None:
    """Reads the store over and over while the writers run; records each count it saw."""
    while not stop.is_set():
        seen.append(store.read_results(Path(out)).num_rows)
        seen.append(
            len(pd.read_parquet(Path(out) / "results")) if (Path(out) / "results").is_dir() else 0
        )


def test_writers_in_parallel_processes_lose_no_row_and_readers_never_fail(tmp_path):
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        stop, seen = manager.Event(), manager.list()
        reader = ctx.Process(target=read_until, args=(str(tmp_path), stop, seen))
        reader.start()
        writers = [ctx.Process(target=write_parts, args=(str(tmp_path), w)) for w in range(WRITERS)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=120)
        stop.set()
        reader.join(timeout=60)
        counts = list(seen)
    assert [w.exitcode for w in writers] == [0] * WRITERS and reader.exitcode == 0
    frame = store.read_results(tmp_path).to_pandas()
    assert len(frame) == WRITERS * PARTS * ROWS
    assert {(t, s) for t, s in zip(frame.trial_id, frame.step, strict=True)} == {
        (f"w{w}", s) for w in range(WRITERS) for s in range(PARTS * ROWS)
    }
    # Readers only ever saw whole parts.
    assert counts and all(c % ROWS == 0 for c in counts)


KILLED_WRITER = """
import sys
from pathlib import Path
from sweep import store
from test_store import row
store.write_rows(Path(sys.argv[1]), [row(trial_id="big", step=i) for i in range(1_000_000)], label="big")
"""


def test_a_writer_killed_mid_part_leaves_the_previous_state_readable(tmp_path):
    store.write_rows(tmp_path, [row(value=0.25), row(value=0.75)], label="before")
    root = Path(__file__).resolve().parents[1]
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], cwd=root,
        env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list((tmp_path / "results").glob(".*.tmp")):  # the part is being written
        assert writer.poll() is None and time.monotonic() < deadline, "writer never started a part"
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert sorted(store.read_results(tmp_path).to_pandas().value) == [0.25, 0.75]
    assert sorted(pd.read_parquet(tmp_path / "results").value) == [0.25, 0.75]

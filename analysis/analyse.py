"""Everything the report computes from one sweep directory, gathered once: the per-target
results (selection on English dev), the bootstrap intervals, the benchmark score and the
tables. The single report and the side-by-side comparison both start here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.bootstrap import Bootstrap, Interval, load_examples, overall_intervals
from analysis.selection import BASELINE, TargetResult, collect, load_results
from analysis.tables import (
    language_groups,
    main_table,
    per_language,
    seed_spread,
    similarity,
    transfer_gap,
)
from analysis.xtreme_score import BenchmarkScore, benchmark_of, benchmark_score


@dataclass(frozen=True)
class Analysis:
    out_dir: Path
    frame: pd.DataFrame  # the results store
    results: list[TargetResult]
    intervals: dict[str, dict[tuple[str, str], Interval]]  # target -> (intermediate, lang|avg|task)
    score: BenchmarkScore | None
    tables: dict[str, pd.DataFrame]  # name -> long-format table (the CSV files)

    @property
    def name(self) -> str:
        sweeps = sorted(set(self.frame["sweep"])) if not self.frame.empty else []
        return ", ".join(sweeps) or Path(self.out_dir).name


def analyse(out_dir: Path) -> Analysis:
    out_dir = Path(out_dir)
    frame = load_results(out_dir)
    results = collect(frame) if not frame.empty else []
    bootstrap = Bootstrap(load_examples(out_dir))
    found = {r.target: bootstrap.target(r) for r in results}
    intervals = {target: cells for target, (cells, _) in found.items()}
    score = benchmark_score(results, benchmark_of(out_dir))
    overall = {}
    if score is not None:
        base = score.overall(BASELINE)
        deltas = {
            i: (o - base if (o := score.overall(i)) is not None and base is not None else None)
            for i in score.scores
            if i != BASELINE
        }
        tasks = {target: dists for target, (_, dists) in found.items()}
        overall = overall_intervals(tasks, score.tasks, deltas)
    main = main_table(results, score, intervals, overall)
    cells = per_language(results, intervals)
    tables = {
        "main_table": main,
        "per_language": cells,
        "language_groups": language_groups(cells),
        "transfer_gap": transfer_gap(results),
        "similarity": similarity(frame, main) if not frame.empty else similarity_empty(),
        "seed_spread": seed_spread(frame, results),
    }
    return Analysis(out_dir, frame, results, intervals, score, tables)


def similarity_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["intermediate", "target", "measure", "similarity", "delta"])

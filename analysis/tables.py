"""The report's tables as data frames: what the markdown shows and what `report/csv/` exports.

Long format throughout (one row per value with its keys), so a table is one `pivot` away from
any layout and every CSV reads straight into pandas. Scores and deltas are fractions; the
markdown turns them into percentages and points.
"""

from __future__ import annotations

import json

import pandas as pd

from analysis.bootstrap import TASK, Interval
from analysis.languages import GROUPINGS, group_of
from analysis.selection import BASELINE, TargetResult
from analysis.xtreme_score import BenchmarkScore, task_score

Intervals = dict[str, dict[tuple[str, str], Interval]]  # target -> (intermediate, lang) -> CI


def _ci(intervals: Intervals, target: str, intermediate: str, key: str) -> dict[str, object]:
    return _ci_columns(intervals.get(target, {}).get((intermediate, key)))


def _ci_columns(found: Interval | None) -> dict[str, object]:
    if found is None:
        return {"ci_low": None, "ci_high": None, "significant": None}
    return {"ci_low": found.low, "ci_high": found.high, "significant": found.significant}


def per_language(results: list[TargetResult], intervals: Intervals) -> pd.DataFrame:
    """Every cell of every target's primary-metric table, with its seeds and its delta's CI."""
    rows = []
    for r in results:
        for inter in r.intermediates:
            for lang in r.languages:
                cell = r.cell(r.metric, inter, lang)
                if cell is None:
                    continue
                delta = None if inter == BASELINE else r.delta(r.metric, inter, lang)
                rows.append(
                    {
                        "target": r.target,
                        "intermediate": inter,
                        "language": lang,
                        "metric": r.metric,
                        "mean": cell.value,
                        "std": cell.std,
                        "seeds": cell.seeds,
                        "n_examples": cell.n_examples,
                        "p_above_chance": cell.p_value,
                        "delta": delta,
                        **_ci(intervals, r.target, inter, lang),
                    }
                )
    return pd.DataFrame(rows, columns=PER_LANGUAGE_COLUMNS)


PER_LANGUAGE_COLUMNS = [
    "target", "intermediate", "language", "metric", "mean", "std", "seeds", "n_examples",
    "p_above_chance", "delta", "ci_low", "ci_high", "significant",
]  # fmt: skip


def main_table(
    results: list[TargetResult],
    score: BenchmarkScore | None,
    intervals: Intervals,
    overall_cis: dict[str, Interval] | None = None,
) -> pd.DataFrame:
    """The paper's table in long form: per (intermediate, target) the task's score as the
    benchmark computes it (QA: (F1 + EM) / 2), its delta over `none` and that delta's CI; an
    extra target, the benchmark's overall score, with `overall_cis`."""
    rows = []
    for r in results:
        base = task_score(r, BASELINE) if r.has_baseline else None
        for inter in r.intermediates:
            value = task_score(r, inter)
            if value is None:
                continue
            delta = value - base if base is not None and inter != BASELINE else None
            ci = _ci(intervals, r.target, inter, TASK)
            rows.append(
                {"intermediate": inter, "target": r.target, "score": value, "delta": delta, **ci}
            )
    if score is not None:
        base = score.overall(BASELINE)
        for inter in score.scores:
            overall = score.overall(inter)
            if overall is None:
                continue
            delta = overall - base if base is not None and inter != BASELINE else None
            ci = _ci_columns((overall_cis or {}).get(inter))
            rows.append(
                {"intermediate": inter, "target": score.benchmark, "score": overall,
                 "delta": delta, **ci}
            )  # fmt: skip
    columns = ["intermediate", "target", "score", "delta", "ci_low", "ci_high", "significant"]
    return pd.DataFrame(rows, columns=columns)


def best_per_target(main: pd.DataFrame) -> dict[str, str]:
    """Per target (and the overall score), the intermediate task with the highest score;
    `none` counts only when nothing beats it."""
    best = {}
    for target, rows in main.groupby("target", sort=False):
        others = rows[rows.intermediate != BASELINE]
        pool = others if not others.empty else rows
        best[str(target)] = str(pool.sort_values(["score", "intermediate"]).iloc[-1].intermediate)
    return best


def language_groups(cells: pd.DataFrame) -> pd.DataFrame:
    """Mean delta per (grouping, group, intermediate) over every (target, language) cell in the
    group; the counts say how many cells and languages an average stands on."""
    deltas = cells.dropna(subset=["delta"])
    rows = []
    for grouping in GROUPINGS:
        groups = deltas.language.map(lambda lang, g=grouping: group_of(lang, g))
        for (group, inter), part in deltas.groupby([groups, deltas.intermediate]):
            rows.append(
                {
                    "grouping": grouping,
                    "group": group,
                    "intermediate": inter,
                    "mean_delta": float(part.delta.mean()),
                    "cells": len(part),
                    "languages": " ".join(sorted(set(part.language))),
                }
            )
    columns = ["grouping", "group", "intermediate", "mean_delta", "cells", "languages"]
    return pd.DataFrame(rows, columns=columns)


def transfer_gap(results: list[TargetResult]) -> pd.DataFrame:
    """English (the training language) minus the mean of the other languages, per target and
    intermediate: how much of the English score survives the transfer."""
    rows = []
    for r in results:
        source = r.task.train_language if r.task is not None else "en"
        others = [lang for lang in r.shared_languages(r.metric) if lang != source]
        for inter in r.intermediates:
            home = r.cell(r.metric, inter, source)
            values = [c.value for lang in others if (c := r.cell(r.metric, inter, lang))]
            if home is None or not values:
                continue
            mean = sum(values) / len(values)
            rows.append(
                {"target": r.target, "intermediate": inter, "metric": r.metric,
                 "source": home.value, "others": mean, "gap": home.value - mean}
            )  # fmt: skip
    columns = ["target", "intermediate", "metric", "source", "others", "gap"]
    return pd.DataFrame(rows, columns=columns)


def seed_spread(frame: pd.DataFrame, results: list[TargetResult]) -> pd.DataFrame:
    """Per (target, intermediate): the seeds' language-average scores of the selected
    configuration, their standard deviation and range. One seed gives no spread."""
    zero_shot = frame[(frame.phase == "zero_shot") & (frame.split == "test")]
    rows = []
    for r in results:
        shared = r.shared_languages(r.metric)
        for inter, selection in r.selections.items():
            part = zero_shot[
                zero_shot.trial_id.isin(selection.trials)
                & (zero_shot.metric == r.metric)
                & zero_shot.language.isin(shared)
                & (zero_shot.target == r.target)
            ]
            # The last round per (trial, language), as in the tables.
            part = part.sort_values("round").drop_duplicates(["trial_id", "language"], keep="last")
            averages = part.groupby("trial_id").value.mean()
            if averages.empty:
                continue
            seeds = len(averages)
            rows.append(
                {
                    "target": r.target,
                    "intermediate": inter,
                    "seeds": seeds,
                    "mean": float(averages.mean()),
                    "std": float(averages.std()) if seeds > 1 else None,
                    "range": float(averages.max() - averages.min()) if seeds > 1 else None,
                    "per_seed": json.dumps([round(float(v), 6) for v in averages]),
                }
            )
    columns = ["target", "intermediate", "seeds", "mean", "std", "range", "per_seed"]
    return pd.DataFrame(rows, columns=columns)


def similarity(frame: pd.DataFrame, main: pd.DataFrame) -> pd.DataFrame:
    """Per (intermediate, target) pair: the stored similarity of the two tasks' data under the
    starting encoder, beside the pair's zero-shot delta (None where it has none)."""
    rows = frame[(frame.phase == "similarity")]
    rows = rows.drop_duplicates(["intermediate", "target", "metric"], keep="last")
    deltas = {(m.intermediate, m.target): m.delta for m in main.itertuples()}
    out = [
        {
            "intermediate": s.intermediate,
            "target": s.target,
            "measure": s.metric,
            "similarity": float(s.value),
            "delta": deltas.get((s.intermediate, s.target)),
        }
        for s in rows.itertuples()
    ]
    return pd.DataFrame(out, columns=["intermediate", "target", "measure", "similarity", "delta"])


EXACT_PAIRS = 8  # up to this many pairs the p-value counts all n! orderings (8! = 40,320)


def spearman(pairs: pd.DataFrame) -> tuple[float, float, int] | None:
    """Spearman's rho between similarity and delta over the pairs that have both, its
    two-sided p-value and the pair count; None under three pairs or with a constant column.

    A sweep has few (intermediate, target) pairs, where the usual t approximation is far off
    (4 pairs in perfect order get p = 0 from it, but 1 ordering in 12 is as extreme): up to
    `EXACT_PAIRS` pairs the p-value is the exact permutation one."""
    both = pairs.dropna(subset=["similarity", "delta"])
    if len(both) < 3 or both.similarity.nunique() < 2 or both.delta.nunique() < 2:
        return None
    from scipy.stats import rankdata, spearmanr  # seconds of import: only where there is a fit

    x, y = both.similarity.astype(float).to_numpy(), both.delta.astype(float).to_numpy()
    rho, p = spearmanr(x, y)
    if len(both) <= EXACT_PAIRS:
        p = _exact_p(rankdata(x), rankdata(y), float(rho))
    return float(rho), float(p), len(both)


def _exact_p(rx, ry, rho: float) -> float:
    """The share of the orderings of `ry` whose rank correlation with `rx` is at least as far
    from zero as `rho`."""
    from itertools import permutations

    import numpy as np

    orders = np.array(list(permutations(ry)))
    cx = rx - rx.mean()
    cy = orders - orders.mean(axis=1, keepdims=True)
    rhos = cy @ cx / (np.linalg.norm(cx) * np.linalg.norm(cy, axis=1))
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))

"""Paired bootstrap confidence intervals over test examples for every zero-shot delta.

The evaluation stores, per test example, the sufficient statistics of each metric
(`<out>/examples/`: a numerator and a denominator whose sums give the metric back: correct and
1 for accuracy, 2·tp and |predicted| + |gold| for F1). Resampling the examples with replacement
and recomputing the metric as a ratio of sums resamples the metric itself, micro-F1 included.

Paired: an intermediate and the `none` baseline are scored on the same resample, so the
interval is the one of their difference, which is much tighter than two separate intervals
when both models get the same examples right. The statistic is the seed mean, as in the
tables; the interval covers the test set's sampling, not the seeds (the ± column shows those).
A language average resamples each language independently and averages the deltas.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from analysis.selection import BASELINE, TargetResult
from analysis.xtreme_score import QA_METRICS, task_score

RESAMPLES = 1000
LEVEL = 0.95
AVERAGE = "avg"  # the key of a language average's interval
TASK = "task"  # the key of the task score's interval (QA: (F1 + exact match) / 2)
EXAMPLE_COLUMNS = ("trial_id", "language", "metric", "example", "numerator", "denominator")


@dataclass(frozen=True)
class Interval:
    """A delta (from the stored examples) and its bootstrap interval, as fractions."""

    delta: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def load_examples(out_dir: Path) -> pd.DataFrame:
    """The per-example store, `<out>/examples` (empty when the sweep wrote none)."""
    directory = Path(out_dir) / "examples"
    if not directory.is_dir() or not any(directory.glob("*.parquet")):
        return pd.DataFrame(columns=list(EXAMPLE_COLUMNS))
    # Strings as dictionaries: a paper-scale store has tens of millions of rows that repeat a
    # few hundred trial ids and a few dozen languages.
    keys = ["trial_id", "language", "metric"]
    table = pq.read_table(directory, columns=list(EXAMPLE_COLUMNS), read_dictionary=keys)
    return table.to_pandas()


def _weights(target: str, language: str, n: int, resamples: int, seed: int) -> np.ndarray:
    """How often each example is drawn in each resample, (resamples, n). Seeded by the target
    and language, so an interval does not change when other cells join the report."""
    key = zlib.crc32(f"{target}/{language}".encode())
    rng = np.random.default_rng([seed, key])
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


class Bootstrap:
    """Intervals for one sweep's examples; `intervals(result)` for one target's cells."""

    def __init__(self, examples: pd.DataFrame, *, resamples: int = RESAMPLES, seed: int = 0):
        self.resamples, self.seed = resamples, seed
        grouped = examples.groupby(["metric", "language"], observed=True)
        self.groups = {(str(m), str(lang)): rows for (m, lang), rows in grouped}

    def _stats(self, metric: str, language: str, trials: tuple[str, ...]):
        """(numerators, denominators) as (seeds, examples) arrays in example order, or None
        when a seed has no stored examples or the seeds disagree on the test set."""
        rows = self.groups.get((metric, language))
        if rows is None or not trials:
            return None
        rows = rows[rows.trial_id.isin(trials)].astype({"trial_id": str})
        # One row per (trial, example): a trial evaluated twice counts once, as in the tables.
        rows = rows.drop_duplicates(["trial_id", "example"], keep="last")
        if rows.trial_id.nunique() < len(trials):
            return None
        num = rows.pivot(index="trial_id", columns="example", values="numerator")
        den = rows.pivot(index="trial_id", columns="example", values="denominator")
        if num.isna().to_numpy().any():
            return None
        return num.to_numpy(np.float64), den.to_numpy(np.float64), tuple(num.columns)

    def _distribution(self, weights: np.ndarray, stats) -> np.ndarray:
        """The seed-mean metric under each resample."""
        num, den, _ = stats
        sums_num, sums_den = weights @ num.T, weights @ den.T
        ratio = np.divide(sums_num, sums_den, out=np.zeros_like(sums_num), where=sums_den > 0)
        return ratio.mean(axis=1)

    def intervals(self, result: TargetResult) -> dict[tuple[str, str], Interval]:
        """Per (intermediate, language) and (intermediate, "avg") of the primary metric, and
        (intermediate, "task") of the task's score, where the examples allow."""
        return self.target(result)[0]

    def target(self, result: TargetResult) -> tuple[dict[tuple[str, str], Interval], dict]:
        """`intervals`, and per intermediate the resampled delta of the task's score (for the
        benchmark's overall score: tasks are resampled independently and averaged)."""
        if BASELINE not in result.selections:
            return {}, {}
        # QA scores as (F1 + exact match) / 2, like the benchmark: both on the same resamples.
        metrics = QA_METRICS if _is_qa(result) else (result.metric,)
        out: dict[tuple[str, str], Interval] = {}
        deltas: dict[str, dict[str, dict[str, np.ndarray]]] = {m: {} for m in metrics}
        for lang in result.languages:
            weights = None
            for metric in metrics:
                base = self._stats(metric, lang, result.selections[BASELINE].trials)
                if base is None:
                    continue
                baseline = None
                for inter, selection in result.selections.items():
                    if inter == BASELINE:
                        continue
                    stats = self._stats(metric, lang, selection.trials)
                    if stats is None or stats[2] != base[2]:
                        continue
                    if weights is None:
                        n = len(base[2])
                        weights = _weights(result.target, lang, n, self.resamples, self.seed)
                    if baseline is None:
                        baseline = self._distribution(weights, base)
                    dist = self._distribution(weights, stats) - baseline
                    deltas[metric].setdefault(inter, {})[lang] = dist
                    if metric == result.metric:
                        out[(inter, lang)] = _interval(_point(stats) - _point(base), dist)
        averages = {m: self._averages(result, by_inter) for m, by_inter in deltas.items()}
        for inter, dist in averages[result.metric].items():
            shared = result.shared_languages(result.metric)
            point = float(np.mean([out[(inter, lang)].delta for lang in shared]))
            out[(inter, AVERAGE)] = _interval(point, dist)
        task = {
            inter: np.mean([averages[m][inter] for m in metrics], axis=0)
            for inter in averages[result.metric]
            if all(inter in averages[m] for m in metrics)
        }
        for inter, dist in task.items():
            delta = _task_delta(result, inter)
            if delta is not None:
                out[(inter, TASK)] = _interval(delta, dist)
        return out, task

    @staticmethod
    def _averages(result: TargetResult, by_inter: dict) -> dict[str, np.ndarray]:
        """The language average's resampled delta, where every shared language has one."""
        shared = result.shared_languages(result.metric)
        return {
            inter: np.mean([by_lang[lang] for lang in shared], axis=0)
            for inter, by_lang in by_inter.items()
            if shared and all(lang in by_lang for lang in shared)
        }


def overall_intervals(
    distributions: dict[str, dict[str, np.ndarray]], tasks: tuple[str, ...], deltas: dict
) -> dict[str, Interval]:
    """The benchmark's overall delta per intermediate (`deltas`: its point), from each task's
    resampled delta (`distributions`: target -> intermediate -> array), where it has all."""
    out = {}
    for inter, delta in deltas.items():
        parts = [distributions.get(t, {}).get(inter) for t in tasks]
        if delta is not None and tasks and all(p is not None for p in parts):
            out[inter] = _interval(delta, np.mean(parts, axis=0))
    return out


def _is_qa(result: TargetResult) -> bool:
    return result.metric in QA_METRICS and all(m in result.metrics() for m in QA_METRICS)


def _task_delta(result: TargetResult, intermediate: str) -> float | None:
    score, base = task_score(result, intermediate), task_score(result, BASELINE)
    return None if score is None or base is None else score - base


def _point(stats) -> float:
    num, den, _ = stats
    sums = den.sum(axis=1)
    return float(np.mean(np.divide(num.sum(axis=1), sums, where=sums > 0, out=np.zeros(len(sums)))))


def _interval(point: float, dist: np.ndarray) -> Interval:
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(dist, [tail, 100 - tail])
    return Interval(point, float(low), float(high))

"""Model selection and per-cell zero-shot scores, read straight from a sweep's results store.

A cell is one (target task, intermediate task) pair. Selection is zero-shot: the cell's
configuration is the one with the best *English dev* score of the target task, and only
then are its test scores in every language looked at. Target-language data never takes part.

The store is read with pyarrow directly rather than through `sweep.store`, because `sweep`
imports this package (its CLI prints the summary) and the import must not go both ways.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from trainers.tasks import REGISTRY, Task

BASELINE = "none"
PHASES = ("pretrain", "intermediate", "target", "zero_shot")
OPTIONAL_PHASES = ("pretrain",)
SIGNIFICANCE = 0.05
# Not a score (lower is better), so never a primary metric nor tested against chance.
LOSS = "loss"
# The columns of `sweep.store.SCHEMA` this package uses; an empty store gets them too.
_COLUMNS = (
    "sweep",
    "phase",
    "trial_id",
    "config_id",
    "intermediate",
    "target",
    "task",
    "language",
    "split",
    "metric",
    "value",
    "n_examples",
    "round",
    "hparams",
)


def load_results(out_dir: Path) -> pd.DataFrame:
    """Every complete part file under `<out>/results` (pyarrow skips '.'-prefixed temporaries)."""
    directory = Path(out_dir) / "results"
    if not directory.is_dir() or not any(directory.glob("*.parquet")):
        return pd.DataFrame(columns=list(_COLUMNS))
    return pq.read_table(directory).to_pandas()


def trial_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Distinct trials per phase, in pipeline order (phases with no rows are left out)."""
    counts = frame.groupby("phase")["trial_id"].nunique()
    return {phase: int(counts[phase]) for phase in PHASES if phase in counts.index}


def pct(value: float) -> str:
    """A score as a percentage with one decimal ("—" when there is none)."""
    return "—" if value != value else f"{100 * value:.1f}"


def points(delta: float) -> str:
    """A score difference in signed percentage points."""
    # Adding 0.0 turns a rounded -0.0 into +0.0, so a tie never prints as a loss.
    return f"{round(100 * delta, 1) + 0.0:+.1f}"


def p_above_chance(value: float, chance: float, n: int) -> float:
    """One-sided p-value that a score of `value` over `n` examples beats `chance`.

    Binomial test by its normal approximation (with continuity correction): the score is
    treated as a proportion of n independent hits. Seeds share one test set, so their mean
    is still judged against n examples, not n times the seed count.
    """
    hits = value * n
    spread = math.sqrt(n * chance * (1.0 - chance))
    z = (hits - 0.5 - n * chance) / spread
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Selection:
    """The configuration chosen for one cell, by English dev score alone."""

    config_id: str
    dev_score: float  # primary metric: max over rounds per trial, then mean over seeds
    seeds: int
    candidates: int  # finished configs it was chosen from
    hparams: dict[str, object]  # the hyper-parameters all its seeds share
    trials: tuple[str, ...] = ()  # its seeds' trial ids, whose test examples the bootstrap reads


@dataclass(frozen=True)
class Cell:
    """A zero-shot test score of a selected configuration, mean over its seeds."""

    value: float
    n_examples: int
    p_value: float | None  # against chance; None where chance is unknown or not tested
    std: float | None = None  # sample standard deviation over seeds; None with one seed
    seeds: int = 1

    @property
    def at_chance(self) -> bool:
        return self.p_value is not None and self.p_value >= SIGNIFICANCE


@dataclass(frozen=True)
class TargetResult:
    """Everything the report shows for one target task."""

    target: str
    metric: str
    task: Task | None  # None when the store names a task the registry does not know
    languages: tuple[str, ...]  # English (the training language) first, then alphabetical
    intermediates: tuple[str, ...]  # the baseline first
    selections: dict[str, Selection]
    cells: dict[tuple[str, str, str], Cell]  # (metric, intermediate, language)
    unselectable: tuple[str, ...]  # intermediates with test rows but no English dev score

    @property
    def chance(self) -> float | None:
        return chance_of(self.task)

    @property
    def has_baseline(self) -> bool:
        return BASELINE in self.intermediates

    def metrics(self) -> tuple[str, ...]:
        """The primary metric first, then the secondary scores alphabetically (loss left out)."""
        others = sorted({m for m, _, _ in self.cells} - {self.metric, LOSS})
        return (self.metric, *others)

    def cell(self, metric: str, intermediate: str, language: str) -> Cell | None:
        return self.cells.get((metric, intermediate, language))

    def shared_languages(self, metric: str) -> tuple[str, ...]:
        """Languages every intermediate has a score for: averages over them compare fairly."""
        return tuple(
            lang
            for lang in self.languages
            if all(self.cell(metric, i, lang) is not None for i in self.intermediates)
        )

    def average(self, metric: str, intermediate: str) -> float | None:
        """Unweighted mean over the shared languages (None for an intermediate not in the table)."""
        cells = [self.cell(metric, intermediate, lang) for lang in self.shared_languages(metric)]
        values = [c.value for c in cells if c is not None]
        return sum(values) / len(values) if values else None

    def delta(self, metric: str, intermediate: str, language: str) -> float | None:
        """Score minus the baseline's in the same language (None where either is missing)."""
        cell, base = (
            self.cell(metric, intermediate, language),
            self.cell(metric, BASELINE, language),
        )
        return cell.value - base.value if cell is not None and base is not None else None

    def average_delta(self, metric: str, intermediate: str) -> float | None:
        average, base = self.average(metric, intermediate), self.average(metric, BASELINE)
        return average - base if average is not None and base is not None else None


def baseline_first(intermediates) -> list[str]:
    """Distinct intermediates in the order every table uses: `none`, then by name."""
    return sorted(set(intermediates), key=lambda i: (i != BASELINE, i))


def known_task(name: str) -> Task | None:
    return REGISTRY.get(name) if name in REGISTRY else None


def chance_of(task: Task | None) -> float | None:
    """The registry's chance floor (1/labels, tagging included; 1/choices for multiple
    choice); None when there is none (span QA, retrieval) or the task is unknown."""
    floor = task.chance() if task is not None else 0.0
    return floor if floor > 0 else None


def _primary_metric(task: Task | None, zero_shot: pd.DataFrame) -> str:
    """The registry's metric; for an unknown task, the first non-loss metric measured."""
    if task is not None:
        return task.metric
    measured = sorted(set(zero_shot["metric"]) - {LOSS})
    return measured[0] if measured else LOSS


def _dev_scores(dev: pd.DataFrame) -> pd.DataFrame:
    """Per (intermediate, config): best round per trial, then mean and count over seeds."""
    per_trial = dev.groupby(["intermediate", "config_id", "trial_id"], as_index=False)[
        "value"
    ].max()
    return per_trial.groupby(["intermediate", "config_id"], as_index=False).agg(
        dev_score=("value", "mean"), seeds=("trial_id", "nunique")
    )


def _untrained(zero_shot: pd.DataFrame) -> dict[str, pd.Series]:
    first = zero_shot.drop_duplicates("intermediate")
    return {
        str(row.intermediate): pd.Series(
            {"config_id": row.config_id, "dev_score": float("nan"), "seeds": 1, "candidates": 1}
        )
        for row in first.itertuples()
    }


def _pick_best(scores: pd.DataFrame) -> dict[str, pd.Series]:
    """Per intermediate, the config with the highest dev score (ties broken by config id),
    with `candidates`, the number of configs it beat or tied."""
    ordered = scores.sort_values(
        ["intermediate", "dev_score", "config_id"], ascending=[True, False, True]
    )
    ordered["candidates"] = ordered.groupby("intermediate")["config_id"].transform("size")
    return {
        str(row.intermediate): row for _, row in ordered.groupby("intermediate").head(1).iterrows()
    }


def _shared_hparams(rows: pd.DataFrame) -> dict[str, object]:
    """Hyper-parameters equal across a config's seeds, less the seed (the store has a column
    for it), so a single-seed config reads like a multi-seed one."""
    per_trial = [json.loads(h) if h else {} for h in rows.drop_duplicates("trial_id")["hparams"]]
    first = per_trial[0] if per_trial else {}
    return {
        k: v
        for k, v in sorted(first.items())
        if k != "seed" and all(p.get(k) == v for p in per_trial)
    }


def _varying_keys(rows: pd.DataFrame) -> set[str]:
    """Hyper-parameters that differ between a target's trials: the ones the grid searched.
    Showing only these keeps the selection table readable."""
    values: dict[str, set[str]] = {}
    for h in rows.drop_duplicates("trial_id")["hparams"]:
        for k, v in (json.loads(h) if h else {}).items():
            values.setdefault(k, set()).add(json.dumps(v, sort_keys=True))
    return {k for k, vs in values.items() if len(vs) > 1 and k != "seed"}


def _latest_round(zero_shot: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, language, metric): a re-evaluated trial counts once, its last round."""
    ordered = zero_shot.sort_values("round")
    return ordered.drop_duplicates(["trial_id", "language", "metric"], keep="last")


def _cells(
    rows: pd.DataFrame, intermediate: str, metric: str, chance: float | None
) -> dict[tuple[str, str, str], Cell]:
    """Seed-mean test scores of one selected config, keyed (metric, intermediate, language)."""
    cells: dict[tuple[str, str, str], Cell] = {}
    grouped = rows.groupby(["metric", "language"]).agg(
        value=("value", "mean"),
        n=("n_examples", "min"),
        std=("value", "std"),
        seeds=("trial_id", "nunique"),
    )
    for (m, lang), row in grouped.iterrows():
        # The smallest n over seeds is the conservative one should seeds ever differ.
        n = int(row.n) if pd.notna(row.n) else 0
        tested = m == metric and chance is not None and 0.0 < chance < 1.0 and n > 0
        p = p_above_chance(float(row.value), chance, n) if tested else None
        std = float(row["std"]) if row.seeds > 1 and pd.notna(row["std"]) else None
        cells[(str(m), intermediate, str(lang))] = Cell(float(row.value), n, p, std, int(row.seeds))
    return cells


def _order_languages(languages: set[str], first: str) -> tuple[str, ...]:
    return tuple(sorted(languages, key=lambda lang: (lang != first, lang)))


def target_result(frame: pd.DataFrame, target: str) -> TargetResult:
    """Select a config per intermediate on English dev and gather its zero-shot test scores."""
    task = known_task(target)
    train_language = task.train_language if task is not None else "en"
    zero_shot = frame[
        (frame.phase == "zero_shot") & (frame.target == target) & (frame.split == "test")
    ]
    zero_shot = _latest_round(zero_shot)
    metric = _primary_metric(task, zero_shot)
    # Trials with no zero-shot rows (stopped by ASHA, failed) cannot be a cell's model.
    finished = set(zero_shot["trial_id"])
    dev = frame[
        (frame.phase == "target")
        & (frame.target == target)
        & (frame.task == target)
        & (frame.split == "dev")
        & (frame.metric == metric)
        & (frame.language == train_language)
        & frame.trial_id.isin(finished)
    ]
    best = _pick_best(_dev_scores(dev)) if not dev.empty else {}
    if task is not None and not task.needs_training:
        # Retrieval targets are not fine-tuned: each start has one configuration, nothing to
        # select (and no dev score to select it by).
        best = _untrained(zero_shot)

    selections: dict[str, Selection] = {}
    cells: dict[tuple[str, str, str], Cell] = {}
    chance = chance_of(task)
    # Over every trained trial, stopped ones included: after ASHA a single configuration may be
    # left evaluated, and its searched rate must still show.
    searched = _varying_keys(
        pd.concat([zero_shot, frame[(frame.phase == "target") & (frame.target == target)]])
    )
    for intermediate, row in best.items():
        # Filtered on both, so a config id reused across intermediates cannot mix cells.
        rows = zero_shot[
            (zero_shot.config_id == row.config_id) & (zero_shot.intermediate == intermediate)
        ]
        selections[intermediate] = Selection(
            config_id=str(row.config_id),
            dev_score=float(row.dev_score),
            seeds=int(row.seeds),
            candidates=int(row.candidates),
            hparams={k: v for k, v in _shared_hparams(rows).items() if k in searched},
            trials=tuple(sorted(set(rows.trial_id))),
        )
        cells.update(_cells(rows, intermediate, metric, chance))

    tested = set(zero_shot["intermediate"])
    intermediates = baseline_first(selections)
    languages = {lang for _, _, lang in cells}
    return TargetResult(
        target=target,
        metric=metric,
        task=task,
        languages=_order_languages(languages, train_language),
        intermediates=tuple(intermediates),
        selections=selections,
        cells=cells,
        unselectable=tuple(sorted(tested - set(selections))),
    )


def collect(frame: pd.DataFrame) -> list[TargetResult]:
    """One result per target task that has zero-shot rows, in name order."""
    zero_shot = frame[frame.phase == "zero_shot"]
    return [target_result(frame, str(t)) for t in sorted(set(zero_shot["target"]))]

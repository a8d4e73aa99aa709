"""The XTREME score, as google-research/xtreme computes it, per intermediate configuration.

Per task: the unweighted mean over its languages of the task's metric, where the QA tasks count
(F1 + exact match) / 2. Overall: the plain mean of the task scores (so XTREME's three QA tasks
weigh more than the other categories, as on the leaderboard). A sweep that covers only some of
the benchmark's tasks gets the same recipe over those, labelled as partial: such a number is not
comparable with published XTREME scores.

The project's synthetic tasks are named `synth_<task>` after the XTREME task they stand in for
(synth_xnli for xnli); they are scored by the same recipe and labelled as synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis.selection import TargetResult

XTREME = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc", "tatoeba")
XTREME_R = (
    "xnli",
    "xcopa",
    "udpos",
    "panx",
    "xquad",
    "mlqa",
    "tydiqa",
    "mewslix",
    "lareqa",
    "tatoeba",
)
SUITES = {"xtreme": ("XTREME", XTREME), "xtreme-r": ("XTREME-R", XTREME_R)}
QA_METRICS = ("f1", "exact")
SYNTHETIC_PREFIX = "synth_"


@dataclass(frozen=True)
class BenchmarkScore:
    """Task scores per intermediate over the sweep's targets in the benchmark, and the overall."""

    benchmark: str  # display name: XTREME or XTREME-R
    tasks: tuple[str, ...]  # target tasks in the benchmark's order (as named in the store)
    missing: tuple[str, ...]  # benchmark tasks the sweep has no target for
    synthetic: bool
    scores: dict[str, dict[str, float]]  # intermediate -> task -> score

    def overall(self, intermediate: str) -> float | None:
        """Mean over the tasks, only where this intermediate has every one of them."""
        scores = self.scores.get(intermediate, {})
        if not self.tasks or any(task not in scores for task in self.tasks):
            return None
        return sum(scores[task] for task in self.tasks) / len(self.tasks)


def benchmark_of(out_dir: Path) -> str:
    """The spec's `phases.evaluate.benchmark` (xtreme unless the sweep chose xtreme-r)."""
    path = Path(out_dir) / "spec.yaml"
    try:
        spec = yaml.safe_load(path.read_text()) if path.is_file() else {}
        chosen = spec["phases"]["evaluate"]["benchmark"]
    except (KeyError, TypeError, yaml.YAMLError):
        return "xtreme"
    return chosen if chosen in SUITES else "xtreme"


def counterpart(task: str) -> str:
    return task.removeprefix(SYNTHETIC_PREFIX)


def task_score(result: TargetResult, intermediate: str) -> float | None:
    """The task's XTREME score for one intermediate: QA averages F1 and exact match."""
    if all(m in result.metrics() for m in QA_METRICS) and result.metric in QA_METRICS:
        parts = [result.average(m, intermediate) for m in QA_METRICS]
        return None if None in parts else sum(parts) / len(parts)
    return result.average(result.metric, intermediate)


def benchmark_score(results: list[TargetResult], benchmark: str) -> BenchmarkScore | None:
    """The score over the sweep's targets that stand for tasks of `benchmark`; None if none do."""
    name, suite = SUITES[benchmark]
    by_task = {counterpart(r.target): r for r in results if counterpart(r.target) in suite}
    if not by_task:
        return None
    tasks = tuple(by_task[t].target for t in suite if t in by_task)
    scores: dict[str, dict[str, float]] = {}
    for task in suite:
        result = by_task.get(task)
        for intermediate in result.intermediates if result else ():
            score = task_score(result, intermediate)
            if score is not None:
                scores.setdefault(intermediate, {})[result.target] = score
    return BenchmarkScore(
        benchmark=name,
        tasks=tasks,
        missing=tuple(t for t in suite if t not in by_task),
        synthetic=any(t.startswith(SYNTHETIC_PREFIX) for t in tasks),
        scores=scores,
    )

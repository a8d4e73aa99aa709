"""Hyperopt for a phase: `GroupedSearch`, one `HyperOptSearch` per group behind one Tune searcher.

ASHA compares trials only within a group (an intermediate task, or an intermediate->target
pair), and so does the search: an NLI accuracy says nothing about where a tagging F1 peaks. Each
group's searcher is seeded from the sweep's seed and the group's name, so its suggestions depend
neither on other groups' results nor on which other groups run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable

from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.variant_generator import parse_spec_vars

from sweep.plan import SearchPlan, TrialPlan
from sweep.space import Distribution

SAMPLERS = {
    "loguniform": tune.loguniform,
    "uniform": tune.uniform,
    "quniform": tune.quniform,
    "randint": tune.randint,
}


def tune_space(space: dict) -> dict:
    """A plan's space (`{key: {distribution: [arguments]}}`) as `ray.tune` sample objects."""
    domains = {}
    for key, value in space.items():
        dist = Distribution.parse(value)
        choice = dist.name == "choice"
        domains[key] = tune.choice(list(dist.args)) if choice else SAMPLERS[dist.name](*dist.args)
    return domains


def total_trials(searches: Iterable[SearchPlan]) -> int:
    """Trials the searches run in all: each group's samples x seeds (the Tuner's num_samples)."""
    return sum(s.n_trials() for s in searches)


class _Group:
    """One group's search: its HyperOptSearch (none when the task fixes every searched key), the
    seeds still to run of the point it sampled last, and how many points it has left."""

    def __init__(
        self, plan: SearchPlan, metric: str, mode: str, seed: int, known: list, unfinished: list
    ) -> None:
        self.plan = plan
        self.pending: list[tuple[dict, int]] = list(unfinished)
        known = _fitting(plan, known)[: plan.num_samples]
        resumed: list[dict] = []  # points sampled before whose seeds are not all finished
        for point, _ in unfinished:
            if point not in resumed and all(point != q for q, _ in known):
                resumed.append(point)
        self.left = max(plan.num_samples - len(known) - len(resumed), 0)
        self.searcher = None
        if not plan.space:
            return
        # Imported here: hyperopt brings SciPy's statistics, seconds of CPU at every sweep's
        # start, for the phases that search (most sweeps run grids).
        from ray.tune.search.hyperopt import HyperOptSearch

        self.searcher = HyperOptSearch(
            HyperOptSearch.convert_search_space(tune_space(plan.space)),
            metric=metric,
            mode=mode,
            points_to_evaluate=[point for point, _ in known] or None,
            random_state_seed=seed,
        )
        for i, (_, score) in enumerate(known):  # replayed, so that TPE learns from them
            self.searcher.suggest(f"known-{i}")
            self.report(f"known-{i}", {metric: score})

    def next_point(self, trial_id: str) -> dict:
        """A new point, sampled under `trial_id` (the id its result is reported under)."""
        self.left -= 1
        return self.searcher.suggest(trial_id) if self.searcher else {}

    def report(self, trial_id: str, result: dict | None) -> None:
        score = (result or {}).get(self.searcher.metric)
        if isinstance(score, int | float) and math.isfinite(score):
            self.searcher.on_trial_complete(trial_id, result={self.searcher.metric: score})
        else:  # failed, or stopped before its first evaluation: nothing to learn from
            self.searcher.on_trial_complete(trial_id, error=True)


class GroupedSearch(Searcher):
    """The Tune searcher of a hyperopt phase.

    Each group samples `num_samples` points, and each point runs once per seed: one point is
    asked of the group's HyperOptSearch, then handed out with every seed on consecutive calls;
    only its first seed's result goes back to HyperOptSearch. Groups take turns point by point,
    so that all of them progress under a concurrency limit. `known` holds `(group, point,
    score)` of trials finished before (a resumed or reused sweep): they are taught to their
    group's HyperOptSearch and count toward its num_samples (the first of each point counts).
    `unfinished` holds `(group, point, seed)` of the trials a resumed sweep still owes for the
    points it had sampled (interrupted ones, and seeds not yet started): they run before any
    new point, under the ids they had, so that an interrupted one continues from its checkpoint
    (its result is not taught to HyperOptSearch, which never suggested it in this run).
    """

    def __init__(
        self,
        searches: Iterable[SearchPlan],
        make_trial: Callable[[TrialPlan], dict],
        metric: str,
        mode: str = "max",
        seed: int = 0,
        known: Iterable[tuple[str, dict, float | None]] = (),
        unfinished: Iterable[tuple[str, dict, int]] = (),
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        known, unfinished = list(known), list(unfinished)
        self._make_trial = make_trial
        self._groups = [
            _Group(
                plan,
                metric,
                mode,
                _group_seed(seed, plan.group),
                _known_of(plan, known),
                [(point, s) for group, point, s in unfinished if group == plan.group],
            )  # fmt: skip
            for plan in searches
        ]
        if len({g.plan.group for g in self._groups}) != len(self._groups):
            raise ValueError("GroupedSearch: a group is listed twice")
        self._turn = len(self._groups) - 1  # the group that sampled last
        self._live: dict[str, _Group] = {}  # Tune trial id -> its group, for first seeds only

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec):
        """Tune passes its metric, mode and param_space: a param_space with search domains
        would be a second search space (False makes Tune refuse it)."""
        _, domains, grid = parse_spec_vars(config or {})
        if domains or grid:
            return False
        if (metric and metric != self.metric) or (mode and mode != self.mode):
            raise ValueError(
                f"GroupedSearch optimises {self.metric} ({self.mode}), not {metric} ({mode})"
            )
        return True

    def suggest(self, trial_id: str) -> dict | str:
        group = self._next_group()
        if group is None:
            return Searcher.FINISHED
        if not group.pending:
            point = group.next_point(trial_id)
            group.pending = [(point, seed) for seed in group.plan.seeds]
            if group.searcher:
                self._live[trial_id] = group
        point, seed = group.pending.pop(0)
        return {"trial": self._make_trial(group.plan.trial(point, seed))}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._live:
            self._live[trial_id].searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        group = self._live.pop(trial_id, None)
        if group is not None:
            group.report(trial_id, None if error else result)

    def _next_group(self) -> _Group | None:
        """The group with seeds of its last point to run, else the next one with points left."""
        if self._groups and self._groups[self._turn].pending:
            return self._groups[self._turn]
        for step in range(1, len(self._groups) + 1):
            index = (self._turn + step) % len(self._groups)
            if self._groups[index].left > 0 or self._groups[index].pending:
                self._turn = index
                return self._groups[index]
        return None


def _group_seed(seed: int, group: str) -> int:
    """A group's own random state, from the sweep's seed and the group's name alone."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{group}".encode()).digest()[:4], "big")


def _known_of(plan: SearchPlan, known: list) -> list[tuple[dict, float | None]]:
    return [(point, score) for group, point, score in known if group == plan.group]


def _fitting(plan: SearchPlan, known: list) -> list[tuple[dict, float | None]]:
    """Known points that this group's space could have sampled (a changed spec's may not),
    each point once: further seeds of a point are not new samples."""
    space = {key: Distribution.parse(value) for key, value in plan.space.items()}
    kept: list[tuple[dict, float | None]] = []
    for point, score in known:
        fits = set(point) == set(space) and all(space[k].contains(point[k]) for k in space)
        if fits and all(point != p for p, _ in kept):
            kept.append((point, score))
    return kept

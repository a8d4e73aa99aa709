"""ASHA by promotion (Li et al. 2020, Algorithm 2): trials wait at a rung until they are promoted.

Ray's ASHA decides at once when a trial reaches a rung: it goes on unless it is worse than the
top 1/reduction_factor of the trials that reached the rung before it. The first trial at a rung
has nothing to be compared with and always goes on, and ties go on too; with few trials per
slot that is most of a grid (`bench/asha_savings.py`: 0.51x of the full grid's compute on 9
rates, where synchronous halving needs 0.26x). Here a trial that reaches a rung is paused, its
checkpoint kept, unless it ranks in the rung's top floor(n / reduction_factor) of the n trials
recorded there; a freed slot resumes the best promotable trial, highest rung first, before it
starts a new one. Once no other trial can reach a rung, its quota is at least one, and its
trials left waiting are stopped. A resumed trial continues from its latest checkpoint, as after
a failure. The price is a restart per promotion: model, engine and checkpoint loaded again.
"""

from __future__ import annotations

import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from sweep.spec_resources import AshaSpec
from sweep.tune_driver import TIME_ATTR


def milestones(grace: int, top: int, reduction: float) -> list[float]:
    """The rungs below a group's top round: grace, grace*rf, grace*rf^2 ..."""
    rungs, rung = [], float(grace)
    while rung < top:
        rungs.append(rung)
        rung *= reduction
    return rungs


class Ladder:
    """One group's rungs: the scores recorded at each, who was promoted, who waits where."""

    def __init__(self, grace: int, top: int, reduction: float, expected: int):
        self.rungs = milestones(grace, top, reduction)
        self.top = top
        self.reduction = reduction
        self.expected = expected  # trials the group will have in all (some not yet added)
        self.scores: list[dict[str, float]] = [{} for _ in self.rungs]  # in order of arrival
        self.promoted: list[set[str]] = [set() for _ in self.rungs]
        self.waiting: dict[str, int] = {}  # trial -> the rung it waits at
        self.members: set[str] = set()
        self.ended: set[str] = set()  # stopped, failed or done: reaches no further rung

    def record(self, trial: str, round_: int, score: float) -> int | None:
        """A round's score. Returns the rung this report reached, if it is the first to reach
        one (the trial must then be promoted or wait)."""
        self.members.add(trial)
        reached = None
        for k, rung in enumerate(self.rungs):
            if round_ >= rung and trial not in self.scores[k]:
                self.scores[k][trial] = score if math.isfinite(score) else -math.inf
                reached = k
        for k in range(reached or 0):  # passed a rung between two reports: it went on from it
            self.promoted[k].add(trial)
        return reached

    def went_on(self, trial: str, round_: int) -> None:
        """Rounds reported past a rung: the trial was promoted from it (an earlier run's)."""
        for k, rung in enumerate(self.rungs):
            if round_ > rung:
                self.promoted[k].add(trial)

    def quota(self, k: int) -> int:
        n = len(self.scores[k])
        least = 1 if self.closed(k) else 0
        return max(least, math.floor(n / self.reduction))

    def promotable(self, k: int) -> list[str]:
        """Trials waiting at rung k that rank in its top quota, best first."""
        ranked = sorted(self.scores[k].items(), key=lambda item: -item[1])  # stable: arrival
        top = [t for t, _ in ranked[: self.quota(k)]]
        return [t for t in top if self.waiting.get(t) == k]

    def promote(self, trial: str, k: int) -> None:
        self.promoted[k].add(trial)
        self.waiting.pop(trial, None)

    def closed(self, k: int) -> bool:
        """No trial but those recorded at rung k can ever reach it."""
        if k == 0:
            arrived = len(self.members) >= self.expected
            return arrived and all(t in self.scores[0] or t in self.ended for t in self.members)
        below = k - 1
        if not self.closed(below) or self.promotable(below):
            return False
        return all(t in self.scores[k] or t in self.ended for t in self.promoted[below])

    def stranded(self) -> set[str]:
        """Waiting trials that can no longer be promoted: their rung is closed and its quota
        taken by others."""
        stuck: set[str] = set()
        for k in sorted(set(self.waiting.values())):
            if self.closed(k):
                at = {t for t, rung in self.waiting.items() if rung == k}
                stuck |= at - set(self.promotable(k))
        return stuck

    def end(self, trial: str) -> None:
        self.ended.add(trial)
        self.waiting.pop(trial, None)


class PromotingASHA(FIFOScheduler):
    """The Tune scheduler: a `Ladder` per group (one intermediate->target pair, or one
    intermediate task), as `GroupedASHA` keeps Ray's rungs per group. `expected` is each
    group's number of trials in the phase, those finished before included.

    It runs at most `slots` trials at once itself: Tune's own limit counts paused trials, so a
    phase would stop with every slot held by a waiting trial. Every added trial is queued paused
    (Tune starts pending trials whatever the scheduler chooses), and `choose_trial_to_run`
    resumes a promoted trial first, then starts the next queued one."""

    limits_concurrency = True

    def __init__(self, asha: AshaSpec, expected: dict[str, int], slots: int | None = None):
        super().__init__()
        self._slots = slots
        self._queued: list[str] = []  # added trials not yet started, in the order added
        self._metric = asha.metric
        self._op = 1.0 if asha.resolved_mode() == "max" else -1.0
        self._grace = asha.grace_period
        self._reduction = asha.reduction_factor
        self._expected = expected
        self._ladders: dict[str, Ladder] = {}
        self._earlier: dict[str, list[tuple[int, float]]] = {}
        self._settling = False

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # the metric and mode are the spec's

    def _ladder(self, plan: dict) -> Ladder:
        group = plan["group"]
        if group not in self._ladders:
            top = plan["max_rounds"]
            self._ladders[group] = Ladder(
                min(self._grace, top), top, self._reduction, self._expected.get(group, 0)
            )
        return self._ladders[group]

    def _score(self, values: dict) -> float:
        return self._op * float(values[self._metric])

    def remember(self, plan: dict, rounds: list[tuple[int, dict]], *, running: bool) -> None:
        """Rounds a trial reported before this Tuner started (an interrupted sweep's, or a reused
        trial's). A trial that will run again is recorded once Tune adds it."""
        values = [(r, v) for r, v in rounds if self._metric in v]
        if running:
            self._earlier[plan["trial_id"]] = values
            return
        ladder, name = self._ladder(plan), f"earlier:{plan['trial_id']}"
        self._replay(ladder, name, values)
        ladder.end(name)

    def _replay(self, ladder: Ladder, name: str, values: list[tuple[int, dict]]) -> None:
        ladder.members.add(name)
        for round_, value in values:
            ladder.record(name, round_, self._score(value))
            ladder.went_on(name, round_)

    def on_trial_add(self, tune_controller, trial) -> None:
        plan = trial.config["trial"]
        ladder = self._ladder(plan)
        earlier = self._earlier.pop(plan["trial_id"], [])
        self._replay(ladder, trial.trial_id, earlier)
        # Paused: Tune files an added trial by its status after this call, and starts the
        # pending ones whatever the scheduler chooses.
        trial.set_status(Trial.PAUSED)
        last = earlier[-1][0] if earlier else 0
        at = [k for k, rung in enumerate(ladder.rungs) if last >= rung]
        if at and last < ladder.top and trial.trial_id not in ladder.promoted[at[-1]]:
            # Interrupted at a rung it had not been promoted from: it waits there again.
            ladder.waiting[trial.trial_id] = at[-1]
        else:
            self._queued.append(trial.trial_id)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        plan = trial.config["trial"]
        ladder = self._ladder(plan)
        round_ = int(result.get(TIME_ATTR, 0))
        if self._metric not in result:
            return TrialScheduler.CONTINUE
        if round_ >= ladder.top:
            # Its last round, or max_t reached: complete, not cut (as `GroupedASHA`).
            capped = plan["max_rounds"] < plan["train"]["optim"]["rounds"]
            return TrialScheduler.STOP if capped else TrialScheduler.CONTINUE
        k = ladder.record(trial.trial_id, round_, self._score(result))
        if k is None:
            return TrialScheduler.CONTINUE
        ladder.waiting[trial.trial_id] = k
        if trial.trial_id in ladder.promotable(k):
            ladder.promote(trial.trial_id, k)
            return TrialScheduler.CONTINUE
        return TrialScheduler.PAUSE

    def is_waiting(self, trial_id: str) -> bool:
        """Whether the trial waits at a rung (paused, or about to be)."""
        return any(trial_id in ladder.waiting for ladder in self._ladders.values())

    def on_trial_complete(self, tune_controller, trial, result) -> None:
        self.on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self.on_trial_remove(tune_controller, trial)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._ladder(trial.config["trial"]).end(trial.trial_id)
        if trial.trial_id in self._queued:
            self._queued.remove(trial.trial_id)

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        trials = tune_controller.get_trials()
        self._settle(tune_controller, [t for t in trials if t.status == Trial.PAUSED])
        busy = sum(t.status in (Trial.RUNNING, Trial.PENDING) for t in trials)
        if self._slots is not None and busy >= self._slots:
            return None
        paused = {t.trial_id: t for t in trials if t.status == Trial.PAUSED}
        waiting = {t for ladder in self._ladders.values() for t in ladder.waiting}
        for trial_id, trial in paused.items():
            if trial_id not in waiting and trial_id not in self._queued:
                return trial  # promoted, not yet resumed
        best = None  # the highest rung first, its best trial first
        for ladder in self._ladders.values():
            for k in range(len(ladder.rungs)):
                for trial_id in ladder.promotable(k):
                    key = (-k, -ladder.scores[k][trial_id])
                    if trial_id in paused and (best is None or key < best[0]):
                        best = (key, ladder, k, paused[trial_id])
        if best is not None:
            _, ladder, k, trial = best
            ladder.promote(trial.trial_id, k)
            return trial
        for trial_id in self._queued:
            if trial_id in paused:
                self._queued.remove(trial_id)
                return paused[trial_id]
        return None

    def _settle(self, tune_controller, trials: list) -> None:
        """Stop the trials waiting at rungs that can promote them no more."""
        if self._settling:
            return
        self._settling = True
        try:
            if not self._more_to_come(tune_controller):
                # Every trial has been added, and none runs: no rung can receive another score.
                for ladder in self._ladders.values():
                    ladder.expected = min(ladder.expected, len(ladder.members))
            stranded = {t for ladder in self._ladders.values() for t in ladder.stranded()}
            for trial in trials:
                if trial.trial_id in stranded:
                    self._ladder(trial.config["trial"]).end(trial.trial_id)
                    tune_controller.stop_trial(trial)
        finally:
            self._settling = False

    def _more_to_come(self, tune_controller) -> bool:
        """Whether a rung may still receive a score: a trial runs or will run, or Tune's
        searcher has more to add. A guard against a wrong `expected` count, with which the
        sweep would wait for trials that never come."""
        for trial in tune_controller.get_trials():
            if trial.status in (Trial.RUNNING, Trial.PENDING):
                return True
            if trial.status == Trial.PAUSED:
                if trial.trial_id not in self._ladder(trial.config["trial"]).waiting:
                    return True  # queued, or promoted and not yet resumed
        search = getattr(tune_controller, "search_alg", None)
        return search is None or not search.is_finished()

    def debug_string(self) -> str:
        waiting = sum(len(ladder.waiting) for ladder in self._ladders.values())
        return f"ASHA by promotion: {len(self._ladders)} group(s), {waiting} trial(s) waiting"

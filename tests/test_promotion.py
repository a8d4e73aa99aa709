"""ASHA by promotion (`asha.promotion: pause`): a trial waits at a rung until it ranks in the rung's
top 1/reduction_factor. Driven here through the scheduler's Tune hooks by a small simulation of
Tune (slots, pause, resume, stop), every round taking the same time."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from sweep.promotion import PromotingASHA, milestones
from sweep.spec_resources import AshaSpec
from sweep.tune_driver import GroupedASHA, make_scheduler


class FakeTrial:
    def __init__(self, name: str, plan: dict):
        self.trial_id, self.config, self.status = name, {"trial": plan}, Trial.PENDING

    def set_status(self, status: str) -> None:
        self.status = status


class FakeTune:
    """What the scheduler sees of Tune's controller."""

    def __init__(self, scheduler, trials: list[FakeTrial], search_finished: bool = True):
        self.scheduler, self.trials = scheduler, trials
        self.search_alg = SimpleNamespace(is_finished=lambda: search_finished)

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial) -> None:
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
        trial.status = Trial.TERMINATED


def plan(name: str, group: str = "mnli", rounds: int = 9) -> dict:
    return {"trial_id": name, "group": group, "max_rounds": rounds,
            "train": {"optim": {"rounds": rounds}}}  # fmt: skip


def simulate(scheduler, curves: dict[str, list[float]], slots: int = 2, metric="dev_score",
             groups: dict[str, str] | None = None, fail: dict[str, int] | None = None):  # fmt: skip
    """Rounds each trial trained, the trials started in the order `curves` lists them. Tune
    starts the scheduler's choice first, then pending trials; a paused trial resumes where it
    stopped. `fail`: trial -> the round it fails in."""
    groups, fail = groups or {}, fail or {}
    trials = [FakeTrial(n, plan(n, groups.get(n, "mnli"), len(c))) for n, c in curves.items()]
    tune = FakeTune(scheduler, trials)
    for trial in trials:
        scheduler.on_trial_add(tune, trial)
    ran = {n: 0 for n in curves}
    running: dict[FakeTrial, int] = {}
    now = 0
    while True:
        while len(running) < slots:
            trial = scheduler.choose_trial_to_run(tune)
            trial = trial or next((t for t in trials if t.status == Trial.PENDING), None)
            if trial is None:
                break
            trial.status, running[trial] = Trial.RUNNING, now + 1
        if not running:
            break
        trial = min(running, key=lambda t: (running[t], trials.index(t)))
        now = running.pop(trial)
        name = trial.trial_id
        if fail.get(name) == ran[name] + 1:
            trial.status = Trial.ERROR
            scheduler.on_trial_error(tune, trial)
            continue
        ran[name] += 1
        result = {"round": ran[name], metric: curves[name][ran[name] - 1]}
        action = scheduler.on_trial_result(tune, trial, result)
        if ran[name] == len(curves[name]) or action == TrialScheduler.STOP:
            trial.status = Trial.TERMINATED
            scheduler.on_trial_complete(tune, trial, result)
        elif action == TrialScheduler.PAUSE:
            trial.status = Trial.PAUSED
        else:
            running[trial] = now + 1
    assert all(t.status in (Trial.TERMINATED, Trial.ERROR) for t in trials), "a trial was left"
    return ran


def nine_rates(order: list[int]) -> dict[str, list[float]]:
    """Rate i's dev score after round r: better rates are better at every round."""
    return {f"lr{i}": [i / 10 + r / 100 for r in range(1, 10)] for i in order}


def promoting(expected: int = 9, **asha) -> PromotingASHA:
    settings = {"grace_period": 1, "reduction_factor": 3, **asha}
    return PromotingASHA(AshaSpec(**settings), {"mnli": expected, "xnli": expected})


def test_the_rungs_of_nine_rounds_at_a_reduction_of_three_are_rounds_one_and_three():
    assert milestones(1, 9, 3) == [1, 3]
    assert milestones(1, 8, 2) == [1, 2, 4]
    assert milestones(2, 2, 3) == []


def test_the_best_first_order_trains_what_synchronous_halving_trains():
    ran = simulate(promoting(), nine_rates([8, 7, 6, 5, 4, 3, 2, 1, 0]))
    # 9 rates to round 1, the best 3 to round 3, the best one to round 9: 9 + 3*2 + 6.
    assert sum(ran.values()) == 21
    assert ran["lr8"] == 9 and ran["lr7"] == ran["lr6"] == 3


def test_the_worst_first_order_stops_what_rays_rule_lets_run():
    ascending = nine_rates(list(range(9)))
    ray_rule = simulate(GroupedASHA(AshaSpec(grace_period=1, reduction_factor=3)), ascending)
    assert sum(ray_rule.values()) == 81  # each rate beats all before it: nothing is stopped
    ran = simulate(promoting(), ascending)
    # Still the worst order for promotion too: each newcomer tops its rung and is promoted.
    assert ran == {"lr0": 1, "lr1": 1, "lr2": 3, "lr3": 3, **{f"lr{i}": 9 for i in range(4, 9)}}


def test_over_random_orders_promotion_trains_what_synchronous_halving_trains():
    rng = random.Random(0)
    ratios = sorted(
        sum(simulate(promoting(), nine_rates(rng.sample(range(9), 9))).values()) / 81
        for _ in range(100)
    )
    assert ratios[50] == pytest.approx(21 / 81)
    assert sum(r <= 0.40 for r in ratios) >= 95  # Ray's rule: about 1 order in 5


def test_the_first_trial_at_a_rung_waits_instead_of_going_on():
    scheduler = promoting()
    trial = FakeTrial("lr0", plan("lr0"))
    scheduler.on_trial_add(FakeTune(scheduler, [trial]), trial)
    assert scheduler.on_trial_result(None, trial, {"round": 1, "dev_score": 0.9}) == "PAUSE"


def test_tied_trials_are_promoted_no_more_than_the_rungs_quota():
    curves = {f"lr{i}": [1.0] * 9 for i in range(9)}
    assert sum(simulate(promoting(), curves).values()) == 21


def test_a_group_smaller_than_the_reduction_factor_still_trains_its_best_to_the_end():
    ran = simulate(promoting(expected=2), {"bad": [0.1] * 9, "good": [0.5] * 9})
    assert ran == {"bad": 1, "good": 9}


def test_groups_are_halved_apart():
    curves = {**{f"a{i}": [i / 10] * 9 for i in range(3)}, **{f"b{i}": [i] * 9 for i in range(3)}}
    groups = {n: ("mnli" if n.startswith("a") else "xnli") for n in curves}
    ran = simulate(promoting(expected=3), curves, groups=groups)
    assert ran["a2"] == 9 and ran["b2"] == 9
    assert sum(ran.values()) == 6 + 2 * 8


def test_a_loss_is_halved_lowest_first():
    curves = {f"lr{i}": [i / 10] * 9 for i in range(3)}
    ran = simulate(promoting(expected=3, metric="train_loss"), curves, metric="train_loss")
    assert ran == {"lr0": 9, "lr1": 1, "lr2": 1}


def test_a_failed_trial_does_not_keep_its_rung_open():
    ran = simulate(promoting(), nine_rates([8, 7, 6, 5, 4, 3, 2, 1, 0]), fail={"lr0": 1})
    assert ran["lr0"] == 0 and ran["lr8"] == 9
    # Eight scores at round 1: the best 2 go on to round 3, the best of those to round 9.
    assert ran["lr7"] == 3 and sum(ran.values()) == 8 + 2 * 2 + 6


def test_a_count_of_trials_too_high_does_not_leave_the_phase_waiting():
    # The group is said to have 12 trials; the 9 that exist end all the same.
    ran = simulate(promoting(expected=12), nine_rates([8, 7, 6, 5, 4, 3, 2, 1, 0]))
    assert ran["lr8"] == 9 and sum(ran.values()) <= 27


def test_a_trial_interrupted_at_a_rung_it_was_not_promoted_from_waits_there_again():
    scheduler = promoting(expected=3)
    scheduler.remember(plan("done"), [(1, {"dev_score": 0.9}), (2, {"dev_score": 0.95})],
                       running=False)  # fmt: skip
    scheduler.remember(plan("cut"), [(1, {"dev_score": 0.2})], running=True)
    cut = FakeTrial("t-cut", plan("cut"))
    tune = FakeTune(scheduler, [cut], search_finished=False)
    scheduler.on_trial_add(tune, cut)
    assert cut.status == Trial.PAUSED
    assert scheduler.choose_trial_to_run(tune) is None  # 2 of 3 trials scored: no quota yet


def test_a_trial_interrupted_after_its_promotion_goes_on():
    scheduler = promoting(expected=3)
    scheduler.remember(plan("cut"), [(1, {"dev_score": 0.2}), (2, {"dev_score": 0.3})],
                       running=True)  # fmt: skip
    cut = FakeTrial("t-cut", plan("cut"))
    tune = FakeTune(scheduler, [cut], search_finished=False)
    scheduler.on_trial_add(tune, cut)
    assert scheduler.choose_trial_to_run(tune) is cut


def test_no_more_trials_run_at_once_than_the_phase_has_slots():
    # Tune's own limit counts paused trials, so the scheduler keeps to the phase's.
    scheduler = PromotingASHA(AshaSpec(), {"mnli": 3}, slots=2)
    trials = [FakeTrial(f"t{i}", plan(f"t{i}")) for i in range(3)]
    tune = FakeTune(scheduler, trials, search_finished=False)
    for trial in trials:
        scheduler.on_trial_add(tune, trial)
    assert all(t.status == Trial.PAUSED for t in trials)  # queued: Tune starts none itself
    for expected in trials[:2]:
        chosen = scheduler.choose_trial_to_run(tune)
        assert chosen is expected
        chosen.status = Trial.RUNNING
    assert scheduler.choose_trial_to_run(tune) is None


@pytest.mark.parametrize(("promotion", "kind"), [("stop", GroupedASHA), ("pause", PromotingASHA)])
def test_the_spec_chooses_the_scheduler(promotion, kind):
    assert isinstance(make_scheduler(AshaSpec(promotion=promotion), {"mnli": 3}), kind)


def test_a_paused_trial_shows_as_waiting_until_it_runs_again(tmp_path, monkeypatch):
    from sweep import progress

    monkeypatch.setattr(progress, "store_round", lambda *args: True)
    scheduler = promoting(expected=2)
    lines = []
    callback = progress.StoreCallback(tmp_path, "s", lines.append, scheduler.is_waiting)
    full = {"phase": "target", "task": "mnli", "intermediate": "none", "target": "mnli",
            "config_id": "c0", "seed": 0, "metric": "accuracy"}  # fmt: skip
    trial = FakeTrial("t1", {**plan("t1"), **full})
    tune = FakeTune(scheduler, [trial], search_finished=False)
    scheduler.on_trial_add(tune, trial)
    callback.on_trial_start(0, [], trial)
    result = {"round": 1, "dev_score": 0.4}
    assert scheduler.on_trial_result(tune, trial, result) == TrialScheduler.PAUSE
    callback.on_trial_result(0, [], trial, result)  # Tune calls it after the scheduler
    assert progress.read_status(tmp_path)["trials"]["t1"]["state"] == "waiting"
    assert lines[-1].endswith("(waits for ASHA to promote it)")
    assert "attempts_time" in progress.read_status(tmp_path)["trials"]["t1"]  # its time kept
    callback.on_trial_start(0, [], trial)
    assert progress.read_status(tmp_path)["trials"]["t1"]["state"] == "running"

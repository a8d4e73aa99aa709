"""Hyperopt phases: the spec's distributions and the combinations it refuses, the plan's
SearchPlans and counts, and GroupedSearch (one HyperOptSearch per group), driven by hand as Tune
would drive it. HyperOptSearch suggests and learns without `ray.init`: no Ray cluster starts."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import ray
import yaml
from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.sample import Categorical, Float, Integer

from sweep.cli import main
from sweep.cost import trial_hours
from sweep.plan import expand
from sweep.search import GroupedSearch, total_trials, tune_space
from sweep.spec import SpecError, SweepSpec, load_spec

LOG_RATE = {"loguniform": [1e-5, 1e-4]}
HYPEROPT = {
    "search_algorithm": "hyperopt",
    "num_samples": 4,
    "search": {"learning_rate": LOG_RATE, "batch_size": {"choice": [16, 32]}},
}


def spec_dict(intermediate: dict | None = None, **target) -> dict:
    return {
        "name": "h",
        "model": {"name": "xlm-roberta-large"},
        "data": {"source": "hub"},
        "phases": {
            "intermediate": {"tasks": ["none", "mnli"], **(intermediate or {})},
            "target": {"tasks": ["xnli", "udpos"], **target},
        },
        "seeds": [0, 1],
    }


def write(tmp_path, spec: dict):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def target_search(**target):
    """The target phase's searches (4 groups: 2 starts x 2 targets; seeds 0 and 1)."""
    return expand(SweepSpec.model_validate(spec_dict(**target))).searches_for("target")


def grouped(searches, seed: int = 0, known=(), unfinished=()):
    def make_trial(trial):
        return {
            "trial_id": trial.trial_id(),
            "group": trial.group,
            "point": trial.point,
            "seed": trial.seed,
            "optim": trial.optim,
        }

    return GroupedSearch(
        searches, make_trial, "dev_score", "max", seed=seed, known=known, unfinished=unfinished
    )


def drive(search, score=lambda trial: 0.5) -> list[dict]:
    """Tune's loop, one trial at a time: suggest, then report the trial's score."""
    trials = []
    while (suggestion := search.suggest(f"tune-{len(trials)}")) != Searcher.FINISHED:
        trials.append(suggestion["trial"])
        search.on_trial_complete(f"tune-{len(trials) - 1}", {"dev_score": score(trials[-1])})
    return trials


# The spec.


def test_hyperopt_accepts_a_log_uniform_learning_rate_and_a_categorical_batch_size(tmp_path):
    spec = load_spec(write(tmp_path, spec_dict(**HYPEROPT)))
    target = spec.phases.target
    assert (target.search_algorithm, target.num_samples) == ("hyperopt", 4)
    assert {key: str(d) for key, d in target.space().items()} == {
        "batch_size": "choice(16, 32)",
        "learning_rate": "loguniform(1e-05, 0.0001)",
    }


def test_distributions_read_yaml_exponents_without_a_dot_as_numbers(tmp_path):
    text = yaml.safe_dump(spec_dict(**{**HYPEROPT, "search": {}})).replace(
        "search: {}", "search: {learning_rate: {loguniform: [1e-5, 1e-4]}}"
    )
    (tmp_path / "spec.yaml").write_text(text)
    space = load_spec(tmp_path / "spec.yaml").phases.target.space()
    assert space["learning_rate"].args == (1e-5, 1e-4)


def test_hyperopt_with_grid_values_is_rejected_naming_the_key(tmp_path):
    path = write(tmp_path, spec_dict(**{**HYPEROPT, "search": {"learning_rate": [1e-5, 3e-5]}}))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (
        f"{path}: phases.target.search.learning_rate: hyperopt needs a distribution such as "
        "{loguniform: [1e-5, 1e-4]}, not grid values"
    )


LR = "phases.target.search.learning_rate"


@pytest.mark.parametrize(
    ("target", "key", "message"),
    [
        (
            {"search": {"learning_rate": LOG_RATE}},
            LR,
            "a distribution needs search_algorithm: hyperopt; a grid lists values",
        ),
        (
            {**HYPEROPT, "num_samples": None},
            "phases.target.num_samples",
            "hyperopt needs num_samples: points sampled per group",
        ),
        (
            {"num_samples": 4, "search": {"learning_rate": [1e-5]}},
            "phases.target.num_samples",
            "only search_algorithm hyperopt samples points",
        ),
        (
            {**HYPEROPT, "search": {"learning_rate": {"lognormal": [1e-5, 1e-4]}}},
            LR,
            "unknown distribution 'lognormal'; known: choice, loguniform, quniform, randint, "
            "uniform",
        ),
        (
            {**HYPEROPT, "search": {"learning_rate": {"uniform": [1e-4, 1e-5]}}},
            LR,
            "uniform: low 0.0001 must be below high 1e-05",
        ),
        (
            {**HYPEROPT, "search": {"learning_rate": {"loguniform": [0, 1e-4]}}},
            LR,
            "loguniform: low 0 must be above 0 (it samples the logarithm)",
        ),
        (
            {**HYPEROPT, "search": {"warmup_ratio": {"uniform": [0.5, 1.5]}}},
            "phases.target.search.warmup_ratio",
            "uniform(0.5, 1.5) reaches 1.5: Input should be less than 1",
        ),
        (
            {**HYPEROPT, "search": {"batch_size": {"choice": [0, 16]}}},
            "phases.target.search.batch_size",
            "choice(0, 16) reaches 0: Input should be greater than 0",
        ),
        (
            {**HYPEROPT, "search": {}},
            "phases.target.search",
            "hyperopt needs a distribution such as {loguniform: [1e-5, 1e-4]}",
        ),
        (
            {**HYPEROPT, "search": {"learning_rate": {"loguniform": [1e-5]}}},
            LR,
            "loguniform takes [low, high], got [1e-05]",
        ),
        (
            {"search": {"learning_rate": 1e-5}},
            LR,
            "list grid values, or name a distribution such as {loguniform: [1e-5, 1e-4]}",
        ),
    ],
    ids=[
        "grid-with-a-distribution",
        "hyperopt-without-num-samples",
        "num-samples-with-grid",
        "unknown-distribution",
        "low-above-high",
        "log-uniform-from-zero",
        "endpoint-optim-rejects",
        "choice-optim-rejects",
        "empty-search",
        "wrong-arguments",
        "neither-values-nor-distribution",
    ],
)
def test_a_search_that_cannot_work_is_rejected_in_one_line_naming_the_key(
    tmp_path, target, key, message
):
    path = write(tmp_path, spec_dict(**target))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == f"{path}: {key}: {message}"


def test_an_intermediate_search_names_the_intermediate_key(tmp_path):
    bad = {**HYPEROPT, "search": {"learning_rate": {"uniform": [1e-4, 1e-4]}}}
    with pytest.raises(SpecError, match=r"phases\.intermediate\.search\.learning_rate: uniform"):
        load_spec(write(tmp_path, spec_dict(intermediate=bad)))


# The plan.


def test_a_hyperopt_phase_plans_one_search_per_group_and_no_trials_ahead():
    plan = expand(SweepSpec.model_validate(spec_dict(intermediate=HYPEROPT, **HYPEROPT)))
    assert (plan.intermediate, plan.target) == ((), ())
    assert [s.group for s in plan.searches_for("intermediate")] == ["mnli"]
    assert [s.group for s in plan.searches_for("target")] == [
        "none->xnli",
        "none->udpos",
        "mnli->xnli",
        "mnli->udpos",
    ]
    assert plan.planned_trials("intermediate") == 1 * 4 * 2
    assert plan.planned_trials("target") == 4 * 4 * 2
    assert plan.evaluations() == 4 * 4 * 2


def test_a_key_fixed_per_task_is_not_sampled_for_that_task():
    searches = target_search(**HYPEROPT, per_task={"udpos": {"learning_rate": 5e-5}})
    udpos = next(s for s in searches if s.task == "udpos")
    assert set(udpos.space) == {"batch_size"}
    assert udpos.trial({"batch_size": 16}, seed=0).optim.learning_rate == 5e-5
    rate_only = {**HYPEROPT, "search": {"learning_rate": LOG_RATE}}
    alone = target_search(**rate_only, per_task={"udpos": {"learning_rate": 5e-5}})
    assert [s.num_samples for s in alone if s.task == "udpos"] == [1, 1]  # nothing left to sample


def test_validate_prints_a_hyperopt_phase_as_groups_samples_and_seeds(tmp_path, capsys):
    spec = spec_dict(intermediate=HYPEROPT, **HYPEROPT)
    assert main(["validate", str(write(tmp_path, spec))]) == 0
    out = capsys.readouterr().out
    intermediate = next(line for line in out.splitlines() if line.startswith("phase inter"))
    assert intermediate.startswith("phase intermediate: 8 trial(s), ~")
    assert intermediate.endswith(
        "(hyperopt: 1 task(s)/mixture(s) x 4 sample(s) x 2 seed(s); batch_size choice(16, 32), "
        "learning_rate loguniform(1e-05, 0.0001)); plus 'none'"
    )
    assert "phase target: 32 trial(s)" in out
    assert (
        "(hyperopt: 2 starting point(s) (none, mnli) x 2 target(s) x 4 sample(s) x 2 seed(s);"
        in out
    )
    assert "phase zero_shot: up to 32 evaluation(s)" in out
    assert "total: 40 training trial(s)" in out


def test_the_cost_of_a_hyperopt_phase_is_its_template_trial_times_its_trials():
    plan = expand(SweepSpec.model_validate(spec_dict(**HYPEROPT)))
    templates = [(s.template, s.n_trials()) for s in plan.searches_for("target")]
    assert plan.weighted_trials("target") == templates
    for template, _ in templates:
        assert template.point == {}
        assert template.optim == plan.spec.phases.target.optim_for(template.task, {})
    hours = sum(trial_hours(plan.spec, t) * n for t, n in templates)
    assert hours > 0


def test_a_sampled_point_names_the_same_trial_as_a_grid_point_with_its_values():
    grid = expand(
        SweepSpec.model_validate(
            spec_dict(search={"learning_rate": [2e-5], "batch_size": [16], "epochs": [3]})
        )
    ).target
    search = target_search(
        search_algorithm="hyperopt",
        num_samples=2,
        search={
            "learning_rate": {"loguniform": [1e-5, 1e-4]},
            "batch_size": {"quniform": [8, 64, 8]},
            "epochs": {"choice": [2, 3]},
        },
    )
    sampled = {
        s.group: s.trial({"learning_rate": 2e-5, "batch_size": 16.0, "epochs": 3}, seed=1)
        for s in search
    }
    for trial in (t for t in grid if t.seed == 1):
        twin = sampled[trial.group]
        assert (twin.trial_id(), twin.config_id()) == (trial.trial_id(), trial.config_id())
        assert twin.optim == trial.optim
    assert type(twin.point["batch_size"]) is int and type(twin.point["epochs"]) is float


# The searcher.


def test_the_searcher_emits_groups_x_samples_x_seeds_trials_then_finishes():
    searches = target_search(**HYPEROPT)
    trials = drive(grouped(searches))
    assert len(trials) == total_trials(searches) == 4 * 4 * 2
    assert len({t["trial_id"] for t in trials}) == len(trials)
    for search in searches:
        mine = [t for t in trials if t["group"] == search.group]
        assert len({repr(t["point"]) for t in mine}) == 4
    assert [t["group"] for t in trials[:8:2]] == [s.group for s in searches]  # groups take turns
    assert not ray.is_initialized()


def test_the_seeds_of_a_point_share_it_and_follow_one_another():
    trials = drive(grouped(target_search(**HYPEROPT)))
    for first, second in zip(trials[::2], trials[1::2], strict=True):
        assert (first["seed"], second["seed"]) == (0, 1)
        assert (first["group"], first["point"]) == (second["group"], second["point"])


def test_sampled_values_stay_in_range_with_their_fields_types_and_log_rates_span_decades():
    search = {
        "learning_rate": {"loguniform": [1e-6, 1e-2]},
        "batch_size": {"randint": [8, 65]},
        "warmup_ratio": {"quniform": [0.0, 0.3, 0.05]},
        "weight_decay": {"uniform": [0.0, 0.1]},
    }
    searches = target_search(search_algorithm="hyperopt", num_samples=40, search=search)[:1]
    trials = drive(grouped(searches), score=lambda t: t["point"]["weight_decay"])
    rates = [t["point"]["learning_rate"] for t in trials]
    assert all(1e-6 <= r <= 1e-2 for r in rates)
    decades = {math.floor(math.log10(r)) for r in rates}
    assert decades == {-6, -5, -4, -3}
    sizes = [t["point"]["batch_size"] for t in trials]
    assert all(type(s) is int and 8 <= s <= 64 for s in sizes)
    assert all(type(t["optim"].batch_size) is int for t in trials)
    ratios = {t["point"]["warmup_ratio"] for t in trials}
    assert all(0 <= r <= 0.3 + 1e-9 and abs(r / 0.05 - round(r / 0.05)) < 1e-9 for r in ratios)
    assert all(0 <= t["point"]["weight_decay"] <= 0.1 for t in trials)


def points_of(trials, group):
    return [t["point"] for t in trials if t["group"] == group and t["seed"] == 0]


def test_one_groups_results_never_change_another_groups_samples():
    # More points than TPE's 20 random start-up ones, so that results do steer the samples.
    searches = target_search(**{**HYPEROPT, "num_samples": 26})[:2]
    a, b = (s.group for s in searches)

    def favour(high: bool):
        def score(trial):
            if trial["group"] != a:
                return 0.5
            rate = math.log10(trial["point"]["learning_rate"])
            return rate if high else -rate

        return score

    first = drive(grouped(searches, seed=7), score=favour(high=True))
    second = drive(grouped(searches, seed=7), score=favour(high=False))
    assert points_of(first, a) != points_of(second, a)  # A's results steer A
    assert points_of(first, b) == points_of(second, b)  # and nothing else


def test_the_same_seed_gives_the_same_samples_and_another_seed_others():
    searches = target_search(**HYPEROPT)
    same = [t["point"] for t in drive(grouped(searches, seed=3))]
    assert same == [t["point"] for t in drive(grouped(searches, seed=3))]
    assert same != [t["point"] for t in drive(grouped(searches, seed=4))]


def test_known_results_count_toward_num_samples_and_are_not_sampled_again():
    searches = target_search(**HYPEROPT)
    group = searches[0].group
    done = {"learning_rate": 2e-5, "batch_size": 16}
    known = [
        (group, done, 0.8),
        (group, done, 0.7),  # the same point's other seed: not another sample
        (group, {"learning_rate": 3e-5, "batch_size": 32}, None),  # failed: still run before
        (group, {"learning_rate": 1.0, "batch_size": 16}, 0.1),  # outside the space: ignored
        ("mnli->nowhere", done, 0.5),  # no such group
    ]
    trials = drive(grouped(searches, known=known))
    assert len(points_of(trials, group)) == 4 - 2
    assert done not in points_of(trials, group)
    assert len(trials) == (4 * 4 - 2) * 2


def test_a_failed_or_unscored_trial_does_not_break_its_groups_search():
    search = grouped(target_search(**HYPEROPT)[:1])
    search.suggest("t0")
    search.suggest("t1")  # the same point's second seed: never reported to hyperopt
    search.on_trial_complete("t0", error=True)
    search.on_trial_complete("t1", {"dev_score": 0.5})
    search.suggest("t2")
    search.on_trial_complete("t2", {"round": 0})  # stopped before its first evaluation
    search.suggest("t3")
    assert len(drive(search)) == 2 * 2 and search.suggest("t9") == Searcher.FINISHED


def test_tune_may_pass_the_same_metric_but_not_a_second_search_space():
    search = grouped(target_search(**HYPEROPT))
    assert search.set_search_properties("dev_score", "max", {})
    assert search.set_search_properties(None, None, {"other": 1})
    assert not search.set_search_properties(None, None, {"lr": tune.uniform(0, 1)})
    with pytest.raises(ValueError, match="optimises dev_score"):
        search.set_search_properties("train_loss", "min", {})


def test_each_distribution_becomes_its_tune_sampler():
    space = tune_space(
        {
            "learning_rate": {"loguniform": [1e-5, 1e-4]},
            "weight_decay": {"uniform": [0, 0.1]},
            "epochs": {"quniform": [1, 3, 0.5]},
            "batch_size": {"randint": [8, 64]},
            "grad_accum": {"choice": [1, 2]},
        }
    )
    kinds = {key: type(domain) for key, domain in space.items()}
    assert kinds == {
        "learning_rate": Float,
        "weight_decay": Float,
        "epochs": Float,
        "batch_size": Integer,
        "grad_accum": Categorical,
    }
    assert (space["batch_size"].lower, space["batch_size"].upper) == (8, 64)


def test_a_resumed_search_first_runs_the_seeds_it_owes_under_their_old_ids():
    searches = target_search(**HYPEROPT)
    group = searches[0].group
    point = {"learning_rate": 2e-5, "batch_size": 16}
    owed = [(group, point, 0), (group, point, 1)]  # interrupted, and never started
    trials = drive(grouped(searches, unfinished=owed))
    first = [t for t in trials if t["group"] == group][:2]
    assert [(t["point"], t["seed"]) for t in first] == [(point, 0), (point, 1)]
    assert first[0]["trial_id"] == searches[0].trial(point, 0).trial_id()
    # The owed point is one of the group's four samples, not a fifth.
    assert len(points_of(trials, group)) == 4
    assert len(trials) == 4 * 4 * 2


def test_a_sweep_driver_imports_hyperopt_only_when_a_phase_searches():
    # hyperopt brings SciPy's statistics: seconds of CPU at the start of every sweep.
    code = (
        "import sys; import sweep.runner; from test_search import HYPEROPT, grouped, target_search\n"
        "grid = 'hyperopt' in sys.modules; grouped(target_search())\n"
        "grid_search = 'hyperopt' in sys.modules; grouped(target_search(**HYPEROPT))\n"
        "print(grid, grid_search, 'hyperopt' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False False True"

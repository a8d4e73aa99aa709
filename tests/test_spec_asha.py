"""ASHA per phase: a phase overrides the sweep's settings key by key, and settings that would
keep the worst trials, or a top rung below the first, are refused naming the key."""

from __future__ import annotations

import pytest
import yaml

from sweep.spec import SpecError, load_spec


def write(tmp_path, **top) -> str:
    spec = {"name": "asha", "phases": {"target": {"tasks": ["xnli"]}}, **top}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_a_phase_overrides_the_sweeps_asha_key_by_key(tmp_path):
    spec = load_spec(
        write(
            tmp_path,
            asha={"grace_period": 2, "reduction_factor": 3},
            phases={"target": {"tasks": ["xnli"], "asha": {"max_t": 4, "metric": "train_loss"}}},
        )
    )
    target = spec.asha_for("target")
    assert (target.grace_period, target.reduction_factor, target.max_t) == (2, 3, 4)
    assert (target.metric, target.resolved_mode()) == ("train_loss", "min")
    assert spec.asha_for("intermediate").resolved_mode() == "max"


def test_a_mode_that_keeps_the_worst_trials_is_refused_naming_the_phase(tmp_path):
    path = write(
        tmp_path,
        phases={"target": {"tasks": ["xnli"], "asha": {"metric": "train_loss", "mode": "max"}}},
    )
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (
        f"{path}: phases.target.asha: mode: max on train_loss would keep the worst trials (use min)"
    )


def test_a_top_rung_below_the_grace_period_is_refused(tmp_path):
    path = write(tmp_path, asha={"grace_period": 3, "max_t": 2})
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == f"{path}: asha: max_t: 2 is below grace_period 3"


def test_an_unknown_asha_metric_is_refused(tmp_path):
    path = write(tmp_path, asha={"metric": "dev_loss"})
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: asha.metric: Input should be")


def test_a_phase_may_promote_by_pausing_where_the_sweep_stops(tmp_path):
    phases = {"target": {"tasks": ["xnli"], "asha": {"promotion": "pause"}}}
    spec = load_spec(write(tmp_path, phases=phases))
    assert spec.asha.promotion == "stop"
    assert spec.asha_for("target").promotion == "pause"


def test_promotion_by_pausing_with_hyperopt_is_refused_naming_the_key(tmp_path):
    target = {"tasks": ["xnli"], "search_algorithm": "hyperopt", "num_samples": 4,
              "search": {"learning_rate": {"loguniform": [1e-5, 1e-4]}}}  # fmt: skip
    path = write(tmp_path, asha={"promotion": "pause"}, phases={"target": target})
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (
        f"{path}: phases.target.asha.promotion: pause needs a grid; "
        "search_algorithm: hyperopt takes promotion: stop"
    )

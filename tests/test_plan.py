"""Plan expansion: trial counts per phase, stable trial ids, groups for ASHA."""

from __future__ import annotations

import pytest

from sweep.plan import describe, expand
from sweep.spec import SweepSpec, load_spec


def spec_with(**phases) -> SweepSpec:
    return SweepSpec.model_validate(
        {
            "name": "p",
            "model": {"name": "xlm-roberta-large"},
            "data": {"source": "hub"},
            "phases": phases,
            "seeds": [0, 1, 2],
        }
    )


def test_the_demo_plan_has_one_pretraining_two_intermediate_and_nine_target_trials():
    plan = expand(load_spec("demo"))
    # synth_xnli searches two rates from each of 3 starts; synth_udpos fixes its rate.
    assert (len(plan.pretrain), len(plan.intermediate), len(plan.target)) == (1, 2, 9)
    assert plan.intermediate_configs() == ("none", "synth_mnli", "nli_mix")
    mixture = next(t for t in plan.intermediate if t.task == "nli_mix").train_fields()["mixture"]
    assert [m["task"] for m in mixture["members"]] == ["synth_mnli", "synth_hellaswag"]
    assert mixture["mlm_weight"] == 0.1


def test_target_trials_cover_every_start_target_grid_point_and_seed():
    plan = expand(
        spec_with(
            intermediate={"tasks": ["none", "mnli"], "search": {"learning_rate": [1e-5, 2e-5]}},
            target={
                "tasks": ["xnli", "udpos"],
                "search": {"learning_rate": [1e-5, 3e-5], "batch_size": [16, 32]},
            },
        )
    )
    assert len(plan.intermediate) == 1 * 2 * 3
    assert len(plan.target) == 2 * 2 * 4 * 3
    assert {t.intermediate for t in plan.target} == {"none", "mnli"}
    assert len({t.trial_id() for t in plan.target}) == len(plan.target)


def test_seeds_share_a_config_id_and_groups_are_intermediate_target_pairs():
    plan = expand(spec_with(target={"tasks": ["xnli"], "search": {"learning_rate": [1e-5, 3e-5]}}))
    by_config = {}
    for trial in plan.target:
        by_config.setdefault(trial.config_id(), set()).add(trial.seed)
    assert all(seeds == {0, 1, 2} for seeds in by_config.values())
    assert {t.group for t in plan.target} == {"none->xnli"}


def test_trial_ids_are_the_same_every_time_the_spec_is_expanded():
    first = [t.trial_id() for t in expand(load_spec("demo")).target]
    second = [t.trial_id() for t in expand(load_spec("demo")).target]
    assert first == second


def test_per_task_overrides_reach_only_their_task():
    plan = expand(
        spec_with(target={"tasks": ["xnli", "udpos"], "per_task": {"udpos": {"epochs": 10}}})
    )
    epochs = {t.task: t.optim.epochs for t in plan.target}
    assert epochs == {"xnli": 2.0, "udpos": 10.0}


def test_span_qa_window_settings_are_spec_keys_per_task():
    plan = expand(
        spec_with(
            target={
                "tasks": ["xquad", "xnli"],
                "per_task": {"xquad": {"doc_stride": 64, "max_answer_length": 20}},
            }
        )
    )
    windows = {t.task: t.optim.windows() for t in plan.target}
    assert (windows["xquad"].doc_stride, windows["xquad"].max_answer_length) == (64, 20)
    assert (windows["xnli"].doc_stride, windows["xnli"].max_answer_length) == (128, 30)


def test_a_key_fixed_per_task_is_not_searched_for_that_task():
    plan = expand(
        spec_with(
            target={
                "tasks": ["xnli", "udpos"],
                "search": {"learning_rate": [1e-5, 3e-5], "epochs": [2, 3]},
                "per_task": {"udpos": {"learning_rate": 5e-5}},
            }
        )
    )
    udpos = [t for t in plan.target if t.task == "udpos" and t.seed == 0]
    assert len(udpos) == 2  # the two epochs, one rate (the only start is 'none')
    assert {t.optim.learning_rate for t in udpos} == {5e-5}
    assert all("learning_rate" not in t.point for t in udpos)
    assert len([t for t in plan.target if t.task == "xnli" and t.seed == 0]) == 4


def test_describe_reports_resources_and_an_estimate_of_trial_hours():
    lines = describe(expand(load_spec("demo")))
    text = "\n".join(lines)
    assert "DeepSpeed ZeRO-0, fp32" in text
    assert "phase zero_shot: up to 9 evaluation(s)" in text
    assert "(synth_xnli: 2, synth_udpos: 1) grid point(s)" in text
    assert "trial-hours" in text


def test_retrieval_targets_are_evaluated_from_each_start_and_never_trained():
    plan = expand(
        spec_with(
            intermediate={"tasks": ["none", "mnli"]},
            target={"tasks": ["xnli", "tatoeba", "bucc"]},
        )
    )
    assert {t.task for t in plan.target} == {"xnli"}
    assert plan.retrieval == (
        ("none", "tatoeba"),
        ("none", "bucc"),
        ("mnli", "tatoeba"),
        ("mnli", "bucc"),
    )
    text = "\n".join(describe(plan))
    assert "phase retrieval: 4 evaluation(s) = 2 starting point(s) x 2 retrieval target(s)" in text


def test_xtreme_r_adds_its_languages_and_refuses_tasks_it_dropped(tmp_path):
    spec = spec_with(target={"tasks": ["udpos"]}).model_dump(mode="json")
    spec["phases"]["evaluate"] = {"benchmark": "xtreme-r"}
    plan = expand(SweepSpec.model_validate(spec))
    assert {"lt", "pl", "uk", "wo", "ro"} <= set(plan.eval_languages("udpos"))
    assert len(plan.eval_languages("udpos")) == 33 + 5
    spec["phases"]["target"]["tasks"] = ["pawsx"]
    with pytest.raises(ValueError, match="'pawsx' is not part of xtreme-r"):
        SweepSpec.model_validate(spec)


def test_the_full_demo_plan_covers_an_intermediate_task_and_a_target_of_every_format():
    from trainers.tasks import get_task

    plan = expand(load_spec("full-demo"))
    assert (len(plan.pretrain), len(plan.intermediate), len(plan.target)) == (1, 4, 8 * 2)
    assert len(plan.retrieval) == 5 * 2  # retrieval on every intermediate encoder
    intermediate = {get_task(t.task).format for t in plan.intermediate}
    assert intermediate == {"classification", "span_qa_v2", "multiple_choice", "tagging"}
    targets = {t.task for t in plan.target} | {task for _, task in plan.retrieval}
    assert {get_task(t).format for t in targets} == {
        "classification",
        "tagging",
        "span_qa",
        "span_qa_mlqa",
        "multiple_choice",
        "retrieval",
    }
    assert len(targets) == 10


def test_target_starts_restrict_where_trained_targets_start_but_not_retrieval():
    plan = expand(
        spec_with(
            intermediate={"tasks": ["none", "mnli", "squad_v2"]},
            target={"tasks": ["xnli", "tatoeba"], "starts": ["none", "squad_v2"]},
        )
    )
    assert {t.intermediate for t in plan.target} == {"none", "squad_v2"}
    assert {s for s, _ in plan.retrieval} == {"none", "mnli", "squad_v2"}
    assert plan.intermediate_configs() == ("none", "squad_v2")


def test_a_grid_starts_longest_first_and_equal_costs_in_a_fixed_order_not_the_listed_one():
    from sweep.runner import start_order

    rates = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3]
    spec = spec_with(
        target={
            "tasks": ["xnli", "pawsx"],
            "search": {"learning_rate": rates},
            "per_task": {"pawsx": {"epochs": 20}},
        }
    )
    trials = expand(spec).target
    ordered = start_order(spec, trials)
    assert [t.task for t in ordered[: len(ordered) // 2]] == ["pawsx"] * (len(ordered) // 2)
    xnli_rates = [t.optim.learning_rate for t in ordered if t.task == "xnli" and t.seed == 0]
    assert sorted(xnli_rates) == rates and xnli_rates != rates
    assert start_order(spec, list(reversed(trials))) == ordered


def test_describe_says_when_trials_compile_their_model():
    plain = "\n".join(describe(expand(load_spec("demo"))))
    compiled = "\n".join(describe(expand(load_spec("demo", ["deepspeed.torch_compile=true"]))))
    assert "target training: fp32, ZeRO-0, torch.compile; effective batch" in compiled
    assert "torch.compile" not in plain

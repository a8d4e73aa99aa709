"""The reuse keys of a whole sweep chain through its phases: a trial's key changes with anything
upstream of it (its start, its group's trials), and only with that."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_sweeps import TINY, TINY_MODEL

from sweep.handoff import Context
from sweep.plan import expand
from sweep.reusing import sweep_keys
from sweep.runner import _train_config, resolve_data
from sweep.spec import SweepSpec


def spec(benchmark: Path, **changes) -> SweepSpec:
    raw = {
        "name": "keys",
        "model": TINY_MODEL,
        "data": {"source": "synthetic", "root": str(benchmark)},
        "phases": {
            "intermediate": {
                "tasks": ["none", "synth_mnli", "synth_hellaswag"],
                "optim": {"learning_rate": 1e-3, "rounds": 2},
            },
            "target": {"tasks": ["synth_udpos"], "optim": {"learning_rate": 1e-3}},
        },  # fmt: skip
        "seeds": [0],
    }
    for path, value in changes.items():
        node = raw
        *parents, leaf = path.split("__")
        for name in parents:
            node = node[name]
        node[leaf] = value
    return SweepSpec.model_validate(raw)


def keys(sweep: SweepSpec) -> dict[str, str]:
    data, tokenizer = resolve_data(sweep)
    ctx = Context(sweep, expand(sweep), Path("/nowhere"), data, tokenizer, print)
    return sweep_keys(ctx, lambda t: _train_config(ctx, t, "")).trials


@pytest.fixture(scope="module")
def base(benchmark) -> dict[str, str]:
    return keys(spec(benchmark))


def by_phase(found: dict[str, str], prefix: str) -> dict[str, str]:
    return {t: k for t, k in found.items() if t.startswith(prefix)}


def test_the_same_spec_under_another_name_gives_the_same_keys(benchmark, base):
    assert keys(spec(benchmark, name="another")) == base


def test_every_trial_has_its_own_key(base):
    assert len(set(base.values())) == len(base) == 2 + 3


def test_a_target_change_leaves_the_intermediate_trials_their_keys(benchmark, base):
    changed = keys(spec(benchmark, phases__target__optim={"learning_rate": 3e-4}))
    assert by_phase(changed, "int-") == by_phase(base, "int-")
    new_targets = set(by_phase(changed, "tar-").values())
    assert not new_targets & set(by_phase(base, "tar-").values())


def test_an_intermediate_change_reaches_the_targets_that_start_from_it(benchmark, base):
    changed = keys(
        spec(benchmark, phases__intermediate__per_task={"synth_mnli": {"learning_rate": 3e-4}})
    )
    differs = {t for t in base if changed.get(t) != base[t]}
    # synth_mnli's trial and the target trained from its hand-off; nothing else.
    assert {t.split("-s0-")[0] for t in differs} == {"int-synth_mnli", "tar-synth_mnli-synth_udpos"}


def test_the_starting_weights_change_every_key(benchmark, base):
    changed = keys(spec(benchmark, seeds=[1]))
    assert not set(changed.values()) & set(base.values())
    tiny = {**TINY, "hidden_size": 48}
    wider = keys(
        spec(benchmark, model={"name": "tiny-xlmr", "tokenizer": "synthetic", "tiny": tiny})
    )
    assert not set(wider.values()) & set(base.values())


def test_asha_settings_reach_the_targets_through_the_hand_off(benchmark, base):
    changed = keys(spec(benchmark, asha={"grace_period": 2}))
    differs = {t.split("-s0-")[0] for t in base if changed[t] != base[t]}
    # A finished trial does not depend on ASHA, but which trial a hand-off comes from does.
    assert differs == {"tar-synth_mnli-synth_udpos", "tar-synth_hellaswag-synth_udpos"}

"""Mixture samplers and the mixture's batch stream: the formulas on known sizes, the proportions
over many draws (a statistical bound, not an exact sequence), and a stream that resumes where it
stopped."""

from __future__ import annotations

import itertools
import math

import pytest
from pydantic import ValidationError

from trainers.config import MemberConfig, MixtureConfig, SamplerConfig, Translation
from trainers.data.mixture import MixtureStream

DRAWS = 20_000


class Counting:
    """A member stream whose micro-batches say which member and which position they are."""

    def __init__(self, name: str):
        self.name = name

    def micro_batches(self, index: int):
        for i in itertools.count(index):
            yield {"member": self.name, "index": i}


def stream(probabilities: dict[str, float], seed: int = 0, grad_accum: int = 1) -> MixtureStream:
    return MixtureStream({k: Counting(k) for k in probabilities}, probabilities, seed, grad_accum)


def mixture(*tasks: str, mlm_weight: float = 0.0, **sampler) -> MixtureConfig:
    return MixtureConfig(
        members=[MemberConfig(task=t) for t in tasks],
        sampler=SamplerConfig(**sampler),
        mlm_weight=mlm_weight,
    )


def test_capped_sampling_counts_at_most_k_examples_of_a_task():
    sampler = SamplerConfig(kind="capped", cap=1000)
    p = sampler.probabilities({"small": 500, "large": 4000})
    assert p == pytest.approx({"small": 1 / 3, "large": 2 / 3}, abs=1e-12)


def test_temperature_two_takes_the_square_root_of_sizes():
    sampler = SamplerConfig(kind="temperature", temperature=2)
    p = sampler.probabilities({"small": 100, "large": 400})
    assert p == pytest.approx({"small": 1 / 3, "large": 2 / 3}, abs=1e-12)


def test_temperature_one_is_proportional_and_a_large_temperature_nearly_uniform():
    sizes = {"a": 100, "b": 900}
    proportional = SamplerConfig(kind="proportional").probabilities(sizes)
    assert SamplerConfig(kind="temperature", temperature=1).probabilities(sizes) == pytest.approx(
        proportional, abs=1e-12
    )
    assert proportional == pytest.approx({"a": 0.1, "b": 0.9}, abs=1e-12)
    hot = SamplerConfig(kind="temperature", temperature=1000).probabilities(sizes)
    assert hot == pytest.approx({"a": 0.5, "b": 0.5}, abs=1e-3)


def test_uniform_ignores_sizes_and_fixed_weights_are_normalised():
    sizes = {"a": 10, "b": 1000, "c": 5}
    assert SamplerConfig(kind="uniform").probabilities(sizes) == pytest.approx(
        dict.fromkeys(sizes, 1 / 3), abs=1e-12
    )
    fixed = SamplerConfig(kind="fixed", weights={"a": 1, "b": 2, "c": 1})
    assert fixed.probabilities(sizes) == pytest.approx({"a": 0.25, "b": 0.5, "c": 0.25}, abs=1e-12)


def test_continued_mlm_takes_its_weight_off_the_top_of_any_sampler():
    p = mixture("a", "b", mlm_weight=0.2, kind="uniform").probabilities({"a": 1, "b": 99})
    assert p == pytest.approx({"a": 0.4, "b": 0.4, "mlm": 0.2}, abs=1e-12)


@pytest.mark.parametrize(
    "sampler",
    [
        {"kind": "proportional"},
        {"kind": "capped", "cap": 3000},
        {"kind": "temperature", "temperature": 2.0},
        {"kind": "uniform"},
        {"kind": "fixed", "weights": {"mnli": 5, "squad": 3, "hellaswag": 2}},
    ],
    ids=lambda s: s["kind"],
)
def test_every_sampler_draws_members_in_its_proportions(sampler):
    sizes = {"mnli": 9000, "squad": 4000, "hellaswag": 1000}
    p = mixture(*sizes, mlm_weight=0.1, **sampler).probabilities(sizes)
    draws = stream(p, seed=7)
    counts = {k: 0 for k in p}
    for _ in range(DRAWS):
        counts[draws.draw()] += 1
    for key, share in p.items():
        sigma = math.sqrt(DRAWS * share * (1 - share))
        assert abs(counts[key] - DRAWS * share) < 4 * sigma, (key, counts[key], DRAWS * share)


def test_each_member_continues_its_own_stream_where_it_left_off():
    batches = stream({"a": 0.5, "b": 0.5}).batches_from(0)
    seen = [next(batches) for _ in range(200)]
    for name in ("a", "b"):
        positions = [b["index"] for key, b in seen if key == name]
        assert positions == list(range(len(positions)))
        assert all(b["member"] == key for key, b in seen)


def test_a_restored_stream_draws_exactly_what_the_uninterrupted_one_draws():
    p = {"a": 0.6, "b": 0.3, "mlm": 0.1}
    whole = stream(p, seed=3, grad_accum=2)
    uninterrupted = list(itertools.islice(whole.batches_from(0), 100))

    first = stream(p, seed=3, grad_accum=2)
    head = list(itertools.islice(first.batches_from(0), 40))
    saved = first.state_dict()
    resumed = stream(p, seed=3, grad_accum=2)
    resumed.load_state_dict(saved)
    tail = list(itertools.islice(resumed.batches_from(20), 60))
    assert head + tail == uninterrupted


def test_a_stream_refuses_to_start_at_a_step_its_state_is_not_at():
    fresh = stream({"a": 1.0}, grad_accum=2)
    with pytest.raises(RuntimeError, match="restore its state"):
        next(fresh.batches_from(3))


def test_a_sampler_state_from_another_mixture_is_refused():
    with pytest.raises(ValueError, match="members"):
        stream({"a": 1.0}).load_state_dict(stream({"b": 1.0}).state_dict())


def test_the_seed_alone_decides_the_sequence_of_members():
    def members(seed: int) -> list[str]:
        draws = stream({"a": 0.5, "b": 0.5}, seed)
        return [draws.draw() for _ in range(64)]

    assert members(1) == members(1)
    assert members(1) != members(2)


@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        ({"kind": "capped"}, "cap is required with kind capped"),
        ({"kind": "temperature"}, "temperature is required"),
        ({"kind": "fixed"}, "weights are required"),
        ({"kind": "uniform", "cap": 10}, "cap is only used with kind capped"),
        ({"kind": "fixed", "weights": {"a": 0}}, "weights must be positive"),
    ],
)
def test_a_sampler_missing_or_misusing_its_parameter_is_rejected(sampler, message):
    with pytest.raises(ValidationError, match=message):
        SamplerConfig(**sampler)


def test_fixed_weights_must_name_exactly_the_members():
    with pytest.raises(ValidationError, match="must be the members"):
        mixture("a", "b", kind="fixed", weights={"a": 1, "c": 1})


def test_a_member_listed_twice_is_rejected_but_a_translation_is_its_own_member():
    with pytest.raises(ValidationError, match="listed twice"):
        mixture("a", "a")
    translated = MemberConfig(task="a", translation=Translation(language="de", train="x.{lang}"))
    both = MixtureConfig(members=[MemberConfig(task="a"), translated])
    assert both.keys() == ("a", "a@de")
    assert both.tasks() == ("a",)

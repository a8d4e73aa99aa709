"""Length-grouped batching: batches of similar lengths (little padding), every example once per
epoch, a random order of batches, and the same batches for a resumed run as for an
uninterrupted one."""

from __future__ import annotations

import random

from trainers.data.batches import TrainStream, _length


def features(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [{"input_ids": [5] * rng.randint(4, 120), "example": i} for i in range(n)]


def stream(feats, *, grouped: bool, batch_size: int = 8, rank: int = 0, world: int = 1):
    return TrainStream(
        feats, lambda chunk: chunk, batch_size, 1, rank, world, seed=3, group_by_length=grouped
    )


def padding(batches) -> float:
    """Share of the padded batches' tokens that are padding."""
    real = sum(_length(f) for b in batches for f in b)
    padded = sum(max(_length(f) for f in b) * len(b) for b in batches)
    return 1 - real / padded


def one_epoch(s: TrainStream) -> list[list[dict]]:
    batches = s.batches_from(0)
    return [next(batches) for _ in range(s.micro_batches_per_epoch())]


def test_grouped_batches_waste_a_fraction_of_the_padding_of_shuffled_ones():
    feats = features(2000)
    grouped = padding(one_epoch(stream(feats, grouped=True)))
    shuffled = padding(one_epoch(stream(feats, grouped=False)))
    assert shuffled > 0.4
    assert grouped < shuffled / 5


def test_an_epoch_of_grouped_batches_trains_each_example_at_most_once_and_drops_only_the_rest():
    feats = features(1003)
    seen = [f["example"] for b in one_epoch(stream(feats, grouped=True)) for f in b]
    assert len(seen) == len(set(seen)) == 1003 // 8 * 8


def test_grouped_batches_come_in_no_length_order_and_differ_between_epochs():
    s = stream(features(2000), grouped=True)
    longest = [max(_length(f) for f in b) for b in one_epoch(s)]
    rising = sum(a < b for a, b in zip(longest, longest[1:], strict=False))
    assert 0.3 < rising / (len(longest) - 1) < 0.7
    assert s.epoch_order(0) != s.epoch_order(1)


def test_a_run_resumed_at_any_step_draws_the_batches_an_uninterrupted_run_draws():
    s = stream(features(500), grouped=True)
    uninterrupted = s.batches_from(0)
    first = [next(uninterrupted) for _ in range(150)]  # more than two epochs of 62 batches
    for step in (0, 1, 61, 62, 100):
        resumed = s.batches_from(step)
        assert [next(resumed) for _ in range(150 - step)] == first[step:]


def test_ranks_share_each_global_batch_and_get_similar_lengths():
    feats = features(2000)
    ranks = [one_epoch(stream(feats, grouped=True, batch_size=4, rank=r, world=2)) for r in (0, 1)]
    examples = [{f["example"] for b in batches for f in b} for batches in ranks]
    assert not examples[0] & examples[1]
    for a, b in zip(*ranks, strict=True):
        assert abs(max(map(_length, a)) - max(map(_length, b))) <= 12


def test_a_multiple_choice_feature_is_as_long_as_its_longest_choice():
    assert _length({"input_ids": [[1] * 7, [1] * 30, [1] * 12]}) == 30
    assert _length({"input_ids": [1] * 9}) == 9


def test_fewer_examples_than_a_global_batch_still_give_full_batches():
    s = stream(features(5), grouped=True)
    assert [len(next(s.batches_from(0))) for _ in range(3)] == [8, 8, 8]

"""MLM data: sentences packed into streams, languages balanced, masking reproducible."""

from __future__ import annotations

import torch

from trainers.data.mlm import MaskingCollator, balanced_sample, pack


def test_packing_fills_sequences_with_whole_sentences_in_order():
    sentences = [[10, 11, 12], [20, 21], [30, 31, 32, 33], [40]]
    packed = pack(sentences, max_length=8, bos=0, eos=2)
    assert packed == [[0, 10, 11, 12, 2, 20, 21, 2], [0, 30, 31, 32, 33, 2, 40, 2]]


def test_a_sentence_longer_than_a_sequence_is_cut_to_fit():
    packed = pack([list(range(10, 30))], max_length=8, bos=0, eos=2)
    assert packed == [[0, 10, 11, 12, 13, 14, 15, 2]]


def test_packing_without_a_start_token_uses_only_separators():
    assert pack([[5, 6], [7]], max_length=8, bos=None, eos=1) == [[5, 6, 1, 7, 1]]


def test_balanced_sampling_upsamples_the_small_language_and_keeps_the_total():
    corpora = {"big": [f"b{i}" for i in range(900)], "small": [f"s{i}" for i in range(100)]}
    sample = balanced_sample(corpora, alpha=0.3, seed=0)
    small = sum(item.startswith("s") for item in sample)
    assert len(sample) == 1000
    assert 100 < small < 500  # upsampled, but English-like languages still dominate
    assert sample == balanced_sample(corpora, alpha=0.3, seed=0)


class Tok:
    mask_token_id, pad_token_id, all_special_ids = 4, 1, [0, 1, 2, 3, 4]

    def __len__(self) -> int:
        return 50


def test_masking_never_touches_special_tokens_and_repeats_with_the_seed():
    collate = MaskingCollator(Tok(), probability=0.5)
    features = [{"input_ids": [0, *range(10, 40), 2]}, {"input_ids": [0, 11, 12, 2]}]
    first = collate(features, torch.Generator().manual_seed(3))
    again = collate(features, torch.Generator().manual_seed(3))
    assert torch.equal(first["input_ids"], again["input_ids"])
    chosen = first["labels"] != -100
    assert chosen.any()
    ids = torch.tensor([[0, *range(10, 40), 2], [0, 11, 12, 2] + [1] * 28])
    assert not torch.isin(ids[chosen], torch.tensor(Tok.all_special_ids)).any()
    assert torch.equal(first["labels"][chosen], ids[chosen])

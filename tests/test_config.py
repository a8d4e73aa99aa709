"""Worker configs: derived values are methods of the frozen models."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from trainers.config import DeepSpeedConfig, OptimConfig, TinyEncoder
from trainers.model import tiny_config


def test_the_default_schedule_warms_up_then_decays_linearly_to_zero():
    optim = OptimConfig(warmup_ratio=0.1)
    factors = [optim.lr_factor(step, 100) for step in range(100)]
    assert factors[0] == pytest.approx(1 / 11)
    assert max(factors) == pytest.approx(1.0)
    assert factors.index(max(factors)) == 10
    assert factors[55] == pytest.approx(0.5)
    assert factors[-1] == pytest.approx(1 / 90)


def test_a_decay_ratio_holds_the_peak_rate_until_the_last_share_of_steps():
    optim = OptimConfig(warmup_ratio=0.1, decay_ratio=0.3)
    factors = [optim.lr_factor(step, 100) for step in range(100)]
    assert all(f == 1.0 for f in factors[10:70])
    assert factors[85] == pytest.approx(0.5)
    assert factors[99] == pytest.approx(1 / 30)


def test_a_decay_ratio_above_one_is_rejected():
    with pytest.raises(ValidationError, match="decay_ratio"):
        OptimConfig(decay_ratio=1.5)


@pytest.mark.parametrize("architecture", ["xlm-roberta", "bert", "mt5"])
def test_tiny_dropout_and_init_reach_the_hugging_face_config(architecture):
    tiny = TinyEncoder(architecture=architecture, dropout=0.0, init_range=0.05)
    config = tiny_config(tiny, vocab_size=100)
    if architecture == "mt5":
        assert config.dropout_rate == 0.0 and config.initializer_factor == pytest.approx(2.5)
    else:
        assert config.hidden_dropout_prob == 0.0 == config.attention_probs_dropout_prob
        assert config.initializer_range == 0.05


@pytest.mark.parametrize(
    ("workers", "offload", "stage"), [(1, False, 0), (2, False, 2), (8, False, 2), (1, True, 2)]
)
def test_zero_stage_auto_shards_only_where_there_is_more_than_one_worker_or_an_offload(
    workers, offload, stage
):
    ds = DeepSpeedConfig(zero_stage="auto", offload_optimizer=offload)
    assert ds.stage(workers) == stage
    assert ds.engine_config(OptimConfig(), workers, on_gpu=False)["zero_optimization"]["stage"] == (
        stage
    )


def test_an_explicit_zero_stage_is_kept_on_one_worker():
    assert DeepSpeedConfig(zero_stage=2).stage(1) == 2

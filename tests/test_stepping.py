"""The Stepper clips and fills gradients itself at ZeRO-0, and trains as DeepSpeed would."""

from __future__ import annotations

import pytest
import torch

from trainers.config import (
    DataConfig,
    DeepSpeedConfig,
    ModelConfig,
    OptimConfig,
    TinyEncoder,
    TrainConfig,
)
from trainers.distributed import ensure_process_group
from trainers.formats import get_format
from trainers.loop import build_engine
from trainers.model import TaskModel, build_from_config, tiny_config
from trainers.tasks import get_task

SHAPE = TinyEncoder(
    hidden_size=16, num_layers=2, num_heads=2, intermediate_size=32, max_positions=32, dropout=0.0
)
VOCAB = 50
CLASSIFICATION = get_format("classification")


def train_config(stage=0, precision="fp32", grad_clip=0.05) -> TrainConfig:
    # A clip that binds, and a rate and decay large enough that a parameter left out of a
    # step (no gradient, no decay) visibly stays behind.
    return TrainConfig(
        phase="intermediate",
        task="mnli",
        model=ModelConfig(name="tiny", tiny=SHAPE),
        init_from="random",
        tokenizer="none",
        data=DataConfig(source="local", root="."),
        optim=OptimConfig(
            learning_rate=0.05, weight_decay=0.1, grad_clip=grad_clip, batch_size=4, grad_accum=2
        ),
        deepspeed=DeepSpeedConfig(zero_stage=stage, precision=precision),
    )


def model_with_an_idle_parameter() -> torch.nn.Module:
    """A classifier and one parameter that no loss reaches, as a mixture's idle head."""
    torch.manual_seed(0)
    encoder = build_from_config(tiny_config(SHAPE, VOCAB))
    head = CLASSIFICATION.build_head(get_task("mnli"), SHAPE.hidden_size, "first")
    model = TaskModel(encoder, head)
    model.register_parameter("idle", torch.nn.Parameter(torch.ones(3, 3)))
    return model


def batches(n: int) -> list[dict]:
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "input_ids": torch.randint(5, VOCAB, (4, 12), generator=generator),
            "attention_mask": torch.ones(4, 12, dtype=torch.long),
            "labels": torch.randint(0, 3, (4,), generator=generator),
        }
        for _ in range(n)
    ]


def trained_weights(cfg: TrainConfig, micro_batches: int = 6) -> dict[str, torch.Tensor]:
    ensure_process_group(gpu=False)
    engine, step = build_engine(cfg, model_with_an_idle_parameter(), 100, 1, gpu=False)
    for batch in batches(micro_batches):
        step(CLASSIFICATION.loss(engine(batch), batch))
    weights = {n: p.detach().clone() for n, p in engine.module.named_parameters()}
    engine.destroy()
    return weights


def deepspeed_does_it_all(monkeypatch) -> None:
    """DeepSpeed clips and reduces as it does by itself: the loop takes no part."""
    monkeypatch.setattr(DeepSpeedConfig, "clips_in_loop", lambda self, workers, on_gpu: False)


def test_a_one_worker_zero_0_step_trains_the_weights_deepspeed_alone_trains(monkeypatch):
    ours = trained_weights(train_config())
    with monkeypatch.context() as patch:
        deepspeed_does_it_all(patch)
        theirs = trained_weights(train_config())
    assert ours.keys() == theirs.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=1e-6, msg=name)
    # The idle parameter decayed in both: a zero gradient, not none.
    assert ours["idle"].max() < 1 - 1e-3


def test_the_clip_is_what_makes_the_weights_agree(monkeypatch):
    """The comparison above can fail: unclipped steps end elsewhere."""
    unclipped = trained_weights(train_config(grad_clip=0.0))
    with monkeypatch.context() as patch:
        deepspeed_does_it_all(patch)
        clipped = trained_weights(train_config())
    assert max((unclipped[n] - clipped[n]).abs().max() for n in clipped) > 1e-3


def test_deepspeed_neither_clips_nor_reduces_parameter_by_parameter(monkeypatch):
    from deepspeed.runtime.engine import DeepSpeedEngine

    def refuse(self, *args, **kwargs):
        raise AssertionError("DeepSpeed's per-parameter path ran")

    monkeypatch.setattr(DeepSpeedEngine, "clip_fp32_gradients", refuse)
    monkeypatch.setattr(DeepSpeedEngine, "buffered_allreduce_fallback", refuse)
    trained_weights(train_config(), micro_batches=2)


@pytest.mark.parametrize(
    ("stage", "precision", "workers", "loop_clips"),
    [
        (0, "fp32", 1, True),
        (0, "bf16-autocast", 8, True),
        ("auto", "fp32", 1, True),
        (2, "fp32", 1, False),  # ZeRO's optimizer clips its flat partition
        ("auto", "fp32", 8, False),
        (0, "bf16", 1, False),  # so does DeepSpeed's 16-bit optimizer wrapper
    ],
)
def test_deepspeed_keeps_the_clipping_where_it_clips_flat_buffers(
    stage, precision, workers, loop_clips
):
    ds = DeepSpeedConfig(zero_stage=stage, precision=precision)
    assert ds.clips_in_loop(workers, on_gpu=True) is loop_clips
    clipping = ds.engine_config(OptimConfig(grad_clip=1.0), workers, True)["gradient_clipping"]
    assert clipping == (0.0 if loop_clips else 1.0)


@pytest.mark.slow
def test_a_compiled_engine_trains_batches_of_any_length_as_the_eager_one(tmp_path, monkeypatch):
    # Its own compilation cache: a warm one would hide a compile that fails.
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    ensure_process_group(gpu=False)
    lengths = (12, 17, 9)  # dynamic padding: each batch as long as its longest example
    generator = torch.Generator().manual_seed(2)
    data = [
        {
            "input_ids": torch.randint(5, VOCAB, (4, n), generator=generator),
            "attention_mask": torch.ones(4, n, dtype=torch.long),
            "labels": torch.randint(0, 3, (4,), generator=generator),
        }
        for n in lengths
    ]
    from torch._dynamo.utils import counters

    counters.clear()
    losses = {}
    for compiled in (False, True):
        cfg = train_config(grad_clip=1.0)
        cfg = cfg.model_copy(
            update={"deepspeed": DeepSpeedConfig(zero_stage=0, torch_compile=compiled)}
        )
        model = model_with_an_idle_parameter()
        for module in model.modules():  # compiled code draws dropout masks with its own RNG
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        engine, step = build_engine(cfg, model, 100, 1, gpu=False)
        assert engine.is_compiled is compiled
        losses[compiled] = []
        for batch in data:
            loss = CLASSIFICATION.loss(engine(batch), batch)
            step(loss)
            losses[compiled].append(loss.item())
        names = [name for name, _ in engine.module.named_parameters()]
        engine.destroy()
    assert counters["stats"]["unique_graphs"] == 1  # one graph for every length: no recompiles
    assert "_orig_mod" not in " ".join(names)  # compiled in place: checkpoints keep their names
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)

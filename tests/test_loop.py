"""The training loop as a plain function (no Ray): DeepSpeed ZeRO stages, checkpoints, and the
hand-off between phases, where a target run must start from exactly the chosen encoder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainers.checkpoint import consolidated_state_dict, export_encoder, read_meta, split_state
from trainers.config import (
    DataConfig,
    DeepSpeedConfig,
    ModelConfig,
    OptimConfig,
    TinyEncoder,
    TrainConfig,
    Windows,
)
from trainers.distributed import MUON
from trainers.evaluate import zero_shot
from trainers.local import LocalReporter
from trainers.loop import train
from trainers.model import build_from_config, fingerprint
from trainers.predictors import load_encoder_dir

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

TINY = TinyEncoder(
    hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_positions=64
)


def config(benchmark: Path, **changes) -> TrainConfig:
    base = dict(
        phase="pretrain",
        task="mlm",
        model=ModelConfig(name="tiny", tokenizer="t", tiny=TINY),
        init_from="random",
        tokenizer=str(benchmark / "tokenizer"),
        data=DataConfig(source="local", root=str(benchmark)),
        optim=OptimConfig(
            learning_rate=1e-3,
            batch_size=16,
            epochs=1,
            rounds=1,
            max_length=48,
            max_train_examples=200,
        ),
        deepspeed=DeepSpeedConfig(zero_stage=2),
        mlm_languages=("en", "qaa"),
    )
    base.update(changes)
    return TrainConfig(**base)


def run(cfg: TrainConfig, root: Path) -> LocalReporter:
    reporter = LocalReporter(root / "checkpoints")
    train(cfg, reporter, root / "scratch")
    return reporter


def finetune(
    benchmark: Path,
    init_from,
    phase: str,
    task: str,
    *,
    rounds: int = 1,
    examples: int = 128,
    stage: int = 2,
) -> TrainConfig:
    """A short fine-tuning run of `task` from an exported encoder."""
    optim = OptimConfig(
        learning_rate=3e-4,
        batch_size=16,
        epochs=1,
        rounds=rounds,
        max_length=48,
        max_train_examples=examples,
    )
    return config(
        benchmark,
        phase=phase,
        task=task,
        init_from=str(init_from),
        mlm_languages=(),
        optim=optim,
        deepspeed=DeepSpeedConfig(zero_stage=stage),
    )


@pytest.fixture(scope="module")
def pretrained(benchmark, tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain")
    reporter = run(config(benchmark), root)
    return export_encoder(reporter.checkpoints[-1], root / "encoder")


def consolidated_encoder_fingerprint(checkpoint: Path) -> str:
    """Fingerprint of the encoder inside a DeepSpeed checkpoint, read independently of the export."""
    from transformers import AutoConfig

    weights, _ = split_state(
        consolidated_state_dict(checkpoint), read_meta(checkpoint)["encoder_prefix"]
    )
    encoder = build_from_config(AutoConfig.from_pretrained(checkpoint / "encoder"))
    encoder.load_state_dict(weights, strict=True)
    return fingerprint(encoder)


def test_each_round_reports_dev_metrics_and_a_checkpoint(benchmark, pretrained, tmp_path):
    cfg = finetune(benchmark, pretrained, "intermediate", "synth_mnli", rounds=2, examples=128)
    reporter = run(cfg, tmp_path)
    assert [h["round"] for h in reporter.history] == [1, 2]
    assert all(0.0 <= h["dev/accuracy"] <= 1.0 for h in reporter.history)
    assert all(h["dev/n_examples"] > 0 for h in reporter.history)
    for checkpoint in reporter.checkpoints:
        assert (checkpoint / "state").is_dir() and (checkpoint / "xstilts.json").is_file()


def test_a_target_run_starts_from_exactly_the_chosen_intermediate_encoder(
    benchmark, pretrained, tmp_path
):
    inter = finetune(benchmark, pretrained, "intermediate", "synth_mnli", rounds=1, examples=128)
    chosen = run(inter, tmp_path / "inter").checkpoints[-1]
    handoff = export_encoder(chosen, tmp_path / "handoff")
    target = finetune(benchmark, handoff, "target", "synth_xnli", rounds=1, examples=64)
    started = run(target, tmp_path / "target").history[0]["init_fingerprint"]
    assert started == consolidated_encoder_fingerprint(chosen)
    assert started != consolidated_encoder_fingerprint(
        Path(pretrained).parent / "checkpoints" / "checkpoint_000"
    )


@pytest.mark.parametrize(("stage", "ran"), [(0, 0), (1, 1), (3, 3), ("auto", 0)])
def test_every_zero_stage_trains_exports_and_evaluates(benchmark, pretrained, tmp_path, stage, ran):
    cfg = finetune(
        benchmark, pretrained, "target", "synth_udpos", rounds=1, examples=64, stage=stage
    )
    checkpoint = run(cfg, tmp_path).checkpoints[-1]
    assert read_meta(checkpoint)["zero_stage"] == ran  # auto on one worker: nothing to shard
    exported = export_encoder(checkpoint, tmp_path / "export")
    rows = zero_shot(
        exported, "synth_udpos", ("en", "qac"), cfg.data, windows=Windows(max_length=48)
    ).rows
    assert {(r["language"], r["metric"]) for r in rows} == {
        ("en", "f1"),
        ("en", "token_accuracy"),
        ("qac", "f1"),
        ("qac", "token_accuracy"),
    }
    assert all(r["n_examples"] > 0 for r in rows)


def test_no_engine_imports_deepspeeds_muon_which_would_compile_its_kernels(pretrained):
    # ZeRO-2 (the pretrained encoder) asks at every reduction whether the optimizer is Muon;
    # importing the real modules to answer costs every training process seconds of CPU.
    for name in ("muon_optimizer", "original_muon"):
        module = sys.modules[f"{MUON}.{name}"]
        assert not hasattr(module, "__file__"), module
    with pytest.raises(RuntimeError, match="Muon is not used"):
        sys.modules[f"{MUON}.original_muon"].muon_update(None)


def test_saving_an_encoder_imports_deepspeed_without_mlflow_which_stays_importable(
    benchmark, tmp_path
):
    # Saving imports DeepSpeed where accelerate is installed, and DeepSpeed's autotuner imports
    # MLflow (seconds of CPU in every driver and trial) only to log autotuning runs. A fresh
    # process shows what the imports do.
    code = (
        "import sys; from trainers.config import TinyEncoder;"
        "from trainers.model import save_random_encoder;"
        "tiny = TinyEncoder(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64);"
        f"save_random_encoder(tiny, {str(benchmark / 'tokenizer')!r}, 0, {str(tmp_path)!r});"
        "from deepspeed.autotuning import autotuner;"
        "print('mlflow' in sys.modules, autotuner.has_mlflow);"
        "import mlflow; print(mlflow.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["False", "False", "mlflow"]  # after DeepSpeed's warning


@pytest.mark.parametrize("stage", [0, 3])
def test_activation_checkpointing_recomputes_exactly_what_it_dropped(
    benchmark, pretrained, tmp_path, stage
):
    cfg = finetune(benchmark, pretrained, "target", "synth_udpos", examples=64, stage=stage)
    kept = run(cfg, tmp_path / "kept")
    checkpointed = cfg.model_copy(
        update={"deepspeed": cfg.deepspeed.model_copy(update={"activation_checkpointing": True})}
    )
    recomputed = run(checkpointed, tmp_path / "recomputed")
    assert read_meta(recomputed.checkpoints[-1])["activation_checkpointing"] is True
    assert read_meta(kept.checkpoints[-1])["activation_checkpointing"] is False
    assert recomputed.history[-1]["train_losses"] == pytest.approx(
        kept.history[-1]["train_losses"], abs=1e-5
    )
    setup = {k: v for k, v in kept.history[0].items() if k.startswith("setup/")}
    assert set(setup) == {
        f"setup/{p}" for p in ("process_group", "data", "model", "engine", "restore")
    }
    assert all(v >= 0 for v in setup.values())


INTERMEDIATE_FIXTURES = Path(__file__).parent / "fixtures" / "intermediate"


@pytest.mark.parametrize(
    ("task", "metrics"),
    [
        ("hellaswag", {"dev/accuracy"}),
        ("squad_v2", {"dev/exact", "dev/f1"}),
        ("ccg", {"dev/token_accuracy"}),
    ],
)
def test_the_loop_trains_every_format_from_its_real_files(
    benchmark, pretrained, tmp_path, task, metrics
):
    cfg = finetune(benchmark, pretrained, "intermediate", task, rounds=1, examples=32)
    cfg = cfg.model_copy(
        update={
            "data": DataConfig(source="local", root=str(INTERMEDIATE_FIXTURES)),
            "optim": cfg.optim.model_copy(update={"max_length": 64}),
        }
    )
    reporter = run(TrainConfig.model_validate(cfg.model_dump()), tmp_path)
    (history,) = reporter.history
    assert metrics <= set(history)
    assert all(0.0 <= history[m] <= 1.0 for m in metrics)
    assert history["dev/n_examples"] > 0 and history["train_loss"] == history["train_loss"]


@pytest.mark.parametrize("stage", [0, 2])
def test_a_bf16_trial_hands_on_its_fp32_master_weights(benchmark, pretrained, tmp_path, stage):
    """The forward pass runs on a bf16 copy; the hand-off must carry the optimizer's fp32
    masters, or every weight the next phase starts from is rounded to 8 bits of mantissa."""
    cfg = finetune(benchmark, pretrained, "target", "synth_udpos", examples=64, stage=stage)
    cfg = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=stage, precision="bf16")})
    checkpoint = run(cfg, tmp_path).checkpoints[-1]
    weights = consolidated_state_dict(checkpoint)
    assert {w.dtype for w in weights.values()} == {torch.float32}
    assert any(not torch.equal(w, w.bfloat16().float()) for w in weights.values() if w.ndim == 2)
    exported = export_encoder(checkpoint, tmp_path / "export")
    assert fingerprint(load_encoder_dir(exported)[0]) == consolidated_encoder_fingerprint(
        checkpoint
    )


@pytest.mark.parametrize(
    ("task", "metric"),
    [
        ("synth_pawsx", "accuracy"),
        ("synth_panx", "f1"),
        ("synth_xquad", "f1"),
        ("synth_mlqa", "exact"),
        ("synth_xcopa", "accuracy"),
    ],
)
def test_every_synthetic_target_format_trains_and_transfers(
    benchmark, pretrained, tmp_path, task, metric
):
    cfg = finetune(benchmark, pretrained, "target", task, rounds=1, examples=64)
    checkpoint = run(cfg, tmp_path).checkpoints[-1]
    exported = export_encoder(checkpoint, tmp_path / "export")
    rows = zero_shot(exported, task, ("en", "qab"), cfg.data, windows=Windows(max_length=48)).rows
    scored = {r["language"]: r for r in rows if r["metric"] == metric}
    assert set(scored) == {"en", "qab"}
    assert all(0.0 <= r["value"] <= 1.0 and r["n_examples"] in (300, 400) for r in scored.values())


def test_synthetic_bitext_mining_scores_every_language_from_the_encoder(benchmark, pretrained):
    from trainers.evaluate import retrieval

    rows = retrieval(pretrained, "synth_bucc", ("qaa", "qac"), config(benchmark).data).rows
    f1 = {r["language"]: r["value"] for r in rows if r["metric"] == "f1"}
    assert set(f1) == {"qaa", "qac"} and all(0.0 <= v <= 1.0 for v in f1.values())
    assert {r["n_examples"] for r in rows} == {450}


def test_synthetic_squad_trains_as_an_intermediate_task_with_unanswerable_questions(
    benchmark, pretrained, tmp_path
):
    cfg = finetune(benchmark, pretrained, "intermediate", "synth_squad", rounds=1, examples=64)
    (history,) = run(cfg, tmp_path).history
    assert history["dev/n_examples"] == 300
    assert 0.0 <= history["dev/exact"] <= history["dev/f1"] <= 1.0


def test_synthetic_hellaswag_trains_as_a_four_way_intermediate_task(
    benchmark, pretrained, tmp_path
):
    cfg = finetune(benchmark, pretrained, "intermediate", "synth_hellaswag", rounds=1, examples=64)
    (history,) = run(cfg, tmp_path).history
    assert history["dev/n_examples"] == 300 and 0.0 <= history["dev/accuracy"] <= 1.0

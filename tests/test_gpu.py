"""On a CUDA GPU: trials train in bf16 under each ZeRO stage and hand on full-precision encoders,
evaluation on the GPU scores like evaluation on the CPU, and a Ray sweep places its training
workers and its evaluations on the GPU. Skipped without a GPU (CI never has one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from test_loop import config, consolidated_encoder_fingerprint, finetune, run
from test_mixture_loop import mixture_config

from trainers.checkpoint import consolidated_state_dict, export_encoder, read_meta
from trainers.config import DeepSpeedConfig, Windows
from trainers.evaluate import Run, zero_shot
from trainers.model import fingerprint, load_mlm_model, saved_head
from trainers.predictors import load_encoder_dir

pytestmark = [pytest.mark.gpu, pytest.mark.slow]


def on_gpu(cfg):
    return cfg.model_copy(update={"use_gpu": True})


@pytest.fixture(scope="module")
def gpu_pretrained(benchmark, tmp_path_factory):
    """MLM pretraining on the GPU (bf16, ZeRO-2), exported for the tests below."""
    root = tmp_path_factory.mktemp("gpu-pretrain")
    reporter = run(on_gpu(config(benchmark)), root)
    return export_encoder(reporter.checkpoints[-1], root / "encoder")


def test_mlm_pretraining_ran_on_the_gpu_with_bf16_autocast(gpu_pretrained):
    meta = read_meta(Path(gpu_pretrained).parent / "checkpoints" / "checkpoint_000")
    assert (meta["device"], meta["precision"]) == ("cuda", "bf16-autocast")


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_every_zero_stage_hands_on_the_fp32_master_weights(
    benchmark, gpu_pretrained, tmp_path, stage
):
    """DeepSpeed's bf16 keeps fp32 master weights in the optimizer; the hand-off must carry
    those, not the bf16 copy the forward pass used (which would round every weight to 8 bits)."""
    cfg = on_gpu(finetune(benchmark, gpu_pretrained, "target", "synth_udpos", stage=stage))
    cfg = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=stage, precision="bf16")})
    checkpoint = run(cfg, tmp_path).checkpoints[-1]
    assert read_meta(checkpoint)["zero_stage"] == stage
    weights = consolidated_state_dict(checkpoint)
    matrices = [w for w in weights.values() if w.ndim == 2]
    assert all(w.dtype == torch.float32 for w in weights.values())
    assert any(not torch.equal(w, w.bfloat16().float()) for w in matrices)
    exported = export_encoder(checkpoint, tmp_path / "export")
    assert fingerprint(load_encoder_dir(exported)[0]) == consolidated_encoder_fingerprint(
        checkpoint
    )


@pytest.mark.parametrize("stage", [2, 3])
def test_a_mixture_with_continued_mlm_trains_in_bf16_and_hands_on_every_head(
    benchmark, gpu_pretrained, tmp_path, stage
):
    cfg = on_gpu(mixture_config(benchmark, gpu_pretrained, stage=stage, rounds=2))
    cfg = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=stage, precision="bf16")})
    reporter = run(cfg, tmp_path)
    for metrics in reporter.history:
        assert torch.isfinite(torch.tensor(metrics["train_losses"])).all()
        assert metrics["drawn/mlm"] > 0 and metrics["drawn/synth_mnli@qaa"] > 0
        assert 0.0 <= metrics["dev/mlm/mlm_accuracy"] <= 1.0
    exported = export_encoder(reporter.checkpoints[-1], tmp_path / "export")
    assert saved_head(exported, "synth_mnli") and saved_head(exported, "synth_hellaswag")
    heads = torch.load(exported / "heads.pt", weights_only=True)["state_dict"]
    assert all(w.dtype == torch.float32 for w in heads.values())
    vocab = heads["lm_head.decoder.weight"].shape[0]
    mlm = load_mlm_model(str(exported), cfg.model, vocab)
    assert torch.equal(mlm.state_dict()["lm_head.dense.weight"], heads["lm_head.dense.weight"])


def test_zero_shot_on_the_gpu_scores_like_the_cpu(benchmark, gpu_pretrained, tmp_path):
    cfg = on_gpu(finetune(benchmark, gpu_pretrained, "target", "synth_xnli", examples=256))
    exported = export_encoder(run(cfg, tmp_path).checkpoints[-1], tmp_path / "export")
    langs, windows = ("en", "qaa", "qac"), Windows(max_length=48)
    gpu = zero_shot(
        exported, "synth_xnli", langs, cfg.data, windows=windows, run=Run(device="cuda")
    )
    cpu = zero_shot(exported, "synth_xnli", langs, cfg.data, windows=windows, run=Run(device="cpu"))
    gpu, cpu = gpu.rows, cpu.rows
    assert [(r["language"], r["metric"], r["n_examples"]) for r in gpu] == [
        (r["language"], r["metric"], r["n_examples"]) for r in cpu
    ]
    # fp32 on both; only a near-tie between two labels may flip (1 example in 400 is 0.0025).
    for g, c in zip(gpu, cpu, strict=True):
        assert g["value"] == pytest.approx(c["value"], abs=0.0051)


def test_a_cpu_trial_after_a_gpu_trial_in_one_process_stays_on_the_cpu(
    benchmark, gpu_pretrained, tmp_path
):
    cfg = finetune(benchmark, gpu_pretrained, "target", "synth_udpos", examples=32)
    cfg = cfg.model_copy(update={"deepspeed": DeepSpeedConfig(zero_stage=2)})
    meta = read_meta(run(cfg, tmp_path).checkpoints[-1])
    assert (meta["device"], meta["precision"]) == ("cpu", "fp32")


def test_a_ray_sweep_trains_and_evaluates_on_the_gpu(benchmark, tmp_path):
    from test_e2e import e2e_spec

    spec = e2e_spec(benchmark)
    spec["name"] = "gpu"
    spec["phases"]["intermediate"]["tasks"] = ["synth_mnli"]
    spec["phases"]["target"]["tasks"] = ["synth_xnli"]
    spec["phases"]["target"]["search"] = {"learning_rate": [3e-4, 1e-3]}
    spec["resources"] = {
        "workers": 1,
        "cpus_per_worker": 1,
        "gpus_per_worker": 0.5,  # two trials share the GPU
        "max_concurrent_trials": 2,
        "eval_cpus": 1,
        "eval_gpus": 0.25,
    }
    spec["deepspeed"] = {"zero_stage": 2, "precision": "auto"}
    spec["asha"] = {"grace_period": 2, "reduction_factor": 2}  # no rung below the last round
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metas = [json.loads(p.read_text()) for p in out.rglob("xstilts.json")]
    trained = {(m["phase"], m["device"], m["precision"]) for m in metas}
    assert trained == {
        ("pretrain", "cuda", "bf16-autocast"),
        ("intermediate", "cuda", "bf16-autocast"),
        ("target", "cuda", "bf16-autocast"),
    }
    rows = pd.read_parquet(out / "results")
    zero_shot_rows = rows[(rows.phase == "zero_shot") & (rows.metric == "accuracy")]
    assert set(zero_shot_rows.language) == {"en", "qaa", "qab", "qac"}
    assert len(zero_shot_rows) == 2 * 4  # both target trials, every language

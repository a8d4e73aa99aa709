"""The paper-scale spec shipped with the package (`xstilts-paper`): its plan's trial counts, the
reference hyper-parameters, where its workers go on cluster.yaml's node types, what `xstilts
validate` prints about GPU placement and cost (a GPU-hours total recomputed by hand here), and
the cost model's sizes and memory formula it relies on. Nothing here starts Ray or reads data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sweep.cli import main
from sweep.cost import (
    TEST_SIZES,
    TRAIN_SIZES,
    encoder_parameters,
    model_parameters,
    model_state_bytes,
)
from sweep.plan import expand
from sweep.spec import PhaseResources, ResourcesSpec, SweepSpec, load_spec
from trainers.config import ModelConfig, TinyEncoder
from trainers.tasks import PAPER_INTERMEDIATE, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 3
XTREME_TRAINED = ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa")
XTREME_RETRIEVAL = ("bucc", "tatoeba")
SPAN_QA = ("squad_v2", "xquad", "mlqa", "tydiqa")


@pytest.fixture(scope="module")
def spec() -> SweepSpec:
    return load_spec("xstilts-paper")


def test_the_paper_spec_names_the_nine_intermediate_tasks_all_none_and_xtremes_nine_targets(spec):
    assert spec.model.name == "xlm-roberta-large" and spec.model.tiny is None
    assert spec.data.source == "local" and spec.data.root
    assert set(spec.phases.intermediate.tasks) == {*PAPER_INTERMEDIATE, "all", "none"}
    assert set(spec.phases.target.tasks) == {*XTREME_TRAINED, *XTREME_RETRIEVAL}
    xtreme = {n for n in REGISTRY.names("target") if "xtreme" in REGISTRY.get(n).benchmarks}
    assert set(spec.phases.target.tasks) == xtreme
    assert len(spec.seeds) == SEEDS


def test_the_paper_plan_has_the_trial_counts_of_tasks_starts_targets_and_seeds(spec):
    plan = expand(spec)
    entries = len(PAPER_INTERMEDIATE) + 1  # the nine tasks and the `all` mixture
    starts = entries + 1  # ... and `none`
    points = 1  # no grid: the reference hyper-parameters
    assert plan.planned_trials("pretrain") == 0
    assert plan.planned_trials("intermediate") == entries * points * SEEDS == 30
    assert plan.planned_trials("target") == starts * len(XTREME_TRAINED) * points * SEEDS == 231
    assert len(plan.retrieval) == starts * len(XTREME_RETRIEVAL) == 22
    assert plan.intermediate_configs()[0] == "none" and len(plan.intermediate_configs()) == starts


def test_every_phase_trains_with_an_effective_batch_of_32_and_16_for_span_qa(spec):
    plan = expand(spec)
    for phase in ("intermediate", "target"):
        workers = spec.resources_for(phase).workers
        for trial in plan.trials(phase):
            expected = 16 if trial.task in SPAN_QA else 32
            assert trial.optim.effective_batch_size(workers) == expected, (phase, trial.task)


def test_the_paper_spec_trains_with_the_reference_hyper_parameters(spec):
    plan = expand(spec)
    epochs = {"xnli": 2, "pawsx": 5, "udpos": 10, "panx": 10, "xquad": 2, "mlqa": 2, "tydiqa": 2}
    for trial in (*plan.intermediate, *plan.target):
        optim = trial.optim
        assert (optim.learning_rate, optim.weight_decay) == (1e-5, 0.01)
        assert (optim.warmup_ratio, optim.grad_clip) == (0.1, 1.0)
        qa = trial.task in SPAN_QA or trial.task == "all"  # the mixture holds SQuAD v2
        assert optim.max_length == (384 if qa else 256), trial.task
        if qa:
            assert optim.doc_stride == 128
    assert {t.task: t.optim.epochs for t in plan.target} == epochs
    assert spec.deepspeed.resolved_precision(True) == "bf16-autocast"
    # ZeRO-2 where it shards (8 workers), ZeRO-0 where it could not (1 worker).
    assert spec.deepspeed.zero_stage == "auto"
    assert (spec.deepspeed.stage(8), spec.deepspeed.stage(1)) == (2, 0)


def test_intermediate_trials_fill_an_8_gpu_node_and_targets_a_1_gpu_spot_node(spec):
    cluster = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    types = cluster["available_node_types"]
    placements = {"intermediate": "gpu_8x", "target": "gpu_1x_spot"}
    for phase, node_type in placements.items():
        res = spec.resources_for(phase)
        node = types[node_type]["resources"]
        assert res.worker_resources == {node_type: 1}
        # A trial's workers all fit the one node they are packed on.
        assert res.workers * res.gpus_per_worker <= node["GPU"]
        assert res.workers * res.cpus_per_worker <= node["CPU"]
        assert res.workers * res.worker_resources[node_type] <= node[node_type]
    assert spec.resources_for("intermediate").workers == 8
    head = types[cluster["head_node_type"]]["resources"]
    assert set(spec.resources.driver_resources) <= set(head)  # drivers only on the head
    assert spec.resources.preemptible and spec.resources.max_failures >= 2
    assert spec.resources.eval_gpus == 1


def test_a_phase_may_place_its_workers_on_its_own_node_type():
    base = ResourcesSpec(worker_resources={"gpu_1x_spot": 1})
    assert PhaseResources(worker_resources={"gpu_8x": 1}).apply(base).worker_resources == {
        "gpu_8x": 1
    }
    assert PhaseResources(workers=2).apply(base).worker_resources == {"gpu_1x_spot": 1}


def test_a_trials_workers_are_packed_on_one_node_with_their_node_resource(monkeypatch):
    import ray.train

    from sweep import tune_driver

    made = {}

    class Trainer:
        def __init__(self, *args, **kwargs):
            made.update(kwargs)

        def fit(self):
            made["fit"] = True

    monkeypatch.setattr(tune_driver, "_trainer_class", lambda: Trainer)
    # Outside a Tune session the real callback refuses to be built; this test runs no trial.
    monkeypatch.setattr("ray.tune.integration.ray_train.TuneReportCallback", ray.train.UserCallback)
    resources = {"workers": 8, "cpus_per_worker": 16, "gpus_per_worker": 1, "max_failures": 3,
                 "max_preemptions": -1, "worker_resources": {"gpu_8x": 1}}  # fmt: skip
    plan = {
        "trial_id": "int-mnli-s0",
        "train": {},
        "train_storage": "/tmp/x",
        "resources": resources,
    }
    tune_driver.run_trial({"trial": plan})
    scaling = made["scaling_config"]
    assert made["fit"] and scaling.placement_strategy == "PACK"
    assert scaling.num_workers == 8
    assert scaling.resources_per_worker == {"CPU": 16, "GPU": 1, "gpu_8x": 1}


# The cost model's planning constants (sweep/cost.py), restated: a check by hand, not an import.
GPU_RATE = 60.0  # training sequences/s per GPU at 256 tokens
INFERENCE = 3.0  # a forward pass against a training step
QA_WINDOWS = 1.02  # span-QA windows per example at 384 tokens
EVAL_GPUS = 2  # eval_actors x eval_gpus


def gpu_hours(sequences: float, tokens: int, inference: bool = False) -> float:
    """GPU-hours of `sequences` of `tokens` at the planning rate (any number of GPUs: the rate
    scales with them, so the GPU-hours do not)."""
    return sequences * tokens / 256 / (GPU_RATE * (INFERENCE if inference else 1.0)) / 3600


def paper_gpu_hours_by_hand() -> float:
    nli = 550_152 + 392_702 + 162_865  # SNLI + MNLI + ANLI r1-r3
    short = {  # intermediate tasks at 256 tokens, sequences per epoch (choices x examples)
        "anli_plus": nli, "ccg": 39_604, "commonsenseqa": 5 * 9_741, "cosmosqa": 4 * 25_262,
        "hellaswag": 4 * 39_905, "mnli": 392_702, "qqp": 363_846, "sst2": 67_349,
    }  # fmt: skip
    squad_v2 = 130_319 * QA_WINDOWS
    mixture = sum(short.values()) + squad_v2  # `all`, at 384 tokens
    intermediate = 2 * (gpu_hours(sum(short.values()), 256) + gpu_hours(squad_v2 + mixture, 384))
    target = (
        gpu_hours(392_702 * 2 + 49_401 * 5 + 21_253 * 10 + 20_000 * 10, 256)
        + gpu_hours((87_599 * 2 + 87_599 * 2 + 3_696 * 2) * QA_WINDOWS, 384)
    ) * 11  # starts
    zero_shot = (
        gpu_hours(75_150 + 14_000 + 102_000 + 262_000, 256, inference=True)
        + gpu_hours((13_090 + 42_000 + 5_000) * QA_WINDOWS, 384, inference=True)
    ) * 11
    retrieval = gpu_hours(2_900_000 + 64_000, 64, inference=True) * 11
    return SEEDS * (intermediate + target + zero_shot) + retrieval


def test_the_paper_estimate_is_about_514_gpu_hours():
    assert paper_gpu_hours_by_hand() == pytest.approx(514.0, abs=1.0)


def test_validate_prints_gpu_placement_and_the_gpu_hours_computed_by_hand(capsys):
    assert main(["validate", "xstilts-paper"]) == 0
    out = capsys.readouterr().out
    assert (
        "intermediate placement: 8 worker(s) per trial, each 1 GPU + 16 CPU + gpu_8x 1, "
        "packed on one node where they fit (Ray Train PACK)"
    ) in out
    assert "target placement: 1 worker(s) per trial, each 1 GPU + 8 CPU + gpu_1x_spot 1" in out
    assert "DeepSpeed ZeRO auto (0 with one worker per trial, 2 with several), bf16-autocast" in out
    assert (
        "intermediate training: bf16-autocast, ZeRO-2; effective batch 32 = 4 per worker x "
        "1 accumulation step(s) x 8 worker(s); squad_v2: 16 = 2 x 1 x 8"
    ) in out
    assert "target training: bf16-autocast, ZeRO-0; effective batch 32 = 32 per worker" in out
    assert "xquad, mlqa, tydiqa: 16 = 16 x 1 x 1" in out
    # 559M parameters: (4 + 12 / 8) bytes each at ZeRO-2 over 8 workers; 16 bytes on one.
    assert "intermediate GPU memory per worker: ~2.9 GiB of model states (559M parameters" in out
    assert "target GPU memory per worker: ~8.3 GiB of model states" in out
    assert "nothing sharded" in out
    assert "trial drivers 0.01 CPU + xstilts_driver 1" in out
    [total] = [line for line in out.splitlines() if line.startswith("total: ")]
    assert total.startswith("total: 261 training trial(s)")
    printed = float(re.search(r"\(~([\d.]+) GPU-hours\)", total).group(1))
    assert printed == pytest.approx(paper_gpu_hours_by_hand(), rel=1e-3)


GIB = 1e9  # one billion parameters: bytes per parameter read as GB


@pytest.mark.parametrize(
    ("stage", "precision", "bytes_per_parameter"),
    [
        (0, "bf16-autocast", 16.0),  # 4 weights + 4 gradients + 8 Adam moments
        (1, "bf16-autocast", 4 + 4 + 8 / 8),
        (2, "bf16-autocast", 4 + (4 + 8) / 8),
        (3, "bf16-autocast", 16 / 8),
        (0, "bf16", 16.0),  # 2 weights + 2 gradients + 12 (fp32 masters and moments)
        (2, "bf16", 2 + (2 + 12) / 8),
        (3, "fp32", 2.0),
    ],
)
def test_model_states_per_worker_follow_the_zero_stage(stage, precision, bytes_per_parameter):
    size = model_state_bytes(1_000_000_000, stage, workers=8, precision=precision)
    assert size == pytest.approx(bytes_per_parameter * GIB)


def test_offloading_takes_the_optimizer_states_off_the_gpu():
    assert model_state_bytes(10**9, 2, 8, "bf16-autocast", offload=True) == pytest.approx(4.5e9)


def test_xlm_r_large_has_its_published_parameter_count():
    # Hugging Face's XLMRobertaModel: 559,890,432 with the pooler (1024 x 1024 + 1024) that the
    # encoders built here leave out.
    assert model_parameters(ModelConfig(name="xlm-roberta-large")) == 559_890_432 - 1_049_600
    assert model_parameters(ModelConfig(name="FacebookAI/xlm-roberta-base")) == pytest.approx(
        278e6, rel=0.01
    )
    assert model_parameters(ModelConfig(name="someone/unknown-encoder")) is None


@pytest.mark.parametrize("architecture", ["xlm-roberta", "bert", "mt5"])
def test_a_tiny_encoders_count_is_that_of_the_model_trainers_build(architecture):
    from trainers.model import build_from_config, tiny_config

    tiny = TinyEncoder(architecture=architecture, hidden_size=32, num_layers=2, num_heads=4,
                       intermediate_size=48, max_positions=40)  # fmt: skip
    built = build_from_config(tiny_config(tiny, 2_000))
    counted = model_parameters(ModelConfig(name="t", tokenizer="synthetic", tiny=tiny))
    assert counted == sum(p.numel() for p in built.parameters())
    assert encoder_parameters(architecture, 2_000, 32, 2, 48, 42) <= counted


def test_validate_says_unknown_for_the_memory_of_a_model_it_cannot_count(tmp_path, capsys):
    spec = yaml.safe_load((ROOT / "sweep" / "specs" / "xstilts-paper.yaml").read_text())
    spec["model"] = {"name": "someone/unknown-encoder"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "intermediate GPU memory per worker: unknown" in out


def test_the_cost_model_has_a_size_for_every_task_the_paper_spec_names(spec):
    plan = expand(spec)
    members = spec.mixture("all").tasks
    trained = {t.task for t in plan.target}
    intermediate = {t.task for t in plan.intermediate} - {"all"}
    assert set(members) == set(PAPER_INTERMEDIATE)
    assert intermediate | set(members) <= set(TRAIN_SIZES)
    assert trained <= set(TRAIN_SIZES) and trained <= set(TEST_SIZES)
    assert {task for _, task in plan.retrieval} <= set(TEST_SIZES)

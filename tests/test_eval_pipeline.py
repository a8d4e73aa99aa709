"""Zero-shot evaluation streamed through Ray Data: the same per-language numbers as the plain
single-process loop on the same checkpoint and shards, for every format and for retrieval;
prediction files that `xstilts score` re-scores to the same numbers; a damaged shard that stops
only its own language."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from sweep.cli import main as cli
from trainers import ray_tasks
from trainers.config import DataConfig, TinyEncoder, Windows
from trainers.eval_pipeline import ActorPool
from trainers.evaluate import Run, retrieval, zero_shot
from trainers.formats import get_format
from trainers.model import build_from_config, hidden_size, tiny_config
from trainers.predictors import save_task_model
from trainers.tasks import get_task

pytestmark = [pytest.mark.ray, pytest.mark.slow]

LANGS = ("en", "qaa", "qab", "qac")
WINDOWS = Windows(max_length=48)
POOL = ActorPool(size=2, cpus=0.5)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def task_model(benchmark: Path, task_name: str, out: Path) -> Path:
    """A tiny encoder and a head for `task_name`, saved as a target trial's export is."""
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(benchmark / "tokenizer")
    tiny = TinyEncoder(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    encoder = build_from_config(tiny_config(tiny, len(tokenizer)))
    task = get_task(task_name)
    head = get_format(task.format).build_head(task, hidden_size(encoder), "first")
    return save_task_model(encoder, head, tokenizer, task_name, out)


@pytest.fixture(scope="module")
def data(benchmark) -> DataConfig:
    return DataConfig(source="local", root=str(benchmark))


@pytest.mark.parametrize("task", ["synth_xnli", "synth_udpos", "synth_xquad", "synth_xcopa"])
def test_the_pipeline_scores_every_language_exactly_as_the_plain_loop(
    benchmark, data, tmp_path, task
):
    model = task_model(benchmark, task, tmp_path / "model")
    cache = tmp_path / "shards"
    plain = zero_shot(model, task, LANGS, data, windows=WINDOWS, run=Run(cache=cache))
    piped = zero_shot(model, task, LANGS, data, windows=WINDOWS, run=Run(cache=cache, pool=POOL))
    assert plain.complete() and piped.complete()
    assert piped.rows == plain.rows
    assert {r["language"] for r in piped.rows} == set(LANGS)
    assert all(r["n_examples"] in (300, 400) for r in piped.rows)  # the whole test split


def test_retrieval_embeds_through_the_pipeline_exactly_as_the_plain_loop(benchmark, data, tmp_path):
    model = task_model(benchmark, "synth_xnli", tmp_path / "model")
    langs = ("qaa", "qab")
    for task in ("synth_bucc", "synth_tatoeba"):
        plain = retrieval(model, task, langs, data, run=Run(cache=tmp_path / "shards"))
        piped = retrieval(model, task, langs, data, run=Run(cache=tmp_path / "shards", pool=POOL))
        assert piped.rows == plain.rows and piped.complete()
        assert {r["language"] for r in piped.rows} == set(langs)


@pytest.mark.parametrize(
    ("task", "metric"),
    [("synth_xnli", "accuracy"), ("synth_udpos", "f1"), ("synth_xquad", "f1"),
     ("synth_xcopa", "accuracy"), ("synth_bucc", "f1"), ("synth_tatoeba", "accuracy")],
)  # fmt: skip
def test_prediction_files_rescore_to_the_stored_numbers(benchmark, data, tmp_path, task, metric):
    model = task_model(benchmark, "synth_xnli" if "bucc" in task or "tatoeba" in task else task,
                       tmp_path / "model")  # fmt: skip
    # The plain loop: the files come from the same predictions whichever engine made them.
    run = Run(cache=tmp_path / "shards", predictions=tmp_path / "predictions")
    langs = ("qaa", "qab")
    if get_task(task).format == "retrieval":
        result = retrieval(model, task, langs, data, run=run)
    else:
        result = zero_shot(model, task, langs, data, windows=WINDOWS, run=run)
    for lang in langs:
        suffix = "json" if "xquad" in task else "tsv"
        pred = tmp_path / "predictions" / task / f"test-{lang}.{suffix}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli(["score", "--task", task, "--lang", lang, "--pred", str(pred),
                        "--data-root", str(benchmark)])  # fmt: skip
        assert code == 0
        rescored = json.loads(out.getvalue())["metrics"][metric]
        stored = next(
            r["value"] for r in result.rows if r["language"] == lang and r["metric"] == metric
        )
        assert rescored == pytest.approx(stored, abs=1e-12)


def test_a_damaged_shard_stops_only_its_language(benchmark, data, tmp_path):
    model = task_model(benchmark, "synth_xnli", tmp_path / "model")
    cache = tmp_path / "shards"
    clean = zero_shot(model, "synth_xnli", LANGS, data, windows=WINDOWS, run=Run(cache=cache))
    [damaged] = list((cache / "features" / "synth_xnli").glob("test-qab-*/part-00000.parquet"))
    damaged.write_bytes(damaged.read_bytes()[:-100])
    result = zero_shot(
        model, "synth_xnli", LANGS, data, windows=WINDOWS, run=Run(cache=cache, pool=POOL)
    )
    assert not result.complete()
    assert list(result.errors) == ["qab"] and str(damaged) in result.errors["qab"]
    assert result.rows == [r for r in clean.rows if r["language"] != "qab"]


def test_a_missing_test_file_stops_only_its_language(benchmark, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(benchmark, root)
    model = task_model(benchmark, "synth_xnli", tmp_path / "model")
    missing = next((root / "synth_xnli").glob("test-qaa.*"))
    missing.unlink()
    data = DataConfig(source="local", root=str(root))
    result = zero_shot(model, "synth_xnli", LANGS, data, windows=WINDOWS, run=Run(cache=tmp_path))
    assert list(result.errors) == ["qaa"] and str(missing) in result.errors["qaa"]
    assert {r["language"] for r in result.rows} == {"en", "qab", "qac"}


def test_evaluations_whose_actors_hold_every_cpu_still_finish(benchmark, data, tmp_path):
    """Two evaluations at once, each with an actor that takes a whole CPU of the two: no part of
    either pipeline may then need a CPU of its own (Parquet's V2 file listing does)."""
    import ray

    model = task_model(benchmark, "synth_xnli", tmp_path / "model")
    greedy = Run(cache=tmp_path / "shards", pool=ActorPool(size=1, cpus=1.0))

    @ray.remote(num_cpus=0)
    def evaluate(langs):
        return zero_shot(model, "synth_xnli", langs, data, windows=WINDOWS, run=greedy).rows

    refs = [evaluate.remote(("en", "qaa")), evaluate.remote(("qab", "qac"))]
    first, second = ray.get(refs, timeout=300)  # a deadlock fails here instead of hanging
    plain = zero_shot(
        model, "synth_xnli", LANGS, data, windows=WINDOWS, run=Run(cache=greedy.cache)
    )
    assert first + second == plain.rows


def test_a_sweep_without_eval_actors_runs_the_model_in_the_evaluations_own_task(
    benchmark, data, tmp_path, monkeypatch
):
    """`resources.eval_actors: 0`: the same numbers as the pipeline, and no pipeline started."""
    model = task_model(benchmark, "synth_xnli", tmp_path / "model")
    cache = tmp_path / "shards"
    piped = zero_shot(
        model, "synth_xnli", LANGS, data, windows=WINDOWS, run=Run(cache=cache, pool=POOL)
    )

    def no_pipeline(*args, **kwargs):
        raise AssertionError("an evaluation without actors started a Ray Data pipeline")

    monkeypatch.setattr("trainers.evaluate.run_ray", no_pipeline)  # what `Run.predict` calls
    run = {"batch_size": 64, "pool": {"size": 0, "cpus": 0.5, "gpus": 0.0, "resources": {}},
           "cache": str(cache), "predictions": str(tmp_path / "predictions")}  # fmt: skip
    result = ray_tasks.run_evaluator(
        "zero_shot", str(model), "synth_xnli", LANGS, data.model_dump(), run, windows=WINDOWS
    )
    assert result["rows"] == piped.rows and not result["errors"]


def test_an_evaluation_workers_task_module_imports_no_driver_code():
    # A Ray worker imports the module that defines its task's function, before the task runs.
    code = (
        "import sys, trainers.ray_tasks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sweep' or m == 'ray.tune'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"

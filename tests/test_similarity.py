"""Task similarity under an encoder (`trainers.similarity`, stored by `sweep.similarity`): a task
is as similar to itself as can be, vectors are reproducible from their seed, a mixture is the
mean of its members, cosines stay in [-1, 1], unreadable tasks are skipped with the reason, the
spec's `similarity_examples` is checked, and under Ray the step writes one `similarity` row
per (intermediate, target) pair, keeps them on resume, and never fails the sweep."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from tiny_sweeps import OPTIM, TINY, tiny_sweep

from sweep import store
from sweep.handoff import Context
from sweep.plan import expand
from sweep.runner import resolve_data
from sweep.similarity import run_similarity
from sweep.spec import SpecError, SweepSpec, load_spec
from trainers.config import DataConfig, MemberConfig, TinyEncoder, Translation
from trainers.similarity import similarities, task_vector

N, MAX_LENGTH = 64, 48


@pytest.fixture(scope="module")
def data(benchmark) -> DataConfig:
    return DataConfig(source="local", root=str(benchmark))


@pytest.fixture(scope="module")
def encoder(benchmark, tmp_path_factory) -> str:
    """A tiny random encoder in the hand-off layout, as a sweep without pretraining starts."""
    from trainers.model import save_random_encoder

    directory = tmp_path_factory.mktemp("similarity") / "encoder"
    save_random_encoder(TinyEncoder(**TINY), str(benchmark / "tokenizer"), 0, directory)
    return str(directory)


def vector(encoder, task, data, seed=0) -> torch.Tensor:
    return task_vector(encoder, task, data, n_examples=N, max_length=MAX_LENGTH, seed=seed)


def test_a_task_is_as_similar_to_itself_as_can_be(encoder, data):
    result = similarities(encoder, {"synth_xnli": ["synth_xnli"]}, ["synth_xnli"], data,
                          n_examples=N, max_length=MAX_LENGTH)  # fmt: skip
    [pair] = result.pairs
    assert (pair.intermediate, pair.target) == ("synth_xnli", "synth_xnli")
    assert pair.cosine == pytest.approx(1.0, abs=1e-6)
    assert pair.n_examples == 2 * N


def test_a_task_vector_is_the_same_for_the_same_seed_and_another_for_another(encoder, data):
    first = vector(encoder, "synth_mnli", data, seed=0)
    assert first.shape == (TINY["hidden_size"],)
    assert torch.equal(first, vector(encoder, "synth_mnli", data, seed=0))
    assert not torch.equal(first, vector(encoder, "synth_mnli", data, seed=1))


def test_a_mixtures_vector_is_the_mean_of_its_members_vectors(encoder, data):
    members = ["synth_hellaswag", "synth_mnli@qaa"]  # multiple choice, and translated NLI
    result = similarities(encoder, {"mix": members}, ["synth_udpos"], data,
                          n_examples=N, max_length=MAX_LENGTH)  # fmt: skip
    mean = torch.stack([vector(encoder, m, data) for m in members]).mean(0)
    torch.testing.assert_close(result.intermediate_vectors["mix"], mean, rtol=0, atol=1e-6)
    # The translated member reads its translated file: not the English task's vector.
    assert not torch.allclose(
        vector(encoder, "synth_mnli@qaa", data), vector(encoder, "synth_mnli", data)
    )


def test_every_format_gives_a_cosine_between_minus_one_and_one(encoder, data):
    intermediates = {t: [t] for t in ("synth_mnli", "synth_hellaswag", "synth_squad")}
    # Classification, tagging, span QA, multiple choice, and retrieval's English sentences.
    targets = ["synth_xnli", "synth_udpos", "synth_xquad", "synth_xcopa", "synth_tatoeba"]
    result = similarities(
        encoder, intermediates, targets, data, n_examples=N, max_length=MAX_LENGTH
    )
    assert not result.skipped
    assert {(p.intermediate, p.target) for p in result.pairs} == {
        (i, t) for i in intermediates for t in targets
    }
    assert all(-1.0 <= p.cosine <= 1.0 for p in result.pairs)


def test_a_task_whose_data_cannot_be_read_is_skipped_with_the_reason(encoder, data):
    missing = MemberConfig(
        task="synth_mnli", translation=Translation(language="zz", train="nowhere/{lang}.jsonl")
    )
    result = similarities(encoder, {"synth_mnli@zz": [missing], "synth_mnli": ["synth_mnli"]},
                          ["synth_xnli"], data, n_examples=N, max_length=MAX_LENGTH)  # fmt: skip
    assert [p.intermediate for p in result.pairs] == ["synth_mnli"]
    assert "nowhere/zz.jsonl" in result.skipped["synth_mnli@zz"]


def spec_dict(benchmark: Path, **evaluate) -> dict:
    phases = {
        "intermediate": {"tasks": ["none", "synth_mnli", "mix"], "optim": OPTIM,
                         "mixtures": {"mix": {"tasks": ["synth_hellaswag", "synth_mnli@qaa"]}}},
        "target": {"tasks": ["synth_xnli", "synth_tatoeba"], "optim": OPTIM},
        "evaluate": evaluate,
    }  # fmt: skip
    return tiny_sweep("similarity", benchmark, phases)


def test_a_negative_similarity_examples_is_rejected_naming_its_key(benchmark, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_dict(benchmark, similarity_examples=-1)))
    with pytest.raises(SpecError, match=r"phases\.evaluate\.similarity_examples: .*0"):
        load_spec(path)


def test_similarity_examples_defaults_to_256_and_0_turns_the_step_off(benchmark, tmp_path):
    assert SweepSpec.model_validate(spec_dict(benchmark)).phases.evaluate.similarity_examples == 256
    lines = []
    run_similarity(context(benchmark, tmp_path, lines, similarity_examples=0), "/no/encoder")
    assert not store.results_dir(tmp_path).exists() and not lines


def context(benchmark: Path, out: Path, lines: list, **evaluate) -> Context:
    spec = SweepSpec.model_validate(spec_dict(benchmark, **evaluate))
    data, tokenizer = resolve_data(spec)
    return Context(spec, expand(spec), out, data, tokenizer, lines.append)


@pytest.mark.ray
def test_under_ray_the_step_stores_a_row_per_pair_keeps_them_on_resume_and_never_fails(
    benchmark, encoder, tmp_path
):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        lines: list[str] = []
        ctx = context(benchmark, tmp_path / "out", lines, similarity_examples=N)
        run_similarity(ctx, encoder)
        frame = pd.read_parquet(tmp_path / "out" / "results")
        assert (
            tuple(frame.columns) == store.COLUMNS
            and not frame.isna().drop(columns="learning_rate").any().any()
        )
        assert set(zip(frame.intermediate, frame.target, strict=True)) == {
            (i, t) for i in ("synth_mnli", "mix") for t in ("synth_xnli", "synth_tatoeba")
        }  # `none` has no data
        assert set(frame.phase) == {"similarity"} and set(frame.metric) == {"cosine"}
        assert set(frame.split) == {"train"} and set(frame.language) == {"en"}
        assert (frame.task == frame.target).all() and set(frame.checkpoint_path) == {encoder}
        assert ((frame.value >= -1) & (frame.value <= 1)).all()
        assert frame.trial_id.is_unique
        assert lines[-1].startswith("[similarity] 4 pair(s) of 2 intermediate(s) x 2 target(s)")

        run_similarity(ctx, encoder)  # a resumed sweep: stored before, kept
        assert len(pd.read_parquet(tmp_path / "out" / "results")) == len(frame)
        assert lines[-1] == "[similarity] stored before the interruption, kept"

        broken = context(benchmark, tmp_path / "broken", lines, similarity_examples=N)
        run_similarity(broken, str(tmp_path / "no-encoder"))
        assert lines[-1].startswith("[similarity] FAILED, the report will have no task similarity")
        assert not store.results_dir(tmp_path / "broken").exists()
    finally:
        ray.shutdown()

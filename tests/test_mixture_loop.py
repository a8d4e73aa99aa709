"""Mixture trials through the training loop (no Ray): per-task dev metrics and the aggregate,
a resumed trial that continues the same stream of batches, heads carried across phases,
continued MLM and translated intermediate data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_loop import TINY
from test_loop import config as loop_config

from trainers.checkpoint import export_encoder
from trainers.config import (
    DataConfig,
    DeepSpeedConfig,
    HubCorpus,
    MemberConfig,
    MixtureConfig,
    ModelConfig,
    OptimConfig,
    SamplerConfig,
    TrainConfig,
    Translation,
)
from trainers.data.source import DataError, load_examples, load_translated, read_hub_corpus
from trainers.local import LocalReporter
from trainers.loop import train
from trainers.model import LoadMismatch, load_mlm_model, saved_head
from trainers.tasks import get_task

pytestmark = pytest.mark.slow

MODEL = ModelConfig(name="tiny", tokenizer="t", tiny=TINY)
TRANSLATED = "translate-train/synth_mnli/multinli_1.0_train.{lang}.jsonl"


def config(benchmark: Path, **changes) -> TrainConfig:
    """test_loop's tiny run at ZeRO-0 unless changed (one worker gives ZeRO nothing to shard)."""
    return loop_config(benchmark, **({"deepspeed": DeepSpeedConfig(zero_stage=0)} | changes))


def short(learning_rate: float) -> OptimConfig:
    """One round over 32 examples."""
    return OptimConfig(
        learning_rate=learning_rate,
        batch_size=16,
        epochs=1,
        rounds=1,
        max_length=48,
        max_train_examples=32,
    )


def mixture_config(benchmark: Path, init_from, *, stage=0, rounds=2, dropout=0.1, **mix):
    members = [
        MemberConfig(task="synth_mnli"),
        MemberConfig(task="synth_hellaswag"),
        MemberConfig(task="synth_mnli", translation=Translation(language="qaa", train=TRANSLATED)),
    ]
    mix = {"sampler": SamplerConfig(kind="temperature", temperature=2), "mlm_weight": 0.2} | mix
    return config(
        benchmark,
        phase="intermediate",
        task="nli_mc",
        init_from=str(init_from),
        mixture=MixtureConfig(members=members, **mix),
        model=MODEL.model_copy(update={"dropout": dropout}),
        optim=OptimConfig(
            learning_rate=1e-3,
            batch_size=8,
            epochs=1,
            rounds=rounds,
            max_length=48,
            max_train_examples=48,
            grad_accum=2,
        ),
        deepspeed=DeepSpeedConfig(zero_stage=stage),
    )


class Preempted(Exception):
    pass


class PreemptedAfter(LocalReporter):
    """Keeps the first `rounds` checkpoints, then fails like a preempted node."""

    def __init__(self, root: Path, rounds: int):
        super().__init__(root)
        self.rounds = rounds

    def report(self, metrics, checkpoint_dir):
        super().report(metrics, checkpoint_dir)
        if len(self.checkpoints) == self.rounds:
            raise Preempted


def finetune(benchmark: Path, init_from, task: str, **changes) -> TrainConfig:
    """A short single-task target run."""
    base = dict(
        phase="target", task=task, init_from=str(init_from), mlm_languages=(), optim=short(1e-3)
    )
    return config(benchmark, **(base | changes))


def run(cfg: TrainConfig, root: Path, resume_from: Path | None = None) -> LocalReporter:
    reporter = LocalReporter(root / "checkpoints", resume_from)
    train(cfg, reporter, root / "scratch")
    return reporter


@pytest.fixture(scope="module")
def pretrained(benchmark, tmp_path_factory):
    """A tiny encoder with its masked-LM head, as the pretrain phase hands it on."""
    root = tmp_path_factory.mktemp("pretrain")
    reporter = run(config(benchmark), root)
    return export_encoder(reporter.checkpoints[-1], root / "encoder")


@pytest.fixture(scope="module")
def mixture_run(benchmark, pretrained, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixture")
    return run(mixture_config(benchmark, pretrained), root)


def test_a_mixture_reports_each_tasks_dev_metrics_and_their_normalised_mean(mixture_run):
    for metrics in mixture_run.history:
        mnli, hellaswag = (
            metrics["dev/synth_mnli/accuracy"],
            metrics["dev/synth_hellaswag/accuracy"],
        )
        expected = ((mnli - 1 / 3) / (2 / 3) + (hellaswag - 1 / 4) / (3 / 4)) / 2
        assert metrics["dev/mixture_score"] == pytest.approx(expected, abs=1e-9)
        assert metrics["dev_score"] == metrics["dev/mixture_score"]
        assert 0.0 <= metrics["dev/mlm/mlm_accuracy"] <= 1.0


def test_every_member_and_continued_mlm_get_micro_batches(mixture_run):
    drawn = {k: 0 for k in ("synth_mnli", "synth_hellaswag", "synth_mnli@qaa", "mlm")}
    for metrics in mixture_run.history:
        for key in drawn:
            drawn[key] += metrics.get(f"drawn/{key}", 0)
    assert all(n > 0 for n in drawn.values()), drawn
    total = sum(drawn.values())
    assert total == sum(len(m["train_losses"]) for m in mixture_run.history)


def test_a_mixture_checkpoint_keeps_every_member_head_and_the_masked_lm_head(mixture_run, tmp_path):
    exported = export_encoder(mixture_run.checkpoints[-1], tmp_path / "export")
    for task in ("synth_mnli", "synth_hellaswag"):
        assert saved_head(exported, task), task
    assert saved_head(exported, "synth_xnli") is None
    weights = torch.load(exported / "heads.pt", weights_only=True)["state_dict"]
    assert any(k.startswith("lm_head.") for k in weights)


@pytest.mark.parametrize("stage", [0, 2])
def test_a_resumed_mixture_trial_repeats_the_uninterrupted_losses_step_by_step(
    benchmark, pretrained, tmp_path, stage
):
    cfg = mixture_config(benchmark, pretrained, stage=stage, rounds=3)
    whole = run(cfg, tmp_path / "whole")

    interrupted = PreemptedAfter(tmp_path / "cut" / "checkpoints", rounds=1)
    with pytest.raises(Preempted):
        train(cfg, interrupted, tmp_path / "cut" / "scratch")
    resumed = run(cfg, tmp_path / "resumed", resume_from=interrupted.checkpoints[0])

    assert [m["round"] for m in resumed.history] == [2, 3]
    for before, after in zip(whole.history[1:], resumed.history, strict=True):
        assert after["train_losses"] == before["train_losses"]
        assert {k: v for k, v in after.items() if k.startswith("drawn/")} == {
            k: v for k, v in before.items() if k.startswith("drawn/")
        }
        assert after["dev/mixture_score"] == before["dev/mixture_score"]


def test_zero_stage_3_trains_a_mixture_with_continued_mlm(benchmark, pretrained, tmp_path):
    reporter = run(mixture_config(benchmark, pretrained, stage=3, rounds=1), tmp_path)
    (metrics,) = reporter.history
    assert torch.isfinite(torch.tensor(metrics["train_losses"])).all()
    assert 0.0 <= metrics["dev/synth_hellaswag/accuracy"] <= 1.0
    exported = export_encoder(reporter.checkpoints[-1], tmp_path / "export")
    assert saved_head(exported, "synth_hellaswag")


def test_a_target_member_of_the_mixture_reuses_its_head_when_asked(benchmark, pretrained, tmp_path):
    members = [MemberConfig(task="synth_xnli"), MemberConfig(task="synth_hellaswag")]
    inter = config(
        benchmark,
        phase="intermediate",
        task="xnli_mc",
        init_from=str(pretrained),
        mlm_languages=(),
        mixture=MixtureConfig(members=members, sampler=SamplerConfig(kind="uniform")),
    )
    exported = export_encoder(run(inter, tmp_path / "inter").checkpoints[-1], tmp_path / "enc")
    saved = saved_head(exported, "synth_xnli")

    def target(reuse: bool) -> LocalReporter:
        # A learning rate too small to move anything: the trained head is the one loaded.
        cfg = finetune(benchmark, exported, "synth_xnli", reuse_head=reuse, optim=short(1e-9))
        return run(cfg, tmp_path / f"target-{reuse}")

    reused, fresh = target(True), target(False)
    assert reused.history[0]["head_reused"] == 1 and fresh.history[0]["head_reused"] == 0
    kept = saved_head(export_encoder(reused.checkpoints[-1], tmp_path / "reused"), "synth_xnli")
    built = saved_head(export_encoder(fresh.checkpoints[-1], tmp_path / "fresh"), "synth_xnli")
    for name, weight in saved.items():
        assert torch.allclose(kept[name], weight, atol=1e-5), name
    assert any(not torch.allclose(built[n], w, atol=1e-3) for n, w in saved.items())


def vocab(benchmark: Path) -> int:
    from transformers import AutoTokenizer

    return len(AutoTokenizer.from_pretrained(benchmark / "tokenizer"))


@pytest.mark.parametrize("phase", ["pretrain", "mixture"])
def test_continued_mlm_starts_from_the_masked_lm_head_handed_on(
    benchmark, pretrained, mixture_run, tmp_path, phase
):
    source = (
        Path(pretrained)
        if phase == "pretrain"
        else export_encoder(mixture_run.checkpoints[-1], tmp_path / "export")
    )
    saved = torch.load(source / "heads.pt", weights_only=True)["state_dict"]
    loaded = load_mlm_model(str(source), MODEL, vocab(benchmark)).state_dict()
    head = {k: v for k, v in saved.items() if k.startswith("lm_head.")}
    assert head
    for name, weight in head.items():
        assert torch.equal(loaded[name], weight), name


def test_continued_mlm_from_an_export_without_a_masked_lm_head_is_refused(
    benchmark, pretrained, tmp_path
):
    single = finetune(benchmark, pretrained, "synth_xnli")
    exported = export_encoder(run(single, tmp_path).checkpoints[-1], tmp_path / "export")
    with pytest.raises(LoadMismatch, match="needs a masked-LM head.*'synth_xnli'"):
        load_mlm_model(str(exported), MODEL, vocab(benchmark))


def test_translated_training_files_are_parallel_to_the_english_ones(benchmark):
    task = get_task("synth_mnli")
    data = DataConfig(source="local", root=str(benchmark))
    english = load_examples(task, "train", "en", data)
    for lang in ("qaa", "qab", "qac"):
        translated = load_translated(task, Translation(language=lang, train=TRANSLATED), data)
        assert [e.label for e in translated] == [e.label for e in english]
        assert [e.text_a for e in translated] != [e.text_a for e in english]


def test_a_missing_translation_names_the_file_it_looked_for(benchmark):
    task = get_task("synth_mnli")
    data = DataConfig(source="local", root=str(benchmark))
    with pytest.raises(DataError, match=r"multinli_1.0_train\.zz\.jsonl.*not found"):
        load_translated(task, Translation(language="zz", train=TRANSLATED), data)


def test_a_hub_text_corpus_is_read_line_by_line_from_a_local_dataset_directory(tmp_path):
    documents = {"en": ["one line\n\nanother", "a third"], "qaa": ["eins\nzwei", "drei"]}
    readme = ["---", "configs:"]
    for lang, texts in documents.items():
        (tmp_path / "corpus" / lang).mkdir(parents=True)
        rows = "".join(json.dumps({"text": t}) + "\n" for t in texts)
        (tmp_path / "corpus" / lang / "train.jsonl").write_text(rows)
        readme += [
            f"- config_name: {lang}",
            "  data_files:",
            "  - split: train",
            f"    path: {lang}/train.jsonl",
        ]
    (tmp_path / "corpus" / "README.md").write_text("\n".join([*readme, "---", ""]))
    corpus = HubCorpus(dataset=str(tmp_path / "corpus"), max_lines=2)
    cache = str(tmp_path / "cache")
    assert read_hub_corpus(corpus, "en", cache) == ["one line", "another"]
    assert read_hub_corpus(corpus, "qaa", cache) == ["eins", "zwei"]
    with pytest.raises(DataError, match=r"corpus\[zz:train\]: could not load"):
        read_hub_corpus(corpus, "zz", cache)

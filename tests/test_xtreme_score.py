"""The XTREME score in the report: per task the mean over languages (QA: (F1 + EM) / 2), overall
the plain mean over tasks, labelled partial or synthetic where it is not the leaderboard's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis import write_report
from analysis.selection import collect, load_results
from analysis.xtreme_score import benchmark_of, benchmark_score
from sweep.store import write_rows

MNLI = "mnli"


def rows_for(target: str, intermediate: str, dev: float, test: dict[str, dict[str, float]]):
    """One finished target trial: an English dev row, then test rows per metric and language."""
    common = {
        "sweep": "s",
        "trial_id": f"{target}-{intermediate}",
        "config_id": f"{target}-{intermediate}",
        "intermediate": intermediate,
        "target": target,
        "task": target,
        "n_examples": 1000,
        "round": 0,
        "step": 0,
        "learning_rate": 1e-5,
        "hparams": json.dumps({"learning_rate": 1e-5}),
        "seed": 0,
        "checkpoint_path": "",
        "wall_seconds": 1.0,
    }
    primary = next(iter(test))
    rows = [
        {**common, "phase": "target", "split": "dev", "language": "en", "metric": primary}
        | {"value": dev}
    ]
    for metric, by_lang in test.items():
        rows += [
            {**common, "phase": "zero_shot", "split": "test", "language": lang, "metric": metric}
            | {"value": value}
            for lang, value in by_lang.items()
        ]
    return rows


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    rows = rows_for("xnli", "none", 0.8, {"accuracy": {"en": 0.8, "de": 0.6}})
    rows += rows_for("xnli", MNLI, 0.85, {"accuracy": {"en": 0.9, "de": 0.7}})
    # xquad: none -> F1 avg 0.7, EM avg 0.6, score 0.65; mnli -> F1 0.8, EM 0.7, score 0.75.
    rows += rows_for(
        "xquad", "none", 0.8, {"f1": {"en": 0.8, "de": 0.6}, "exact": {"en": 0.7, "de": 0.5}}
    )
    rows += rows_for(
        "xquad", MNLI, 0.9, {"f1": {"en": 0.9, "de": 0.7}, "exact": {"en": 0.8, "de": 0.6}}
    )
    write_rows(tmp_path, rows, label="x")
    return tmp_path


def test_qa_tasks_count_the_mean_of_f1_and_exact_match_and_overall_is_the_mean_over_tasks(
    sweep_dir: Path,
):
    score = benchmark_score(collect(load_results(sweep_dir)), "xtreme")
    assert score.tasks == ("xnli", "xquad")
    assert score.scores["none"] == pytest.approx({"xnli": 0.7, "xquad": 0.65}, abs=1e-9)
    assert score.overall("none") == pytest.approx(0.675, abs=1e-9)
    assert score.overall(MNLI) == pytest.approx((0.8 + 0.75) / 2, abs=1e-9)
    assert set(score.missing) == {"pawsx", "udpos", "panx", "mlqa", "tydiqa", "bucc", "tatoeba"}


def test_the_report_shows_the_score_and_says_a_partial_one_is_not_the_leaderboards(
    sweep_dir: Path,
):
    report = write_report(sweep_dir).read_text()
    assert "## XTREME score (%)" in report
    line = next(x for x in report.splitlines() if x.startswith("| none | 70.0 |"))
    assert line.endswith("| 65.0 | **67.5** |")
    assert "Not comparable with published XTREME scores" in report
    assert "2 of XTREME's 9 tasks" in report


def test_an_intermediate_missing_a_task_gets_no_overall(tmp_path: Path):
    rows = rows_for("xnli", "none", 0.8, {"accuracy": {"en": 0.8}})
    rows += rows_for("xnli", MNLI, 0.8, {"accuracy": {"en": 0.9}})
    rows += rows_for("udpos", "none", 0.8, {"f1": {"en": 0.9}})
    write_rows(tmp_path, rows, label="x")
    score = benchmark_score(collect(load_results(tmp_path)), "xtreme")
    assert score.overall("none") == pytest.approx(0.85, abs=1e-9)
    assert score.overall(MNLI) is None


def test_an_xtreme_r_sweep_is_scored_over_xtreme_r_tasks(tmp_path: Path):
    rows = rows_for("xcopa", "none", 0.6, {"accuracy": {"en": 0.6, "et": 0.5}})
    rows += rows_for("pawsx", "none", 0.8, {"accuracy": {"en": 0.9}})
    write_rows(tmp_path, rows, label="x")
    (tmp_path / "spec.yaml").write_text("phases:\n  evaluate:\n    benchmark: xtreme-r\n")
    assert benchmark_of(tmp_path) == "xtreme-r"
    score = benchmark_score(collect(load_results(tmp_path)), benchmark_of(tmp_path))
    assert score.benchmark == "XTREME-R" and score.tasks == ("xcopa",)  # PAWS-X is not in it
    assert "## XTREME-R score (%)" in write_report(tmp_path).read_text()


def test_synthetic_tasks_are_scored_as_analogues_and_labelled_synthetic(tmp_path: Path):
    rows = rows_for("synth_xnli", "none", 0.6, {"accuracy": {"en": 0.6, "qaa": 0.4}})
    write_rows(tmp_path, rows, label="x")
    score = benchmark_score(collect(load_results(tmp_path)), "xtreme")
    assert score.synthetic and score.tasks == ("synth_xnli",)
    assert "synthetic analogues of 1 of XTREME's 9 tasks" in write_report(tmp_path).read_text()


def test_a_sweep_with_no_benchmark_task_has_no_score_section(tmp_path: Path):
    write_rows(tmp_path, rows_for("mnli", "none", 0.8, {"accuracy": {"en": 0.8}}), label="x")
    assert benchmark_score(collect(load_results(tmp_path)), "xtreme") is None
    assert "score (%)" not in write_report(tmp_path).read_text()

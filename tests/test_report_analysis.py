"""The report's analyses on a synthetic results store with known values: the main table and its
XTREME score, seeds as mean ± std, paired bootstrap intervals over test examples, language
groups, the transfer gap, similarity versus transfer (Spearman), robustness, the CSV exports,
missing cells named in words, the self-contained HTML and `report --compare`.

The store: target synth_xnli in en and qaa, intermediates `none` and synth_mnli, two seeds,
1000 test examples per language whose correctness is written out example by example, so every
number (and the bootstrap interval, by the normal approximation) is known by hand. Target
synth_pawsx has a baseline only: its synth_mnli trial failed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis.analyse import analyse
from analysis.bootstrap import AVERAGE, Bootstrap, load_examples
from analysis.compare import write_comparison
from analysis.report import write_report
from analysis.tables import spearman
from sweep.cli import main as cli
from sweep.store import COLUMNS, write_rows

N = 1000
XNLI, PAWSX, MNLI = "synth_xnli", "synth_pawsx", "synth_mnli"
# (intermediate, seed) -> language -> how many of the first test examples are right.
XNLI_CORRECT = {
    ("none", 0): {"en": 600, "qaa": 400},
    ("none", 1): {"en": 620, "qaa": 420},
    (MNLI, 0): {"en": 700, "qaa": 400},
    (MNLI, 1): {"en": 720, "qaa": 420},
}
PAWSX_CORRECT = {("none", 0): {"en": 800, "qaa": 700}, ("none", 1): {"en": 820, "qaa": 700}}


def _row(**values) -> dict:
    base = dict(
        sweep="golden", phase="target", trial_id="t", config_id="c", intermediate="none",
        target=XNLI, task=XNLI, language="en", split="dev", metric="accuracy", value=0.0,
        n_examples=N, round=0, step=0, learning_rate=1e-5, hparams="{}", seed=0,
        checkpoint_path="", wall_seconds=1.0,
    )  # fmt: skip
    base.update(values)
    assert set(base) == set(COLUMNS)
    return base


def _write_examples(out: Path, trial_id: str, target: str, inter: str, correct: dict) -> None:
    rows = {c: [] for c in ("trial_id", "intermediate", "target", "task", "language")}
    rows |= {"split": [], "metric": [], "example": [], "numerator": [], "denominator": []}
    for lang, k in correct.items():
        for example in range(N):
            for column, value in (("trial_id", trial_id), ("intermediate", inter),
                                  ("target", target), ("task", target), ("language", lang),
                                  ("split", "test"), ("metric", "accuracy"),
                                  ("example", example), ("numerator", float(example < k)),
                                  ("denominator", 1.0)):  # fmt: skip
                rows[column].append(value)
    directory = out / "examples"
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table({"sweep": ["golden"] * len(rows["example"]), **rows})
    pq.write_table(table, directory / f"zero_shot-{trial_id}.parquet")


def _trial(out: Path, target: str, inter: str, seed: int, correct: dict | None) -> None:
    trial_id = f"{target}-{inter}-s{seed}"
    common = dict(
        trial_id=trial_id, config_id=f"{target}-{inter}", intermediate=inter, target=target,
        task=target, seed=seed, hparams=json.dumps({"seed": seed}),
    )  # fmt: skip
    rows = [_row(phase="target", split="dev", value=0.5 + 0.01 * seed, **common)]
    if correct is not None:  # a failed trial reaches no zero-shot evaluation
        rows += [
            _row(phase="zero_shot", split="test", language=lang, value=k / N, **common)
            for lang, k in correct.items()
        ]
        _write_examples(out, trial_id, target, inter, correct)
    write_rows(out, rows, label=f"zero_shot-{trial_id}")


def write_golden(out: Path) -> Path:
    """The store the module docstring describes, similarity rows included."""
    for (inter, seed), correct in XNLI_CORRECT.items():
        _trial(out, XNLI, inter, seed, correct)
    for (inter, seed), correct in PAWSX_CORRECT.items():
        _trial(out, PAWSX, inter, seed, correct)
    _trial(out, PAWSX, MNLI, 0, None)
    similarity = [
        _row(phase="similarity", intermediate=MNLI, target=t, task=t, split="train",
             metric="cosine", value=v, round=0, step=-1)
        for t, v in ((XNLI, 0.8), (PAWSX, 0.3))
    ]  # fmt: skip
    write_rows(out, similarity, label="similarity")
    return out


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_golden(tmp_path / "golden")


def _one(frame: pd.DataFrame, **keys) -> pd.Series:
    for column, value in keys.items():
        frame = frame[frame[column] == value]
    assert len(frame) == 1, keys
    return frame.iloc[0]


def test_the_main_table_has_each_targets_language_average_and_its_delta(golden):
    main = analyse(golden).tables["main_table"]
    assert _one(main, intermediate="none", target=XNLI).score == pytest.approx(0.51, abs=1e-12)
    mnli = _one(main, intermediate=MNLI, target=XNLI)
    assert mnli.score == pytest.approx(0.56, abs=1e-12)
    assert mnli.delta == pytest.approx(0.05, abs=1e-12)
    assert _one(main, intermediate="none", target=PAWSX).score == pytest.approx(0.755, abs=1e-12)


def test_the_xtreme_score_is_the_mean_over_tasks_where_an_intermediate_has_all(golden):
    main = analyse(golden).tables["main_table"]
    # none has both synthetic XTREME tasks: (0.51 + 0.755) / 2; synth_mnli lacks PAWS-X.
    assert _one(main, intermediate="none", target="XTREME").score == pytest.approx(0.6325)
    assert main[(main.target == "XTREME") & (main.intermediate == MNLI)].empty


def test_seeds_are_shown_as_mean_and_sample_standard_deviation(golden):
    cells = analyse(golden).tables["per_language"]
    cell = _one(cells, target=XNLI, intermediate="none", language="en")
    assert cell["mean"] == pytest.approx(0.61)
    assert cell["std"] == pytest.approx(math.sqrt(2 * 0.01**2), abs=1e-12)
    assert cell.seeds == 2


def test_the_bootstrap_interval_of_a_delta_matches_the_normal_approximation(golden):
    found = analyse(golden)
    result = next(r for r in found.results if r.target == XNLI)
    interval = found.intervals[XNLI][(MNLI, "en")]
    # Per example, the seed-mean difference is 1 on 80 examples and 0.5 on 40: mean 0.1,
    # variance 0.09 - 0.01, so a standard error of sqrt(0.08 / 1000).
    se = math.sqrt(0.08 / N)
    assert interval.delta == pytest.approx(result.delta("accuracy", MNLI, "en"), abs=1e-12)
    assert interval.low == pytest.approx(0.1 - 1.96 * se, abs=0.004)
    assert interval.high == pytest.approx(0.1 + 1.96 * se, abs=0.004)
    assert interval.significant


def test_an_unchanged_language_has_a_zero_width_interval_that_is_not_significant(golden):
    interval = analyse(golden).intervals[XNLI][(MNLI, "qaa")]
    assert (interval.low, interval.high) == (0.0, 0.0)
    assert not interval.significant


def test_the_average_delta_resamples_each_language_and_averages(golden):
    interval = analyse(golden).intervals[XNLI][(MNLI, AVERAGE)]
    se = math.sqrt(0.08 / N) / 2  # qaa's delta never moves
    assert interval.delta == pytest.approx(0.05, abs=1e-12)
    assert interval.low == pytest.approx(0.05 - 1.96 * se, abs=0.003)
    assert interval.high == pytest.approx(0.05 + 1.96 * se, abs=0.003)


def test_the_bootstrap_is_the_same_on_every_run(golden):
    examples = load_examples(golden)
    result = next(r for r in analyse(golden).results if r.target == XNLI)
    assert Bootstrap(examples).intervals(result) == Bootstrap(examples).intervals(result)


def test_a_cell_without_stored_examples_has_no_interval(golden):
    for part in (golden / "examples").glob(f"*{MNLI}-s1*"):
        part.unlink()
    found = analyse(golden)
    assert (MNLI, "en") not in found.intervals[XNLI]
    assert "no CI" in write_report(golden).read_text()


def test_languages_are_grouped_by_the_shipped_metadata(golden):
    groups = analyse(golden).tables["language_groups"]
    # en is high-resource, qaa (synthetic) is declared high-resource too.
    high = _one(groups, grouping="resource_level", group="high", intermediate=MNLI)
    assert high.mean_delta == pytest.approx(0.05, abs=1e-12)
    assert high.cells == 2
    assert set(groups.grouping) == {"family", "script", "resource_level", "morphology"}


def test_the_transfer_gap_is_english_minus_the_other_languages(golden):
    gap = analyse(golden).tables["transfer_gap"]
    assert _one(gap, target=XNLI, intermediate="none").gap == pytest.approx(0.20)
    assert _one(gap, target=XNLI, intermediate=MNLI).gap == pytest.approx(0.30)


def test_the_seed_spread_is_over_the_seeds_language_averages(golden):
    spread = analyse(golden).tables["seed_spread"]
    row = _one(spread, target=XNLI, intermediate="none")
    assert json.loads(row.per_seed) == [0.5, 0.52]
    assert row["std"] == pytest.approx(math.sqrt(2 * 0.01**2))
    assert row["range"] == pytest.approx(0.02)


def test_similarity_pairs_carry_their_delta_and_spearman_needs_three(golden):
    pairs = analyse(golden).tables["similarity"]
    assert _one(pairs, target=XNLI).delta == pytest.approx(0.05)
    assert pd.isna(_one(pairs, target=PAWSX).delta)  # its trial failed
    assert spearman(pairs) is None


def test_spearmans_rho_is_the_pearson_correlation_of_ranks():
    pairs = pd.DataFrame(
        {"similarity": [0.1, 0.2, 0.3, 0.4, 0.5], "delta": [0.01, 0.02, 0.04, 0.03, 0.05]}
    )
    rho, p, n = spearman(pairs)
    # Ranks 1..5 against 1, 2, 4, 3, 5: 1 - 6 * (1 + 1) / (5 * 24).
    assert rho == pytest.approx(0.9, abs=1e-12)
    # Exact: of the 120 orderings, 5 have rho >= 0.9 (in order, or one adjacent swap) and 5
    # have rho <= -0.9, so p = 10 / 120.
    assert p == pytest.approx(10 / 120, abs=1e-12)
    assert n == 5


def test_past_eight_pairs_spearmans_p_value_is_scipys_t_approximation():
    from scipy.stats import spearmanr

    similarity = [0.1 * i for i in range(10)]
    delta = [0.01, 0.03, 0.02, 0.05, 0.04, 0.07, 0.06, 0.09, 0.08, 0.02]
    rho, p, n = spearman(pd.DataFrame({"similarity": similarity, "delta": delta}))
    assert (rho, p) == pytest.approx(tuple(spearmanr(similarity, delta)), abs=1e-12)
    assert n == 10


def test_the_report_names_missing_cells_instead_of_dropping_them(golden):
    text = write_report(golden).read_text()
    assert "MISSING cells (no zero-shot results" in text
    assert f"`{MNLI}` → `{PAWSX}`" in text


def test_the_report_marks_significant_deltas_and_shows_intervals(golden):
    text = write_report(golden).read_text()
    assert "56.0 (+5.0*)" in text  # main table: synth_mnli on synth_xnli
    assert "+10.0 [+8." in text  # en's delta and the start of its interval
    assert "61.0 ± 1.4" in text  # none on synth_xnli in English: mean ± std


def test_the_report_exports_every_table_as_csv(golden):
    write_report(golden)
    csv = golden / "report" / "csv"
    names = {p.stem for p in csv.glob("*.csv")}
    assert names == {
        "main_table", "per_language", "language_groups", "transfer_gap", "similarity",
        "seed_spread",
    }  # fmt: skip
    main = pd.read_csv(csv / "main_table.csv")
    assert _one(main, intermediate=MNLI, target=XNLI).significant


def test_the_html_report_is_self_contained(golden):
    write_report(golden)
    page = (golden / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 3
    assert 'src="deltas' not in page and "<script" not in page and "http" not in page


def test_compare_puts_two_sweeps_side_by_side(golden, tmp_path):
    other = tmp_path / "other"
    for (inter, seed), correct in XNLI_CORRECT.items():
        bumped = {lang: k + (50 if inter == MNLI else 0) for lang, k in correct.items()}
        _trial(other, XNLI, inter, seed, bumped)
    path = write_comparison(golden, other, tmp_path / "cmp")
    text = path.read_text()
    # A: synth_mnli 56.0 on synth_xnli; B: 61.0; B - A: +5.0.
    assert "| synth_xnli | `synth_mnli` | 56.0 (+5.0*) | 61.0 (+10.0*) | +5.0 |" in text
    assert f"`{MNLI}` → `{PAWSX}` in" in text  # missing in both sweeps
    main = pd.read_csv(tmp_path / "cmp" / "csv" / "main_table.csv")
    assert set(main.sweep) == {str(golden), str(other)}  # both sweeps are named "golden"
    assert (tmp_path / "cmp" / "report.html").is_file()


def test_the_cli_compares_two_sweeps_into_the_chosen_folder(golden, tmp_path, capsys):
    other = tmp_path / "other"
    for (inter, seed), correct in XNLI_CORRECT.items():
        _trial(other, XNLI, inter, seed, correct)
    assert cli(["report", "--compare", str(golden), str(other), "--out", str(tmp_path / "c")]) == 0
    assert f"comparison: {tmp_path / 'c' / 'report.md'}" in capsys.readouterr().out
    assert (tmp_path / "c" / "report.html").is_file()


def test_the_cli_report_writes_markdown_html_and_csv(golden, capsys):
    assert cli(["report", str(golden)]) == 0
    printed = capsys.readouterr().out
    assert f"html: {golden / 'report' / 'report.html'}" in printed
    assert (golden / "report" / "csv" / "per_language.csv").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report"], "report: give a sweep directory, or --compare DIR_A DIR_B"),
        (["report", "x", "--compare", "a", "b"], "not both"),
        (["report", "--compare", "{golden}", "{missing}"], "--compare: {missing}: not a sweep"),
    ],
)
def test_bad_report_arguments_get_one_line_and_exit_2(golden, tmp_path, capsys, argv, message):
    names = {"golden": str(golden), "missing": str(tmp_path / "missing")}
    argv = [a.format(**names) for a in argv]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message.format(**names) in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_a_store_with_only_similarity_rows_reports_that_no_trial_has_reported(tmp_path):
    from analysis.report import summary_lines

    rows = [_row(phase="similarity", intermediate=MNLI, split="train", metric="cosine", value=0.9)]
    write_rows(tmp_path, rows, label="similarity")
    text = write_report(tmp_path).read_text()
    assert "No target has zero-shot results yet." in text
    assert summary_lines(tmp_path)[0] == "no trial has reported yet: nothing to report"


def test_the_overall_scores_delta_has_an_interval_from_each_tasks_resamples(golden):
    # synth_mnli gets a PAWS-X result (one seed: 900 and 700 right), so it has an overall score.
    _trial(golden, PAWSX, MNLI, 1, {"en": 900, "qaa": 700})
    main = analyse(golden).tables["main_table"]
    overall = _one(main, intermediate=MNLI, target="XTREME")
    # (0.56 + 0.80) / 2 - (0.51 + 0.755) / 2
    assert overall.delta == pytest.approx(0.0475, abs=1e-12)
    # Per example, PAWS-X's English seed-mean difference is 1 on 80 and 0.5 on 20 examples
    # (mean 0.09, variance 0.085 - 0.0081); XNLI's as in the English test above (0.08). Each
    # task's average halves its English delta, the overall halves the two tasks' sum again.
    se = math.sqrt((0.0769 + 0.08) / N) / 4
    assert overall.ci_low == pytest.approx(0.0475 - 1.96 * se, abs=0.002)
    assert overall.ci_high == pytest.approx(0.0475 + 1.96 * se, abs=0.002)
    assert overall.significant


def test_a_qa_targets_task_score_interval_resamples_f1_and_exact_match_together(tmp_path):
    xquad = "synth_xquad"
    # F1 is 1 on the first k questions, exact match on the first k_em: the task score is the
    # mean of the two, and its interval must resample both on the same questions.
    for inter, k, k_em in (("none", 500, 400), (MNLI, 600, 600)):
        trial_id = f"{xquad}-{inter}"
        common = dict(trial_id=trial_id, config_id=trial_id, intermediate=inter,
                      target=xquad, task=xquad)  # fmt: skip
        rows = [_row(phase="target", split="dev", metric="f1", value=0.5, **common)]
        rows += [
            _row(phase="zero_shot", split="test", metric=m, value=v / N, **common)
            for m, v in (("f1", k), ("exact", k_em))
        ]
        write_rows(tmp_path, rows, label=f"zero_shot-{trial_id}")
        n = 2 * N
        table = pa.table({
            "sweep": ["golden"] * n, "trial_id": [trial_id] * n, "intermediate": [inter] * n,
            "target": [xquad] * n, "task": [xquad] * n, "language": ["en"] * n,
            "split": ["test"] * n, "metric": ["f1"] * N + ["exact"] * N,
            "example": list(range(N)) * 2,
            "numerator": [float(i < k) for i in range(N)] + [float(i < k_em) for i in range(N)],
            "denominator": [1.0] * n,
        })  # fmt: skip
        (tmp_path / "examples").mkdir(exist_ok=True)
        pq.write_table(table, tmp_path / "examples" / f"zero_shot-{trial_id}.parquet")
    task = _one(analyse(tmp_path).tables["main_table"], intermediate=MNLI, target=xquad)
    # Per question the task-score difference is 0.5 on 100 questions and 1 on 100: mean 0.15,
    # variance 0.125 - 0.0225.
    se = math.sqrt(0.1025 / N)
    assert task.delta == pytest.approx(0.15, abs=1e-12)
    assert task.ci_low == pytest.approx(0.15 - 1.96 * se, abs=0.004)
    assert task.ci_high == pytest.approx(0.15 + 1.96 * se, abs=0.004)

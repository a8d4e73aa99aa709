"""The sweep report (`analysis`): model selection on English dev, the delta tables, the chance
test and its footnote, the heatmap PNG, the CLI summary, and stores that are empty or partial.

Each test writes a small results store under tmp_path with `sweep.store.write_rows`; the
numbers are chosen so every printed value can be checked against a hand computation.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import summary_lines, write_report
from analysis.selection import load_results, p_above_chance, target_result
from sweep.store import COLUMNS, write_rows

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XNLI = "synth_xnli"
MNLI = "synth_mnli"
N_TEST = 300


def row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sweep": "demo",
        "phase": "target",
        "trial_id": "t",
        "config_id": "c",
        "intermediate": "none",
        "target": XNLI,
        "task": XNLI,
        "language": "en",
        "split": "dev",
        "metric": "accuracy",
        "value": 0.0,
        "n_examples": 100,
        "round": 0,
        "step": 0,
        "learning_rate": 1e-5,
        "hparams": "{}",
        "seed": 0,
        "checkpoint_path": "",
        "wall_seconds": 1.0,
    }
    base.update(values)
    assert set(base) == set(COLUMNS)
    return base


def trial(
    config: str,
    seed: int,
    intermediate: str,
    dev: list[float],
    test: dict[str, float] | None,
    *,
    target: str = XNLI,
    metric: str = "accuracy",
    lr: float = 1e-5,
) -> list[dict[str, object]]:
    """One target trial: an English dev row per round, then (if it finished) zero-shot rows."""
    trial_id = f"{config}-s{seed}"
    hparams = json.dumps({"learning_rate": lr, "seed": seed}, sort_keys=True)
    common = dict(
        trial_id=trial_id,
        config_id=config,
        intermediate=intermediate,
        target=target,
        task=target,
        metric=metric,
        seed=seed,
        hparams=hparams,
        learning_rate=lr,
    )
    rows = [row(phase="target", value=v, round=r, **common) for r, v in enumerate(dev)]
    for lang, value in (test or {}).items():
        rows.append(
            row(
                phase="zero_shot",
                split="test",
                language=lang,
                value=value,
                n_examples=N_TEST,
                round=len(dev) - 1,
                **common,
            )
        )
    return rows


def write_demo_store(out: Path) -> None:
    """none and synth_mnli cells, each a dev-best config beside a decoy with better test scores."""
    rows = [
        row(
            phase="intermediate",
            trial_id="i0",
            config_id="i",
            intermediate=MNLI,
            target="",
            task=MNLI,
            value=0.7,
        )
    ]
    # none: config A (dev 0.78 and 0.76 -> 0.77) beats B on dev (0.72); B is better on test.
    rows += trial(
        "A", 1, "none", [0.70, 0.78], {"en": 0.80, "qaa": 0.60, "qab": 0.50, "qac": 0.340}
    )
    rows += trial(
        "A", 2, "none", [0.74, 0.76], {"en": 0.82, "qaa": 0.62, "qab": 0.52, "qac": 0.342}
    )
    rows += trial(
        "B", 1, "none", [0.72], {lang: 0.90 for lang in ("en", "qaa", "qab", "qac")}, lr=3e-5
    )
    # synth_mnli: C (dev 0.80) beats D (0.79, better test); E has the best dev but never finished.
    rows += trial("C", 1, MNLI, [0.80], {"en": 0.83, "qaa": 0.65, "qab": 0.55, "qac": 0.45})
    rows += trial("C", 2, MNLI, [0.80], {"en": 0.83, "qaa": 0.67, "qab": 0.55, "qac": 0.47})
    rows += trial(
        "D", 1, MNLI, [0.79], {lang: 0.95 for lang in ("en", "qaa", "qab", "qac")}, lr=3e-5
    )
    rows += trial("E", 1, MNLI, [0.95], None, lr=5e-5)
    write_rows(out, rows, label="demo")


def table_row(report: str, first_cell: str) -> str:
    return next(line for line in report.splitlines() if line.startswith(f"| {first_cell} |"))


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    write_demo_store(tmp_path)
    return tmp_path


def test_each_cell_uses_the_config_with_the_best_english_dev_score_not_the_best_test_score(
    demo: Path,
):
    result = target_result(load_results(demo), XNLI)
    assert result.selections["none"].config_id == "A"
    assert result.selections["none"].dev_score == pytest.approx(
        0.77
    )  # max per seed, mean over seeds
    assert result.selections["none"].seeds == 2
    assert result.selections[MNLI].config_id == "C"
    assert result.cell("accuracy", "none", "en").value == pytest.approx(0.81)


def test_trials_stopped_before_zero_shot_evaluation_are_ignored_for_selection(demo: Path):
    report = write_report(demo).read_text()
    assert "`E`" not in report
    assert "`C`" in report and "`D`" not in report


def test_selected_hyper_parameters_are_listed_without_the_per_seed_values(demo: Path):
    report = write_report(demo).read_text()
    selection = table_row(report, XNLI)  # the first selection row: the none baseline
    assert "`A`" in selection and "learning_rate=1e-05" in selection and "seed=" not in selection
    assert "| 2 | 2 | 77.0 accuracy |" in selection  # chosen of 2 configs, 2 seeds


def test_the_searched_rate_shows_when_asha_left_one_configuration_evaluated(tmp_path: Path):
    rows = trial("A", 1, "none", [0.70, 0.78], {"en": 0.80, "qaa": 0.60})
    rows += trial("B", 1, "none", [0.40], None, lr=3e-5)  # stopped at the first rung
    write_rows(tmp_path, rows, label="asha")
    selection = table_row(write_report(tmp_path).read_text(), XNLI)
    assert "`A`" in selection and "learning_rate=1e-05" in selection


def test_the_printed_deltas_equal_hand_computed_values(demo: Path):
    report = write_report(demo).read_text()
    assert table_row(report, "language") == f"| language | none | {MNLI} |"
    # Mean ± sample standard deviation over the two seeds: sd(0.80, 0.82) = 1.4 points.
    assert table_row(report, "en") == "| en | 81.0 ± 1.4 | 83.0 ± 0.0 (+2.0) |"
    assert table_row(report, "qaa") == "| qaa | 61.0 ± 1.4 | 66.0 ± 1.4 (+5.0) |"
    assert table_row(report, "qab") == "| qab | 51.0 ± 1.4 | 55.0 ± 0.0 (+4.0) |"
    # none avg (81+61+51+34.1)/4 = 56.775; synth_mnli (83+66+55+46)/4 = 62.5; +5.725 points.
    assert table_row(report, "**avg**") == "| **avg** | **56.8** | **62.5** (+5.7) |"


def test_english_comes_first_then_the_other_languages_alphabetically(demo: Path):
    report = write_report(demo).read_text()
    order = [
        line.split("|")[1].strip()
        for line in report.splitlines()
        if line.split("|")[1:2] and line.split("|")[1].strip() in {"en", "qaa", "qab", "qac"}
    ]
    # The score table, then the table of deltas with their intervals, in the same order.
    assert order == ["en", "qaa", "qab", "qac"] * 2


def test_an_at_chance_cell_is_marked_and_named_in_the_footnote(demo: Path):
    report = write_report(demo).read_text()
    # qac under none: 34.1% against chance 1/3 over 300 examples, p ~ 0.41.
    assert table_row(report, "qac") == "| qac | 34.1 ± 0.1† | 46.0 ± 1.4 (+11.9) |"
    assert "- qac under none: 34.1% is not above chance (33.3%, n=300, p=0.41)" in report
    assert report.count("is not above chance") == 1


def test_the_chance_test_agrees_with_an_exact_binomial_tail():
    n, chance = N_TEST, 1 / 3
    for hits in (100, 110, 115, 130):
        exact = sum(
            math.comb(n, k) * chance**k * (1 - chance) ** (n - k) for k in range(hits, n + 1)
        )
        assert p_above_chance(hits / n, chance, n) == pytest.approx(exact, abs=0.01)


def test_the_heatmap_is_a_valid_png_referenced_from_the_report(demo: Path):
    report = write_report(demo).read_text()
    png = demo / "report" / f"deltas-{XNLI}.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    assert f"](deltas-{XNLI}.png)" in report


def test_a_target_without_a_none_baseline_shows_scores_and_says_there_are_no_deltas(tmp_path: Path):
    write_rows(tmp_path, trial("C", 1, MNLI, [0.8], {"en": 0.83, "qaa": 0.66}), label="x")
    report = write_report(tmp_path).read_text()
    assert "No `none` baseline" in report
    assert table_row(report, "qaa") == "| qaa | 66.0 |"
    assert not list((tmp_path / "report").glob("deltas-*.png"))
    assert any("no none baseline" in line for line in summary_lines(tmp_path))


def test_tagging_f1_is_tested_against_one_over_the_label_count_and_token_accuracy_is_secondary(
    tmp_path: Path,
):
    udpos = "synth_udpos"  # 17 UPOS tags: chance 1/17 = 5.9%
    rows = trial("P", 1, "none", [0.9], {"en": 0.90, "qaa": 0.06}, target=udpos, metric="f1")
    rows += trial(
        "P", 1, "none", [0.95], {"en": 0.95, "qaa": 0.40}, target=udpos, metric="token_accuracy"
    )
    write_rows(tmp_path, rows, label="tagging")
    report = write_report(tmp_path).read_text()
    assert f"## {udpos}: zero-shot test f1 (%)" in report
    assert "- qaa under none: 6.0% is not above chance (5.9%, n=300" in report
    assert "Secondary metric `token_accuracy`" in report
    assert "| qaa | 40.0 |" in report


def test_a_task_unknown_to_the_registry_is_still_reported_without_chance_marking(tmp_path: Path):
    rows = trial("U", 1, "none", [0.5], {"en": 0.50, "xx": 0.01}, target="mystery")
    write_rows(tmp_path, rows, label="unknown")
    report = write_report(tmp_path).read_text()
    assert "## mystery: zero-shot test accuracy (%)" in report
    assert "| xx | 1.0 |" in report
    assert "chance level is unknown" in report and "†" not in report
    assert "mystery: no intermediate task to compare (none: avg accuracy 25.5%)" in summary_lines(
        tmp_path
    )


def test_an_empty_store_yields_a_report_that_says_so(tmp_path: Path):
    assert "is empty" in write_report(tmp_path).read_text()
    (tmp_path / "results").mkdir(exist_ok=True)
    # A temporary part file is not a result.
    (tmp_path / "results" / ".part-0.parquet.tmp").write_bytes(b"half-written")
    assert "is empty" in write_report(tmp_path).read_text()
    assert summary_lines(tmp_path)[0] == "results store is empty: nothing to report"


def test_a_store_with_no_zero_shot_rows_notes_the_missing_phases_without_crashing(tmp_path: Path):
    write_rows(tmp_path, trial("A", 1, "none", [0.7], None), label="running")
    report = write_report(tmp_path).read_text()
    assert "No `pretrain` rows (this phase is optional)." in report
    assert "No `intermediate` rows in the store." in report
    assert "No `zero_shot` rows yet" in report
    assert (
        f"Target task `{XNLI}` has target trials but none reached zero-shot evaluation yet."
        in report
    )
    assert "no zero-shot results yet" in summary_lines(tmp_path)


def test_summary_lines_name_the_best_intermediate_and_its_gain_over_none(demo: Path):
    path = write_report(demo)
    lines = summary_lines(demo)
    assert 3 <= len(lines) <= 6
    assert lines[0] == "sweep demo: 1 intermediate, 7 target, 6 zero_shot trials"
    assert lines[1] == f"{XNLI}: best intermediate {MNLI}, avg accuracy 62.5% (+5.7 over none)"
    assert lines[-2:] == [f"report: {path}", f"html: {path.with_suffix('.html')}"]


def test_zero_shot_rows_without_english_dev_rows_are_named_not_selected(tmp_path: Path):
    rows = trial("A", 1, "none", [0.7], {"en": 0.8})
    write_rows(tmp_path, [r for r in rows if r["phase"] == "zero_shot"], label="no-dev")
    report = write_report(tmp_path).read_text()
    assert (
        "- `none`: test rows but no English dev `accuracy` to select a configuration by" in report
    )
    assert "| en |" not in report


def test_a_re_evaluated_trial_counts_once_with_its_last_round(tmp_path: Path):
    rows = trial("A", 1, "none", [0.7, 0.8], {"en": 0.80})
    stale = [dict(r, round=0, value=0.40) for r in rows if r["phase"] == "zero_shot"]
    write_rows(tmp_path, rows + stale, label="rerun")
    assert table_row(write_report(tmp_path).read_text(), "en") == "| en | 80.0 |"


def test_the_analysis_package_does_not_import_sweep():
    code = "import sys, analysis; sys.exit(any(m.split('.')[0] == 'sweep' for m in sys.modules))"
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_chance_floors_come_from_labels_or_choices_and_none_for_open_answers():
    from analysis.selection import chance_of
    from trainers.tasks import get_task

    assert chance_of(get_task("xnli")) == pytest.approx(1 / 3)
    assert chance_of(get_task("hellaswag")) == pytest.approx(1 / 4)
    assert chance_of(get_task("xcopa")) == pytest.approx(1 / 2)
    assert chance_of(get_task("xquad")) is None
    assert chance_of(get_task("tatoeba")) is None


def test_a_retrieval_target_reports_each_start_without_a_dev_selection(tmp_path):
    rows = []
    for inter, scores in (("none", {"de": 0.40, "fr": 0.50}), (MNLI, {"de": 0.55, "fr": 0.65})):
        for lang, value in scores.items():
            rows.append(
                row(
                    phase="zero_shot",
                    split="test",
                    trial_id=f"ret-{inter}-tatoeba",
                    config_id=f"retrieval,{inter},tatoeba",
                    intermediate=inter,
                    target="tatoeba",
                    task="tatoeba",
                    language=lang,
                    value=value,
                    hparams='{"layer": null, "pooling": null}',
                )
            )
    write_rows(tmp_path, rows, label="ret")
    result = target_result(load_results(tmp_path), "tatoeba")
    assert result.intermediates == ("none", MNLI)
    assert result.unselectable == ()
    report = write_report(tmp_path).read_text()
    assert "tatoeba" in report and "—" in report
    assert "+15.0" in table_row(report, "de")


def test_the_intermediate_section_shows_each_configurations_chosen_round_and_a_mixtures_members(
    tmp_path: Path,
):
    def inter(entry: str, trial_id: str, round_: int, task: str, metric: str, value: float):
        return row(
            phase="intermediate",
            trial_id=trial_id,
            config_id=entry,
            intermediate=entry,
            target="",
            task=task,
            metric=metric,
            value=value,
            round=round_,
        )

    rows = [
        inter(MNLI, "m", 1, MNLI, "accuracy", 0.50),
        inter(MNLI, "m", 2, MNLI, "accuracy", 0.61),
        # The mixture's round 1 has the better aggregate, though round 2 has the better MNLI.
        inter("mix", "x", 1, "mix", "mixture_score", 0.30),
        inter("mix", "x", 1, MNLI, "accuracy", 0.55),
        inter("mix", "x", 1, "synth_hellaswag", "accuracy", 0.40),
        inter("mix", "x", 2, "mix", "mixture_score", 0.20),
        inter("mix", "x", 2, MNLI, "accuracy", 0.70),
        inter("mix", "x", 2, "synth_hellaswag", "accuracy", 0.25),
    ]
    write_rows(tmp_path, rows, label="inter")
    report = write_report(tmp_path).read_text()
    assert "## Intermediate training: English dev (%)" in report
    assert table_row(report, f"`{MNLI}`").endswith("| — | 1 | 2 | 61.0 accuracy |")
    assert table_row(report, "`mix`") == (
        "| `mix` | `x` | synth_hellaswag accuracy 40.0, synth_mnli accuracy 55.0 | 1 | 1 "
        "| 30.0 mixture_score |"
    )

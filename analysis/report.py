"""The sweep report: `<out>/report/report.md` with a delta heatmap PNG per target task.

Every number comes from the results store (and the sweep's status.json says which evaluations
are incomplete); cells that are not significantly above chance are
marked and named in words, never hidden, since a transfer "gain" at chance means nothing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from analysis import sections
from analysis.analyse import analyse
from analysis.bootstrap import AVERAGE, Interval
from analysis.export import write_csvs
from analysis.heatmap import write_heatmap
from analysis.html import write_html
from analysis.intermediate import chosen_rounds
from analysis.sections import ci_text, table
from analysis.selection import (
    BASELINE,
    OPTIONAL_PHASES,
    PHASES,
    SIGNIFICANCE,
    Cell,
    TargetResult,
    baseline_first,
    collect,
    load_results,
    pct,
    points,
    trial_counts,
)
from analysis.xtreme_score import BenchmarkScore

AT_CHANCE = "†"
# Past this many targets the CLI summary names the first few and points at the report.
SUMMARY_TARGETS = 4


def report_path(out_dir: Path) -> Path:
    return Path(out_dir) / "report" / "report.md"


def heatmap_name(target: str) -> str:
    return "deltas-" + re.sub(r"[^A-Za-z0-9_.-]", "_", target) + ".png"


def _header(frame: pd.DataFrame, out_dir: Path, results: list[TargetResult]) -> list[str]:
    sweeps = sorted(set(frame["sweep"]))
    lines = [f"# X-STILTs report: {', '.join(sweeps)}", ""]
    lines += [f"Results store: `{Path(out_dir) / 'results'}` ({len(frame)} rows).", ""]
    counts = trial_counts(frame)
    lines += ["## Trials per phase", ""]
    lines += table(["phase", "trials"], [[phase, str(counts.get(phase, 0))] for phase in PHASES])
    notes = [_missing_phase_note(phase) for phase in PHASES if phase not in counts]
    reported = {r.target for r in results}
    trained = set(frame.loc[frame.phase == "target", "target"])
    notes += [
        f"Target task `{t}` has target trials but none reached zero-shot evaluation yet."
        for t in sorted(trained - reported)
    ]
    notes += _incomplete_notes(out_dir)
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return lines + [""]


def _incomplete_notes(out_dir: Path) -> list[str]:
    """Evaluations that did not score every language (the sweep's status.json says which and
    why): their averages cover fewer languages, so the report must say so."""
    path = Path(out_dir) / "status.json"
    trials = json.loads(path.read_text())["trials"] if path.is_file() else {}
    notes = []
    for trial_id, trial in sorted(trials.items()):
        if trial.get("zero_shot") == "failed":
            notes.append(
                f"INCOMPLETE: `{trial_id}` has no zero-shot results: {trial['zero_shot_error']}"
            )
        for lang, error in sorted((trial.get("zero_shot_errors") or {}).items()):
            notes.append(f"INCOMPLETE: `{trial_id}` was not evaluated in {lang}: {error}")
    return notes


def _missing_phase_note(phase: str) -> str:
    if phase in OPTIONAL_PHASES:
        return f"No `{phase}` rows (this phase is optional)."
    if phase == "zero_shot":
        return (
            "No `zero_shot` rows yet: no target trial has finished, so there is nothing to compare."
        )
    return f"No `{phase}` rows in the store."


def _hparams_text(hparams: dict[str, object]) -> str:
    return "`" + ", ".join(f"{k}={v}" for k, v in hparams.items()) + "`" if hparams else "—"


def _selection_section(results: list[TargetResult]) -> list[str]:
    lines = ["## Selected configurations", ""]
    lines += [
        "Each cell's configuration is chosen on the target task's English dev score alone "
        "(best round per trial, then mean over seeds); test languages play no part.",
        "",
    ]
    rows = [
        [
            r.target,
            intermediate,
            f"`{s.config_id}`",
            _hparams_text(s.hparams),
            str(s.candidates),
            str(s.seeds),
            f"{pct(s.dev_score)} {r.metric}",
        ]
        for r in results
        for intermediate, s in ((i, r.selections[i]) for i in r.intermediates)
    ]
    header = [
        "target",
        "intermediate",
        "config",
        "hyper-parameters",
        "of configs",
        "seeds",
        "en dev",
    ]
    return lines + table(header, rows, text_columns=4) + [""]


def _intermediate_section(frame: pd.DataFrame) -> list[str]:
    """The round each intermediate configuration hands on, and a mixture's member scores."""
    chosen = chosen_rounds(frame)
    if not chosen:
        return []
    lines = ["## Intermediate training: English dev (%)", ""]
    lines += [
        "The best round of each intermediate configuration, the one its target trials start "
        "from. A mixture is chosen on `mixture_score`, the mean over its tasks of "
        "(score - chance) / (1 - chance); its members' scores are those of that round.",
        "",
    ]
    rows = [
        [
            f"`{c.entry}`",
            f"`{c.trial_id}`",
            ", ".join(f"{task} {metric} {pct(value)}" for task, metric, value in c.members) or "—",
            str(c.trials),
            str(c.round),
            f"{pct(c.value)} {c.metric}",
        ]
        for c in chosen
    ]
    header = ["intermediate", "trial", "members at that round", "trials", "round", "en dev"]
    return lines + table(header, rows, text_columns=3) + [""]


def _score_text(cell: Cell | None, delta: float | None) -> str:
    if cell is None:
        return "—"
    spread = f" ± {pct(cell.std)}" if cell.std is not None else ""
    text = pct(cell.value) + spread + (AT_CHANCE if cell.at_chance else "")
    return text + (f" ({points(delta)})" if delta is not None else "")


def _primary_table(result: TargetResult) -> list[str]:
    metric, columns = result.metric, list(result.intermediates)
    rows = [
        [lang]
        + [
            _score_text(
                result.cell(metric, i, lang),
                None if i == BASELINE else result.delta(metric, i, lang),
            )
            for i in columns
        ]
        for lang in result.languages
    ]
    averages = ["**avg**"]
    for i in columns:
        average, delta = result.average(metric, i), result.average_delta(metric, i)
        text = "—" if average is None else f"**{pct(average)}**"
        averages.append(
            text + (f" ({points(delta)})" if delta is not None and i != BASELINE else "")
        )
    return table(["language", *columns], [*rows, averages])


def _chance_notes(result: TargetResult) -> list[str]:
    chance = result.chance
    if chance is None:
        return [
            f"Task `{result.target}` is not in the task registry: its chance level is unknown, "
            "so no cell is tested against chance."
        ]
    test = (
        f"{AT_CHANCE} = not significantly above chance ({pct(chance)}%): one-sided binomial test "
        f"(normal approximation) over the test set's n examples, p < {SIGNIFICANCE}."
    )
    at_chance = [
        f"{lang} under {i}: {pct(cell.value)}% is not above chance "
        f"({pct(chance)}%, n={cell.n_examples}, p={cell.p_value:.2f})"
        for lang in result.languages
        for i in result.intermediates
        if (cell := result.cell(result.metric, i, lang)) is not None and cell.at_chance
    ]
    if not at_chance:
        return [test, "", "Every cell is significantly above chance."]
    return [test, "", "At chance:", "", *[f"- {line}" for line in at_chance]]


def _comparison_notes(result: TargetResult, report_dir: Path) -> list[str]:
    """The heatmap, or why there are no deltas to draw."""
    if not result.has_baseline:
        return [
            f"No `{BASELINE}` baseline (target training without an intermediate task) "
            "for this target, so no deltas: the table shows scores only."
        ]
    if len(result.intermediates) == 1:
        return [f"Only the `{BASELINE}` baseline was evaluated: no intermediate task to compare."]
    name = heatmap_name(result.target)
    write_heatmap(result, report_dir / name)
    return [f"![{result.target}: zero-shot deltas over {BASELINE}]({name})"]


def _secondary_tables(result: TargetResult) -> list[str]:
    lines: list[str] = []
    for metric in result.metrics()[1:]:
        rows = [
            [lang]
            + [
                pct(c.value) if (c := result.cell(metric, i, lang)) else "—"
                for i in result.intermediates
            ]
            for lang in result.languages
        ]
        lines += [f"Secondary metric `{metric}` (%, no chance test):", ""]
        lines += table(["language", *result.intermediates], rows) + [""]
    return lines


def _interval_table(result: TargetResult, intervals: dict[tuple[str, str], Interval]) -> list[str]:
    """Every delta of the primary table with its paired bootstrap 95% interval."""
    metric, columns = result.metric, [i for i in result.intermediates if i != BASELINE]
    lines = [
        f"Deltas over `{BASELINE}` (points) with their 95% paired bootstrap interval over test "
        f"examples; `{sections.SIGNIFICANT}` where it excludes zero. `no CI`: the evaluation "
        "stored no per-example scores for that cell.",
        "",
    ]
    rows = []
    for lang in [*result.languages, AVERAGE]:
        row = [lang if lang != AVERAGE else "**avg**"]
        for i in columns:
            delta = (
                result.average_delta(metric, i)
                if lang == AVERAGE
                else result.delta(metric, i, lang)
            )
            found = intervals.get((i, lang))
            low, high = (found.low, found.high) if found else (None, None)
            row.append(ci_text(delta, low, high, found.significant if found else None))
        rows.append(row)
    return lines + table(["language", *columns], rows) + [""]


def _target_section(
    result: TargetResult, report_dir: Path, intervals: dict[tuple[str, str], Interval]
) -> list[str]:
    metric = result.metric
    lines = [f"## {result.target}: zero-shot test {metric} (%)", ""]
    if result.unselectable:
        lines += [
            f"- `{i}`: test rows but no English dev `{metric}` to select a configuration by; "
            "left out."
            for i in result.unselectable
        ] + [""]
    if not result.intermediates:
        return lines
    compares = result.has_baseline and len(result.intermediates) > 1
    delta_note = f"; in brackets, the delta over `{BASELINE}` in points" if compares else ""
    lines += [
        "Each cell is the selected configuration's score, mean ± standard deviation over its "
        f"seeds (no ± with one seed){delta_note}.",
        "",
    ]
    lines += _primary_table(result) + [""]
    shared = result.shared_languages(metric)
    if len(shared) < len(result.languages):
        missing = ", ".join(lang for lang in result.languages if lang not in shared)
        lines += [
            f"avg is over the {len(shared)} languages every column has (left out: {missing}).",
            "",
        ]
    lines += _chance_notes(result) + [""]
    if compares:
        lines += _interval_table(result, intervals)
    lines += _comparison_notes(result, report_dir) + [""]
    return lines + _secondary_tables(result)


def _benchmark_section(score: BenchmarkScore) -> list[str]:
    kind = "synthetic analogues of " if score.synthetic else ""
    lines = [f"## {score.benchmark} score (%)", ""]
    lines += [
        f"Per task, the mean over its languages of the table's metric, QA tasks counting "
        f"(F1 + exact match) / 2; overall, the plain mean over the tasks, as "
        f"google-research/xtreme computes it. Over {kind}{len(score.tasks)} of "
        f"{score.benchmark}'s {len(score.tasks) + len(score.missing)} tasks.",
        "",
    ]
    intermediates = baseline_first(score.scores)
    rows = []
    for i in intermediates:
        cells = [pct(v) if (v := score.scores[i].get(t)) is not None else "—" for t in score.tasks]
        overall = score.overall(i)
        rows.append([i, *cells, "—" if overall is None else f"**{pct(overall)}**"])
    lines += table(["intermediate", *score.tasks, "overall"], rows) + [""]
    if score.missing or score.synthetic:
        missing = ", ".join(score.missing) if score.missing else "none"
        lines += [
            f"Not comparable with published {score.benchmark} scores: "
            + ("synthetic tasks; " if score.synthetic else "")
            + f"tasks missing from this sweep: {missing}.",
            "",
        ]
    return lines


def write_report(out_dir: Path) -> Path:
    """Write `<out>/report/`: report.md, report.html (plots embedded), the PNGs and `csv/`,
    all from the results store (and the per-example store for the intervals)."""
    out_dir = Path(out_dir)
    path = report_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Plots of an earlier report may no longer apply (e.g. a target lost its baseline).
    for stale in path.parent.glob("*.png"):
        stale.unlink()
    frame = load_results(out_dir)
    if frame.empty:
        lines = [
            "# X-STILTs report",
            "",
            f"The results store at `{out_dir / 'results'}` is empty: no trial has reported yet.",
        ]
    else:
        lines = _body(frame, out_dir, path.parent)
    path.write_text("\n".join(lines).rstrip() + "\n")
    write_html(path, lines[0].lstrip("# "))
    return path


def _body(frame: pd.DataFrame, out_dir: Path, report_dir: Path) -> list[str]:
    found = analyse(out_dir)
    results, score, tables = found.results, found.score, found.tables
    write_csvs(report_dir / "csv", tables)
    lines = _header(frame, out_dir, results)
    lines += sections.main_section(
        tables["main_table"], score.benchmark if score else None, report_dir
    )
    if score is not None:
        lines += _benchmark_section(score)
    lines += _intermediate_section(frame)
    if any(r.selections for r in results):
        lines += _selection_section(results)
    lines += sections.groups_section(tables["language_groups"], tables["per_language"], report_dir)
    lines += sections.gap_section(tables["transfer_gap"], report_dir)
    lines += sections.similarity_section(tables["similarity"], report_dir)
    lines += sections.robustness_section(tables["seed_spread"], tables["per_language"])
    for result in results:
        lines += _target_section(result, report_dir, found.intervals[result.target])
    lines += [f"Tables as CSV: `{report_dir / 'csv'}` (one file per table, long format).", ""]
    return lines


def _best_line(result: TargetResult) -> str:
    metric = result.metric
    averages = {i: a for i in result.intermediates if (a := result.average(metric, i)) is not None}
    candidates = [i for i in averages if i != BASELINE]
    if not candidates:
        base = averages.get(BASELINE)
        baseline = f" ({BASELINE}: avg {metric} {pct(base)}%)" if base is not None else ""
        return f"{result.target}: no intermediate task to compare{baseline}"
    best = max(candidates, key=averages.__getitem__)
    line = f"{result.target}: best intermediate {best}, avg {metric} {pct(averages[best])}%"
    delta = result.average_delta(metric, best)
    return line + (
        f" ({points(delta)} over {BASELINE})" if delta is not None else f" (no {BASELINE} baseline)"
    )


def summary_lines(out_dir: Path) -> list[str]:
    """A few lines for the end of a run: per target, the best intermediate and its gain."""
    frame = load_results(Path(out_dir))
    path = report_path(out_dir)
    where = f"report: {path}" if path.exists() else f"report: not written yet ({path})"
    if frame.empty:
        return ["results store is empty: nothing to report", where]
    counts = trial_counts(frame)
    if not counts:  # only the similarity rows written before the first trial: no trials yet
        return ["no trial has reported yet: nothing to report", where]
    lines = [
        f"sweep {', '.join(sorted(set(frame['sweep'])))}: "
        + ", ".join(f"{n} {phase}" for phase, n in counts.items())
        + " trials"
    ]
    results = collect(frame)
    if not results:
        lines.append("no zero-shot results yet")
    shown = results if len(results) <= SUMMARY_TARGETS else results[: SUMMARY_TARGETS - 1]
    lines += [_best_line(r) for r in shown]
    if len(shown) < len(results):
        lines.append(f"... and {len(results) - len(shown)} more targets in the report")
    page = path.with_suffix(".html")
    return lines + [where] + ([f"html: {page}"] if page.exists() else [])

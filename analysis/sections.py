"""The report's cross-target sections, as markdown lines drawn from `analysis.tables`' frames:
the paper's main table, language groups, the transfer gap, similarity versus transfer and
robustness. Each section says in words what it lacks rather than leaving it out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import plots
from analysis.languages import GROUPINGS, sources
from analysis.plots import RESOURCE_ORDER
from analysis.selection import BASELINE, baseline_first, pct, points
from analysis.tables import EXACT_PAIRS, best_per_target, spearman

SIGNIFICANT = "*"
PAWSX = ("pawsx", "synth_pawsx")


def table(header: list[str], rows: list[list[str]], *, text_columns: int = 1) -> list[str]:
    """A markdown table: the leading text columns left-aligned, the number columns right-aligned."""
    align = ["---"] * text_columns + ["---:"] * (len(header) - text_columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def delta_text(delta, significant) -> str:
    if delta is None or pd.isna(delta):
        return ""
    mark = SIGNIFICANT if significant is True else ""
    return f" ({points(delta)}{mark})"


def ci_text(delta, low, high, significant) -> str:
    """`+1.3 [+0.2, +2.4]*`, or the delta alone when it has no interval."""
    if delta is None or pd.isna(delta):
        return "—"
    if low is None or pd.isna(low):
        return f"{points(delta)} (no CI)"
    mark = SIGNIFICANT if significant is True else ""
    return f"{points(delta)} [{points(low)}, {points(high)}]{mark}"


def main_section(main: pd.DataFrame, benchmark: str | None, report_dir: Path) -> list[str]:
    """Targets by intermediate tasks: scores, deltas over `none`, the best intermediate."""
    lines = ["## Main table: zero-shot transfer by intermediate task (%)", ""]
    if main.empty:
        return lines + ["No target has zero-shot results yet.", ""]
    lines += [
        "Each cell is the target's score averaged over its test languages, as the benchmark "
        "scores it (QA: (F1 + exact match) / 2), for the configuration selected on English dev; "
        f"in brackets the delta over `{BASELINE}` in points, `{SIGNIFICANT}` where its 95% "
        "paired bootstrap interval over test examples excludes zero (the overall score's: each "
        "task resampled on its own, then averaged)."
        + (f" `{benchmark}` is the overall score (mean over tasks)." if benchmark else ""),
        "",
    ]
    targets = list(dict.fromkeys(main.target))
    intermediates = baseline_first(main.intermediate)
    cells = {(r.intermediate, r.target): r for r in main.itertuples()}
    rows, missing = [], []
    for inter in intermediates:
        row = [f"`{inter}`"]
        for target in targets:
            cell = cells.get((inter, target))
            if cell is None:
                row.append("—")
                if target != benchmark:
                    missing.append(f"`{inter}` → `{target}`")
                continue
            row.append(pct(cell.score) + delta_text(cell.delta, cell.significant))
        rows.append(row)
    best = best_per_target(main)
    rows.append(["**best**", *[f"`{best[t]}`" if t in best else "—" for t in targets]])
    lines += table(["intermediate", *targets], rows) + [""]
    if missing:
        lines += [
            "MISSING cells (no zero-shot results: the trials failed, were stopped, or have "
            "not been evaluated yet): " + ", ".join(missing) + ".",
            "",
        ]
    drawn = plots.targets_heatmap(main, report_dir / "deltas-by-target.png")
    if drawn is not None:
        lines += [f"![zero-shot deltas over {BASELINE} by target]({drawn.name})", ""]
    return lines


def groups_section(groups: pd.DataFrame, cells: pd.DataFrame, report_dir: Path) -> list[str]:
    lines = ["## Deltas by language group (points)", ""]
    if groups.empty:
        return lines + [f"No deltas over `{BASELINE}` to group.", ""]
    lines += [
        "Mean delta over every (target, language) cell whose language falls in the group; "
        "`cells` says how many cells an average stands on. Where each column comes from:",
        "",
        *[f"- {column}: {citation}" for column, citation in sources().items()],
        "",
    ]
    intermediates = baseline_first(groups.intermediate)
    for grouping in GROUPINGS:
        part = groups[groups.grouping == grouping]
        if part.empty:
            continue
        lines += [f"By {grouping.replace('_', ' ')}:", ""]
        rows = []
        for group, rows_of in sorted(part.groupby("group"), key=lambda g: _group_order(g[0])):
            by = {r.intermediate: r for r in rows_of.itertuples()}
            languages = sorted({lang for r in rows_of.itertuples() for lang in r.languages.split()})
            rows.append(
                [str(group), " ".join(languages)]
                + [
                    f"{points(by[i].mean_delta)} ({by[i].cells})" if i in by else "—"
                    for i in intermediates
                ]
            )
        lines += table([grouping, "languages", *intermediates], rows, text_columns=2) + [""]
    drawn = plots.resource_scatter(cells, report_dir / "delta-by-resource.png")
    if drawn is not None:
        lines += [f"![delta by resource level]({drawn.name})", ""]
    return lines


def _group_order(group: str) -> tuple[int, str]:
    """Resource levels from low to high; every other grouping alphabetically."""
    return (RESOURCE_ORDER.index(group) if group in RESOURCE_ORDER else 0, group)


def gap_section(gap: pd.DataFrame, report_dir: Path) -> list[str]:
    lines = ["## Cross-lingual transfer gap (points)", ""]
    if gap.empty:
        return lines + ["No target has both its training language and others scored.", ""]
    lines += [
        "The training language's score minus the mean over the other test languages (the "
        "languages every intermediate has). A smaller gap: more of the English gain carries over.",
        "",
    ]
    targets = list(dict.fromkeys(gap.target))
    by = {(r.intermediate, r.target): r.gap for r in gap.itertuples()}
    rows = [
        [f"`{i}`", *[points(by[(i, t)]) if (i, t) in by else "—" for t in targets]]
        for i in baseline_first(gap.intermediate)
    ]
    lines += table(["intermediate", *targets], rows) + [""]
    drawn = plots.gap_bars(gap, report_dir / "transfer-gap.png")
    return lines + ([f"![transfer gap per intermediate task]({drawn.name})", ""] if drawn else [])


def similarity_section(pairs: pd.DataFrame, report_dir: Path) -> list[str]:
    lines = ["## Similarity versus transfer", ""]
    if pairs.empty:
        return lines + [
            "No task similarities in the store (`phases.evaluate.similarity_examples` was 0, or "
            "the similarity step failed or has not run): nothing to correlate.",
            "",
        ]
    measure = pairs.measure.iloc[0]
    lines += [
        f"For each (intermediate, target) pair, the {measure} similarity between the two tasks' "
        "English training data under the starting encoder (mean-pooled representations), "
        f"against the pair's average zero-shot delta over `{BASELINE}`.",
        "",
    ]
    fit = spearman(pairs)
    if fit is None:
        usable = len(pairs.dropna(subset=["similarity", "delta"]))
        lines += [
            f"Spearman's correlation needs at least 3 pairs with both values; {usable} here.",
            "",
        ]
    else:
        rho, p, n = fit
        how = "exact permutation test" if n <= EXACT_PAIRS else "t approximation"
        lines += [f"**Spearman's ρ = {rho:+.3f}, p = {p:.3g}** over {n} pairs ({how}).", ""]
    rows = [
        [f"`{r.intermediate}`", r.target, f"{r.similarity:.4f}",
         "—" if r.delta is None or pd.isna(r.delta) else points(r.delta)]
        for r in pairs.sort_values(["target", "intermediate"]).itertuples()
    ]  # fmt: skip
    lines += table(["intermediate", "target", measure, "delta"], rows, text_columns=2) + [""]
    drawn = plots.similarity_scatter(pairs, fit, report_dir / "similarity-vs-delta.png")
    return lines + ([f"![similarity versus delta]({drawn.name})", ""] if drawn else [])


def robustness_section(spread: pd.DataFrame, cells: pd.DataFrame) -> list[str]:
    lines = ["## Robustness", ""]
    pawsx = cells[cells.target.isin(PAWSX)]
    if pawsx.empty:
        lines += ["PAWS-X (adversarial paraphrases): not a target of this sweep.", ""]
    else:
        for target, part in pawsx.groupby("target"):
            lines += [f"PAWS-X per language (`{target}`, accuracy %, mean ± std over seeds; "
                      "delta with its 95% CI):", ""]  # fmt: skip
            intermediates = baseline_first(part.intermediate)
            by = {(r.intermediate, r.language): r for r in part.itertuples()}
            rows = []
            for lang in dict.fromkeys(part.language):
                row = [lang]
                for i in intermediates:
                    c = by.get((i, lang))
                    if c is None:
                        row.append("—")
                        continue
                    text = pct(c.mean) + (f" ± {pct(c.std)}" if pd.notna(c.std) else "")
                    if i != BASELINE:
                        text += " " + ci_text(c.delta, c.ci_low, c.ci_high, c.significant)
                    row.append(text)
                rows.append(row)
            lines += table(["language", *intermediates], rows) + [""]
    lines += ["Spread over seeds: the standard deviation and range of the seeds' language-average "
              "scores of each selected configuration (points).", ""]  # fmt: skip
    if spread.empty:
        return lines + ["No target has zero-shot results.", ""]
    summary = []
    for inter in baseline_first(spread.intermediate):
        part = spread[spread.intermediate == inter]
        multi = part.dropna(subset=["std"])
        if multi.empty:
            summary.append([f"`{inter}`", str(int(part.seeds.max())), "—", "—", "—"])
            continue
        worst = multi.sort_values("std").iloc[-1]
        summary.append([
            f"`{inter}`", str(int(part.seeds.max())), f"{100 * multi['std'].mean():.2f}",
            f"{100 * worst['std']:.2f} ({worst.target})", f"{100 * multi['range'].max():.2f}",
        ])  # fmt: skip
    header = ["intermediate", "seeds", "mean std", "largest std (target)", "largest range"]
    return lines + table(header, summary) + [""]

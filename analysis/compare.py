"""`xstilts report --compare A B`: two sweeps' tables side by side (two models, two samplers).

Each sweep is analysed exactly as its own report does (selection on its own English dev, its
own intervals); the comparison only lines the numbers up and takes B − A. A cell one sweep
lacks shows as "—" and is named in words, never dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.analyse import Analysis, analyse
from analysis.export import write_csvs
from analysis.html import write_html
from analysis.sections import delta_text, table
from analysis.selection import BASELINE, baseline_first, pct, points
from analysis.tables import spearman


def _labels(a: Analysis, b: Analysis) -> tuple[str, str]:
    """The sweeps' names, or their directories when both sweeps share a name."""
    if a.name != b.name:
        return a.name, b.name
    return str(a.out_dir), str(b.out_dir)


def _score_text(row) -> str:
    if row is None:
        return "—"
    return pct(row.score) + delta_text(row.delta, row.significant)


def _main_lines(a: Analysis, b: Analysis, labels: tuple[str, str]) -> list[str]:
    main_a, main_b = a.tables["main_table"], b.tables["main_table"]
    lines = ["## Main table side by side (%)", ""]
    lines += [
        f"Per (target, intermediate): each sweep's language-average score (delta over "
        f"`{BASELINE}`, `*` where its 95% bootstrap interval excludes zero), and B − A in points.",
        "",
    ]
    by_a = {(r.target, r.intermediate): r for r in main_a.itertuples()}
    by_b = {(r.target, r.intermediate): r for r in main_b.itertuples()}
    targets = list(dict.fromkeys([*main_a.target, *main_b.target]))
    rows, missing = [], []
    # The grid is every intermediate either sweep has against every target: a pair neither
    # sweep evaluated is still a row, so that its absence is said.
    benchmarks = {a.score.benchmark if a.score else None, b.score.benchmark if b.score else None}
    grid = baseline_first(i for _, i in [*by_a, *by_b])
    for target in targets:
        inters = (
            grid
            if target not in benchmarks
            else baseline_first(i for t, i in [*by_a, *by_b] if t == target)
        )
        for inter in inters:
            ra, rb = by_a.get((target, inter)), by_b.get((target, inter))
            diff = points(rb.score - ra.score) if ra is not None and rb is not None else "—"
            for label, found in zip(labels, (ra, rb), strict=True):
                if found is None and target not in benchmarks:
                    missing.append(f"`{inter}` → `{target}` in {label}")
            rows.append([target, f"`{inter}`", _score_text(ra), _score_text(rb), diff])
    header = ["target", "intermediate", f"A: {labels[0]}", f"B: {labels[1]}", "B − A"]
    lines += table(header, rows, text_columns=2) + [""]
    if missing:
        lines += ["MISSING cells: " + ", ".join(missing) + ".", ""]
    return lines


def _per_language_lines(a: Analysis, b: Analysis) -> list[str]:
    cells_a, cells_b = a.tables["per_language"], b.tables["per_language"]
    lines = []
    targets = list(dict.fromkeys([*cells_a.target, *cells_b.target]))
    for target in targets:
        part_a, part_b = cells_a[cells_a.target == target], cells_b[cells_b.target == target]
        inters = baseline_first([*part_a.intermediate, *part_b.intermediate])
        languages = list(dict.fromkeys([*part_a.language, *part_b.language]))
        va = {(r.intermediate, r.language): r.mean for r in part_a.itertuples()}
        vb = {(r.intermediate, r.language): r.mean for r in part_b.itertuples()}
        lines += [f"## {target}: per language, A / B (%)", ""]
        rows = [
            [lang]
            + [
                f"{pct(va[(i, lang)]) if (i, lang) in va else '—'} / "
                f"{pct(vb[(i, lang)]) if (i, lang) in vb else '—'}"
                for i in inters
            ]
            for lang in languages
        ]
        lines += table(["language", *inters], rows) + [""]
    return lines


def _pair_lines(a: Analysis, b: Analysis, labels: tuple[str, str]) -> list[str]:
    """Groups, transfer gap, similarity fit and seed spread: one row per sweep."""
    lines = ["## Language groups, transfer gap, similarity and seeds, side by side", ""]
    rows = []
    for label, found in zip(labels, (a, b), strict=True):
        groups = found.tables["language_groups"]
        level = groups[groups.grouping == "resource_level"]
        by_level = level.groupby("group").mean_delta.mean()
        gap = found.tables["transfer_gap"]
        fit = spearman(found.tables["similarity"])
        spread = found.tables["seed_spread"].dropna(subset=["std"])
        rows.append(
            [
                label,
                ", ".join(f"{g} {points(v)}" for g, v in by_level.items()) or "—",
                points(gap.gap.mean()) if not gap.empty else "—",
                f"{fit[0]:+.3f} (p = {fit[1]:.3g}, {fit[2]} pairs)" if fit else "—",
                f"{100 * spread['std'].mean():.2f}" if not spread.empty else "—",
            ]
        )
    header = [
        "sweep",
        "mean delta by resource level",
        "mean transfer gap",
        "Spearman ρ (similarity, delta)",
        "mean seed std",
    ]
    return lines + table(header, rows, text_columns=3) + [""]


def write_comparison(dir_a: Path, dir_b: Path, out: Path) -> Path:
    """Write `out/report.md`, `out/report.html` and `out/csv/` (each table with a `sweep`
    column saying which sweep a row is from); returns the markdown's path."""
    a, b = analyse(Path(dir_a)), analyse(Path(dir_b))
    labels = _labels(a, b)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# X-STILTs comparison: A = {labels[0]}, B = {labels[1]}", ""]
    lines += [
        f"A: `{a.out_dir}` ({len(a.frame)} rows); B: `{b.out_dir}` ({len(b.frame)} rows).",
        "",
    ]
    for label, found in zip(labels, (a, b), strict=True):
        if found.frame.empty:
            lines += [f"{label}: the results store is empty: nothing to compare.", ""]
    lines += _main_lines(a, b, labels)
    lines += _pair_lines(a, b, labels)
    lines += _per_language_lines(a, b)
    tables = {
        name: pd.concat(
            [a.tables[name].assign(sweep=labels[0]), b.tables[name].assign(sweep=labels[1])],
            ignore_index=True,
        )
        for name in a.tables
    }
    write_csvs(out / "csv", tables)
    path = out / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    write_html(path, lines[0].lstrip("# "))
    return path

"""The report's cross-target plots, each drawn from one of `analysis.tables`' frames.

Agg canvases directly (no pyplot), as in `analysis.heatmap`. Every function returns the path
it wrote, or None when its frame holds nothing to draw (the report then says why in words).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from analysis.heatmap import draw_heatmap
from analysis.languages import group_of
from analysis.selection import BASELINE, baseline_first

RESOURCE_ORDER = ("low", "medium", "high", "unknown")


def _figure(width: float, height: float):
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def targets_heatmap(main: pd.DataFrame, path: Path) -> Path | None:
    """Average zero-shot deltas, intermediates by targets (and the benchmark's overall)."""
    deltas = main[main.intermediate != BASELINE].dropna(subset=["delta"])
    if deltas.empty:
        return None
    rows = sorted(set(deltas.intermediate))
    columns = list(dict.fromkeys(main.target))
    lookup = {(d.intermediate, d.target): float(d.delta) for d in deltas.itertuples()}
    grid = [[lookup.get((i, t)) for t in columns] for i in rows]
    title = f"zero-shot score − {BASELINE} (points), language average"
    return draw_heatmap(rows, columns, grid, title, path)


def resource_scatter(cells: pd.DataFrame, path: Path) -> Path | None:
    """Per language, its delta (mean over targets) against its resource level, one colour per
    intermediate; the line joins each intermediate's mean per level."""
    deltas = cells.dropna(subset=["delta"])
    if deltas.empty:
        return None
    per_lang = deltas.groupby(["intermediate", "language"], as_index=False).delta.mean()
    per_lang["level"] = per_lang.language.map(lambda lang: group_of(lang, "resource_level"))
    levels = [lv for lv in RESOURCE_ORDER if lv in set(per_lang.level)]
    position = {lv: i for i, lv in enumerate(levels)}
    intermediates = sorted(set(per_lang.intermediate))
    fig, ax = _figure(max(5.0, 1.6 * len(levels) + 2.5), 4.2)
    width = 0.6 / max(1, len(intermediates))
    for k, inter in enumerate(intermediates):
        part = per_lang[per_lang.intermediate == inter]
        offset = -0.3 + width * (k + 0.5)
        xs = [position[lv] + offset for lv in part.level]
        line = ax.scatter(xs, 100 * part.delta, s=18, label=inter)
        for x, y, lang in zip(xs, 100 * part.delta, part.language, strict=True):
            ax.annotate(lang, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        means = part.groupby("level").delta.mean()
        order = [lv for lv in levels if lv in means.index]
        ax.plot(
            [position[lv] + offset for lv in order],
            [100 * means[lv] for lv in order],
            color=line.get_facecolor()[0],
            linewidth=1,
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(levels)), labels=levels)
    ax.set_xlabel(
        "resource level\n(Joshi et al. 2020 class: low 0–2, medium 3, high 4–5)", fontsize=8
    )
    ax.set_ylabel(f"delta over {BASELINE} (points)")
    ax.set_title("zero-shot delta by the language's resource level", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def gap_bars(gap: pd.DataFrame, path: Path) -> Path | None:
    """The transfer gap (training language minus the others) per intermediate, a bar per
    target; a shorter bar means more of the English score carried over."""
    if gap.empty:
        return None
    intermediates = baseline_first(gap.intermediate)
    targets = list(dict.fromkeys(gap.target))
    fig, ax = _figure(max(5.0, 0.9 * len(intermediates) * max(1, len(targets)) ** 0.5 + 3), 4.0)
    width = 0.8 / len(targets)
    for k, target in enumerate(targets):
        part = gap[gap.target == target].set_index("intermediate")
        xs = [i + width * (k - (len(targets) - 1) / 2) for i in range(len(intermediates))]
        ys = [100 * part.gap.get(inter, float("nan")) for inter in intermediates]
        ax.bar(xs, ys, width=width, label=target)
    ax.set_xticks(range(len(intermediates)), labels=intermediates, rotation=30, ha="right")
    ax.set_ylabel("English − other languages (points)")
    ax.set_title("cross-lingual transfer gap per intermediate task", fontsize=10)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def similarity_scatter(pairs: pd.DataFrame, fit, path: Path) -> Path | None:
    """Each (intermediate, target) pair's task similarity against its delta, with Spearman's
    rho in the title when there are enough pairs."""
    both = pairs.dropna(subset=["similarity", "delta"])
    if both.empty:
        return None
    fig, ax = _figure(5.5, 4.2)
    for target, part in both.groupby("target"):
        ax.scatter(part.similarity, 100 * part.delta, s=22, label=str(target))
        for row in part.itertuples():
            ax.annotate(
                row.intermediate, (row.similarity, 100 * row.delta), fontsize=6,
                xytext=(2, 2), textcoords="offset points",
            )  # fmt: skip
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"task similarity ({both.measure.iloc[0]} under the starting encoder)")
    ax.set_ylabel(f"delta over {BASELINE} (points)")
    title = "similarity vs transfer"
    if fit is not None:
        rho, p, n = fit
        title += f": Spearman ρ = {rho:+.2f} (p = {p:.3f}, {n} pairs)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)

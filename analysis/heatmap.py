"""Heatmap of zero-shot deltas over the no-intermediate baseline, one PNG per target task."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from analysis.selection import BASELINE, TargetResult, points


def delta_grid(result: TargetResult) -> tuple[list[str], list[str], list[list[float | None]]]:
    """Rows (languages, then avg), columns (non-baseline intermediates), deltas as fractions.

    None marks a missing score: the plot leaves that square blank rather than inventing a value.
    """
    metric = result.metric
    columns = [i for i in result.intermediates if i != BASELINE]
    deltas = [[result.delta(metric, i, lang) for i in columns] for lang in result.languages]
    deltas.append([result.average_delta(metric, i) for i in columns])
    return [*result.languages, "avg"], columns, deltas


def write_heatmap(result: TargetResult, path: Path) -> Path:
    """One target's deltas, languages by intermediates, the average row set apart."""
    rows, columns, deltas = delta_grid(result)
    title = f"{result.target}\nzero-shot {result.metric} − {BASELINE} (points)"
    return draw_heatmap(rows, columns, deltas, title, path, split_last_row=True)


def draw_heatmap(
    rows: list[str],
    columns: list[str],
    deltas: list[list[float | None]],
    title: str,
    path: Path,
    *,
    split_last_row: bool = False,
) -> Path:
    """Draw a delta grid with a diverging colormap centred at 0, each square annotated."""
    grid = [[math.nan if d is None else 100 * d for d in row] for row in deltas]
    finite = [abs(v) for row in grid for v in row if not math.isnan(v)]
    # Symmetric limits keep 0 at the colormap's neutral middle; 1 point when all deltas are 0.
    limit = max(finite, default=0.0) or 1.0
    norm = Normalize(vmin=-limit, vmax=limit)

    # Agg directly (no pyplot): no global backend switch inside the CLI process that imports us.
    # A floor on the width keeps the title whole when there is a single column.
    width = max(4.5, 2.2 + 1.3 * len(columns))
    fig = Figure(figsize=(width, 1.6 + 0.42 * len(rows)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="RdBu", norm=norm, aspect="auto")
    for r, row in enumerate(deltas):
        for c, delta in enumerate(row):
            # Labels use the table's formatting, so the PNG and the markdown never disagree.
            label = "—" if delta is None else points(delta)
            # Dark squares (far from 0) get white text so the number stays legible.
            dark = delta is not None and abs(100 * delta) > 0.6 * limit
            color = "white" if dark else "black"
            ax.text(c, r, label, ha="center", va="center", fontsize=9, color=color)
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    if split_last_row:
        ax.axhline(len(rows) - 1.5, color="black", linewidth=1.0)  # sets the avg row apart
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="delta (points)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path

"""Intermediate training as the store records it: per intermediate configuration (a task, a
translated task, or a mixture), the round the target phase starts from and, for a mixture,
each member's English dev score at that round. This is how a researcher sees whether a mixture
learned all its tasks or traded one for another."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trainers.tasks import REGISTRY

# A mixture's aggregate dev metric (trainers.data.mixture.MIXTURE_METRIC; not imported, so that
# reading a results store needs no torch).
MIXTURE_METRIC = "mixture_score"


def selection_metric(entry: str) -> str:
    """The metric an intermediate entry is selected on: its task's, or a mixture's aggregate."""
    task = entry.partition("@")[0]
    return REGISTRY.get(task).metric if task in REGISTRY else MIXTURE_METRIC


@dataclass(frozen=True)
class Chosen:
    """The best round of an intermediate entry's trials (the one handed to the target phase)."""

    entry: str
    trial_id: str
    round: int
    metric: str
    value: float
    trials: int
    members: tuple[tuple[str, str, float], ...]  # (task, metric, value) at that round


def chosen_rounds(frame: pd.DataFrame) -> list[Chosen]:
    """Per intermediate entry, its best trial and round by the entry's own dev metric (a tie
    goes to the later round, as in the hand-off), with the member scores of that round."""
    dev = frame[(frame.phase == "intermediate") & (frame.split == "dev")]
    chosen = []
    for entry, rows in dev.groupby("intermediate", sort=True):
        metric = selection_metric(str(entry))
        own = rows[(rows.task == entry) & (rows.metric == metric)]
        if own.empty:
            continue
        best = own.sort_values(["value", "round"], kind="stable").iloc[-1]
        at = rows[(rows.trial_id == best.trial_id) & (rows["round"] == best["round"])]
        members = tuple(
            (str(r.task), str(r.metric), float(r.value))
            for r in at.sort_values(["task", "metric"]).itertuples()
            if r.task != entry
        )
        chosen.append(
            Chosen(
                str(entry),
                str(best.trial_id),
                int(best["round"]),
                metric,
                float(best.value),
                int(rows.trial_id.nunique()),
                members,
            )
        )
    return chosen

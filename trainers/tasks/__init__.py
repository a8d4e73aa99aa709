"""All tasks, registered explicitly (a new task module is added to `_MODULES` by hand)."""

from trainers.tasks import (
    anli_plus,
    ccg,
    commonsense,
    glue,
    nli,
    panx,
    pawsx,
    qa,
    retrieval,
    retrieval_xtreme_r,
    squad,
    synthetic,
    udpos,
    xcopa,
)
from trainers.tasks.registry import HubSource, LocalFiles, Representation, Task, TaskRegistry

REGISTRY = TaskRegistry()
_MODULES = (
    synthetic,
    # intermediate tasks
    nli,
    anli_plus,
    glue,
    squad,
    commonsense,
    ccg,
    # XTREME targets (xnli is in nli)
    pawsx,
    udpos,
    panx,
    qa,
    retrieval,
    # XTREME-R additions
    xcopa,
    retrieval_xtreme_r,
)
for _module in _MODULES:
    for _task in _module.TASKS:
        REGISTRY.add(_task)


# The paper's nine English intermediate tasks (the `all` mixture on real data), and the synthetic
# benchmark's intermediate-only tasks (`all` on it).
PAPER_INTERMEDIATE = (
    "anli_plus",
    "ccg",
    "commonsenseqa",
    "cosmosqa",
    "hellaswag",
    "mnli",
    "qqp",
    "squad_v2",
    "sst2",
)
SYNTH_INTERMEDIATE = ("synth_hellaswag", "synth_mnli", "synth_squad")


def get_task(name: str) -> Task:
    return REGISTRY.get(name)


__all__ = [
    "PAPER_INTERMEDIATE",
    "REGISTRY",
    "SYNTH_INTERMEDIATE",
    "HubSource",
    "LocalFiles",
    "Representation",
    "Task",
    "TaskRegistry",
    "get_task",
]

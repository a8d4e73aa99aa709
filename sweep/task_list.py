"""`xstilts tasks`: every registered task with its roles, format, metric, languages and sources."""

from __future__ import annotations

import json

from trainers.tasks import REGISTRY
from trainers.tasks.registry import Task


def describe_task(task: Task) -> dict:
    """A task as plain data with stable keys (what `--json` prints)."""
    local = {
        split: list(files) if isinstance(files, tuple) else files
        for split in ("train", "dev", "test")
        if (files := getattr(task.local, split)) is not None
    }
    return {
        "name": task.name,
        "roles": list(task.roles),
        "format": task.format,
        "metric": task.metric,
        "trained": task.needs_training,
        "benchmarks": list(task.benchmarks),
        "languages": {
            "xtreme": list(task.test_languages("xtreme")) if task.in_benchmark("xtreme") else [],
            "xtreme-r": list(task.test_languages("xtreme-r"))
            if task.in_benchmark("xtreme-r")
            else [],
        },
        "local": local,
        "hub": [{"dataset": h.dataset, "config": h.config} for h in task.hub_sources()],
        "description": task.description,
    }


def task_lines(as_json: bool) -> list[str]:
    tasks = [describe_task(REGISTRY.get(name)) for name in REGISTRY.names()]
    if as_json:
        return [json.dumps(tasks, indent=1, ensure_ascii=False)]
    lines = [f"{'task':15} {'roles':21} {'format':16} {'metric':15} languages (XTREME / XTREME-R)"]
    for t in tasks:
        counts = " / ".join(
            str(len(t["languages"][b])) if t["languages"][b] else "-"
            for b in ("xtreme", "xtreme-r")
        )
        hub = ", ".join(h["dataset"] for h in t["hub"]) or "no hub source"
        lines.append(
            f"{t['name']:15} {','.join(t['roles']):21} {t['format']:16} {t['metric']:15} "
            f"{counts}  [{hub}]"
        )
    return lines

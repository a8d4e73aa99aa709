"""`xstilts tasks`: every registered task listed, as a table and as JSON with stable keys."""

from __future__ import annotations

import json

from sweep.cli import main
from trainers.tasks import REGISTRY

KEYS = {"name", "roles", "format", "metric", "trained", "benchmarks", "languages", "local", "hub"}


def test_the_table_lists_every_registered_task(capsys):
    assert main(["tasks"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert names == set(REGISTRY.names())


def test_json_gives_each_tasks_format_metric_languages_and_sources(capsys):
    assert main(["tasks", "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(tasks) == set(REGISTRY.names())
    assert all(KEYS <= set(t) for t in tasks.values())
    xnli = tasks["xnli"]
    assert (xnli["format"], xnli["metric"], xnli["trained"]) == ("classification", "accuracy", True)
    assert len(xnli["languages"]["xtreme"]) == 15
    assert tasks["bucc"]["languages"] == {"xtreme": ["de", "fr", "ru", "zh"], "xtreme-r": []}
    assert tasks["tatoeba"]["trained"] is False
    assert any(h["dataset"] for h in xnli["hub"]) and xnli["local"]["test"]

"""The sweep spec: good specs load into frozen models; bad ones fail with one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from sweep.spec import SpecError, load_spec, shipped_specs

GOOD = {
    "name": "t",
    "model": {"name": "xlm-roberta-large"},
    "data": {"source": "local", "root": "/data/xtreme"},
    "phases": {
        "intermediate": {"tasks": ["none", "mnli"], "search": {"learning_rate": [1e-5, 3e-5]}},
        "target": {"tasks": ["xnli", "udpos"], "per_task": {"udpos": {"epochs": 10}}},
    },
    "resources": {"workers": 4, "gpus_per_worker": 1, "cpus_per_worker": 8},
    "deepspeed": {"zero_stage": 3, "precision": "bf16"},
}


def write(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def with_change(path: list, value) -> dict:
    spec = yaml.safe_load(yaml.safe_dump(GOOD))
    node = spec
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return spec


def test_a_good_spec_loads_into_frozen_typed_models(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.phases.target.tasks == ("xnli", "udpos")
    assert spec.deepspeed.zero_stage == 3
    assert spec.phases.target.optim_for("udpos", {}).epochs == 10
    with pytest.raises(ValidationError):
        spec.name = "changed"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["phases", "target", "tasks"],
            ["nope"],
            "phases.target: tasks: 'nope' is not a target task",
        ),
        (
            ["phases", "intermediate", "tasks"],
            ["xnli"],
            "phases.intermediate: tasks: 'xnli' is not a intermediate task",
        ),
        (
            ["phases", "target", "search"],
            {"lr": [1]},
            "phases.target.search: 'lr' cannot be searched",
        ),
        (
            ["phases", "target", "optim", "learning_rate"],
            -1,
            "phases.target.optim.learning_rate: Input should be greater than 0",
        ),
        (["deepspeed", "zero_stage"], 4, "deepspeed.zero_stage"),
        (["resources", "gpus"], 1, "resources.gpus: unknown key"),
        (["data", "root"], None, "data: root is required when source is local"),
        (["phases", "target", "per_task"], {"udpos": {"epochz": 1}}, "per_task.udpos.epochz"),
        (
            ["phases", "target", "starts"],
            ["mnli", "qqp"],
            "phases: target.starts: ['mnli', 'qqp'] must be distinct entries of",
        ),
        (
            ["phases", "target", "resources", "workers"],
            0,
            "phases.target.resources.workers: Input should be greater than 0",
        ),
        (
            ["resources", "eval_actors"],
            -1,
            "resources.eval_actors: Input should be greater than or equal to 0",
        ),
    ],
)
def test_a_bad_spec_names_the_yaml_key(tmp_path, path, value, message):
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, with_change(path, value)))
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert str(tmp_path / "spec.yaml") in str(err.value)


def test_bf16_without_gpus_is_rejected_when_the_spec_is_built(tmp_path):
    spec = with_change(["resources", "gpus_per_worker"], 0)
    with pytest.raises(SpecError, match="deepspeed.precision: bf16 needs GPUs"):
        load_spec(write(tmp_path, spec))


def test_a_phase_overrides_only_the_resources_it_names(tmp_path):
    spec = load_spec(
        write(tmp_path, with_change(["phases", "intermediate", "resources"], {"workers": 8}))
    )
    assert spec.resources_for("intermediate").workers == 8
    assert spec.resources_for("intermediate").gpus_per_worker == 1
    assert spec.resources_for("target").workers == 4


def test_a_cpu_only_phase_in_a_bf16_sweep_is_rejected(tmp_path):
    spec = with_change(["phases", "target", "resources"], {"gpus_per_worker": 0})
    with pytest.raises(SpecError, match="target trials have resources.gpus_per_worker 0"):
        load_spec(write(tmp_path, spec))


def test_broken_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("name: t\nphases: [unclosed\n")
    with pytest.raises(SpecError, match=r"spec.yaml:\d+: not valid YAML"):
        load_spec(path)


def test_every_shipped_spec_parses():
    assert "demo" in shipped_specs()
    for name in shipped_specs():
        load_spec(name)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sweep.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_the_cli_rejects_a_bad_spec_with_one_line_and_exit_2(tmp_path):
    result = run_cli("validate", str(write(tmp_path, with_change(["deepspeed", "zero_stage"], 7))))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "deepspeed.zero_stage" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_rejects_a_missing_spec_file_with_exit_2():
    result = run_cli("validate", "/no/such/spec.yaml")
    assert result.returncode == 2
    assert "no such spec file" in result.stderr


def test_validate_prints_the_plan_without_starting_ray():
    result = run_cli("validate", "demo")
    assert result.returncode == 0, result.stderr
    assert "phase target: 9 trial(s)" in result.stdout
    assert "trial-hours" in result.stdout
    # The demo pretrains alone, on the whole machine.
    assert "pretrain resources: 1 worker(s) x 1.8 CPU; up to 1 trials at once" in result.stdout
    # One worker a trial, no spot nodes: each trains in its own process, with no Train driver.
    assert "placement: no trial drivers (every trial trains in its own process)" in result.stdout
    assert (
        "target placement: 1 worker(s) per trial, each 0.9 CPU, in the trial's own process"
    ) in result.stdout


def test_validate_does_not_import_ray():
    code = "import sys; from sweep.cli import main; main(['validate', 'demo']); print('ray' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().endswith("False"), result.stdout + result.stderr


def test_evaluations_without_actors_each_run_in_one_task_of_the_actors_shape(tmp_path):
    from sweep.describe import describe
    from sweep.plan import expand

    resources = {"workers": 1, "eval_actors": 0, "eval_cpus": 0.5, "eval_resources": {"spot": 1}}
    spec = load_spec(write(tmp_path, {**GOOD, "resources": resources, "deepspeed": {}}))
    [placement] = [line for line in describe(expand(spec)) if line.startswith("placement: ")]
    assert placement.endswith(
        "; evaluations each in one task of 0.5 CPU + spot 1 (no Ray Data pipeline)"
    )
    assert spec.resources.eval_processes() == 1

"""Experiment tracking: the spec's `tracking` key (checked as it is built, errors naming the key),
what the trackers are given (the loss of each optimizer step, the lineage, the hyper-parameters),
that a sweep without tracking imports none of them, and one tiny sweep through the real CLI with
TensorBoard, MLflow and W&B (offline) on (the interruption tests' calm sweep), read back from the
files each one wrote."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tiny_sweeps import OPTIM, tiny_sweep, wandb_dir

from sweep.spec import SpecError, load_spec
from sweep.tracking import LOSS, hyperparameters, lineage, step_points
from trainers.loop import _step_means


def spec_with(tmp_path: Path, tracking) -> Path:
    """A tiny spec with `tracking` (its benchmark never generated: only the spec is read)."""
    phases = {"intermediate": {"tasks": ["synth_mnli"]}, "target": {"tasks": ["synth_udpos"]}}
    spec = tiny_sweep("tracked", tmp_path / "bench", phases, tracking=tracking)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_spec_without_the_key_tracks_nothing(tmp_path):
    spec = load_spec(spec_with(tmp_path, {}))
    assert not spec.tracking.enabled()


def test_true_turns_mlflow_on_with_a_sqlite_store_in_the_output_directory(tmp_path):
    spec = load_spec(spec_with(tmp_path, {"mlflow": True}))
    mlflow = spec.tracking.resolved(spec.name, tmp_path / "out").mlflow
    assert mlflow.tracking_uri == f"sqlite:///{(tmp_path / 'out').resolve()}/mlflow.db"
    assert mlflow.experiment_name == "tracked"


def test_wandb_writes_offline_runs_grouped_by_sweep_in_the_output_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_DIR", raising=False)
    spec = load_spec(spec_with(tmp_path, {"wandb": {"project": "p"}}))
    wandb = spec.tracking.resolved(spec.name, tmp_path).wandb
    assert (wandb.mode, wandb.group, wandb.dir) == ("offline", "tracked", str(tmp_path.resolve()))
    monkeypatch.setenv("WANDB_DIR", "/elsewhere")
    assert spec.tracking.resolved(spec.name, tmp_path).wandb.dir == "/elsewhere"


@pytest.mark.parametrize(
    ("tracking", "message"),
    [
        ({"neptune": True}, "tracking.neptune: unknown key"),
        ({"wandb": {"project": "p", "mode": "cloud"}}, "tracking.wandb.mode: Input should be"),
        ({"wandb": {"mode": "offline"}}, "tracking.wandb.project: Field required"),
        ({"wandb": True}, "tracking.wandb.project: Field required"),
        ({"mlflow": {"uri": "http://x"}}, "tracking.mlflow.uri: unknown key"),
        ({"tensorboard": "sometimes"}, "tracking.tensorboard: Input should be a valid boolean"),
    ],
)
def test_a_bad_tracking_key_is_named_in_the_error(tmp_path, tracking, message):
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        load_spec(spec_with(tmp_path, tracking))


def test_a_rounds_step_losses_are_numbered_up_to_its_step():
    result = {"round": 2, "step": 10, "step_losses": [0.9, 0.8, 0.7, 0.6, 0.5]}
    assert step_points(result) == [(6, 0.9), (7, 0.8), (8, 0.7), (9, 0.6), (10, 0.5)]


def test_a_step_loss_is_the_mean_of_its_accumulated_micro_batches():
    assert _step_means([1.0, 3.0, 2.0, 4.0], grad_accum=2) == [2.0, 3.0]
    assert _step_means([1.0, 3.0], grad_accum=1) == [1.0, 3.0]


def test_lineage_leaves_out_what_a_phase_does_not_have():
    plan = {"phase": "intermediate", "task": "synth_mnli", "intermediate": "synth_mnli",
            "target": "", "trial_id": "int-a", "config_id": "c", "seed": 0}  # fmt: skip
    assert lineage(plan) == {"phase": "intermediate", "task": "synth_mnli",
                             "intermediate": "synth_mnli", "trial_id": "int-a",
                             "config_id": "c", "seed": "0"}  # fmt: skip


def test_hyperparameters_are_the_optimizer_settings_and_the_start_not_paths_of_storage():
    train = {"model": {"name": "m"}, "init_from": "/h/enc", "seed": 1, "workers": 2,
             "optim": {"learning_rate": 1e-5, "decay_ratio": None}, "deepspeed": {"zero_stage": 2},
             "mixture": None, "data": {"root": "/data"}}  # fmt: skip
    params = hyperparameters({"train": train, "train_storage": "/ray/train"})
    assert params == {"model": "m", "init_from": "/h/enc", "seed": 1, "workers": 2,
                      "optim/learning_rate": 1e-5, "deepspeed/zero_stage": 2}  # fmt: skip


def test_a_sweep_without_tracking_imports_no_tracker():
    code = (
        "import sys; import sweep.runner; from sweep.tune_driver import make_tuner; "
        "from sweep.spec import TrackingSpec; from sweep.spec_resources import ResourcesSpec; "
        "make_tuner('target', [{'trial_id': 't'}], storage='/tmp/x', resources=ResourcesSpec(), "
        "asha=None, callbacks=[], tracking=TrackingSpec()); "
        # What `tune.run` does with a run's callbacks before it starts: Ray's usage telemetry.
        "import ray.tune.tune as run; from ray.tune import Callback; "
        "run.air_usage.tag_callbacks([Callback()]); "
        "print(sorted(m for m in ('mlflow', 'wandb', 'sweep.tracking') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# --- one tiny sweep with every tracker on ------------------------------------------------------


def scalars(event_file: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} of an event file (TFRecord framing: length, its CRC, data, CRC)."""
    from tensorboardX.proto.event_pb2 import Event

    found: dict[str, dict[int, float]] = {}
    data, at = event_file.read_bytes(), 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = Event.FromString(data[at + 12 : at + 12 + length])
        at += 12 + length + 4
        for value in event.summary.value:
            if value.WhichOneof("value") == "simple_value":
                found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


@pytest.fixture(scope="module")
def tracked(calm_sweep):
    """The interruption tests' calm sweep, run through the CLI with every tracker on: an
    intermediate trial and a target from each start. Returns (out, the W&B directory,
    {trial_id: plan}, the spec the sweep kept)."""
    from sweep.progress import read_status

    spec = yaml.safe_load((calm_sweep / "spec.yaml").read_text())
    return calm_sweep, wandb_dir(calm_sweep.parent), read_status(calm_sweep)["trials"], spec


def rounds(spec: dict, phase: str) -> int:
    return spec["phases"][phase]["optim"]["rounds"]


@pytest.mark.slow
@pytest.mark.ray
def test_tensorboard_has_the_loss_of_every_step_and_the_dev_metrics_of_every_round(tracked):
    out, _, plans, spec = tracked
    assert {p["phase"] for p in plans.values()} == {"intermediate", "target"}
    for trial_id, plan in plans.items():
        files = sorted((out / "ray" / plan["phase"] / trial_id).glob("events.out.tfevents.*"))
        assert files, f"no event file for {trial_id}"
        found: dict[str, dict[int, float]] = {}
        for file in files:
            for tag, points in scalars(file).items():
                found.setdefault(tag, {}).update(points)
        losses = found[f"ray/tune/{LOSS}"]
        assert sorted(losses) == list(range(1, len(losses) + 1)) and len(losses) >= 4
        # Dev metrics sit at the optimizer step each round ended on, the last of the losses.
        assert max(found["ray/tune/dev_score"]) == max(losses)
        assert len(found["ray/tune/dev_score"]) == rounds(spec, plan["phase"])


@pytest.mark.slow
@pytest.mark.ray
def test_mlflow_has_a_run_per_trial_with_its_params_lineage_and_loss_history(tracked):
    from mlflow.tracking import MlflowClient

    out, _, plans, spec = tracked
    client = MlflowClient(f"sqlite:///{out.resolve()}/mlflow.db")
    experiment = client.get_experiment_by_name(spec["name"])  # MLflow's experiment is the sweep
    runs = {r.data.tags["trial_id"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == set(plans)
    for trial_id, run in runs.items():
        plan = plans[trial_id]
        assert run.info.status == "FINISHED" and run.info.run_name == trial_id
        for key in ("phase", "config_id", "seed", "intermediate"):
            assert run.data.tags[key] == str(plan[key])
        assert run.data.params["optim/learning_rate"] == str(OPTIM["learning_rate"])
        assert run.data.params["seed"] == "0"
        history = client.get_metric_history(run.info.run_id, LOSS)
        assert [m.step for m in history] == list(range(1, len(history) + 1))
        assert len(history) >= 4
        dev = client.get_metric_history(run.info.run_id, "dev_score")
        assert len(dev) == rounds(spec, plan["phase"]) and dev[-1].step == history[-1].step
    target = next(r for r in runs.values() if r.data.tags["phase"] == "target")
    assert target.data.tags["target"] == "synth_udpos"


@pytest.mark.slow
@pytest.mark.ray
def test_wandb_wrote_an_offline_run_for_each_trial(tracked):
    _, runs_dir, plans, _ = tracked
    runs = sorted((runs_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == len(plans)
    for run in runs:
        assert list(run.glob("*.wandb")), f"{run.name} has no .wandb file"

"""A sweep on a multi-node Ray shaped like cluster.yaml: a CPU-only head that has the drivers'
resource and no room for training, and worker nodes with the spot GPU type's resource (CPUs
standing in for its GPU). Storage is an S3 URI, as on a cloud cluster (the S3 protocol served
on this machine): checkpoints, hand-offs and a copy of the output directory go there, and the
sweep comes back from it after the head's disk is gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors
from tiny_sweeps import OPTIM, tiny_sweep

from sweep.cli import main
from sweep.runner import ENV, run_sweep
from sweep.spec import SweepSpec
from trainers import remote

pytestmark = [pytest.mark.slow, pytest.mark.ray]

HEAD = {"xstilts_driver": 1000}  # cluster.yaml's head type
SPOT = {"gpu_1x_spot": 1}  # cluster.yaml's single-GPU spot type


@pytest.fixture
def cluster(s3_storage):  # the S3 credentials in the environment of every node
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": HEAD})
    for _ in range(2):
        cluster.add_node(num_cpus=1, resources=SPOT)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, runtime_env={"env_vars": ENV}, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def cloud_spec(benchmark: Path, storage: str) -> SweepSpec:
    phases = {
        "intermediate": {"tasks": ["none", "synth_mnli"], "optim": {**OPTIM, "epochs": 1}},
        "target": {"tasks": ["synth_xnli", "synth_tatoeba"], "optim": {**OPTIM, "epochs": 1}},
        "evaluate": {"languages": ["en", "qaa"]},
    }
    placement = {
        "driver_resources": {"xstilts_driver": 1},
        "worker_resources": SPOT,
        "eval_resources": SPOT,
        "max_concurrent_trials": 2,
        "eval_cpus": 0.5,
    }
    return SweepSpec.model_validate(
        tiny_sweep("cloud", benchmark, phases, placement, storage_path=storage)
    )


def actor_nodes(class_name: str) -> set[str]:
    """The nodes that ran actors of `class_name` (Ray Data's inference actors: `MapWorker(...)`)."""
    actors = list_actors(detail=True, limit=10_000)
    return {a.node_id for a in actors if a.class_name.partition("(")[0] == class_name}


def under(uri: str, root: str) -> bool:
    """Whether `uri` is in the folder `root` (on the same endpoint: their queries agree)."""
    (path, _, query), (top, _, top_query) = uri.partition("?"), root.partition("?")
    return path.startswith(top + "/") and query == top_query


def trial_params(storage: str, phase: str) -> list[dict]:
    """The configs Tune kept on storage for each trial of `phase`."""
    names = remote.files_under(remote.join(storage, phase))
    return [
        json.loads(remote.read_text(remote.join(storage, phase, n)))["trial"]
        for n in names
        if n.endswith("/params.json")
    ]


def test_a_cluster_sweep_trains_on_worker_nodes_and_keeps_everything_on_storage(
    benchmark, cluster, s3_storage, tmp_path, capsys
):
    storage = remote.join(s3_storage, "sweeps", "cloud")
    out = tmp_path / "head-disk"
    run_sweep(cloud_spec(benchmark, storage), out, echo=lambda line: None)

    head = cluster.head_node.node_id
    workers = {n.node_id for n in cluster.worker_nodes}
    trained_on = actor_nodes("RayTrainWorker")
    assert trained_on and trained_on <= workers  # never on the head
    assert actor_nodes("ImplicitFunc") == {head}  # the trial drivers stay on the head
    evaluated_on = actor_nodes("MapWorker")  # the inference actors of every evaluation
    assert evaluated_on and evaluated_on <= workers

    # Each target trial started from a hand-off on storage, which a worker node can read.
    targets = trial_params(storage, "target")
    assert len(targets) == 2  # synth_xnli from none and from synth_mnli
    for trial in targets:
        assert under(trial["train"]["init_from"], remote.join(storage, "handoff"))
    frame = pd.read_parquet(out / "results")
    trained = frame[frame.phase.isin(["intermediate", "target"]) & (frame.split == "dev")]
    assert all(under(path, remote.join(storage, "train")) for path in trained.checkpoint_path)

    # The head's disk goes away; the sweep comes back from storage, every row of it.
    shutil.rmtree(out)
    fetched = tmp_path / "laptop"
    assert main(["report", storage, "--out", str(fetched)]) == 0
    back = pd.read_parquet(fetched / "results")
    columns = ["phase", "trial_id", "task", "language", "split", "metric", "round"]
    assert len(back) == len(frame) and not back.empty
    pd.testing.assert_frame_equal(
        back.sort_values(columns).reset_index(drop=True),
        frame.sort_values(columns).reset_index(drop=True),
    )
    assert set(back[back.phase == "zero_shot"].language) == {"en", "qaa"}
    assert "report:" in capsys.readouterr().out
    assert main(["resume", storage, "--out", str(tmp_path / "again")]) == 0
    assert "the sweep finished; nothing to resume" in capsys.readouterr().out

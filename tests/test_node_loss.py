"""Nodes that go away under a running trial, on a multi-node Ray on this machine (a head that runs
the drivers and no training, three spot worker nodes, storage on a path they all share). One
trial loses two nodes: the first preempted (drained with a preemption notice, as a spot
instance is), the second lost outright. Each time it resumes on another node from its last
checkpoint, and only the outright loss counts against its failure budget: with
`max_failures: 1` it completes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
from ray.cluster_utils import Cluster
from test_worker_failure import train_workers_under
from tiny_sweeps import OPTIM, tiny_sweep

from sweep.runner import ENV, run_sweep
from sweep.spec import SweepSpec

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROUNDS = 4
SPOT = {"spot": 1.0}


def node_spec(benchmark: Path, storage: Path, **resources) -> SweepSpec:
    phases = {
        "intermediate": {
            "tasks": ["synth_mnli"],
            # Rounds of a few seconds each, so that both losses land inside the trial.
            "optim": {**OPTIM, "epochs": 80, "rounds": ROUNDS},
        },
        "target": {"tasks": ["synth_udpos"], "optim": {**OPTIM, "epochs": 1, "rounds": 1}},
        "evaluate": {"languages": ["en"]},
    }
    placement = {"driver_resources": {"head": 0.01}, "worker_resources": SPOT, "eval_cpus": 0.5}
    return SweepSpec.model_validate(
        # One path every node sees, for checkpoints.
        tiny_sweep(
            "nodes", benchmark, phases, {**placement, **resources}, storage_path=str(storage)
        )
    )


@pytest.fixture
def cluster():
    """A head with the drivers' resource and no room for training, and three spot worker nodes."""
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1}}
    )
    for _ in range(3):
        cluster.add_node(num_cpus=1, resources=SPOT)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, runtime_env={"env_vars": ENV}, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def raylet_pid(node) -> int:
    return node.all_processes["raylet"][0].process.pid


def training_node(cluster: Cluster, besides=(), timeout: float = 180):
    """The worker node a Ray Train worker runs on (other than `besides`), once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in cluster.worker_nodes:
            if node not in besides and train_workers_under(raylet_pid(node)):
                return node
        time.sleep(0.2)
    raise AssertionError("no Ray Train worker started on another worker node")


def reported_round(out: Path) -> int:
    try:
        trials = json.loads((out / "status.json").read_text())["trials"].values()
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return max((t.get("round", 0) for t in trials if t["phase"] == "intermediate"), default=0)


def wait_for_round(out: Path, round_: int, thread: threading.Thread, failure: list) -> None:
    while reported_round(out) < round_:
        assert thread.is_alive() and not failure, failure
        time.sleep(0.2)
    assert reported_round(out) < ROUNDS, "the trial ended before its node could be lost"


def sweep_losing_nodes(cluster: Cluster, spec: SweepSpec, out: Path) -> list:
    """Run the sweep; preempt its intermediate trial's node after round 1, and remove the node
    it then moved to after round 2. Returns the three nodes the trial trained on."""
    failure: list[BaseException] = []

    def sweep():
        try:
            run_sweep(spec, out, echo=lambda line: None)
        except BaseException as err:  # re-raised in the test's thread
            failure.append(err)

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    nodes = []
    for round_, lose in ((1, preempt), (2, remove)):
        wait_for_round(out, round_, thread, failure)
        nodes.append(training_node(cluster, besides=nodes))
        lose(cluster, nodes[-1])
    nodes.append(training_node(cluster, besides=nodes))
    thread.join(timeout=600)
    assert not thread.is_alive() and not failure, failure
    return nodes


def rounds_stored(out: Path) -> list[int]:
    frame = pd.read_parquet(out / "results")
    own = frame[(frame.phase == "intermediate") & (frame.split == "dev")]
    return sorted(own.drop_duplicates(["round"])["round"])


def trial_states(out: Path) -> dict[str, str]:
    trials = json.loads((out / "status.json").read_text())["trials"]
    return {t: s["state"] for t, s in trials.items()}


def remove(cluster: Cluster, node) -> None:
    cluster.remove_node(node, allow_graceful=False)


def preempt(cluster: Cluster, node) -> None:
    """What a spot instance's termination notice does: the node is drained for preemption with
    a deadline, then goes away."""
    from ray.core.generated import autoscaler_pb2

    gcs = ray._raylet.GcsClient(address=cluster.address)
    reason = autoscaler_pb2.DrainNodeReason.Value("DRAIN_NODE_REASON_PREEMPTION")
    deadline_ms = int(time.time() * 1000) + 3000
    accepted, _ = gcs.drain_node(node.node_id, reason, "spot instance reclaimed", deadline_ms)
    assert accepted
    time.sleep(3)
    cluster.remove_node(node, allow_graceful=False)


def test_a_trial_survives_a_preempted_node_and_a_lost_one(benchmark, cluster, tmp_path):
    spec = node_spec(benchmark, tmp_path / "storage", max_failures=1, preemptible=True)
    out = tmp_path / "out"
    nodes = sweep_losing_nodes(cluster, spec, out)
    assert len({n.node_id for n in nodes}) == 3  # it moved twice
    # Done, so the preemption was not charged: with it, two failures would exceed max_failures 1.
    assert set(trial_states(out).values()) == {"done"}
    # Each round stored once: after each loss the trial went on from its checkpoint.
    assert rounds_stored(out) == list(range(1, ROUNDS + 1))
    frame = pd.read_parquet(out / "results")
    assert not frame[frame.phase == "zero_shot"].empty

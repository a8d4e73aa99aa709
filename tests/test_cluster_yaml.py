"""The cluster files pass the checks `ray up` runs before any cloud call (offline, without
credentials), and keep the cluster closed: token authentication on every node, the dashboard on
localhost only, no secrets in the file, drivers on the head and training on the GPU types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "cluster.yaml", ROOT / "cluster" / "gcp.yaml"]
SECRET = re.compile(
    r"AKIA[0-9A-Z]{16}|aws_secret|secret_access|password|private_key|BEGIN [A-Z ]*KEY", re.I
)


@pytest.fixture(params=FILES, ids=lambda p: p.name)
def cluster(request) -> tuple[Path, dict]:
    return request.param, yaml.safe_load(request.param.read_text())


def start_commands(config: dict) -> list[str]:
    return config["head_start_ray_commands"] + config["worker_start_ray_commands"]


def test_ray_up_accepts_the_file(cluster):
    _, config = cluster
    validate_config(prepare_config(config))


def test_every_node_starts_ray_with_token_authentication(cluster):
    _, config = cluster
    starts = [c for c in start_commands(config) if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token" in c for c in starts)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert any("RAY_AUTH_MODE=token" in c for c in config["setup_commands"])  # jobs and drivers


def test_the_dashboard_is_never_bound_to_a_public_address(cluster):
    path, config = cluster
    [head] = [c for c in config["head_start_ray_commands"] if "--head" in c]
    assert "--dashboard-host=127.0.0.1" in head
    assert "0.0.0.0" not in path.read_text()


def test_the_file_holds_no_credentials(cluster):
    path, _ = cluster
    text = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
    assert not SECRET.search(text)


def test_drivers_stay_on_the_cpu_head_and_training_on_gpu_worker_types(cluster):
    _, config = cluster
    types = config["available_node_types"]
    head = types[config["head_node_type"]]["resources"]
    assert head["GPU"] == 0 and head["xstilts_driver"] > 0
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    assert set(workers) == {"gpu_8x", "gpu_1x_spot"}
    for name, node_type in workers.items():
        assert node_type["resources"][name] > 0  # the marker a spec's worker_resources names
        assert node_type["resources"]["GPU"] >= 1 and "xstilts_driver" not in node_type["resources"]
        assert node_type["min_workers"] == 0 and node_type["max_workers"] > 0
    spot = workers["gpu_1x_spot"]["node_config"]
    assert spot.get("InstanceMarketOptions") == {"MarketType": "spot"} or {
        "preemptible": True
    } in spot.get("scheduling", [])


def test_nodes_install_this_checkout_with_the_ray_it_was_tested_with(cluster):
    _, config = cluster
    setup = " ".join(config["setup_commands"])
    assert f'"ray[default,tune,train,data]=={ray.__version__}"' in setup
    assert "pip install -q -e ~/xstilts" in setup
    assert config["file_mounts"]["~/xstilts"] == "."

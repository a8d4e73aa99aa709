"""README's "On a cluster", command by command, on a Ray shaped like cluster.yaml: a CPU-only
head with the drivers' resource and no room for training, and worker nodes with the spot GPU
type's resource (CPUs standing in for its GPU), all on this machine with token authentication.
Storage is an S3 URI, served here (the S3 protocol, as AWS speaks it); the tiny sweep stands in
for the paper's. `ray up`, `ray dashboard` and `ray down` act on the local Ray, after their
arguments and cluster.yaml pass Ray's own checks; every `ray job` and `xstilts` command runs as
written."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.cluster_utils import Cluster
from ray.job_submission import JobStatus, JobSubmissionClient
from ray.util.state import list_actors
from tiny_sweeps import OPTIM, tiny_sweep

from sweep.runner import ENV
from trainers import remote

pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROOT = Path(__file__).resolve().parent.parent
HEAD = {"xstilts_driver": 1000}  # cluster.yaml's head type
SPOT = {"gpu_1x_spot": 1}  # cluster.yaml's single-GPU spot type
BIN = Path(sys.executable).parent  # where `ray` and `xstilts` are installed


def readme_commands() -> list[str]:
    """The command block of README's "On a cluster", comments dropped."""
    section = (ROOT / "README.md").read_text().split("\n## On a cluster\n", 1)[1]
    block = section.split("```\n", 2)[1]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def tiny_spec(benchmark: Path) -> dict:
    phases = {
        "intermediate": {"tasks": ["none", "synth_mnli"], "optim": {**OPTIM, "epochs": 1}},
        # One trained target, from the intermediate hand-off; retrieval runs on both starts.
        "target": {
            "tasks": ["synth_xnli", "synth_tatoeba"],
            "starts": ["synth_mnli"],
            "optim": {**OPTIM, "epochs": 1},
        },
        "evaluate": {"languages": ["en", "qaa"]},
    }
    placement = {
        # Spot workers, as xstilts-paper's: trials train through Ray Train, which hears their
        # preemption notices, with their drivers on the head.
        "preemptible": True,
        "driver_resources": {"xstilts_driver": 1},
        "worker_resources": SPOT,
        "eval_resources": SPOT,
        "max_concurrent_trials": 2,
        "eval_actors": 1,  # Ray Data's inference actors, on the spot type
        "eval_cpus": 0.5,
    }
    return tiny_sweep("cloud", benchmark, phases, placement)


class LocalCloud:
    """What the README's commands act on: a home with the token, a shell environment, and the
    Ray that `ray up` starts (on this machine)."""

    def __init__(self, tmp: Path, stand_ins: dict[str, str], monkeypatch):
        self.tmp, self.stand_ins, self.monkeypatch = tmp, stand_ins, monkeypatch
        self.home = tmp / "home"
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        self.cluster: Cluster | None = None
        self.jobs: list[str] = []
        self.outputs: list[tuple[str, str]] = []

    def run(self, line: str) -> None:
        for fake, real in self.stand_ins.items():
            line = line.replace(fake, real)
        argv = shlex.split(line)
        if argv[0] == "export":
            self.env.update(a.split("=", 1) for a in argv[1:])
        elif argv[:2] == ["ray", "get-auth-token"]:
            self.shell(argv, HOME=str(self.home))
            self.env["RAY_AUTH_TOKEN_PATH"] = str(self.home / ".ray" / "auth_token")
        elif argv[:2] == ["ray", "up"]:
            validate_config(prepare_config(yaml.safe_load((ROOT / argv[2]).read_text())))
            self.ray_up()
        elif argv[:2] in (["ray", "dashboard"], ["ray", "down"]):
            self.shell([*argv[:2], "--help"])  # the subcommand exists
            assert (ROOT / argv[2]).is_file()
            if argv[1] == "down":
                self.ray_down()
        else:
            out = self.shell(argv)
            if argv[:3] == ["ray", "job", "submit"] and "--no-wait" in argv:
                self.jobs.append(argv[argv.index("--submission-id") + 1])
                self.wait(self.jobs[-1])
            self.outputs.append((line, out))

    def shell(self, argv: list[str], **env) -> str:
        done = subprocess.run(
            argv, env={**self.env, **env}, cwd=self.tmp / "laptop", capture_output=True,
            text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def ray_up(self) -> None:
        """A head like cluster.yaml's and two spot-type workers, with the token on every node;
        started from the head's home, where jobs write their relative paths."""
        self.monkeypatch.setenv("PATH", self.env["PATH"])  # nodes find xstilts, as pip put it
        self.monkeypatch.setenv("RAY_AUTH_MODE", "token")
        self.monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", self.env["RAY_AUTH_TOKEN_PATH"])
        set_auth_config()  # this process talks to the new Ray with the token too
        (self.tmp / "head").mkdir()
        self.monkeypatch.chdir(self.tmp / "head")
        self.cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "resources": HEAD}
        )
        for _ in range(2):
            self.cluster.add_node(num_cpus=1, resources=SPOT)
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, runtime_env={"env_vars": ENV}, log_to_driver=False)
        self.stand_ins["http://127.0.0.1:8265"] = self.dashboard()

    def dashboard(self) -> str:
        return "http://" + self.cluster.head_node.address_info["webui_url"]

    def wait(self, job: str) -> None:
        client = JobSubmissionClient(self.dashboard())
        while not (status := client.get_job_status(job)).is_terminal():
            time.sleep(2)
        assert status == JobStatus.SUCCEEDED, client.get_job_logs(job)[-3000:]

    def job_driver_node(self, job: str) -> str:
        return JobSubmissionClient(self.dashboard()).get_job_info(job).driver_node_id

    def ray_down(self) -> None:
        self.placement = {name: actor_nodes(name) for name in ("RayTrainWorker", "ImplicitFunc")}
        self.placement["MapWorker"] = actor_nodes("MapWorker")
        self.placement["job"] = {self.job_driver_node(job) for job in self.jobs}
        client = JobSubmissionClient(self.dashboard())
        self.logs = {job: client.get_job_logs(job) for job in self.jobs}
        self.head = self.cluster.head_node.node_id
        self.workers = {n.node_id for n in self.cluster.worker_nodes}
        ray.shutdown()
        self.cluster.shutdown()
        self.cluster = None


def set_auth_config() -> None:
    """Ray reads RAY_AUTH_MODE into its config, and the token, once per process (an earlier
    test's Ray already had them read): read both again."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


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


@pytest.fixture
def cloud(benchmark, s3_storage, tmp_path, monkeypatch):
    spec = tmp_path / "cloud.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec(benchmark)))
    (tmp_path / "laptop").mkdir()
    stand_ins = {
        "xstilts-paper": str(spec),
        "s3://my-bucket/xtreme": str(benchmark),
        "s3://my-bucket/xstilts/paper": shlex.quote(remote.join(s3_storage, "xstilts", "paper")),
    }
    local = LocalCloud(tmp_path, stand_ins, monkeypatch)
    yield local
    if local.cluster is not None:
        ray.shutdown()
        local.cluster.shutdown()
    monkeypatch.undo()  # RAY_AUTH_MODE and the token path, before Ray's config reads them again
    set_auth_config()


def test_the_readme_runs_a_sweep_on_a_cluster_from_ray_up_to_the_report(cloud, s3_storage):
    commands = readme_commands()
    assert commands[1] == "ray up cluster.yaml" and commands[-1] == "ray down cluster.yaml"
    for line in commands:
        cloud.run(line)
    storage = remote.join(s3_storage, "xstilts", "paper")

    # The sweep's driver and its trial drivers ran on the head; training and inference on the
    # spot-type workers only.
    placement = cloud.placement
    assert placement["job"] == {cloud.head} and placement["ImplicitFunc"] == {cloud.head}
    assert placement["RayTrainWorker"] and placement["RayTrainWorker"] <= cloud.workers
    assert placement["MapWorker"] and placement["MapWorker"] <= cloud.workers

    # Trials started from hand-offs on storage, which every node can read; checkpoints too.
    targets, intermediate = trial_params(storage, "target"), trial_params(storage, "intermediate")
    assert len(targets) == 1 and len(intermediate) == 1  # synth_xnli from synth_mnli
    for trial in targets + intermediate:
        assert under(trial["train"]["init_from"], remote.join(storage, "handoff"))
    fetched = cloud.tmp / "laptop" / "runs" / "paper"
    frame = pd.read_parquet(fetched / "results")
    trained = frame[frame.phase.isin(["intermediate", "target"]) & (frame.split == "dev")]
    assert all(under(path, remote.join(storage, "train")) for path in trained.checkpoint_path)

    # The whole sweep came back from storage to "your machine": every trial's rounds, every
    # evaluation, and the report.
    assert set(trained.trial_id) == {t["trial_id"] for t in targets} | set(
        frame[frame.phase == "intermediate"].trial_id
    )
    zero_shot = frame[(frame.phase == "zero_shot") & (frame.target == "synth_xnli")]
    assert set(zip(zero_shot.intermediate, zero_shot.language, strict=True)) == {
        ("synth_mnli", "en"),
        ("synth_mnli", "qaa"),
    }
    retrieval = frame[frame.target == "synth_tatoeba"]
    assert set(retrieval.intermediate) == {"none", "synth_mnli"}
    assert (fetched / "report" / "report.md").is_file()
    said = dict(cloud.outputs)
    status = next(out for line, out in said.items() if line.startswith("xstilts status"))
    assert "phase zero_shot: done" in status
    assert "the sweep finished; nothing to resume" in cloud.logs[cloud.jobs[-1]]

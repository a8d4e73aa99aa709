"""Shared fixtures: the synthetic benchmark (generated once per session) and offline settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in the suite may reach a model or dataset hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def shard_cache(tmp_path_factory):
    """Evaluation shards (and anything else cached) go to a folder of the session's, never to
    the user's ~/.cache: set before any Ray worker starts, so workers inherit it."""
    os.environ["XSTILTS_CACHE"] = str(tmp_path_factory.mktemp("xstilts-cache"))
    return os.environ["XSTILTS_CACHE"]


@pytest.fixture(scope="session")
def benchmark(tmp_path_factory):
    """The project's synthetic benchmark, generated once for the whole session."""
    from trainers.synth import ensure_benchmark

    return ensure_benchmark(tmp_path_factory.mktemp("bench") / "synthetic", seed=0)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def s3_storage():
    """An S3 endpoint on this machine (moto's server, speaking the S3 protocol to pyarrow's
    client as AWS would), with one bucket; yields a storage URI root in it. The credentials are
    set before any Ray worker starts, so that workers inherit them."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="xstilts-test")
    yield f"s3://xstilts-test?endpoint_override={host}:{port}&scheme=http"
    server.stop()


@pytest.fixture(scope="session")
def calm_sweep(benchmark, tmp_path_factory) -> Path:
    """`killable_sweep` run once through the CLI, never interrupted: what the interrupted runs
    of test_resume and test_worker_failure must end as. Every tracker is on (test_tracking reads
    what each wrote), and the interrupted runs track nothing: tracking changes no number.
    Tests only read it."""
    import subprocess
    import sys

    import yaml
    from tiny_sweeps import TRACKING_ALL_ON, killable_sweep, wandb_env

    tmp = tmp_path_factory.mktemp("calm")
    spec = {**killable_sweep(benchmark), "tracking": TRACKING_ALL_ON}
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(tmp / "spec.yaml"), "--out", str(tmp / "out")],
        capture_output=True, text=True, timeout=900, env={**os.environ, **wandb_env(tmp)},
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return tmp / "out"

"""Shared fixtures: the synthetic benchmark (generated once per session) and offline settings."""

from __future__ import annotations

import os

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

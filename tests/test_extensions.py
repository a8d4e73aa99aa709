"""DeepSpeed's JIT-built ops stay built: every process of the environment builds them in one
place with one ninja, whatever PATH it was started with."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

from trainers.distributed import use_environment_extensions

SCRIPTS = sysconfig.get_path("scripts")


@pytest.fixture
def bare_environment(monkeypatch):
    """A process started without the environment's bin folder on PATH (`make`, a plain shell)."""
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", "/bin"]))
    monkeypatch.delenv("TORCH_EXTENSIONS_DIR", raising=False)


@pytest.mark.skipif(not (Path(SCRIPTS) / "ninja").is_file(), reason="no ninja in this environment")
def test_the_environments_own_ninja_builds_whatever_path_the_process_started_with(
    bare_environment,
):
    use_environment_extensions()
    assert shutil.which("ninja") == str(Path(SCRIPTS) / "ninja")
    assert os.environ["PATH"].split(os.pathsep) == [SCRIPTS, "/usr/bin", "/bin"]


def test_the_ops_are_built_inside_the_environment(bare_environment):
    use_environment_extensions()
    assert os.environ["TORCH_EXTENSIONS_DIR"] == str(Path(sys.prefix) / "torch_extensions")


def test_a_path_that_already_starts_with_the_environment_is_left_as_it_is(monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([SCRIPTS, "/usr/bin"]))
    use_environment_extensions()
    assert os.environ["PATH"] == os.pathsep.join([SCRIPTS, "/usr/bin"])

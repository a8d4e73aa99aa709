"""The few collective operations the loop needs, working with or without Ray Train.

Ray Train sets up the process group on its workers; a plain run gets a one-process group (gloo,
plus NCCL where torch sees a GPU) so the same DeepSpeed code path runs everywhere.
"""

from __future__ import annotations

import os
import socket
import sys
import sysconfig
import types
from pathlib import Path

import torch.distributed as dist


def use_environment_extensions() -> None:
    """Keep DeepSpeed's JIT-built ops (the CPU shared-memory comm op) inside this Python
    environment. Their build files name the environment's include paths, so a shared cache
    is rebuilt (about a minute on 2 cores) every time another environment uses it; `make
    install` prebuilds into the same place. A directory the user chose wins.

    The build runs the first `ninja` on PATH. Two ninja versions (the environment's pip one and
    the system's) hash commands differently, so each reads the other's build log as a changed
    command and rebuilds: the environment's own ninja goes first, whatever PATH the process
    was started with (an activated shell or not, a Ray worker, `make`)."""
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    scripts = sysconfig.get_path("scripts")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if (Path(scripts) / "ninja").is_file() and path[:1] != [scripts]:
        os.environ["PATH"] = os.pathsep.join([scripts, *(p for p in path if p != scripts)])


def import_deepspeed() -> types.ModuleType:
    """DeepSpeed, imported without MLflow.

    DeepSpeed's package import reaches its autotuner, which imports MLflow whenever it is
    installed (a sweep's `tracking:` extra), only to log autotuning experiments xstilts never
    runs: 1.5-2.2 s of CPU in every process that trains or exports a ZeRO checkpoint
    (measured with `-X importtime`). Hiding MLflow for that one import leaves the autotuner
    without it; anything that imports MLflow later gets the real package. Call it before
    anything that may import DeepSpeed first: `save_pretrained` does where accelerate is
    installed (its check for a wrapped engine)."""
    if "deepspeed" in sys.modules:
        return sys.modules["deepspeed"]
    hide = "mlflow" not in sys.modules
    if hide:
        sys.modules["mlflow"] = None  # `import mlflow` raises ImportError while this is set
    try:
        import deepspeed
    finally:
        if hide and sys.modules.get("mlflow", ...) is None:
            del sys.modules["mlflow"]
    return deepspeed


MUON = "deepspeed.runtime.zero.muon"


def without_deepspeed_muon() -> None:
    """Stand-ins for DeepSpeed's Muon modules, for engines over our own AdamW.

    DeepSpeed's ZeRO optimizers import its Muon modules at every gradient reduction, only to ask
    whether the optimizer is Muon and to skip its update when it is not. Importing them wraps
    Muon's kernels in `torch.compile`, which imports Inductor: 1.2-1.9 s of CPU in every training
    process (measured), before its first step. Our engines are always given a `torch.optim`
    optimizer, so the answer is always no: the stand-ins give it without the import. The real
    modules win where something imported them first."""
    for name, attribute in (
        ("muon_optimizer", "MuonWithAuxAdam"),
        ("original_muon", "muon_update"),
    ):
        sys.modules.setdefault(f"{MUON}.{name}", _muon_stand_in(name, attribute))


def _muon_stand_in(name: str, attribute: str) -> types.ModuleType:
    def unavailable(*args, **kwargs):
        raise RuntimeError(f"{MUON}.{name}.{attribute}: Muon is not used by xstilts' engines")

    module = types.ModuleType(f"{MUON}.{name}")
    # A class nothing is an instance of (the optimizer checks), or a function never called.
    stand_in = type(attribute, (), {"__init__": unavailable})
    setattr(module, attribute, stand_in if attribute[0].isupper() else unavailable)
    return module


def ensure_process_group(gpu: bool = False) -> None:
    """A process group, and DeepSpeed's accelerator for a run on the GPU (`gpu`) or the CPU.

    DeepSpeed picks CUDA whenever torch sees a GPU, so a CPU trial on a GPU machine (or a test
    suite mixing both) names its accelerator rather than inheriting the detected one."""
    use_environment_extensions()
    _use_accelerator(gpu)
    if dist.is_available() and dist.is_initialized():
        return
    import torch

    deepspeed = import_deepspeed()

    # A group of this process alone, whatever the environment says: variables inherited from
    # the process that started this one (a launcher's, or a test run's own one-process group)
    # name another group's rank and port. The store lives in this process, so no port is
    # opened; DeepSpeed still reads the variables.
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), RANK="0", LOCAL_RANK="0",
        WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
    )  # fmt: skip
    if gpu:
        torch.cuda.set_device(0)
    # One group serves every later run in this process, CPU or GPU: DeepSpeed caches groups
    # cloned from it, so it can never be replaced. gloo carries CPU tensors, NCCL CUDA ones.
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    deepspeed.init_distributed(dist_backend=backend, verbose=False)


def _use_accelerator(gpu: bool) -> None:
    import_deepspeed()
    from deepspeed.accelerator import get_accelerator, set_accelerator

    if get_accelerator().device_name() == ("cuda" if gpu else "cpu"):
        return
    if gpu:
        from deepspeed.accelerator.cuda_accelerator import CUDA_Accelerator as Accelerator
    else:
        from deepspeed.accelerator.cpu_accelerator import CPU_Accelerator as Accelerator
    set_accelerator(Accelerator())


def world() -> tuple[int, int]:
    return dist.get_rank(), dist.get_world_size()


def all_gather(obj) -> list:
    """Every rank's object, in rank order (a plain list in a one-process group)."""
    if dist.get_world_size() == 1:
        return [obj]
    parts: list = [None] * dist.get_world_size()
    dist.all_gather_object(parts, obj)
    return parts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

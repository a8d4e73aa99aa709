"""Where a sweep keeps what must outlive its cluster, and the copy of its directory kept there.

A sweep's storage is the spec's `storage_path` (`xstilts run --storage`), else
`$XSTILTS_STORAGE/<name>`, else none: everything stays in the output directory (`<out>/ray`
for Ray's checkpoints), as on one machine. With a storage URI:

    <storage>/train/<trial>/checkpoint_*   Ray Train's checkpoints (written by the workers)
    <storage>/<phase>/                     Ray Tune's experiment state
    <storage>/handoff/<phase>/<name>/      encoders handed from phase to phase (workers read them)
    <storage>/sweep/                       the output directory, mirrored: status.json,
                                           spec.yaml, results/, predictions/, report.md

The driver writes the output directory on its own disk as before; `Mirror` copies what changed
to `<storage>/sweep/` every `XSTILTS_SYNC_SECONDS` (default 30) and when the sweep ends, so a
new cluster (or a laptop) gets the sweep back with `pull`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from trainers import remote

STORAGE_ENV = "XSTILTS_STORAGE"
SYNC_ENV = "XSTILTS_SYNC_SECONDS"
MIRROR = "sweep"
# Not mirrored: Ray's own storage on one machine, and exported encoders (their shared copies
# are under <storage>/handoff already).
LOCAL_ONLY = ("ray", "handoff")


def sweep_storage(storage_path: str | None, name: str) -> str | None:
    """The sweep's storage: the spec's, or one under $XSTILTS_STORAGE; None without either."""
    if storage_path:
        return storage_path
    root = os.environ.get(STORAGE_ENV)
    return remote.join(root, name) if root else None


def mirror_uri(storage: str) -> str:
    return remote.join(storage, MIRROR)


def holds_sweep(storage: str) -> bool:
    """Whether a sweep has already written to `storage` (its mirrored status.json)."""
    return remote.exists(remote.join(mirror_uri(storage), "status.json"))


class Mirror:
    """Copies the output directory's new and changed files to `<storage>/sweep/`.

    Result parts are never rewritten, and status.json is replaced whole, so a file copied
    while the sweep runs is always a complete one; what a killed driver had not yet copied is
    rebuilt on resume from the checkpoints (`sweep.resume.backfill`)."""

    def __init__(self, out: Path, storage: str):
        self.out = Path(out)
        self.uri = mirror_uri(storage)
        self._sent: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def push(self) -> int:
        """Copy what changed since the last push; returns how many files were copied."""
        with self._lock:
            copied = 0
            for path in sorted(self._files()):
                name = path.relative_to(self.out).as_posix()
                stat = path.stat()
                stamp = (stat.st_size, stat.st_mtime_ns)
                if self._sent.get(name) == stamp:
                    continue
                remote.upload_file(path, remote.join(self.uri, name))
                self._sent[name] = stamp
                copied += 1
            return copied

    def start(self) -> None:
        """Push in the background until `stop`."""
        seconds = float(os.environ.get(SYNC_ENV, "30"))

        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    self.push()
                except OSError:  # storage briefly unreachable: the next push catches up
                    pass

        self._thread = threading.Thread(target=loop, name="xstilts-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background pushes and push once more."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.push()

    def _files(self):
        for path in self.out.rglob("*"):
            parts = path.relative_to(self.out).parts
            if parts[0] in LOCAL_ONLY or any(p.startswith(".") for p in parts):
                continue  # temporary files start with '.'
            if path.is_file():
                yield path


def push_dir(out: Path, storage: str, directory: Path) -> None:
    """A folder of the output directory (the report, written after the sweep) to its copy."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        remote.upload_file(path, remote.join(mirror_uri(storage), name))


def pull(storage: str, local: Path) -> Path:
    """Copy the sweep mirrored at `storage` into `local`; files already there are replaced."""
    uri = mirror_uri(storage)
    names = remote.files_under(uri)
    if "status.json" not in names:
        raise FileNotFoundError(f"{storage}: no sweep there (no {MIRROR}/status.json)")
    for name in names:
        if any(part.startswith(".") for part in name.split("/")):
            continue
        remote.download_file(remote.join(uri, name), Path(local) / name)
    return Path(local)

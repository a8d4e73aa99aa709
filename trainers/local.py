"""Running the loop without Ray: checkpoints kept in a local folder (tests, debugging)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path


class LocalReporter:
    """Keeps every reported checkpoint under `root/checkpoint_NNN` and the metrics in order."""

    def __init__(self, root: Path, resume_from: Path | None = None):
        self.root = Path(root)
        self.resume_from = resume_from
        self.history: list[dict] = []
        self.checkpoints: list[Path] = []

    def report(self, metrics: dict, checkpoint_dir: Path) -> None:
        target = self.root / f"checkpoint_{len(self.checkpoints):03d}"
        # Every rank of a group copies its own files into the one folder, as Train merges them.
        shutil.copytree(checkpoint_dir, target, dirs_exist_ok=True)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
        self.history.append(dict(metrics))
        self.checkpoints.append(target)

    def restore_dir(self):
        return contextlib.nullcontext(str(self.resume_from) if self.resume_from else None)

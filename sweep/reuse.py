"""Checkpoint reuse across sweeps: a key for every phase result, and an index of those trained.

A trial's key hashes everything that decides what it trains: its whole `TrainConfig` less the
paths that differ between sweeps, where it starts from (`source_key`), the bytes of every file it
reads (`data_fingerprint`) and the training code and library versions (`code_fingerprint`). A
sweep whose trial has a key already in the `ReuseIndex` takes that checkpoint instead of training.

A key that omitted an input would hand a sweep a checkpoint trained on something else, silently.
So the config is hashed by exclusion: a field added to `TrainConfig` later is in the key unless
someone removes it on purpose, and tests/test_reuse_keys.py changes every field in turn.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import time
import uuid
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import trainers
from trainers.config import MLM, MemberConfig, TrainConfig
from trainers.data.examples import DataError
from trainers.data.source import data_root, local_paths
from trainers.shards import default_cache, file_sha256
from trainers.tasks import get_task

TRAINERS = Path(trainers.__file__).parent
# Read each: none is imported by trainers.loop or trainers.ray_worker. They run on a finished
# checkpoint, so changing them must not force a retrain.
EVALUATION_ONLY = frozenset(
    {
        "evaluate.py",  # zero-shot evaluation of an exported model
        "eval_pipeline.py",  # streams evaluation shards through predictors
        "predictors.py",  # exported model + head, called on shard rows
        "submission.py",  # XTREME prediction-file formats, read back for scoring
        "prediction_files.py",  # writes those files
        "shards.py",  # tokenised evaluation inputs
        "local.py",  # a reporter that copies checkpoints; it trains nothing
    }
)
# The synthetic benchmark's generator writes data files; training sees only their bytes, which
# data_fingerprint checksums, so a generator change that writes the same bytes keeps the key.
GENERATORS = frozenset({"synth"})
LIBRARIES = ("torch", "transformers", "deepspeed", "tokenizers")
# Paths that differ between sweeps for the same inputs; the key holds what each points to.
PATH_FIELDS = (("init_from",), ("tokenizer",), ("data", "root"), ("data", "cache_dir"))
# kind -> (required fields, optional fields)
SOURCES = {
    "hub": ({"model"}, {"revision"}),
    "random": ({"tiny", "tokenizer", "seed"}, set()),
    "local": ({"directory"}, set()),
    "trained": ({"key"}, set()),
}
KEY = re.compile(r"[0-9a-f]{64}")
# A file changed again within the file system's timestamp granularity keeps its size and mtime;
# checksums of files this recent are computed but not remembered.
SETTLED_NS = 2_000_000_000


@functools.cache
def code_fingerprint() -> str:
    """The training code (trainers/, task registry included) and the libraries it runs on."""
    digest = hashlib.sha256()
    for path in _training_sources():
        digest.update(f"{path.relative_to(TRAINERS).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in LIBRARIES:
        digest.update(f"{name}={_version(name)}\0".encode())
    # Data order and mixture draws come from Python's `random` (shuffle, choices, sample).
    digest.update(f"python={platform.python_version()}".encode())
    return digest.hexdigest()


def _training_sources() -> list[Path]:
    def trains(path: Path) -> bool:
        relative = path.relative_to(TRAINERS)
        return relative.as_posix() not in EVALUATION_ONLY and relative.parts[0] not in GENERATORS

    return sorted(p for p in TRAINERS.rglob("*.py") if trains(p))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def data_fingerprint(train: TrainConfig) -> dict[str, str]:
    """Every input a trial reads -> its sha256 (files, by path under data.root) or its declared
    identity (hub datasets, a tokenizer id)."""
    root = data_root(train.data) if train.data.root else None
    files: dict[str, Path] = {}
    named: dict[str, str] = {}
    if train.mixture is not None:
        members = train.mixture.members
    else:
        members = () if train.task == MLM else (train.member(),)
    for member in members:
        _member_inputs(member, train, root, files, named)
    if train.task == MLM or (train.mixture is not None and train.mixture.mlm_weight):
        if train.mlm_hub is not None:
            named["mlm_hub"] = _digest(train.mlm_hub)
            named["hub:datasets"] = _version("datasets")
            if Path(train.mlm_hub.dataset).is_dir():
                named.update(_directory_files(Path(train.mlm_hub.dataset), "mlm_hub:"))
        else:
            for lang in train.mlm_languages:
                # As trainers.data.source.read_corpus resolves it.
                _add(files, _under(root, train.mlm_corpus.format(lang=lang), "mlm_corpus"), root)
    named.update(_tokenizer_fingerprint(train.tokenizer))
    sums = dict(zip(files, _checksums(files.values()), strict=True))
    return dict(sorted({**sums, **named}.items()))


def _member_inputs(member: MemberConfig, train: TrainConfig, root, files, named) -> None:
    task = get_task(member.task)
    lang = task.train_language
    splits = ("train", "dev") if member.translation is None else ("dev",)
    if member.translation is not None:
        # As trainers.data.source.load_translated resolves it (there is no path function).
        name = member.translation.train.format(lang=member.translation.language)
        _add(files, _under(root, name, f"translated data of {task.name}"), root)
    if train.data.source == "hub":
        for split in splits:
            sources = [hub for hub in task.hub_sources() if hub.serves(split, lang)]
            if not sources:
                raise DataError(f"task {task.name}: no Hugging Face source has {split} for {lang}")
            for hub in sources:
                names = hub.splits[split]
                for hub_split in (names,) if isinstance(names, str) else names:
                    # No revision is declared: the declaration is the dataset's identity.
                    where = f"hub:{hub.dataset}[{hub.config_for(lang)}:{hub_split}]"
                    named[where] = _digest(dataclasses.asdict(hub))
        named["hub:datasets"] = _version("datasets")
        return
    for split in splits:
        for path in local_paths(task, split, lang, root):
            _add(files, path, root)
    if task.label_file and not task.labels:  # read by trainers.data.source.resolve_labels
        _add(files, root / task.label_file, root)


def _under(root: Path | None, name: str, what: str) -> Path:
    path = Path(name)
    if path.is_absolute():
        return path
    if root is None:
        raise DataError(f"{what}: {name} is relative but there is no data root")
    return root / path


def _add(files: dict[str, Path], path: Path, root: Path | None) -> None:
    # Relative to the root, so the same data copied elsewhere keeps its key.
    relative = root is not None and path.is_relative_to(root)
    files[path.relative_to(root).as_posix() if relative else str(path)] = path


def _tokenizer_fingerprint(tokenizer: str) -> dict[str, str]:
    if Path(tokenizer).is_dir():
        return _directory_files(Path(tokenizer), "tokenizer:")
    return {"tokenizer": tokenizer}


def _directory_files(directory: Path, prefix: str = "") -> dict[str, str]:
    paths = sorted(p for p in directory.rglob("*") if p.is_file())
    if not paths:
        raise DataError(f"{directory}: no files")
    names = [prefix + p.relative_to(directory).as_posix() for p in paths]
    return dict(zip(names, _checksums(paths), strict=True))


def _checksums(paths: Iterable[Path]) -> list[str]:
    """sha256 of each file, remembered in the cache by (absolute path, size, mtime_ns)."""
    store = default_cache() / "checksums.json"
    cache = _read_json(store)
    cache = cache if isinstance(cache, dict) else {}
    sums, changed = [], False
    for path in paths:
        path = Path(os.path.abspath(path))
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = cache.get(str(path))
        if isinstance(entry, dict) and entry.get("stamp") == stamp and "sha256" in entry:
            sums.append(entry["sha256"])
            continue
        sums.append(file_sha256(path))
        if time.time_ns() - stat.st_mtime_ns > SETTLED_NS:
            cache[str(path)] = {"stamp": stamp, "sha256": sums[-1]}
            changed = True
    if changed:
        _write_json(store, cache)
    return sums


def source_key(kind: str, **fields) -> str:
    """Where a trial starts from: a hub model (model, revision), a random tiny encoder (tiny,
    tokenizer id or directory, seed), a local directory (its files' bytes), or a phase result
    (`key`, the trial or group key that produced it)."""
    if kind not in SOURCES:
        raise ValueError(f"source kind must be one of {sorted(SOURCES)}, not {kind!r}")
    required, optional = SOURCES[kind]
    missing, unknown = required - fields.keys(), fields.keys() - required - optional
    if missing or unknown:
        raise ValueError(f"source {kind}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    fields = {**dict.fromkeys(optional), **fields}  # an omitted revision is revision=None
    if kind == "local":
        fields = {"files": _directory_files(Path(fields["directory"]))}
    elif kind == "random":
        fields = {**fields, "tokenizer": _tokenizer_fingerprint(fields["tokenizer"])}
    elif kind == "trained" and not KEY.fullmatch(fields["key"]):
        raise ValueError(f"source trained: {fields['key']!r} is not a reuse key")
    return _digest({"kind": kind, **fields})


def trial_key(train: TrainConfig, init_key: str) -> str:
    """The key of one trial's result; `init_key` is the `source_key` of its init_from."""
    if not KEY.fullmatch(init_key):  # init_from itself is a path that differs between sweeps
        raise ValueError(f"init_key {init_key!r} is not a reuse key: pass source_key(...)")
    config = train.model_dump(mode="json")
    for *parents, leaf in PATH_FIELDS:
        node = config
        for name in parents:
            node = node[name]
        del node[leaf]
    return _digest(
        {
            "config": config,
            "start": init_key,
            "data": data_fingerprint(train),
            "code": code_fingerprint(),
        }
    )


def group_key(trial_keys: Iterable[str], selection: dict) -> str:
    """The key of the best of a group of trials under a selection rule (metric, mode, ASHA)."""
    keys = sorted(trial_keys)
    if not keys:
        raise ValueError("a group needs at least one trial key")
    return _digest({"trials": keys, "selection": selection})


def _digest(value) -> str:
    def plain(obj):  # pydantic models (a TinyEncoder passed to source_key, a HubCorpus)
        if hasattr(obj, "model_dump"):
            return obj.model_dump(mode="json")
        raise TypeError(f"cannot key a {type(obj).__name__}")

    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=plain)
    return hashlib.sha256(text.encode()).hexdigest()


class ReuseIndex:
    """Phase results by key, one JSON record per key under `root`."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_cache() / "reuse"

    def _path(self, key: str) -> Path:
        if not KEY.fullmatch(key):  # keys name files: never a path of the caller's
            raise ValueError(f"{key!r} is not a reuse key (64 hex digits)")
        return self.root / key[:2] / f"{key}.json"

    def register(self, key: str, record: dict) -> None:
        _write_json(self._path(key), {"key": key, "record": record})

    def lookup(self, key: str) -> dict | None:
        stored = _read_json(self._path(key))
        # A record copied under another key's name is as good as none.
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        record = stored.get("record")
        return record if isinstance(record, dict) else None


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value) -> None:
    """Written whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(value, sort_keys=True))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

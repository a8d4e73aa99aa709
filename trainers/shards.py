"""Evaluation shards: what one evaluation reads, tokenised once into Parquet and reused.

Two kinds of shard set share this code:
- a task's features for one (task, split, language), what a head predicts on;
- a list of texts to embed (a side of a retrieval set), keyed by its content, so that a candidate
  pool shared by every language (LAReQA, Mewsli-X) is tokenised and stored once.

A set lives in `<cache>/<kind>/<name>-<key>/`. The key hashes everything that changes the tokens:
the tokenizer's full definition and the library versions, the format and its version, the task's
reader and labels, the windows that cut inputs, and the source files' bytes (or the texts). A set
is written in a temporary folder and renamed into place whole; its manifest records the key and
every file's row count and checksum. `verify` refuses a set whose manifest has another key, a
missing file or a file whose checksum differs, naming the file: a stale or damaged cache is never
read as if it were current.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trainers.data.examples import DataError

MANIFEST = "manifest.json"
ROWS_PER_FILE = 2048  # several files per language, so a pipeline has blocks to spread
# Bump a format's version when its `featurize` changes what it writes: old sets get a new key.
FORMAT_VERSIONS = {
    "classification": 1,
    "tagging": 1,
    "multiple_choice": 1,
    "span_qa": 1,
    "span_qa_v2": 1,
    "span_qa_mlqa": 1,
    "texts": 1,
}


def default_cache() -> Path:
    """Where generated benchmarks and evaluation shards are kept across sweeps."""
    return Path(os.environ.get("XSTILTS_CACHE", Path.home() / ".cache" / "xstilts"))


@dataclass(frozen=True)
class ShardSet:
    """A prepared set: its folder, key, files in order, and rows in all."""

    directory: Path
    key: str
    files: tuple[Path, ...]
    rows: int

    def verify(self) -> None:
        """Raise `DataError` naming the first file that is missing, damaged or from another key."""
        manifest = self.directory / MANIFEST
        try:
            recorded = json.loads(manifest.read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"{manifest}: unreadable shard manifest ({err})") from None
        if recorded.get("key") != self.key:
            raise DataError(f"{manifest}: shards of key {recorded.get('key')}, not {self.key}")
        for entry in recorded["files"]:
            path = self.directory / entry["name"]
            if not path.is_file():
                raise DataError(f"{path}: evaluation shard missing")
            if file_sha256(path) != entry["sha256"]:
                raise DataError(f"{path}: evaluation shard corrupt (checksum differs)")


def tokenizer_identity(tokenizer) -> dict:
    """What defines a tokenizer's output: its class, its whole definition (vocabulary,
    normaliser, added tokens) and the versions of the libraries that run it."""
    import tokenizers
    import transformers

    backend = getattr(tokenizer, "backend_tokenizer", None)
    definition = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab())
    return {
        "class": type(tokenizer).__name__,
        "definition": hashlib.sha256(definition.encode()).hexdigest(),
        "special_ids": sorted(tokenizer.all_special_ids),
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def files_digest(paths) -> str:
    """One checksum over the bytes of `paths`, in order (a source's files)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def content_digest(value) -> str:
    """A checksum of in-memory data with a stable repr (examples loaded from the hub, texts)."""
    return hashlib.sha256(repr(value).encode()).hexdigest()


def shard_key(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def prepare(cache: Path, kind: str, name: str, inputs: dict, make_rows) -> ShardSet:
    """The shard set for `inputs`, built with `make_rows()` (a list of row dicts, in the order
    rows are numbered) unless a complete set of the same key is already there."""
    key = shard_key(inputs)
    final = Path(cache) / kind / f"{name}-{key}"
    if not (final / MANIFEST).is_file():
        _build(final, key, inputs, make_rows())
    return load(final, key)


def load(directory: Path, key: str) -> ShardSet:
    manifest = directory / MANIFEST
    try:
        recorded = json.loads(manifest.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{manifest}: unreadable shard manifest ({err})") from None
    files = tuple(directory / entry["name"] for entry in recorded["files"])
    return ShardSet(directory, key, files, sum(entry["rows"] for entry in recorded["files"]))


def read_rows(shard_set: ShardSet) -> list[dict]:
    """Every row of a set, in row order (the order `make_rows` gave them)."""
    rows = [row for path in shard_set.files for row in pq.read_table(path).to_pylist()]
    rows.sort(key=lambda row: row["row"])
    return rows


def _build(final: Path, key: str, inputs: dict, rows: list[dict]) -> None:
    # Shorter inputs first: neighbouring rows share a batch, and similar lengths pad little.
    order = sorted(range(len(rows)), key=lambda i: _n_tokens(rows[i]["input_ids"]))
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        files = []
        for n, begin in enumerate(range(0, max(len(order), 1), ROWS_PER_FILE)):
            part = [
                {"set": key, "row": i, **{k: _plain(v) for k, v in rows[i].items()}}
                for i in order[begin : begin + ROWS_PER_FILE]
            ]
            if not part:
                continue
            path = tmp / f"part-{n:05d}.parquet"
            pq.write_table(pa.Table.from_pylist(part), path)
            files.append({"name": path.name, "rows": len(part), "sha256": file_sha256(path)})
        manifest = {"key": key, "inputs": inputs, "rows": len(rows), "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        try:
            os.rename(tmp, final)
        except OSError:
            # A concurrent preparer of the same key won the race: its set is as good as ours.
            if not (final / MANIFEST).is_file():
                raise DataError(f"{final}: a shard folder without a manifest; delete it") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _n_tokens(ids) -> int:
    return sum(len(x) for x in ids) if ids and isinstance(ids[0], list) else len(ids)


def _plain(value):
    """Parquet takes lists, not numpy arrays (span QA keeps its offsets as an array)."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def file_sha256(path: Path) -> str:
    """sha256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

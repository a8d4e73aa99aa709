"""Directories on shared storage (s3://, gs://, file://, any URI pyarrow resolves).

On a cloud cluster the nodes share no disk: checkpoints, hand-offs and the results store live
at a storage URI. Whatever reads a model or a checkpoint calls `local_dir` first, which returns a
plain path unchanged and copies a URI's directory once per node into the cache, so every reader
keeps working on local files. Query parameters of a URI (`?endpoint_override=...`) belong to the
file system, not the path, and `join` keeps them at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs


def is_uri(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def join(base: str, *parts: str) -> str:
    """`base` / parts, for a URI or a plain path; a URI's query string stays at the end."""
    if not is_uri(base):
        return str(Path(base, *parts))
    head, sep, query = str(base).partition("?")
    tail = "/".join(p.strip("/") for p in parts if p)
    return head.rstrip("/") + ("/" + tail if tail else "") + sep + query


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The file system of `uri` and the path on it."""
    return pafs.FileSystem.from_uri(uri)


def exists(uri: str) -> bool:
    if not is_uri(uri):
        return Path(uri).exists()
    fs, path = resolve(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def read_text(uri: str) -> str:
    if not is_uri(uri):
        return Path(uri).read_text()
    fs, path = resolve(uri)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def files_under(uri: str) -> list[str]:
    """Relative paths of every file under the directory `uri` (none if it is missing)."""
    fs, root = _fs_and_path(uri)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    return sorted(
        Path(info.path).relative_to(root).as_posix()
        for info in infos
        if info.type == pafs.FileType.File
    )


def local_dir(path: str, cache: Path | None = None) -> str:
    """A local directory with the contents of `path`: itself when it is local, else a copy kept
    under the node's cache, downloaded once. The copy is named by the URI and its listing (each
    file's name, size and time), so a directory published again under the same name (a sweep
    rerun into emptied storage) is fetched again rather than read stale. Copied beside its final
    name and renamed into place, so a reader never sees half a directory, and two workers of one
    node fetching at once both end with a whole copy."""
    if not is_uri(path):
        return str(path)
    from trainers.shards import default_cache

    fs, src = resolve(path)
    if fs.get_file_info(src).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"{path}: no such directory on storage")
    listing = sorted(
        (info.path, info.size, info.mtime_ns)
        for info in fs.get_file_info(pafs.FileSelector(src, recursive=True))
        if info.type == pafs.FileType.File
    )
    identity = json.dumps([str(path), listing]).encode()
    root = Path(cache or default_cache()) / "remote"
    final = root / hashlib.sha256(identity).hexdigest()[:24]
    if final.is_dir():
        return str(final)
    tmp = root / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    try:
        _copy_dir(fs, src, tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another worker of this node finished first: its copy is as good
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(final)


def publish(local: Path, uri: str) -> str:
    """Copy the local directory `local` to `uri` (a file `source.json`, if any, last: a reader
    that finds it finds the whole directory); returns `uri`."""
    fs, dest = _fs_and_path(uri)
    fs.create_dir(dest, recursive=True)
    names = sorted(p.relative_to(local).as_posix() for p in Path(local).rglob("*") if p.is_file())
    names.sort(key=lambda n: n == "source.json")
    for name in names:
        upload_file(Path(local) / name, join(uri, name))
    return uri


def upload_file(local: Path, uri: str) -> None:
    """One file to `uri`, written whole or not at all: object stores write atomically; on a
    file system it is written beside its name and moved into place."""
    fs, dest = _fs_and_path(uri)
    parent = dest.rpartition("/")[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    atomic = isinstance(fs, pafs.LocalFileSystem)
    target = f"{parent}/.{dest.rpartition('/')[2]}.{uuid.uuid4().hex[:8]}.tmp" if atomic else dest
    with open(local, "rb") as src, fs.open_output_stream(target) as out:
        shutil.copyfileobj(src, out, length=1 << 22)
    if atomic:
        fs.move(target, dest)


def download_file(uri: str, local: Path) -> None:
    fs, src = _fs_and_path(uri)
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}.tmp")
    with fs.open_input_stream(src) as stream, open(tmp, "wb") as out:
        shutil.copyfileobj(stream, out, length=1 << 22)
    os.replace(tmp, local)


def delete_dir(uri: str) -> None:
    if not is_uri(uri):
        shutil.rmtree(uri, ignore_errors=True)
        return
    fs, path = resolve(uri)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def _copy_dir(fs: pafs.FileSystem, src: str, dest: Path) -> None:
    pafs.copy_files(src, str(dest), source_filesystem=fs, destination_filesystem=_local())


def _fs_and_path(uri: str) -> tuple[pafs.FileSystem, str]:
    if is_uri(uri):
        return resolve(uri)
    return _local(), str(Path(uri).resolve())


def _local() -> pafs.LocalFileSystem:
    return pafs.LocalFileSystem()


@contextmanager
def fetched(path: str) -> Iterator[Path]:
    """`path` as a local directory for the duration of the block. A URI's contents are copied
    to a scratch directory under the cache and deleted afterwards: a checkpoint (weights and
    optimizer states, gigabytes at full size) is read once, to export it, and not kept."""
    if not is_uri(path):
        yield Path(path)
        return
    from trainers.shards import default_cache

    root = default_cache() / "remote"
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        fs, src = resolve(path)
        if fs.get_file_info(src).type != pafs.FileType.Directory:
            raise FileNotFoundError(f"{path}: no such directory on storage")
        _copy_dir(fs, src, scratch)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

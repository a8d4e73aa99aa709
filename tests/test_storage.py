"""Shared storage: directories on a URI (here an S3 endpoint on this machine, and file://), the
copy of a sweep's output directory kept there, and the CLI that gets a sweep back from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sweep.cli import main
from sweep.progress import checkpoint_uri, set_phase
from sweep.spec import SpecError, load_spec
from sweep.storage import Mirror, holds_sweep, pull, sweep_storage
from sweep.store import write_rows
from trainers import remote


def a_directory(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "weights.bin").write_bytes(b"\0" * 1000)
    (root / "source.json").write_text('{"checkpoint": "c1"}')
    return root


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_join_keeps_a_uris_query_at_the_end_and_joins_plain_paths_as_paths():
    uri = "s3://bucket/sweeps?endpoint_override=host:9000&scheme=http"
    assert remote.join(uri, "train", "t1") == (
        "s3://bucket/sweeps/train/t1?endpoint_override=host:9000&scheme=http"
    )
    assert remote.join("gs://b/x/", "/handoff/") == "gs://b/x/handoff"
    assert remote.join("/tmp/out", "ray") == "/tmp/out/ray"


def test_a_published_directory_comes_back_whole_from_s3(s3_storage, tmp_path):
    local = a_directory(tmp_path / "export")
    uri = remote.publish(local, remote.join(s3_storage, "t-publish", "handoff", "mnli"))
    assert remote.files_under(uri) == ["source.json", "sub/weights.bin"]
    assert json.loads(remote.read_text(remote.join(uri, "source.json"))) == {"checkpoint": "c1"}
    copy = Path(remote.local_dir(uri, cache=tmp_path / "node"))
    assert files(copy) == files(local)


def test_a_node_fetches_a_directory_once_and_again_only_when_it_changed(s3_storage, tmp_path):
    uri = remote.publish(a_directory(tmp_path / "a"), remote.join(s3_storage, "t-once", "d"))
    first = remote.local_dir(uri, cache=tmp_path / "node")
    assert remote.local_dir(uri, cache=tmp_path / "node") == first
    # Published again under the same name (a rerun into emptied storage): not read stale.
    (tmp_path / "extra.txt").write_text("new")
    remote.upload_file(tmp_path / "extra.txt", remote.join(uri, "extra.txt"))
    second = remote.local_dir(uri, cache=tmp_path / "node")
    assert second != first and (Path(second) / "extra.txt").read_text() == "new"
    assert not [p for p in (tmp_path / "node" / "remote").iterdir() if p.name.startswith(".")]


def test_a_local_path_is_read_in_place():
    assert remote.local_dir("/data/handoff/mnli") == "/data/handoff/mnli"
    assert remote.local_dir("xlm-roberta-large") == "xlm-roberta-large"  # a hub id


def test_a_checkpoint_fetched_for_an_export_is_deleted_after_it(s3_storage, tmp_path, monkeypatch):
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    uri = remote.publish(a_directory(tmp_path / "ckpt"), remote.join(s3_storage, "t-fetch", "c"))
    with remote.fetched(uri) as copy:
        assert (copy / "sub" / "weights.bin").stat().st_size == 1000
    assert not copy.exists()
    with pytest.raises(FileNotFoundError, match="no such directory on storage"):
        with remote.fetched(remote.join(s3_storage, "t-fetch", "missing")):
            pass


def sweep_dir(out: Path) -> Path:
    """An output directory as a running sweep leaves it, with what must not be mirrored."""
    out.mkdir(parents=True)
    set_phase(out, "intermediate", "running", trials=1)
    (out / "spec.yaml").write_text("name: s\n")
    write_rows(out, [results_row()], label="intermediate-t1-r1")
    (out / "ray").mkdir()
    (out / "ray" / "big.bin").write_bytes(b"\0" * 10)
    (out / "handoff" / "mnli").mkdir(parents=True)
    (out / "handoff" / "mnli" / "model.safetensors").write_bytes(b"\0" * 10)
    (out / "results" / ".part.parquet.tmp").write_bytes(b"half")
    return out


def results_row() -> dict:
    return {
        "sweep": "s", "phase": "intermediate", "trial_id": "t1", "config_id": "c",
        "intermediate": "mnli", "target": "", "task": "mnli", "language": "en", "split": "dev",
        "metric": "accuracy", "value": 0.5, "n_examples": 10, "round": 1, "step": 3,
        "learning_rate": 1e-5, "hparams": "{}", "seed": 0, "checkpoint_path": "",
        "wall_seconds": 1.0,
    }  # fmt: skip


def test_the_mirror_copies_the_sweep_but_not_rays_files_hand_offs_or_temporary_files(
    s3_storage, tmp_path
):
    out = sweep_dir(tmp_path / "out")
    storage = remote.join(s3_storage, "t-mirror")
    mirror = Mirror(out, storage)
    assert mirror.push() == 3  # status.json, spec.yaml, one result part
    names = remote.files_under(mirror.uri)
    assert "status.json" in names and "spec.yaml" in names
    assert not [n for n in names if n.startswith(("ray/", "handoff/")) or "/." in n]
    assert mirror.push() == 0  # nothing changed
    set_phase(out, "intermediate", "done", trials=1)
    assert mirror.push() == 1  # status.json only
    assert holds_sweep(storage)
    back = pull(storage, tmp_path / "back")
    assert json.loads((back / "status.json").read_text())["phases"]["intermediate"]["state"] == (
        "done"
    )
    assert files(back / "results") == {
        k: v for k, v in files(out / "results").items() if not k.startswith(".")
    }


def test_pulling_from_storage_without_a_sweep_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep there"):
        pull((tmp_path / "empty").as_uri(), tmp_path / "back")


def test_the_storage_is_the_specs_else_one_under_xstilts_storage_else_none(monkeypatch):
    monkeypatch.delenv("XSTILTS_STORAGE", raising=False)
    assert sweep_storage(None, "paper") is None
    monkeypatch.setenv("XSTILTS_STORAGE", "s3://bucket/xstilts")
    assert sweep_storage(None, "paper") == "s3://bucket/xstilts/paper"
    assert sweep_storage("gs://other/p1", "paper") == "gs://other/p1"


def test_a_checkpoint_reported_without_its_scheme_is_stored_as_a_full_uri():
    plan = {"train_storage": "s3://b/s/train?endpoint_override=h:1", "trial_id": "int-mnli-s0"}
    reported = "b/s/train/int-mnli-s0/checkpoint_000002"  # as Ray reports it
    assert checkpoint_uri(plan, reported) == (
        "s3://b/s/train/int-mnli-s0/checkpoint_000002?endpoint_override=h:1"
    )
    local = {"train_storage": "/tmp/out/ray/train", "trial_id": "t"}
    assert checkpoint_uri(local, "/tmp/out/ray/train/t/checkpoint_000001") == (
        "/tmp/out/ray/train/t/checkpoint_000001"
    )
    assert checkpoint_uri(plan, None) == ""


def test_set_overrides_a_spec_key_before_it_is_validated():
    spec = load_spec("xstilts-paper", ["data.root=/mnt/xtreme", "seeds=[7]"])
    assert spec.data.root == "/mnt/xtreme" and spec.seeds == (7,)
    with pytest.raises(SpecError, match=r"xstilts-paper.yaml: seeds.0: .*integer"):
        load_spec("xstilts-paper", ["seeds=[seven]"])
    with pytest.raises(SpecError, match=r"--set data.root: expected KEY=VALUE"):
        load_spec("xstilts-paper", ["data.root"])
    with pytest.raises(SpecError, match=r"--set name.x=1: name is not a mapping"):
        load_spec("xstilts-paper", ["name.x=1"])
    with pytest.raises(SpecError, match=r"data.rooot: unknown key"):
        load_spec("xstilts-paper", ["data.rooot=/x"])


def test_run_refuses_storage_that_holds_a_sweep_and_writes_nothing(tmp_path, capsys):
    storage = tmp_path / "bucket" / "demo"
    sweep_dir(tmp_path / "earlier")
    Mirror(tmp_path / "earlier", str(storage)).push()
    out = tmp_path / "new"
    assert main(["run", "demo", "--out", str(out), "--storage", str(storage)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"xstilts: --storage: {storage} already holds a sweep; continue it with `xstilts resume "
        f"{storage}`, or choose another storage"
    ]
    assert not out.exists()


def test_status_and_report_read_a_sweep_from_its_storage_uri(tmp_path, capsys):
    storage = (tmp_path / "bucket").as_uri() + "/s"
    Mirror(sweep_dir(tmp_path / "head"), storage).push()
    assert main(["status", storage, "--out", str(tmp_path / "here")]) == 0
    assert "phase intermediate: running" in capsys.readouterr().out
    assert main(["report", storage, "--out", str(tmp_path / "here")]) == 0
    assert (tmp_path / "here" / "report" / "report.md").is_file()


def test_a_uri_without_a_sweep_is_a_usage_error(tmp_path, capsys):
    assert main(["status", (tmp_path / "nothing").as_uri()]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("xstilts: file://") and "no sweep there" in line
    assert main(["status", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "--out: only with a storage URI" in capsys.readouterr().err


def test_a_data_root_on_storage_is_read_from_this_nodes_copy(s3_storage, tmp_path, monkeypatch):
    """`data.root: s3://bucket/xtreme`: every node fetches the root once and reads it locally,
    labels read from the data (CCG's supertags) included."""
    from trainers.config import DataConfig
    from trainers.data.source import load_examples, resolve_labels
    from trainers.tasks import get_task

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    fixtures = Path(__file__).parent / "fixtures"
    root = remote.join(s3_storage, "t-data", "xtreme")
    remote.publish(fixtures / "xtreme" / "pawsx", remote.join(root, "pawsx"))
    remote.publish(fixtures / "intermediate" / "ccg", remote.join(root, "ccg"))
    on_storage, on_disk = (
        DataConfig(source="local", root=where) for where in (root, str(fixtures / "xtreme"))
    )
    task = get_task("pawsx")
    assert load_examples(task, "test", "de", on_storage) == load_examples(
        task, "test", "de", on_disk
    )
    ccg = resolve_labels(get_task("ccg"), on_storage)
    assert ccg.labels == tuple((fixtures / "intermediate/ccg/tags.txt").read_text().split())

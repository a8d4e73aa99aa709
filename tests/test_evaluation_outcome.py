"""What the sweep driver does with an evaluation's outcome: a language that could not be evaluated
marks the trial incomplete (in status.json, `xstilts status` and the report), an evaluation that
failed as a whole marks it failed, and neither stops the sweep."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import pytest

from analysis.report import write_report
from sweep import store
from sweep.cli import main as cli
from sweep.evaluation import _record
from sweep.progress import read_status, set_phase, update_trial

pytestmark = pytest.mark.ray

TRIAL = {"phase": "target", "task": "synth_xnli", "intermediate": "none", "target": "synth_xnli",
         "config_id": "c", "seed": 0, "rounds": 1}  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def context(tmp_path):
    lines = []
    return SimpleNamespace(out=tmp_path, echo=lines.append, lines=lines)


def row(lang: str) -> dict:
    return {"language": lang, "metric": "accuracy", "value": 0.5, "n_examples": 10}


def test_a_language_that_failed_marks_the_trial_incomplete_and_keeps_the_others(tmp_path):
    import ray

    ctx = context(tmp_path)
    set_phase(tmp_path, "target", "done")
    update_trial(tmp_path, "t1", TRIAL, state="done")
    why = "/cache/features/synth_xnli/test-qab-k/part-00000.parquet: evaluation shard corrupt"
    examples = {"language": ["en", "qaa"], "metric": ["accuracy"] * 2, "example": [0, 0],
                "numerator": [1.0, 0.0], "denominator": [1.0, 1.0]}  # fmt: skip
    ref = ray.put({"rows": [row("en"), row("qaa")], "errors": {"qab": why}, "examples": examples})
    rows, kept, complete = _record(ctx, ref, "t1", "synth_xnli", {})
    assert [r["language"] for r in rows] == ["en", "qaa"] and not complete
    assert kept == examples  # the languages evaluated keep their per-example scores
    trial = read_status(tmp_path)["trials"]["t1"]
    assert trial["zero_shot"] == "incomplete" and trial["zero_shot_errors"] == {"qab": why}
    assert any(line.startswith("[zero_shot] INCOMPLETE t1: qab") for line in ctx.lines)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(["status", str(tmp_path)]) == 0
    assert (
        "zero-shot incomplete" in out.getvalue() and f"qab not evaluated: {why}" in out.getvalue()
    )


def test_an_evaluation_that_failed_as_a_whole_marks_the_trial_failed_and_returns(tmp_path):
    import ray

    @ray.remote(num_cpus=0.1)
    def broken():
        raise RuntimeError("heads.pt: head was trained for 'a', not 'b'")

    ctx = context(tmp_path)
    update_trial(tmp_path, "t2", TRIAL, state="done")
    rows, examples, complete = _record(ctx, broken.remote(), "t2", "synth_xnli", {})
    assert rows == [] and examples == {} and not complete
    trial = read_status(tmp_path)["trials"]["t2"]
    assert trial["zero_shot"] == "failed" and "head was trained for" in trial["zero_shot_error"]


def test_a_complete_evaluation_says_so(tmp_path):
    import ray

    ctx = context(tmp_path)
    update_trial(tmp_path, "t3", TRIAL, state="done")
    rows, _, complete = _record(ctx, ray.put({"rows": [row("en")], "errors": {}}), "t3", "x", {})
    assert complete and read_status(tmp_path)["trials"]["t3"]["zero_shot"] == "complete"


def test_the_report_names_every_language_left_out(tmp_path):
    update_trial(tmp_path, "t1", TRIAL, state="done", zero_shot="incomplete",
                 zero_shot_errors={"qab": "f.parquet: evaluation shard missing"})  # fmt: skip
    store.write_rows(tmp_path, [_store_row()], label="zero_shot-t1")
    report = write_report(tmp_path).read_text()
    assert (
        "INCOMPLETE: `t1` was not evaluated in qab: f.parquet: evaluation shard missing" in report
    )
    json.loads((tmp_path / "status.json").read_text())  # still whole


def _store_row() -> dict:
    return {
        "sweep": "s", "phase": "zero_shot", "trial_id": "t1", "config_id": "c",
        "intermediate": "none", "target": "synth_xnli", "task": "synth_xnli", "language": "en",
        "split": "test", "metric": "accuracy", "value": 0.5, "n_examples": 10, "round": 1,
        "step": -1, "learning_rate": 1e-3, "hparams": "{}", "seed": 0, "checkpoint_path": "",
        "wall_seconds": 1.0,
    }  # fmt: skip

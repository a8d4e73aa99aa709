"""End to end through the real CLI on a local Ray cluster: a small sweep on the synthetic benchmark
runs every phase, ASHA stops a trial, checkpoints and the results store are complete, the
report is written, and `status` tells the trial states."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sweep import store

pytestmark = [pytest.mark.slow, pytest.mark.ray]
ROOT = Path(__file__).resolve().parents[1]

LR_GOOD, LR_USELESS, LR_GOOD_TOO = 3.0e-4, 1.0e-9, 1.0e-3
STARTS = ("none", "synth_mnli", "mix")


def e2e_spec(benchmark: Path) -> dict:
    tiny = {
        "architecture": "xlm-roberta",
        "hidden_size": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 64,
        "max_positions": 64,
    }
    return {
        "name": "e2e",
        "model": {"name": "tiny-xlmr", "tokenizer": "synthetic", "tiny": tiny},
        "data": {"source": "synthetic", "root": str(benchmark)},
        "phases": {
            "pretrain": {
                "enabled": True,
                "languages": ["en", "qaa", "qab", "qac"],
                "optim": {
                    "learning_rate": 1e-3,
                    "batch_size": 32,
                    "epochs": 0.5,
                    "rounds": 1,
                    "max_length": 48,
                },
            },
            "intermediate": {
                # A single task, and a mixture with translated data and continued MLM.
                "tasks": ["none", "synth_mnli", "mix"],
                "mixtures": {
                    "mix": {
                        "tasks": ["synth_hellaswag", "synth_mnli@qaa"],
                        "sampler": {"kind": "temperature", "temperature": 2},
                        "mlm": {"weight": 0.2, "languages": ["en", "qaa"]},
                    }
                },
                "optim": {
                    "learning_rate": 3e-4,
                    "batch_size": 32,
                    "epochs": 1,
                    "rounds": 1,
                    "max_length": 48,
                    "max_train_examples": 320,
                },
            },
            # The middle grid point cannot learn, the others can. ASHA stops trials behind those
            # that reached a rung before them; the sweep starts a grid in a fixed pseudo-random
            # order, so which trials it stops depends on the trial ids, but it stops some.
            "target": {
                "tasks": ["synth_udpos", "synth_tatoeba"],
                "search": {"learning_rate": [LR_GOOD, LR_USELESS, LR_GOOD_TOO]},
                "optim": {
                    "batch_size": 32,
                    "epochs": 10,
                    "rounds": 2,
                    "max_length": 48,
                    "max_train_examples": 320,
                },
            },
        },
        "resources": {
            "workers": 1,
            "cpus_per_worker": 0.9,
            "driver_cpus": 0.01,
            "max_concurrent_trials": 1,
            # Each evaluation runs the model in its own task, as the other tiny sweeps do (its
            # actors' start-up cost this sweep 46 s); test_cluster_sweep runs Ray Data's pipeline.
            "eval_actors": 0,
            "eval_cpus": 0.9,
        },
        "asha": {"grace_period": 1, "reduction_factor": 2},
        "seeds": [0],
    }


def cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sweep.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def sweep_dir(benchmark, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    spec = root / "e2e.yaml"
    spec.write_text(yaml.safe_dump(e2e_spec(benchmark)))
    out = root / "out"
    result = cli("run", str(spec), "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


def test_the_results_table_has_the_documented_columns_and_every_phase(sweep_dir):
    out, _ = sweep_dir
    frame = pd.read_parquet(out / "results")
    assert tuple(frame.columns) == store.COLUMNS
    assert set(frame.phase) == {"pretrain", "similarity", "intermediate", "target", "zero_shot"}


def test_each_intermediate_entry_is_compared_with_each_target_under_the_starting_encoder(
    sweep_dir,
):
    out, stdout = sweep_dir
    frame = pd.read_parquet(out / "results")
    rows = frame[frame.phase == "similarity"]
    assert sorted(zip(rows.intermediate, rows.target, strict=True)) == [
        (inter, target)
        for inter in ("mix", "synth_mnli")
        for target in ("synth_tatoeba", "synth_udpos")
    ]  # `none` has no data to compare
    assert set(rows.metric) == {"cosine"} and ((rows.value >= -1) & (rows.value <= 1)).all()
    assert set(rows.checkpoint_path) == {str(out / "handoff" / "pretrain")}
    assert "[similarity] 4 pair(s) of 2 intermediate(s) x 2 target(s)" in stdout


def test_zero_shot_rows_cover_every_language_of_every_finished_target_trial(sweep_dir):
    out, _ = sweep_dir
    frame = pd.read_parquet(out / "results")
    status = json.loads((out / "status.json").read_text())["trials"]
    done = {t for t, s in status.items() if s["phase"] == "target" and s["state"] == "done"}
    zero = frame[(frame.phase == "zero_shot") & (frame.target == "synth_udpos")]
    assert set(zero.trial_id) == done
    assert len(zero) == len(done) * 4 * 2  # four languages, two metrics (f1, token accuracy)
    assert set(zero.language) == {"en", "qaa", "qab", "qac"}
    assert (zero.n_examples > 0).all()
    dev = frame[(frame.phase == "target") & (frame.metric == "f1")]
    # Per start: every trial's round 1, and round 2 of at least one (ASHA may stop the weaker
    # learning trial too, when the better one reached the rung first).
    assert 3 * (3 + 1) <= len(dev) <= 3 * 3 * 2


def test_the_retrieval_target_is_evaluated_on_each_start_without_training(sweep_dir):
    out, stdout = sweep_dir
    frame = pd.read_parquet(out / "results")
    # Its similarity rows (measured before any training) aside, it has evaluations only.
    rows = frame[(frame.target == "synth_tatoeba") & (frame.phase != "similarity")]
    assert set(rows.phase) == {"zero_shot"}
    assert set(zero_row_keys(rows)) == {
        (inter, lang) for inter in STARTS for lang in ("qaa", "qab", "qac")
    }
    assert set(rows.metric) == {"accuracy"} and set(rows.n_examples) == {300}
    assert ((rows.value >= 0) & (rows.value <= 1)).all()
    assert set(rows.checkpoint_path) == {
        str(out / "handoff" / "pretrain"),
        str(out / "handoff" / "intermediate" / "synth_mnli"),
        str(out / "handoff" / "intermediate" / "mix"),
    }
    assert "[retrieval] ret-synth_mnli-synth_tatoeba:" in stdout


def zero_row_keys(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(rows.intermediate, rows.language, strict=True))


def test_the_mixture_reports_each_member_and_its_aggregate_and_feeds_the_target_phase(sweep_dir):
    out, stdout = sweep_dir
    frame = pd.read_parquet(out / "results")
    mix = frame[(frame.phase == "intermediate") & (frame.intermediate == "mix")]
    assert set(zip(mix.split, mix.task, mix.metric, strict=True)) == {
        ("dev", "synth_hellaswag", "accuracy"),
        ("dev", "synth_mnli", "accuracy"),
        ("dev", "mlm", "mlm_accuracy"),
        ("dev", "mix", "mixture_score"),
        ("train", "mix", "loss"),  # the round's mean training loss, over every member
    }
    assert (mix.n_examples > 0).all()
    assert (out / "handoff" / "intermediate" / "mix" / "heads.pt").is_file()
    from_mix = frame[(frame.phase == "zero_shot") & (frame.intermediate == "mix")]
    assert set(from_mix.target) == {"synth_udpos", "synth_tatoeba"}
    assert "mixture mix: 2 task(s), sampler temperature T=2" in stdout


def test_asha_stopped_the_trial_that_cannot_learn(sweep_dir):
    out, stdout = sweep_dir
    status = json.loads((out / "status.json").read_text())["trials"]
    stopped = [s for s in status.values() if s["state"] == "stopped"]
    assert stopped, stdout[-2000:]
    assert all(s["phase"] == "target" for s in stopped)
    assert "ASHA stopped" in stdout


def test_every_phase_left_checkpoints_and_hand_off_encoders(sweep_dir):
    out, _ = sweep_dir
    frame = pd.read_parquet(out / "results")
    trained = frame[~frame.phase.isin(["similarity", "zero_shot"])]
    for trial_id in trained.trial_id.unique():
        runs = [r for r in (out / "ray" / "train" / trial_id).glob("checkpoint_*") if r.is_dir()]
        assert runs, f"no checkpoint for {trial_id}"
        assert all((r / "xstilts.json").is_file() and (r / "state").is_dir() for r in runs)
        # One worker each: trained in the Tune trial's own process, which indexes its checkpoints.
        assert (out / "ray" / "train" / trial_id / "checkpoints.json").is_file()
    assert (out / "handoff" / "pretrain" / "model.safetensors").is_file()
    assert (out / "handoff" / "intermediate" / "synth_mnli" / "model.safetensors").is_file()


def test_a_phases_later_trials_train_in_processes_its_earlier_trials_set_up(sweep_dir):
    out, _ = sweep_dir
    first_rounds = [
        json.loads(path.read_text().splitlines()[0])
        for path in (out / "ray" / "target").glob("*/result.json")
    ]
    ready = [r for r in first_rounds if r["setup/process_group"] < 0.05]
    # The first trials start their processes; a later one finds the process group made.
    assert 0 < len(ready) < len(first_rounds)


def test_the_report_was_written_with_a_table_per_target(sweep_dir):
    out, stdout = sweep_dir
    report = (out / "report" / "report.md").read_text()
    assert "synth_udpos" in report and "synth_mnli" in report and "none" in report
    assert (out / "report" / "deltas-synth_udpos.png").is_file()
    assert f"report: {out / 'report' / 'report.md'}" in stdout


def test_status_lists_phases_and_trial_states(sweep_dir):
    out, _ = sweep_dir
    result = cli("status", str(out), timeout=60)
    assert result.returncode == 0
    assert "phase target: done" in result.stdout
    assert "stopped" in result.stdout and "done" in result.stdout


def test_running_into_an_existing_sweep_directory_is_refused(sweep_dir, benchmark):
    out, _ = sweep_dir
    result = cli("run", "demo", "--out", str(out), timeout=60)
    assert result.returncode == 2
    assert "already holds a sweep" in result.stderr


def test_each_evaluated_trial_keeps_prediction_files_that_rescore_to_its_stored_numbers(
    sweep_dir, benchmark
):
    out, _ = sweep_dir
    frame = pd.read_parquet(out / "results")
    status = json.loads((out / "status.json").read_text())["trials"]
    zero = frame[(frame.phase == "zero_shot") & (frame.metric.isin(["f1", "accuracy"]))]
    assert {status[t]["zero_shot"] for t in zero.trial_id} == {"complete"}
    for row in zero.itertuples():
        pred = out / "predictions" / row.trial_id / row.task / f"test-{row.language}.tsv"
        assert pred.is_file(), pred
    row = zero[zero.task == "synth_udpos"].iloc[0]
    pred = out / "predictions" / row.trial_id / "synth_udpos" / f"test-{row.language}.tsv"
    result = cli("score", "--task", "synth_udpos", "--lang", row.language, "--pred", str(pred),
                 "--data-root", str(benchmark), timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["f1"] == pytest.approx(row.value, abs=1e-12)


def test_every_trial_accounts_for_its_wall_time_and_the_overhead_benchmark_reads_it(sweep_dir):
    out, _ = sweep_dir
    status = json.loads((out / "status.json").read_text())["trials"]
    # Retrieval targets are evaluations, not trials: they have no time ledger.
    trials = {
        k: v for k, v in status.items() if v["phase"] in ("pretrain", "intermediate", "target")
    }
    for entry in trials.values():
        t = entry["time"]
        assert t["train"] > 0 and t["startup"] > t["worker_setup"] > 0
        assert t["startup"] + t["train"] + t["evaluate"] + t["teardown"] <= t["wall"] + 1e-6
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sweep_overhead.py"), "--from", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"all trials: {len(trials)} trials" in done.stdout
    assert re.search(
        r"trials spent \d+\.\d% of their wall time training or evaluating", done.stdout
    )
